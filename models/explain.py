"""Per-child reasons: the top TreeSHAP contributions in plain Chinese, with the evidence value.

For each child on a shortlist, LightGBM's ``pred_contrib=True`` gives the exact TreeSHAP contribution
of every feature to the raw (log-odds) score (Lundberg et al. 2020). The largest *positive*
contributions become reason phrases through the feature dictionary's ``reason_zh`` format string,
filled with the child's value: ``"近3个月缺勤{value}天"`` → ``"近3个月缺勤12天"`` (DESIGN §7).

Rules
-----
- Only positive contributions are reasons (what pushed the child up the list); at most ``top_n``.
- A phrase without ``{value}`` states a fact ("已登记为孤儿"): it is used only when the value is
  non-zero, otherwise the next contribution is taken, so a reason never asserts what is not there.
- A missing value reads ``"<description_zh>：无记录"`` (missingness can itself raise a score).
- Sensitive features (disability, illness, poverty: ``sensitive`` in the dictionary) are needs, not
  blame: their phrase is prefixed with ``need_prefix_zh`` ("需要帮扶：") unless the dictionary's phrase
  already names the need (contains "需要"), DESIGN §7.
- A format spec in the template (``{value:.0f}``, ``{value:.0%}``) receives the unrounded value;
  a bare ``{value}`` receives an int when whole, else one decimal.

Cost: ``pred_contrib`` is ~10× a prediction, so it runs only on the shortlist rows it is given
(scoring passes each community's top ``3 × K``).

References
----------
Lundberg, Erion et al. (2020), "From local explanations to global understanding with explainable AI
for trees", Nature Machine Intelligence 2, 56–67 (TreeSHAP). PIPL art. 24 (explanation of automated
decision support).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import lightgbm as lgb
import numpy as np
import pandas as pd

DEFAULT_NEED_PREFIX_ZH = "需要帮扶："
MISSING_ZH = "无记录"


def format_value(v: float):
    """Evidence value for a phrase: an int when whole, else rounded to one decimal; None when missing."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    v = float(v)
    return round(v) if abs(v - round(v)) < 1e-6 else round(v, 1)


def reason_phrase(
    entry: pd.Series | dict, value: float, *, need_prefix_zh: str = DEFAULT_NEED_PREFIX_ZH
) -> str | None:
    """One Chinese reason phrase for a feature value, or None when it would assert something false.

    Parameters
    ----------
    entry : mapping
        A feature-dictionary row: ``reason_zh`` (format string with ``{value}``), ``description_zh``,
        ``sensitive``.
    value : float
        The child's value (NaN = missing).
    need_prefix_zh : str
        Prefix of sensitive features' phrases.

    Returns
    -------
    str or None
    """
    template = str(entry.get("reason_zh") or entry.get("description_zh") or entry.get("name"))
    description = str(entry.get("description_zh") or entry.get("name"))
    v = format_value(value)
    zero = entry.get("reason_zh_zero")
    labels = entry.get("value_labels_zh")
    if v is not None and isinstance(zero, str) and zero and float(value) == 0:
        phrase = zero
    elif v is not None and isinstance(labels, dict) and "{label}" in template:
        label = labels.get(round(float(value)))
        if label is None:
            return None
        phrase = template.format(label=label)
    elif v is None:
        phrase = f"{description}：{MISSING_ZH}"
    elif "{value" not in template:
        if v == 0:
            return None
        phrase = template
    else:
        try:  # a format spec ("{value:.0f}", "{value:.0%}") gets the unrounded number
            phrase = template.format(value=float(value) if "{value:" in template else v)
        except (KeyError, ValueError, IndexError):
            phrase = f"{description}：{v}"
    if bool(entry.get("sensitive", False)) and not phrase.startswith(need_prefix_zh) and "需要" not in phrase:
        phrase = need_prefix_zh + phrase
    return phrase


def contributions(booster: lgb.Booster, X: np.ndarray, *, num_threads: int = 2) -> np.ndarray:
    """TreeSHAP contributions, shape (n, p) (the bias column dropped), on the raw log-odds scale."""
    if X.shape[0] == 0:
        return np.zeros((0, X.shape[1]))
    c = booster.predict(X, pred_contrib=True, num_threads=num_threads)
    return np.asarray(c)[:, :-1]


