"""The feature dictionary (interfaces §3): one row per feature column that ``build_features`` returns.

Generated from the spec, so it cannot drift from the features: descriptions and reason phrases are
the spec's templates with the interval filled in (``{interval_zh}`` → ``近3个月``); ``reason_zh``
keeps ``{value}`` for the explanation layer (``"近3个月缺勤{value:.0f}天".format(value=12)``).
Sensitive features (disability, illness, poverty, police, detention, death, hukou) carry a
``sensitive_reason_zh`` that states the need they stand for: they are needs, not blame.
"""

from __future__ import annotations

import pandas as pd

from features.collate import metric_columns
from features.sources import TABLE_DEPARTMENT
from features.spec import SPEC, FeatureSpec, interval_zh

COLUMNS = [
    "name",
    "family",
    "description_zh",
    "reason_zh",
    "source_department",
    "unit",
    "sensitive",
    "sensitive_reason_zh",
    "monotone",
    "reason_zh_zero",  # phrase used when the value is 0 (None: the template)
    "value_labels_zh",  # code -> words for {label} templates (None: none)
]


def _fill(template: str, interval: str | None) -> str:
    phrase = interval_zh(interval) if interval else "当前"
    return template.replace("{interval_zh}", phrase)


def feature_dictionary(spec: FeatureSpec = SPEC) -> pd.DataFrame:
    """Describe every feature of ``spec``.

    Returns
    -------
    pandas.DataFrame
        Columns ``name, family, description_zh, reason_zh (format string with {value}),
        source_department (民政/公安/教育/卫健/残联/人社/司法), unit (天/月/次/人/元/是/否/…),
        sensitive (bool), sensitive_reason_zh, monotone (-1/0/+1: expected direction of risk as the
        value grows, 0 = unconstrained)``, one row per feature, in the order of the feature matrix.
    """
    rows = []
    for d in spec.custom:
        rows.append(
            dict(name=d.name, family=d.family, description_zh=d.description_zh, reason_zh=d.reason_zh,
                 source_department=d.source_department, unit=d.unit, sensitive=d.sensitive,
                 sensitive_reason_zh=d.sensitive_reason_zh, monotone=d.monotone)
        )
    for agg in spec.aggregations:
        dept = TABLE_DEPARTMENT[agg.source]
        for m in agg.metrics:
            for name, interval in metric_columns(agg, m):
                rows.append(
                    dict(name=name, family=agg.family, description_zh=_fill(m.description_zh, interval),
                         reason_zh=_fill(m.reason_zh, interval), source_department=dept, unit=m.unit,
                         sensitive=agg.sensitive, sensitive_reason_zh=agg.sensitive_reason_zh,
                         monotone=m.monotone)
                )
                if m.resolved_imputation == "nan_flag":
                    base = _fill(m.description_zh, interval)
                    rows.append(
                        dict(name=f"{name}_missing", family=agg.family,
                             description_zh=f"无可用记录（{base}为空）",
                             reason_zh=f"没有相关记录：{base}未知", source_department=dept, unit="是/否",
                             sensitive=agg.sensitive, sensitive_reason_zh=agg.sensitive_reason_zh, monotone=0)
                    )
    for d in spec.derived:
        rows.append(
            dict(name=d.name, family=d.family, description_zh=d.description_zh, reason_zh=d.reason_zh,
                 source_department=d.source_department, unit=d.unit, sensitive=d.sensitive,
                 sensitive_reason_zh=d.sensitive_reason_zh, monotone=d.monotone)
        )
    df = pd.DataFrame(rows, columns=COLUMNS[:-2])
    df["sensitive"] = df["sensitive"].astype(bool)
    df["monotone"] = df["monotone"].astype(int)
    # how a director reads the value: a phrase for zero, words for codes (models.explain.reason_phrase)
    df["reason_zh_zero"] = df["name"].map(lambda n: REASON_WORDING.get(n, {}).get("zero"))
    df["value_labels_zh"] = df["name"].map(lambda n: REASON_WORDING.get(n, {}).get("labels"))
    for name, w in REASON_WORDING.items():
        if "reason" in w:
            df.loc[df["name"] == name, "reason_zh"] = w["reason"]
    return df


#: Wording for people (DESIGN §8 "reasons in plain Chinese"): a phrase when the value is zero (instead of
#: "…0个月"), and words for coded values (instead of "等级1"). Keys are feature names.
ASSESSMENT_WORDS = {0: "良好", 1: "一般", 2: "监护不当", 3: "监护缺失"}
REASON_WORDING: dict[str, dict] = {
    "parents_local_insured_months_6m": {"zero": "父母近6个月未在本市参保（可能在外地或无业）"},
    "visit_last_assessment": {"reason": "最近一次走访监护评估为“{label}”", "labels": ASSESSMENT_WORDS},
}
