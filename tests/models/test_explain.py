"""Explanations name the driving feature with its value, in Chinese; sensitive features as needs."""

import pandas as pd

from models.explain import explain_rows, importance_by_family, reason_phrase


def test_explanation_names_the_driving_feature_with_its_value(trained, matrix, dictionary):
    booster = trained.final.booster
    base = matrix.head(1).copy()
    base["school_days_absent_3m"] = 28.0
    base["parents_away_months_12m"] = 0.0
    base["registry_active_orphan"] = 0.0
    out = explain_rows(booster, base, dictionary)
    assert out.loc[base.index[0], "reason_features"][0] == "school_days_absent_3m"
    assert out.loc[base.index[0], "reasons"][0] == "近3个月缺勤28天"
    assert len(out.loc[base.index[0], "reasons"]) <= 3
    assert all(c > 0 for c in out.loc[base.index[0], "reason_contributions"])


def test_phrases(dictionary):
    d = dictionary.set_index("name")
    entry = d.loc["subsistence_months_on_all"].to_dict()
    assert reason_phrase(entry, 12.0) == "需要帮扶：享受低保已12个月"
    orphan = d.loc["registry_active_orphan"].to_dict()
    assert reason_phrase(orphan, 1.0) == "已登记为孤儿"
    assert reason_phrase(orphan, 0.0) is None  # a fact phrase is never used for a zero value
    assert reason_phrase(d.loc["school_days_absent_3m"].to_dict(), float("nan")) == "近3个月缺勤天数：无记录"
    assert reason_phrase(d.loc["guardian_age_years"].to_dict(), 71.25) == "监护人71.2岁"


def test_importance_by_family_sums_to_one(trained, dictionary):
    imp = importance_by_family(trained.final.booster, dictionary)
    assert abs(sum(imp.values()) - 1) < 1e-9
    assert max(imp, key=imp.get) in {"school", "parents"}
    assert isinstance(pd.Series(imp), pd.Series)


def test_format_specs_and_need_phrases():
    rate = {
        "name": "r",
        "description_zh": "缺勤率",
        "reason_zh": "近3个月缺勤率{value:.0%}",
        "sensitive": False,
    }
    assert reason_phrase(rate, 0.347) == "近3个月缺勤率35%"
    need = {
        "name": "d",
        "description_zh": "残疾",
        "reason_zh": "儿童有残疾，需要康复和照料支持",
        "sensitive": True,
    }
    assert reason_phrase(need, 1.0) == "儿童有残疾，需要康复和照料支持"


def test_reasons_read_as_words_not_codes_or_zeros():
    """DESIGN §8: reasons in plain Chinese — no "等级1", no "…0个月"."""
    from features.dictionary import feature_dictionary
    from models.explain import reason_phrase

    d = feature_dictionary().set_index("name")
    assert reason_phrase(d.loc["visit_last_assessment"].to_dict(), 3.0) == "最近一次走访监护评估为“监护缺失”"
    assert reason_phrase(d.loc["visit_last_assessment"].to_dict(), 1.0) == "最近一次走访监护评估为“一般”"
    local = d.loc["parents_local_insured_months_6m"].to_dict()
    assert reason_phrase(local, 0.0).startswith("父母近6个月未在本市参保")
    assert reason_phrase(local, 4.0) == "父母近6个月在本市参保4个月"