def explain_rows(
    booster: lgb.Booster,
    frame: pd.DataFrame,
    feature_dictionary: pd.DataFrame,
    *,
    top_n: int = 3,
    need_prefix_zh: str = DEFAULT_NEED_PREFIX_ZH,
    num_threads: int = 2,
) -> pd.DataFrame:
    """Top positive reasons of each row of a shortlist.

    Parameters
    ----------
    booster : lightgbm.Booster
        The model; its ``feature_name()`` are the columns read from ``frame``.
    frame : DataFrame, shape (n, ·)
        Shortlist rows holding the feature columns.
    feature_dictionary : DataFrame
        ``name, description_zh, reason_zh, sensitive`` (docs/interfaces.md §3).
    top_n : int
        Reasons per child (default 3).
    need_prefix_zh : str
        See :func:`reason_phrase`.
    num_threads : int
        LightGBM threads.

    Returns
    -------
    DataFrame, index of ``frame``
        ``reasons`` (list of str, ≤ top_n, strongest first), ``reason_features`` (list of str),
        ``reason_contributions`` (list of float, log-odds).
    """
    names = list(booster.feature_name())
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks model features {missing[:10]}")
    X = np.ascontiguousarray(frame[names].to_numpy(dtype=np.float32, na_value=np.nan))
    contrib = contributions(booster, X, num_threads=num_threads)
    dictionary = feature_dictionary.set_index("name")
    entries = [dictionary.loc[n].to_dict() if n in dictionary.index else {"name": n} for n in names]
    # candidates: the strongest top_n + 3 per row (spares for phrases that must be skipped)
    n_cand = min(len(names), top_n + 3)
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :n_cand]
    reasons, feats, values = [], [], []
    for i in range(X.shape[0]):
        r, f, c = [], [], []
        for j in order[i]:
            cj = contrib[i, j]
            if cj <= 0 or len(r) >= top_n:
                break
            phrase = reason_phrase(entries[j], float(X[i, j]), need_prefix_zh=need_prefix_zh)
            if phrase is None:
                continue
            r.append(phrase)
            f.append(names[j])
            c.append(float(cj))
        reasons.append(r)
        feats.append(f)
        values.append(c)
    return pd.DataFrame(
        {"reasons": reasons, "reason_features": feats, "reason_contributions": values}, index=frame.index
    )


def importance_by_family(
    booster: lgb.Booster, feature_dictionary: pd.DataFrame, *, importance_type: str = "gain"
) -> dict[str, float]:
    """Share of total split gain per feature family (sums to 1), largest first.

    Parameters
    ----------
    booster : lightgbm.Booster
    feature_dictionary : DataFrame
        ``name, family``; features absent from it count under family ``"other"``.
    importance_type : {"gain", "split"}

    Returns
    -------
    dict, family -> share
    """
    names = booster.feature_name()
    imp = pd.Series(booster.feature_importance(importance_type=importance_type), index=names, dtype="float64")
    family = feature_dictionary.set_index("name")["family"].reindex(names).fillna("other")
    by = imp.groupby(family.to_numpy()).sum().sort_values(ascending=False)
    tot = by.sum()
    return {str(k): float(v / tot) if tot > 0 else 0.0 for k, v in by.items()}


def feature_importance_table(booster: lgb.Booster, feature_dictionary: pd.DataFrame) -> pd.DataFrame:
    """Per-feature gain and split counts with family and description (for the card's artifacts)."""
    names: Sequence[str] = booster.feature_name()
    d = feature_dictionary.set_index("name").reindex(names)
    gain = booster.feature_importance(importance_type="gain")
    return pd.DataFrame(
        {
            "feature": names,
            "family": d["family"].fillna("other").to_numpy(),
            "description_zh": d["description_zh"].to_numpy() if "description_zh" in d else None,
            "gain": gain,
            "gain_share": gain / gain.sum() if gain.sum() > 0 else gain,
            "splits": booster.feature_importance(importance_type="split"),
        }
    ).sort_values("gain", ascending=False, ignore_index=True)
