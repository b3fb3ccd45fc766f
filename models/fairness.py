"""Fairness audit at the deployed capacity (DESIGN §7, §11.11).

A child is **selected** when they are in their community's top ``K_c`` (:func:`models.metrics.select_top_k`),
exactly as the list would be used. For every group of ``hukou_type``, ``urban_rural``, ``sex``,
``has_disability`` and ``district`` the audit reports (Aequitas's group metrics, Saleiro et al. 2018):

==============  ==========================================================================
``n``           rows of the group (children × audited test dates)
``n_children``  distinct children among them (the bootstrap clusters; small cells count these)
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

Disparities are ratios to a reference group (default: the largest group of the attribute whose value is
known — never 未知 / （未定位） — among those with at least ``min_positives_flag`` positives). Home visits
are assistive — being missed is the harm — so **recall parity** is primary: the ``tpr_disparity`` gets a
bootstrap 95% interval (children resampled, ``B`` = 200, fixed seed) and ``flag`` is True when that
interval lies wholly outside the band 0.8–1.25 (the "80% rule" band used by Aequitas) and both the group
and the reference hold at least ``min_positives_flag`` (10) positives (with fewer, a percentile bootstrap
of a ratio degenerates: one positive gives [0, 0]). Other
disparities are point estimates. Group values are strings (``has_disability``: 是/否; missing: 未知);
``small_cell`` marks groups of fewer than 10 distinct children, which cards shown outside the data team
suppress (§5). The rows may span several test dates (:func:`models.evaluate.evaluate_target` audits every
split's test date): rates are then over child-dates, and the bootstrap resamples children, so a child's
dates stay together.

Limits: a percentile bootstrap cannot show the uncertainty of a group whose selected positives are 0 (or
all of its positives): its interval collapses to a point, which is why a flag also needs 10 positives in
the group and its reference. With about a dozen groups per attribute, a group whose recall truly equals
the reference's still has a small chance of an interval outside the band at 95%; read single flags on
small groups with that in mind (the card prints the counts beside them).

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
from threadpoolctl import threadpool_limits

FAIRNESS_ATTRIBUTES: tuple[str, ...] = ("hukou_type", "urban_rural", "sex", "has_disability", "district")
DEFAULT_BAND: tuple[float, float] = (0.8, 1.25)
DEFAULT_N_BOOT = 200
SMALL_CELL = 10
UNKNOWN_ZH = "未知"
#: Group values that mean "not known" (features: missing value; spine: a child not placed in a district).
UNKNOWN_GROUPS: frozenset[str] = frozenset({UNKNOWN_ZH, "（未定位）", "(未定位)"})
#: A group is flagged only when it holds at least this many positives: with fewer, the percentile
#: bootstrap of a ratio degenerates (e.g. one positive gives the interval [0, 0] or [x, x]).
DEFAULT_MIN_POSITIVES_FLAG = 10

AUDIT_COLUMNS = [
    "attribute", "group", "reference_group", "n", "n_children", "n_positive", "prevalence", "tpr", "fnr", "for", "fpr",
    "precision", "ppr", "pprev", "tpr_disparity", "tpr_disparity_ci95", "flag", "fnr_disparity",
    "for_disparity", "fpr_disparity", "precision_disparity", "ppr_disparity", "pprev_disparity", "small_cell",
]  # fmt: skip


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b and np.isfinite(a) and np.isfinite(b) else float("nan")


def _counts(y_true, y_pred, sample_weight=None) -> tuple[float, float, float, float]:
    yt = np.asarray(y_true, dtype=bool)
    yp = np.asarray(y_pred, dtype=bool)
    w = np.ones(len(yt)) if sample_weight is None else np.asarray(sample_weight, dtype="float64")
    return float(w[yt & yp].sum()), float(w[~yt & yp].sum()), float(w[yt & ~yp].sum()), float(w[~yt & ~yp].sum())


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


def _tp(y_true, y_pred, sample_weight=None) -> float:
    return _counts(y_true, y_pred, sample_weight)[0]


def _fp(y_true, y_pred, sample_weight=None) -> float:
    return _counts(y_true, y_pred, sample_weight)[1]


def _fn(y_true, y_pred, sample_weight=None) -> float:
    return _counts(y_true, y_pred, sample_weight)[2]


def _tn(y_true, y_pred, sample_weight=None) -> float:
    return _counts(y_true, y_pred, sample_weight)[3]


#: What MetricFrame computes per group: the confusion counts; every rate of :data:`_GROUP_METRICS` is
#: derived from them (one pass per count instead of one per rate; same values).
_COUNT_METRICS = {"tp": _tp, "fp": _fp, "fn": _fn, "tn": _tn}


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
    # one weighted row per (group, label, selected): the same counts as every row (fairlearn splits and
    # stacks each group's rows, minutes for the 3.4 M audited rows of a 2,000,000-child city; issue 8)
    cells = (pd.DataFrame({"g": g.to_numpy(), "y": y, "sel": sel})
             .groupby(["g", "y", "sel"], sort=True).size().reset_index(name="w"))  # fmt: skip
    weights = {"sample_weight": cells["w"].to_numpy(dtype="float64")}
    mf = MetricFrame(metrics=_COUNT_METRICS, y_true=cells["y"].to_numpy(), y_pred=cells["sel"].to_numpy(),
                     sensitive_features=cells["g"].to_numpy(), sample_params={k: weights for k in _COUNT_METRICS})
    c = mf.by_group.astype("float64")
    c.index = c.index.astype(str)
    tp, fp, fn, tn = c["tp"], c["fp"], c["fn"], c["tn"]
    n = tp + fp + fn + tn

    def safe(num: pd.Series, den: pd.Series) -> pd.Series:
        return (num / den.where(den > 0)).astype("float64")

    table = pd.DataFrame(
        {
            "n": n, "n_positive": tp + fn, "n_selected": tp + fp, "prevalence": safe(tp + fn, n),
            "tpr": safe(tp, tp + fn), "fnr": safe(fn, tp + fn), "for": safe(fn, fn + tn),
            "fpr": safe(fp, fp + tn), "precision": safe(tp, tp + fp), "pprev": safe(tp + fp, n),
        },
        index=c.index,
    )  # fmt: skip
    total_sel = sel.sum()
    table["ppr"] = table["n_selected"] / total_sel if total_sel > 0 else np.nan
    return table


def _tpr_disparity_ci(
    y: np.ndarray, sel: np.ndarray, codes: np.ndarray, n_groups: int, ref: int, child_codes: np.ndarray,
    n_children: int, n_boot: int, seed: int,
) -> np.ndarray:  # fmt: skip
    """Percentile 95% intervals of tpr_g / tpr_ref, shape (n_groups, 2).

    All replicates at once: a (replicates × rows) weight matrix times the (rows × groups) indicator
    of positives (and of selected positives) gives every replicate's group counts. Only the positive rows
    count, so the weights are taken of those rows only (the same draws of children: issue 8, ~2% of a
    city's 3.4 M audited rows).
    """
    from models.metrics import bootstrap_weights

    rng = np.random.default_rng(seed)
    rows = np.flatnonzero(y > 0)
    onehot = np.zeros((len(rows), n_groups))
    onehot[np.arange(len(rows)), codes[rows]] = 1.0
    pos_m = onehot * y[rows, None]
    tp_m = pos_m * sel[rows, None]
    parts = []
    with threadpool_limits(limits=1, user_api="blas"):
        for W in bootstrap_weights(rng, child_codes[rows], n_children, n_boot):
            tp, pos = W @ tp_m, W @ pos_m
            with np.errstate(invalid="ignore", divide="ignore"):
                tpr = tp / pos
                parts.append(tpr / tpr[:, [ref]])
    reps = np.concatenate(parts) if parts else np.full((0, n_groups), np.nan)
    reps[~np.isfinite(reps)] = np.nan
    with warnings.catch_warnings():  # all-NaN columns (a group without positives) give NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        lo = np.nanpercentile(reps, 2.5, axis=0)
        hi = np.nanpercentile(reps, 97.5, axis=0)
    return np.column_stack([lo, hi])


def default_reference(table: pd.DataFrame, min_positives: int = 0) -> str:
    """The reference group of an attribute: the largest group whose value is known (未知 / （未定位） are
    never the reference) among those holding at least ``min_positives`` positives; if none holds that
    many, the largest known group; if no value is known, the largest group.

    A reference with a handful of positives would make every disparity of the attribute noise (and one
    with a recall of 0 makes every ratio undefined), so the audit passes ``min_positives_flag``.
    """
    known = table.drop(index=[g for g in table.index if g in UNKNOWN_GROUPS], errors="ignore")
    pool = known if len(known) else table
    enough = pool[pool["n_positive"] >= min_positives] if min_positives > 0 else pool
    return str((enough if len(enough) else pool)["n"].idxmax())


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
    min_positives_flag: int = DEFAULT_MIN_POSITIVES_FLAG,
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
        Reference group per attribute (default :func:`default_reference`: the largest group with a
        known value — never 未知 or （未定位） — and at least ``min_positives_flag`` positives).
    band : (float, float)
        Parity band of the disparity ratios (default 0.8–1.25).
    child_ids : array-like, shape (n,), optional
        Bootstrap clusters (default: each row is a child).
    n_boot : int
        Bootstrap replicates of the TPR disparity interval.
    seed : int
    min_positives_flag : int
        A group (and its reference) needs at least this many positives to be flagged (default 10).

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
        ref = (reference_groups or {}).get(attr) or default_reference(table, min_positives_flag)
        if ref not in table.index:
            raise ValueError(f"reference group {ref!r} not found for {attr}; groups: {list(table.index)}")
        codes = pd.Categorical(g, categories=list(table.index)).codes
        n_children_of = pd.Series(child_codes).groupby(g.to_numpy()).nunique()
        ci = _tpr_disparity_ci(
            y, sel.astype("float64"), codes, len(table), list(table.index).index(ref), child_codes, n_children,
            n_boot, seed + ai,
        ) if n_boot > 0 else np.full((len(table), 2), np.nan)  # fmt: skip
        r = table.loc[ref]
        for gi, (group, m) in enumerate(table.iterrows()):
            lo, hi = (float(ci[gi, 0]), float(ci[gi, 1]))
            is_ref = group == ref
            enough = m["n_positive"] >= min_positives_flag and r["n_positive"] >= min_positives_flag
            flag = (
                (not is_ref)
                and enough
                and np.isfinite(lo)
                and np.isfinite(hi)
                and (hi < lo_band or lo > hi_band)
            )
            rows.append(
                {
                    "attribute": attr,
                    "group": group,
                    "reference_group": ref,
                    "n": int(m["n"]),
                    "n_children": int(n_children_of.get(group, 0)),
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
                    "small_cell": bool(n_children_of.get(group, 0) < SMALL_CELL),
                }
            )
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS)
