"""Fairness audit at the deployed capacity (DESIGN §7, §11.11).

A child is **selected** when they are in their community's top ``K_c`` (:func:`models.metrics.select_top_k`),
exactly as the list would be used. For every group of ``hukou_type``, ``urban_rural``, ``sex``,
``has_disability`` and ``district`` the audit reports (Aequitas's group metrics, Saleiro et al. 2018):

==============  ==========================================================================
``n``           children in the group
``n_positive``  of them with the outcome
``prevalence``  ``n_positive / n``
``tpr``         recall: selected positives / positives (the **primary** measure)
``fnr``         1 − tpr: positives the list missed
``for``         false omission rate: positives among the *not* selected
``fpr``         selected negatives / negatives
``precision``   positives among the selected
``ppr``         predicted positive ratio: the group's share of the whole selected list (Aequitas)
``pprev``       predicted prevalence: selected / n
==============  ==========================================================================

Disparities are ratios to a reference group (default: the largest group of the attribute). Home visits
are assistive — being missed is the harm — so **recall parity** is primary: the ``tpr_disparity`` gets a
bootstrap 95% interval (children resampled, ``B`` = 200, fixed seed) and ``flag`` is True when that
interval lies wholly outside the band 0.8–1.25 (the "80% rule" band used by Aequitas). Other
disparities are point estimates. Group values are strings (``has_disability``: 是/否; missing: 未知);
``small_cell`` marks groups under 10 children, which cards shown outside the data team suppress (§5).

References
----------
- Saleiro et al. (2018), "Aequitas: A bias and fairness audit toolkit", arXiv:1811.05577.
- Hardt, Price & Srebro (2016), "Equality of opportunity in supervised learning", NeurIPS (TPR parity).
- fairlearn ``MetricFrame`` (Weerts et al. 2023, JMLR 24(257)).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame

FAIRNESS_ATTRIBUTES: tuple[str, ...] = ("hukou_type", "urban_rural", "sex", "has_disability", "district")
DEFAULT_BAND: tuple[float, float] = (0.8, 1.25)
DEFAULT_N_BOOT = 200
SMALL_CELL = 10
UNKNOWN_ZH = "未知"

AUDIT_COLUMNS = [
    "attribute", "group", "reference_group", "n", "n_positive", "prevalence", "tpr", "fnr", "for", "fpr",
    "precision", "ppr", "pprev", "tpr_disparity", "tpr_disparity_ci95", "flag", "fnr_disparity",
    "for_disparity", "fpr_disparity", "precision_disparity", "ppr_disparity", "pprev_disparity", "small_cell",
]  # fmt: skip


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b and np.isfinite(a) and np.isfinite(b) else float("nan")


def _counts(y_true, y_pred) -> tuple[float, float, float, float]:
    yt = np.asarray(y_true, dtype=bool)
    yp = np.asarray(y_pred, dtype=bool)
    return float((yt & yp).sum()), float((~yt & yp).sum()), float((yt & ~yp).sum()), float((~yt & ~yp).sum())


def _safe(num: float, den: float) -> float:
    return num / den if den > 0 else float("nan")


def _n(y_true, y_pred) -> float:
    return float(len(y_true))


def _n_positive(y_true, y_pred) -> float:
    return float(np.asarray(y_true, dtype=bool).sum())


def _n_selected(y_true, y_pred) -> float:
    return float(np.asarray(y_pred, dtype=bool).sum())


def _prevalence(y_true, y_pred) -> float:
    return _safe(_n_positive(y_true, y_pred), len(y_true))


def _tpr(y_true, y_pred) -> float:
    tp, fp, fn, tn = _counts(y_true, y_pred)  # noqa: RUF059
    return _safe(tp, tp + fn)


def _fnr(y_true, y_pred) -> float:
    tp, fp, fn, tn = _counts(y_true, y_pred)  # noqa: RUF059
    return _safe(fn, tp + fn)


def _for(y_true, y_pred) -> float:
    tp, fp, fn, tn = _counts(y_true, y_pred)  # noqa: RUF059
    return _safe(fn, fn + tn)


def _fpr(y_true, y_pred) -> float:
    tp, fp, fn, tn = _counts(y_true, y_pred)  # noqa: RUF059
    return _safe(fp, fp + tn)


def _precision(y_true, y_pred) -> float:
    tp, fp, fn, tn = _counts(y_true, y_pred)  # noqa: RUF059
    return _safe(tp, tp + fp)


def _pprev(y_true, y_pred) -> float:
    return _safe(_n_selected(y_true, y_pred), len(y_true))


_GROUP_METRICS = {
    "n": _n,
    "n_positive": _n_positive,
    "n_selected": _n_selected,
    "prevalence": _prevalence,
    "tpr": _tpr,
    "fnr": _fnr,
    "for": _for,
    "fpr": _fpr,
    "precision": _precision,
    "pprev": _pprev,
}


def group_labels(values: pd.Series) -> pd.Series:
    """Group values as strings: booleans as 是/否, missing as 未知."""
    s = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_bool_dtype(s) or set(s.dropna().unique()) <= {True, False}:
        out = s.map({True: "是", False: "否"})
    else:
        out = s.astype("string")
    return out.fillna(UNKNOWN_ZH).astype(str)


def group_metrics(y_true, selected, groups: pd.Series) -> pd.DataFrame:
    """Group metrics of one attribute via fairlearn's ``MetricFrame``.

    Parameters
    ----------
    y_true : array-like of 0/1, shape (n,)
    selected : array-like of bool, shape (n,)
        In the community's top ``K``.
    groups : Series of group values, shape (n,)

    Returns
    -------
    DataFrame, one row per group (index: group), columns ``n, n_positive, n_selected, prevalence, tpr,
    fnr, for, fpr, precision, pprev, ppr``
    """
    y = np.asarray(y_true, dtype="float64").astype(bool)
    sel = np.asarray(selected, dtype=bool)
    g = group_labels(groups)
    if not (len(y) == len(sel) == len(g)):
        raise ValueError(f"lengths differ: y_true {len(y)}, selected {len(sel)}, groups {len(g)}")
    mf = MetricFrame(metrics=_GROUP_METRICS, y_true=y, y_pred=sel, sensitive_features=g.to_numpy())
    table = mf.by_group.astype("float64")
    table.index = table.index.astype(str)
    total_sel = sel.sum()
    table["ppr"] = table["n_selected"] / total_sel if total_sel > 0 else np.nan
    return table


def _tpr_disparity_ci(
    y: np.ndarray, sel: np.ndarray, codes: np.ndarray, n_groups: int, ref: int, child_codes: np.ndarray,
    n_children: int, n_boot: int, seed: int,
) -> np.ndarray:  # fmt: skip
    """Percentile 95% intervals of tpr_g / tpr_ref, shape (n_groups, 2)."""
    rng = np.random.default_rng(seed)
    reps = np.full((n_boot, n_groups), np.nan)
    for b in range(n_boot):
        draw = np.bincount(rng.integers(0, n_children, n_children), minlength=n_children)
        w = draw[child_codes].astype("float64")
        tp = np.bincount(codes, weights=w * y * sel, minlength=n_groups)
        pos = np.bincount(codes, weights=w * y, minlength=n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            tpr = tp / pos
            reps[b] = tpr / tpr[ref]
    reps[~np.isfinite(reps)] = np.nan
    with warnings.catch_warnings():  # all-NaN columns (a group without positives) give NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        lo = np.nanpercentile(reps, 2.5, axis=0)
        hi = np.nanpercentile(reps, 97.5, axis=0)
    return np.column_stack([lo, hi])


def fairness_audit(
    y_true,
    selected,
    attributes: pd.DataFrame,
    *,
    attribute_names: Sequence[str] = FAIRNESS_ATTRIBUTES,
    reference_groups: Mapping[str, str] | None = None,
    band: tuple[float, float] = DEFAULT_BAND,
    child_ids=None,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
) -> pd.DataFrame:
    """Group metrics, disparities and flags for every audited attribute.

    Parameters
    ----------
    y_true : array-like of 0/1, shape (n,)
        Outcome (observed labels; in simulation also run on true outcomes).
    selected : array-like of bool, shape (n,)
        In the community's top ``K`` at the deployed capacity.
    attributes : DataFrame, shape (n, ·)
        Group columns (``hukou_type, urban_rural, sex, has_disability, district``), row-aligned.
    attribute_names : sequence of str
        Attributes to audit; those absent from ``attributes`` are skipped.
    reference_groups : mapping, attribute -> group, optional
        Reference group per attribute (default: the largest group).
    band : (float, float)
        Parity band of the disparity ratios (default 0.8–1.25).
    child_ids : array-like, shape (n,), optional
        Bootstrap clusters (default: each row is a child).
    n_boot : int
        Bootstrap replicates of the TPR disparity interval.
    seed : int

    Returns
    -------
    DataFrame
        Columns :data:`AUDIT_COLUMNS`, one row per (attribute, group); ``tpr_disparity_ci95`` is a
        two-element list ``[lo, hi]`` (NaN when undefined).
    """
    y = np.asarray(pd.Series(y_true).astype("float64"), dtype="float64")
    sel = np.asarray(selected, dtype=bool)
    if len(y) != len(sel) or len(y) != len(attributes):
        raise ValueError("y_true, selected and attributes must have the same number of rows")
    if np.isnan(y).any():
        raise ValueError("y_true has missing labels")
    if child_ids is None:
        child_codes, n_children = np.arange(len(y)), len(y)
    else:
        child_codes, uniq = pd.factorize(pd.Series(child_ids))
        n_children = len(uniq)
    lo_band, hi_band = band
    rows = []
    for ai, attr in enumerate(a for a in attribute_names if a in attributes.columns):
        g = group_labels(attributes[attr])
        table = group_metrics(y, sel, g)
        ref = (reference_groups or {}).get(attr) or str(table["n"].idxmax())
        if ref not in table.index:
            raise ValueError(f"reference group {ref!r} not found for {attr}; groups: {list(table.index)}")
        codes = pd.Categorical(g, categories=list(table.index)).codes
        ci = _tpr_disparity_ci(
            y, sel.astype("float64"), codes, len(table), list(table.index).index(ref), child_codes, n_children,
            n_boot, seed + ai,
        ) if n_boot > 0 else np.full((len(table), 2), np.nan)  # fmt: skip
        r = table.loc[ref]
        for gi, (group, m) in enumerate(table.iterrows()):
            lo, hi = (float(ci[gi, 0]), float(ci[gi, 1]))
            is_ref = group == ref
            flag = (not is_ref) and np.isfinite(lo) and np.isfinite(hi) and (hi < lo_band or lo > hi_band)
            rows.append(
                {
                    "attribute": attr,
                    "group": group,
                    "reference_group": ref,
                    "n": int(m["n"]),
                    "n_positive": int(m["n_positive"]),
                    **{
                        k: float(m[k])
                        for k in ("prevalence", "tpr", "fnr", "for", "fpr", "precision", "ppr", "pprev")
                    },
                    "tpr_disparity": _ratio(m["tpr"], r["tpr"]),
                    "tpr_disparity_ci95": [lo, hi],
                    "flag": bool(flag),
                    **{
                        f"{k}_disparity": _ratio(m[k], r[k])
                        for k in ("fnr", "for", "fpr", "precision", "ppr", "pprev")
                    },
                    "small_cell": bool(m["n"] < SMALL_CELL),
                }
            )
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS)
