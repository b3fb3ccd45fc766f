"""Triage-named evaluation metrics for ranked visit lists, with bootstrap intervals.

A list is read the way a child director reads it: each community visits its own top ``K`` children
(``K`` = the community's visit capacity, :mod:`models.capacity`), so the list metrics rank children
*within each community*, take the top ``K_c`` of every community ``c`` and sum the hits over
communities (DESIGN §7, §11.9)::

    precision@capacity_abs = sum_c hits_c / sum_c min(K_c, n_c)
    recall@capacity_abs    = sum_c hits_c / sum_c positives_c

``precision@5_pct`` is city-wide: the top ``ceil(5% × n)`` children of the whole city.

Metric names follow triage (dssg/triage, ``catwalk/evaluation.py``): the name says what the number
means at a list size. MLflow refuses ``@`` in metric keys, so :func:`mlflow_key` turns
``precision@capacity_abs`` into ``precision_at_capacity_abs``; tables and cards keep the triage name.

Ties
----
Scores can tie (the prior baseline ties everyone, the registry rule and the checklist tie many children),
and who is cut at the ``K``-th place then decides the metric. As triage does, list metrics are reported
under three tie orders: ``best`` (positives first among equal scores), ``worst`` (negatives first) and
``stochastic`` (a random order from a fixed seed). The headline value is ``stochastic``: it is what a
list that breaks ties arbitrarily achieves on average; ``best``/``worst`` bound it.

Bootstrap
---------
95% intervals are percentile intervals over ``B`` bootstrap replicates (default ``B = 200``, seed 0),
resampling **children** with replacement (all rows of a drawn child go together when a child has
several as-of dates). Each replicate is computed as integer weights on the original rows, so the
rows are sorted once and every replicate costs O(n); replicates are computed together as a (replicates ×
rows) weight matrix, in chunks (:data:`BOOT_CHUNK_CELLS`), with BLAS limited to one thread. Community capacities stay fixed (capacity belongs to the community, not to the
sample). Efron & Tibshirani (1993), *An Introduction to the Bootstrap*, ch. 13 (percentile interval).

References
----------
- Rayid Ghani et al., triage: https://github.com/dssg/triage (metric naming, tie handling).
- Saito & Rehmsmeier (2015), "The precision-recall plot is more informative than the ROC plot when
  evaluating binary classifiers on imbalanced datasets", PLoS ONE 10(3).
- Naeini, Cooper & Hauskrecht (2015), "Obtaining well calibrated probabilities using Bayesian binning",
  AAAI (expected calibration error).
- Brier (1950), "Verification of forecasts expressed in terms of probability", Monthly Weather Review.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

PRECISION_AT_CAPACITY = "precision@capacity_abs"
RECALL_AT_CAPACITY = "recall@capacity_abs"
PRECISION_AT_5_PCT = "precision@5_pct"
ROC_AUC = "roc_auc"
AVERAGE_PRECISION = "average_precision"
BRIER = "brier"
ECE = "ece"

#: Every metric name reported in evaluation tables, in display order.
METRIC_NAMES: tuple[str, ...] = (
    PRECISION_AT_CAPACITY,
    RECALL_AT_CAPACITY,
    PRECISION_AT_5_PCT,
    ROC_AUC,
    AVERAGE_PRECISION,
    BRIER,
    ECE,
)
#: Metrics that depend on the order of tied scores (reported best/worst/stochastic).
LIST_METRICS: tuple[str, ...] = (PRECISION_AT_CAPACITY, RECALL_AT_CAPACITY, PRECISION_AT_5_PCT)
TIE_ORDERS: tuple[str, ...] = ("best", "worst", "stochastic")

DEFAULT_N_BOOT = 200
DEFAULT_SEED = 0
DEFAULT_ECE_BINS = 10


def mlflow_key(name: str) -> str:
    """Turn a triage metric name into an MLflow metric key.

    MLflow accepts letters, digits, ``_ - . /`` and spaces in keys, not ``@`` or ``%``.

    Parameters
    ----------
    name : str
        Triage metric name, e.g. ``"precision@capacity_abs"``.

    Returns
    -------
    str
        ``"precision_at_capacity_abs"``; ``"%"`` becomes ``"pct"``.

    Examples
    --------
    >>> mlflow_key("precision@5_pct")
    'precision_at_5_pct'
    """
    return name.replace("@", "_at_").replace("%", "pct")


# ---------------------------------------------------------------------------------------------------
# input checks


def _as_labels(y_true) -> np.ndarray:
    y = pd.Series(y_true).to_numpy(dtype="float64", na_value=np.nan)
    if np.isnan(y).any():
        raise ValueError("y_true contains missing labels; restrict rows to the target's cohort first")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y_true must be 0/1 (or bool)")
    return y


def _as_scores(scores, name: str = "scores") -> np.ndarray:
    s = pd.Series(scores).to_numpy(dtype="float64", na_value=np.nan)
    # a missing score ranks last; it is never treated as high risk
    return np.where(np.isnan(s), -np.inf, s)


def _as_proba(proba) -> np.ndarray:
    p = pd.Series(proba).to_numpy(dtype="float64", na_value=np.nan)
    if np.isnan(p).any():
        raise ValueError("probabilities contain NaN")
    if (p < 0).any() or (p > 1).any():
        raise ValueError("probabilities must lie in [0, 1]")
    return p


def _capacity_per_row(communities: np.ndarray, capacity: Mapping[str, int] | pd.Series) -> np.ndarray:
    cap = pd.Series(capacity, dtype="float64") if not isinstance(capacity, pd.Series) else capacity
    k = cap.reindex(pd.Index(communities)).to_numpy(dtype="float64", na_value=np.nan)
    if np.isnan(k).any():
        missing = sorted(set(pd.Index(communities)[np.isnan(k)].astype(str)))
        raise ValueError(
            f"capacity is missing for communities: {missing[:10]}{' …' if len(missing) > 10 else ''}"
        )
    if (k < 0).any():
        raise ValueError("capacity must be >= 0")
    return k


def _check_lengths(**arrays) -> int:
    lengths = {k: len(v) for k, v in arrays.items() if v is not None}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"inputs differ in length: {lengths}")
    return next(iter(lengths.values()))


# ---------------------------------------------------------------------------------------------------
# ranking


def _tie_key(y: np.ndarray | None, ties: str, rng: np.random.Generator) -> np.ndarray:
    n = len(y) if y is not None else 0
    if ties == "best":
        return -y  # positives sort first among equal scores
    if ties == "worst":
        return y
    if ties == "stochastic":
        return rng.random(n)
    raise ValueError(f"ties must be one of {TIE_ORDERS}, got {ties!r}")


def list_order(
    scores: np.ndarray, group_codes: np.ndarray, tie_key: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Row order of per-group ranked lists.

    Parameters
    ----------
    scores : ndarray, shape (n,)
        Ranking score, higher = earlier on the list; ``-inf`` ranks last.
    group_codes : ndarray of int, shape (n,)
        Community code per row (all zeros for a city-wide list).
    tie_key : ndarray, shape (n,)
        Secondary key among equal scores, smaller first.

    Returns
    -------
    order : ndarray of int, shape (n,)
        Row indices sorted by group, then score descending, then ``tie_key``.
    rank : ndarray of int, shape (n,)
        1-based rank of each row *within its group*, in original row order.
    """
    order = _group_order(np.lexsort((tie_key, -scores)), group_codes)
    g = group_codes[order]
    n = len(order)
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if n else np.array([], dtype=int)
    start_of_row = np.repeat(starts, np.diff(np.r_[starts, n]))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - start_of_row + 1
    return order, rank


def _group_order(city_order: np.ndarray, group_codes: np.ndarray) -> np.ndarray:
    """Rows in ``city_order`` (one city-wide list) regrouped by ``group_codes``, keeping the list order
    within each group: the same order as ``np.lexsort((tie_key, -scores, group_codes))`` when
    ``city_order`` is ``np.lexsort((tie_key, -scores))`` (both stable), at the cost of one stable sort of
    small integers (a radix sort for up to 65,536 groups) instead of a three-key sort: at 1.7 M rows of
    8,002 communities, 0.85 s for both lists instead of 2.0 s (issue 8)."""
    g = group_codes[city_order]
    if len(g) and g.min() >= 0 and g.max() < 2**16:
        g = g.astype(np.uint16)
    return city_order[np.argsort(g, kind="stable")]


def select_top_k(
    scores,
    communities,
    capacity: Mapping[str, int] | pd.Series,
    *,
    y_true=None,
    ties: str = "stochastic",
    seed: int = DEFAULT_SEED,
) -> np.ndarray:
    """Which rows each community's list of length ``K_c`` selects.

    Parameters
    ----------
    scores : array-like, shape (n,)
        Ranking score (higher = visit first).
    communities : array-like of str, shape (n,)
        Community of each row.
    capacity : mapping or Series, community -> K_c
        Visits per community per cycle (:func:`models.capacity.capacity_per_community`).
    y_true : array-like of 0/1, shape (n,), optional
        Needed only for ``ties="best"`` / ``"worst"``.
    ties : {"stochastic", "best", "worst"}
        Order among equal scores.
    seed : int
        Seed of the stochastic tie order.

    Returns
    -------
    ndarray of bool, shape (n,)
        True for rows in their community's top ``K_c``.
    """
    s = _as_scores(scores)
    comm = pd.Series(communities).astype("string").fillna("<NA>").to_numpy()
    codes, _ = pd.factorize(comm)
    if ties != "stochastic" and y_true is None:
        raise ValueError("ties='best'/'worst' need y_true")
    y = _as_labels(y_true) if y_true is not None else np.zeros(len(s))
    _check_lengths(scores=s, communities=comm, y_true=y)
    key = _tie_key(y, ties, np.random.default_rng(seed))
    _, rank = list_order(s, codes, key)
    k = _capacity_per_row(comm, capacity)
    return rank <= k


# ---------------------------------------------------------------------------------------------------
# weighted metric kernels on pre-sorted rows (one sort, many bootstrap replicates)


@dataclass(frozen=True)
class _ListPlan:
    """Rows sorted for one list (per community or city-wide) and one tie order."""

    order: np.ndarray  # row indices in list order
    group_start: np.ndarray  # per sorted row: index (in sorted order) of its group's first row
    k: np.ndarray | None  # per sorted row: capacity of its group (None = city-wide pct)
    ys: np.ndarray | None = None  # the labels in list order, when known when the plan is made


def _plan(scores: np.ndarray, codes: np.ndarray, tie_key: np.ndarray, k_row: np.ndarray | None,
          y: np.ndarray | None = None, city_order: np.ndarray | None = None) -> _ListPlan:
    """The plan of a list by ``codes`` (zeros: city-wide); ``city_order``, when given, is
    ``np.lexsort((tie_key, -scores))`` made once for several plans."""
    if city_order is None:
        city_order = np.lexsort((tie_key, -scores))
    order = _group_order(city_order, codes) if codes.any() else city_order
    g = codes[order]
    n = len(order)
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if n else np.array([], dtype=int)
    group_start = np.repeat(starts, np.diff(np.r_[starts, n]))
    return _ListPlan(order=order, group_start=group_start, k=None if k_row is None else k_row[order],
                     ys=None if y is None else y[order])


def _list_hits_m(
    plan: _ListPlan, y: np.ndarray, W: np.ndarray, k_total: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted (hits, number selected) of a list for each row of ``W`` (shape (B, n): one weight
    vector per bootstrap replicate; each row counts ``w`` times). Returns two arrays of shape (B,)."""
    Ws = W[:, plan.order]
    ys = y[plan.order] if plan.ys is None else plan.ys
    prefix = np.cumsum(Ws, axis=1) - Ws  # weight strictly before the row, city-wide
    before = prefix - prefix[:, plan.group_start]  # weight before the row within its group
    k = plan.k if plan.k is not None else k_total
    take = np.minimum(np.maximum(k - before, 0.0), Ws)
    return (take * ys).sum(axis=1), take.sum(axis=1)


def _list_hits(
    plan: _ListPlan, y: np.ndarray, w: np.ndarray, k_total: float | None = None
) -> tuple[float, float]:
    """Weighted (hits, number selected) of a list; each row counts ``w`` times (bootstrap)."""
    h, s = _list_hits_m(plan, y, w[None, :], k_total)
    return float(h[0]), float(s[0])


@dataclass(frozen=True)
class _CurvePlan:
    order: np.ndarray  # rows by score descending
    last_of_value: np.ndarray  # sorted positions closing each run of equal scores


def _curve_plan(scores: np.ndarray) -> _CurvePlan:
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    last = np.flatnonzero(np.r_[s[1:] != s[:-1], True]) if len(s) else np.array([], dtype=int)
    return _CurvePlan(order=order, last_of_value=last)


def _auc_ap_m(plan: _CurvePlan, y: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted ROC AUC and average precision per row of ``W`` (scikit-learn definitions, ties as one
    threshold). Shapes: W (B, n) → two arrays (B,). The weights are whole numbers (1, or bootstrap
    counts): the false positives are the weight so far minus the true positives, exactly."""
    B = W.shape[0]
    if len(plan.last_of_value) == 0:
        return np.full(B, math.nan), np.full(B, math.nan)
    ys = y[plan.order]
    Ws = W[:, plan.order]
    tps = np.cumsum(Ws * ys, axis=1)[:, plan.last_of_value]
    fps = np.cumsum(Ws, axis=1)[:, plan.last_of_value] - tps
    p, n = tps[:, -1], fps[:, -1]
    ok = (p > 0) & (n > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = np.concatenate([np.zeros((B, 1)), tps / p[:, None]], axis=1)
        fpr = np.concatenate([np.zeros((B, 1)), fps / n[:, None]], axis=1)
        auc = np.trapezoid(tpr, fpr, axis=1)
        prec = np.where(tps + fps > 0, tps / (tps + fps), 1.0)
        ap = np.sum(np.diff(tpr, axis=1) * prec, axis=1)
    auc = np.where(ok, auc, math.nan)
    ap = np.where(ok, ap, np.where(p <= 0, math.nan, 1.0))
    return auc, ap


def _auc_ap(plan: _CurvePlan, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted ROC AUC and average precision (scikit-learn definitions, ties as one threshold)."""
    a, p = _auc_ap_m(plan, y, w[None, :])
    return float(a[0]), float(p[0])


def _ece_bins(proba: np.ndarray, n_bins: int) -> np.ndarray:
    return np.clip(np.floor(proba * n_bins).astype(np.int64), 0, n_bins - 1)


def _brier_ece_terms(proba: np.ndarray, y: np.ndarray, bins: np.ndarray, n_bins: int) -> np.ndarray:
    """The per-row terms of :func:`_weighted_sums_m`, made once per score: ``T`` (n, 3 + n_bins) =
    [1, y, (p − y)², (p − y) in the column of the row's ECE bin (zeros in the other bins)]."""
    d = proba - y
    T = np.zeros((len(proba), 3 + n_bins))
    T[:, 0] = 1.0
    T[:, 1] = y
    T[:, 2] = d * d
    T[np.arange(len(proba)), 3 + bins] = d
    return T


def _weighted_sums_m(W: np.ndarray, terms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per row of ``W`` (B, n): total weight, weighted positives, Brier score and ECE, four arrays (B,),
    from one product ``W @ T`` (``T``: :func:`_brier_ece_terms`).

    ECE = sum over bins of (W_b / W) · |mean p − mean y in bin b| = sum_b |Σ_b w (p − y)| / Σ w, so one
    weighted sum of p − y per bin gives it. One pass over the weights instead of a product with each of two
    (n, n_bins) one-hot matrices, a weighted sum of squares and a sum over the positives (at 1.7 M rows and
    200 replicates: ~20 s of an evaluation call; issue 8)."""
    S = W @ terms
    tot, pos = S[:, 0], S[:, 1]
    bad = tot <= 0
    with np.errstate(invalid="ignore", divide="ignore"):
        brier = np.where(bad, math.nan, S[:, 2] / tot)
        ece = np.where(bad, math.nan, np.abs(S[:, 3:]).sum(axis=1) / tot)
    return tot, pos, brier, ece


def _brier_ece_m(
    proba: np.ndarray, y: np.ndarray, W: np.ndarray, bins: np.ndarray, n_bins: int, terms=None
) -> tuple[np.ndarray, np.ndarray]:
    """Brier score and ECE per row of ``W`` (B, n) → two arrays (B,); ``terms``: :func:`_brier_ece_terms`."""
    _, _, brier, ece = _weighted_sums_m(W, _brier_ece_terms(proba, y, bins, n_bins) if terms is None else terms)
    return brier, ece


def _brier_ece(
    proba: np.ndarray, y: np.ndarray, w: np.ndarray, bins: np.ndarray, n_bins: int
) -> tuple[float, float]:
    b, e = _brier_ece_m(proba, y, w[None, :], bins, n_bins)
    return float(b[0]), float(e[0])


# ---------------------------------------------------------------------------------------------------
# the same kernels for many bootstrap replicates of many rows (issue 8: a 2,000,000-child city's test date
# has 1.7 M rows; the kernels above read every row of every replicate several times in list order)

#: Candidates of a list of length K: the first ``K + CANDIDATE_SD × √K + CANDIDATE_PAD`` rows of each
#: group. A bootstrap replicate's weights on m rows sum to about m ± √m (each row's count has mean and
#: variance about 1), so the candidates fall short of K only ~6 standard deviations out; a replicate where
#: they do is computed on every row (exact either way). At a 2,000,000-child test date the city-wide 5 %
#: list (K = 85,000) has 86,800 candidates instead of the 255,000 of a ``3K + 20`` rule (issue 8).
CANDIDATE_SD = 6.0
CANDIDATE_PAD = 20


@dataclass(frozen=True)
class _TopPlan:
    """A :class:`_ListPlan` cut to the rows near the top of each list: whole-number weights (ones or
    bootstrap counts) can only select a row below them when the weight of a group's candidates is below
    its K, which is checked per replicate (those replicates fall back to every row)."""

    plan: _ListPlan
    rows: np.ndarray  # candidate rows (original row indices), in list order
    ys: np.ndarray  # their labels
    k: np.ndarray  # their group's K
    start: np.ndarray  # per candidate: index (among candidates) of its group's first candidate
    group_first: np.ndarray  # per cut group: index of its first candidate
    group_last: np.ndarray  # per cut group: index of its last candidate
    group_k: np.ndarray  # per cut group: its K


def _top_plan(plan: _ListPlan, y: np.ndarray, k_total: float | None = None) -> _TopPlan:
    """The candidates of ``plan`` (its K per row, or ``k_total`` for a city-wide list)."""
    n = len(plan.order)
    k_sorted = plan.k if plan.k is not None else np.full(n, float(k_total if k_total is not None else 0))
    rank = np.arange(n) - plan.group_start  # 0-based rank within the group
    idx = np.flatnonzero(rank < k_sorted + CANDIDATE_SD * np.sqrt(np.maximum(k_sorted, 0)) + CANDIDATE_PAD)
    if not len(idx):
        none = np.zeros(0, dtype=np.int64)
        return _TopPlan(plan=plan, rows=none, ys=np.zeros(0), k=np.zeros(0), start=none, group_first=none,
                        group_last=none, group_k=np.zeros(0))
    gs = plan.group_start[idx]
    starts = np.flatnonzero(np.r_[True, gs[1:] != gs[:-1]])
    start = np.repeat(starts, np.diff(np.r_[starts, len(idx)]))
    ends = np.r_[starts[1:], len(idx)] - 1
    # a group is cut when rows of it are not candidates: its next row (in list order) is in the same group
    nxt = idx[ends] + 1
    cut = (nxt < n) & (plan.group_start[np.minimum(nxt, n - 1)] == gs[ends])
    return _TopPlan(plan=plan, rows=plan.order[idx], ys=y[plan.order[idx]], k=k_sorted[idx], start=start,
                    group_first=starts[cut], group_last=ends[cut], group_k=k_sorted[idx[starts[cut]]])


def _top_hits_m(top: _TopPlan, y: np.ndarray, W: np.ndarray, k_total: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_list_hits_m` for whole-number weights ``W`` (B, n), reading only the candidates of each list;
    the same values (every sum is of whole numbers, exact in float64)."""
    Wc = W[:, top.rows]
    cum = np.cumsum(Wc, axis=1)
    take = cum - Wc
    take -= take[:, top.start]  # weight before the row within its group
    np.subtract(top.k, take, out=take)  # in place from here: min(max(K - before, 0), w)
    np.maximum(take, 0.0, out=take)
    np.minimum(take, Wc, out=take)
    hits, sel = take @ top.ys, take.sum(axis=1)
    if len(top.group_first):  # a cut group whose candidates weigh less than its K: its lower rows count
        weight = cum[:, top.group_last] - cum[:, top.group_first] + Wc[:, top.group_first]
        short = (weight < top.group_k).any(axis=1)
        if short.any():
            hits[short], sel[short] = _list_hits_m(top.plan, y, W[short], k_total)
    return hits, sel


@dataclass(frozen=True)
class _CurveCodes:
    """Rows coded for :func:`_auc_ap_codes`: the thresholds that hold a positive (distinct scores of the
    positives, descending: ``m`` of them) and, per row, its place among them."""

    code: np.ndarray  # per row: negatives 2g (between thresholds g-1 and g) or 2g+1 (at g); positives 2m+2+g
    m: int


def _curve_codes(scores: np.ndarray, y: np.ndarray) -> _CurveCodes:
    v = np.unique(scores[y > 0])  # ascending
    m = len(v)
    above = m - np.searchsorted(v, scores, side="right")  # thresholds strictly above the row's score
    at = (above < m) & (v[np.clip(m - 1 - above, 0, max(m - 1, 0))] == scores) if m else np.zeros(len(scores), bool)
    code = np.where(y > 0, 2 * m + 2 + above, 2 * above + at)
    return _CurveCodes(code=code.astype(np.int64), m=m)


def _auc_ap_codes(cc: _CurveCodes, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_auc_ap_m` for whole-number weights ``W`` (B, n) from per-threshold sums (one pass over the
    rows per replicate, in row order): ROC AUC as the trapezoid rule over every threshold (ties as one
    threshold), AP as the recall step at each threshold with a positive times its precision."""
    m, B = cc.m, W.shape[0]
    size = 3 * m + 2
    auc, ap = np.full(B, math.nan), np.full(B, math.nan)
    for b in range(B):
        c = np.bincount(cc.code, weights=W[b], minlength=size)
        between, at, tp_at = c[0:2 * m + 2:2], c[1:2 * m + 2:2], c[2 * m + 2:]  # lengths m+1, m+1 (at[m]=0), m
        tp = np.cumsum(tp_at)  # true positives at each threshold (scores >= v_g)
        p = tp[-1] if m else 0.0
        tp_before = np.r_[0.0, tp]  # at threshold g: positives strictly above; [m]: every positive
        n_ = between.sum() + at.sum()
        if p > 0 and n_ > 0:
            num = (between * tp_before).sum() + (at[:m] * (tp_before[:m] + tp)).sum() / 2.0
            auc[b] = num / (p * n_)
            fp = np.cumsum(between[:m] + at[:m])
            with np.errstate(invalid="ignore", divide="ignore"):
                prec = np.where(tp + fp > 0, tp / (tp + fp), 1.0)
            ap[b] = ((tp_at / p) * prec).sum()
        elif p > 0:
            ap[b] = 1.0
    return auc, ap


#: Bootstrap weight matrices are built in chunks of at most this many cells (replicates × rows): 4
#: replicates of a 2,000,000-child city's test date (1.7 M rows; ~65 MB per float64 matrix).
BOOT_CHUNK_CELLS = 8_000_000


def bootstrap_weights(rng: np.random.Generator, row_cluster: np.ndarray, n_clusters: int, n_boot: int):
    """Yield bootstrap weight matrices, shape (chunk, n_rows), over ``n_boot`` replicates in total.

    Each replicate draws ``n_clusters`` clusters (children) with replacement; a row's weight is how
    often its cluster was drawn. The draws are those of ``n_boot`` consecutive
    ``rng.integers(0, n_clusters, n_clusters)`` calls (the same stream as a replicate-by-replicate
    loop), so results do not depend on the chunk size.
    """
    n_rows = len(row_cluster)
    chunk = max(1, min(n_boot, BOOT_CHUNK_CELLS // max(1, max(n_rows, n_clusters))))
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        draws = rng.integers(0, n_clusters, (b, n_clusters))
        counts = np.bincount(
            (draws + (np.arange(b) * n_clusters)[:, None]).ravel(), minlength=b * n_clusters
        ).reshape(b, n_clusters)
        yield counts[:, row_cluster].astype("float64")
        done += b


class BootstrapWeights:
    """The bootstrap weight matrices of one set of rows, drawn once and handed to every
    :func:`evaluate_scores` call on those rows (issue 8: an evaluation scores the model, four
    baselines and the oracle on the same test rows, on observed and on true outcomes — twelve calls
    that drew the same 200 × 1.7 M weights at 2,000,000 children).

    The matrices are exactly those of :func:`bootstrap_weights` with ``np.random.default_rng(seed + 1)``
    (what :func:`evaluate_scores` draws without them); they are kept as whole-number counts, one byte
    per row and replicate (200 replicates of 1.7 M rows: 340 MB), after the first full pass.

    Parameters
    ----------
    child_ids : array-like, shape (n,), or None
        Child of each row (None: every row its own cluster), as ``child_ids`` of :func:`evaluate_scores`.
    n_rows : int
    n_boot : int
        Replicates ``B``.
    seed : int
        The ``seed`` of the :func:`evaluate_scores` calls that use them.
    """

    def __init__(self, child_ids, n_rows: int, n_boot: int, seed: int):
        self.n_rows, self.n_boot, self.seed = int(n_rows), int(n_boot), int(seed)
        self.row_child, self.n_children = _child_codes(child_ids, self.n_rows)
        if len(self.row_child) != self.n_rows:
            raise ValueError(f"child_ids has {len(self.row_child)} rows, expected {self.n_rows}")
        self._counts: list[np.ndarray] | None = None

    def matrices(self) -> Iterator[np.ndarray]:
        """The weight matrices, float64, shape (chunk, n_rows), ``n_boot`` rows in all."""
        if self._counts is not None:
            for c in self._counts:
                yield c.astype("float64")
            return
        kept: list[np.ndarray] | None = []
        for W in bootstrap_weights(np.random.default_rng(self.seed + 1), self.row_child, self.n_children,
                                   self.n_boot):
            if kept is not None and (W.size == 0 or W.max() <= 255):
                kept.append(W.astype(np.uint8))
            else:
                kept = None  # a count above a byte (never seen): drawn again next time
            yield W
        self._counts = kept


# ---------------------------------------------------------------------------------------------------
# public metric functions


def precision_at_k_per_community(
    y_true, scores, communities, capacity, *, ties: str = "stochastic", seed: int = DEFAULT_SEED
) -> float:
    """``precision@capacity_abs``: hits in every community's top ``K_c``, summed, over places filled.

    Parameters
    ----------
    y_true : array-like of 0/1, shape (n,)
        Observed outcome within the label window.
    scores : array-like of float, shape (n,)
        Ranking score, higher first; NaN ranks last.
    communities : array-like of str, shape (n,)
        Community of each row.
    capacity : mapping or Series, community -> int
        ``K_c`` visits per community per cycle.
    ties : {"stochastic", "best", "worst"}
        Order among equal scores (triage).
    seed : int
        Seed of the stochastic tie order.

    Returns
    -------
    float
        ``sum_c hits_c / sum_c min(K_c, n_c)``; NaN when no place is filled.
    """
    hits, selected, _ = _at_k_counts(y_true, scores, communities, capacity, ties, seed)
    return hits / selected if selected > 0 else math.nan


def recall_at_k_per_community(
    y_true, scores, communities, capacity, *, ties: str = "stochastic", seed: int = DEFAULT_SEED
) -> float:
    """``recall@capacity_abs``: hits in every community's top ``K_c``, summed, over all positives.

    Parameters are those of :func:`precision_at_k_per_community`.

    Returns
    -------
    float
        ``sum_c hits_c / sum_c positives_c``; NaN when there are no positives.
    """
    hits, _, positives = _at_k_counts(y_true, scores, communities, capacity, ties, seed)
    return hits / positives if positives > 0 else math.nan


def _at_k_counts(y_true, scores, communities, capacity, ties, seed) -> tuple[float, float, float]:
    y = _as_labels(y_true)
    s = _as_scores(scores)
    comm = pd.Series(communities).astype("string").fillna("<NA>").to_numpy()
    _check_lengths(y_true=y, scores=s, communities=comm)
    codes, _ = pd.factorize(comm)
    plan = _plan(s, codes, _tie_key(y, ties, np.random.default_rng(seed)), _capacity_per_row(comm, capacity))
    hits, sel = _list_hits(plan, y, np.ones(len(y)))
    return hits, sel, float(y.sum())


def k_for_pct(n: float, pct: float) -> int:
    """List length of a city-wide ``pct`` list: ``ceil(pct/100 × n)`` (at least 1 when n > 0)."""
    return max(1, math.ceil(pct / 100.0 * n - 1e-9)) if n > 0 else 0


def precision_at_pct(
    y_true, scores, *, pct: float = 5.0, ties: str = "stochastic", seed: int = DEFAULT_SEED
) -> float:
    """``precision@<pct>_pct``: precision of the city-wide top ``ceil(pct% × n)`` rows.

    Parameters
    ----------
    y_true : array-like of 0/1, shape (n,)
    scores : array-like of float, shape (n,)
    pct : float
        List length as a percentage of all rows (default 5).
    ties, seed
        As in :func:`precision_at_k_per_community`.

    Returns
    -------
    float
    """
    y = _as_labels(y_true)
    s = _as_scores(scores)
    _check_lengths(y_true=y, scores=s)
    plan = _plan(s, np.zeros(len(y), dtype=np.int64), _tie_key(y, ties, np.random.default_rng(seed)), None)
    hits, sel = _list_hits(plan, y, np.ones(len(y)), k_total=k_for_pct(len(y), pct))
    return hits / sel if sel > 0 else math.nan


def roc_auc(y_true, scores) -> float:
    """Area under the ROC curve (ties count as one threshold, as scikit-learn); NaN with one class."""
    y, s = _as_labels(y_true), _as_scores(scores)
    return _auc_ap(_curve_plan(s), y, np.ones(len(y)))[0]


def average_precision(y_true, scores) -> float:
    """Average precision ``sum_i (R_i - R_{i-1}) P_i`` (scikit-learn's definition, no interpolation)."""
    y, s = _as_labels(y_true), _as_scores(scores)
    return _auc_ap(_curve_plan(s), y, np.ones(len(y)))[1]


def brier(y_true, proba) -> float:
    """Brier score: mean squared difference between probability and outcome (lower is better)."""
    y, p = _as_labels(y_true), _as_proba(proba)
    return _brier_ece(p, y, np.ones(len(y)), _ece_bins(p, DEFAULT_ECE_BINS), DEFAULT_ECE_BINS)[0]


def expected_calibration_error(y_true, proba, *, n_bins: int = DEFAULT_ECE_BINS) -> float:
    """Expected calibration error over ``n_bins`` equal-width probability bins.

    ``ECE = sum_b (n_b / n) × |mean predicted_b − observed rate_b|`` with bins ``[0, 0.1), …, [0.9, 1.0]``
    (probability 1.0 falls in the last bin); empty bins contribute nothing.

    Parameters
    ----------
    y_true : array-like of 0/1, shape (n,)
    proba : array-like of float in [0, 1], shape (n,)
        Calibrated probability.
    n_bins : int
        Number of equal-width bins (default 10).

    Returns
    -------
    float
        In [0, 1]; 0 for a perfectly calibrated forecast.

    References
    ----------
    Naeini, Cooper & Hauskrecht (2015), AAAI; Guo et al. (2017), "On calibration of modern neural
    networks", ICML.
    """
    y, p = _as_labels(y_true), _as_proba(proba)
    return _brier_ece(p, y, np.ones(len(y)), _ece_bins(p, n_bins), n_bins)[1]


def calibration_bins(y_true, proba, *, n_bins: int = DEFAULT_ECE_BINS) -> list[dict]:
    """Reliability table behind :func:`expected_calibration_error`.

    Returns
    -------
    list of dict
        One dict per non-empty bin: ``{"mean_predicted": float, "observed": float, "n": int}``.
    """
    y, p = _as_labels(y_true), _as_proba(proba)
    b = _ece_bins(p, n_bins)
    n = np.bincount(b, minlength=n_bins)
    ps = np.bincount(b, weights=p, minlength=n_bins)
    ys = np.bincount(b, weights=y, minlength=n_bins)
    return [
        {"mean_predicted": float(ps[i] / n[i]), "observed": float(ys[i] / n[i]), "n": int(n[i])}
        for i in range(n_bins)
        if n[i] > 0
    ]


# ---------------------------------------------------------------------------------------------------
# the metric block: every metric, tie orders, bootstrap intervals


def _child_codes(child_ids, n: int) -> tuple[np.ndarray, int]:
    if child_ids is None:
        return np.arange(n), n
    codes, uniques = pd.factorize(pd.Series(child_ids))
    return codes, len(uniques)


def evaluate_scores(
    y_true,
    proba,
    communities,
    capacity: Mapping[str, int] | pd.Series,
    *,
    rank_score=None,
    child_ids=None,
    ties: str = "stochastic",
    pct: float = 5.0,
    n_bins: int = DEFAULT_ECE_BINS,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    weights: BootstrapWeights | None = None,
) -> dict[str, dict]:
    """Every metric of :data:`METRIC_NAMES` with tie orders and bootstrap 95% intervals.

    Parameters
    ----------
    y_true : array-like of 0/1, shape (n,)
        Outcome within the label window (observed labels, or true outcomes in simulation).
    proba : array-like of float in [0, 1], shape (n,)
        Probability used for ``brier`` and ``ece`` (the calibrated score for the model).
    communities : array-like of str, shape (n,)
        Community per row.
    capacity : mapping or Series, community -> int
        Visit capacity ``K_c``.
    rank_score : array-like of float, shape (n,), optional
        Score that orders the list (default ``proba``). The model ranks by its uncalibrated score:
        isotonic calibration is a step function and would create ties the model did not make.
    child_ids : array-like, shape (n,), optional
        Child of each row; the bootstrap resamples children (all their rows together).
    ties : {"stochastic", "best", "worst"}
        Tie order of the headline value and of the bootstrap replicates.
    pct : float
        Length of the city-wide list in percent (default 5).
    n_bins : int
        ECE bins.
    n_boot : int
        Bootstrap replicates ``B`` (0 = no intervals, ``ci95`` is None).
    seed : int
        Seed of tie orders and bootstrap draws.
    weights : BootstrapWeights, optional
        The bootstrap draws of these rows made once for several calls (same ``n_boot`` and ``seed``;
        ``child_ids`` is then not read): the same intervals as drawing them here.

    Returns
    -------
    dict
        ``{metric name: {"value": float, "ci95": [lo, hi] | None}}``; list metrics also carry
        ``"ties": {"best": float, "worst": float, "stochastic": float}``. Undefined values are NaN.

    Raises
    ------
    ValueError
        Inputs of different lengths, or ``weights`` made for another row count, ``n_boot`` or ``seed``.
    """
    y = _as_labels(y_true)
    p = _as_proba(proba)
    s = _as_scores(p if rank_score is None else rank_score)
    comm = pd.Series(communities).astype("string").fillna("<NA>").to_numpy()
    n = _check_lengths(y_true=y, proba=p, rank_score=s, communities=comm)
    if weights is not None and (weights.n_rows, weights.n_boot, weights.seed) != (n, n_boot, seed):
        raise ValueError(f"weights were drawn for {weights.n_rows} rows, n_boot {weights.n_boot}, seed "
                         f"{weights.seed}; this call has {n}, {n_boot}, {seed}")
    codes, _ = pd.factorize(comm)
    k_row = _capacity_per_row(comm, capacity)
    zeros = np.zeros(n, dtype=np.int64)
    k_pct = k_for_pct(n, pct)

    plans = {}
    for t in TIE_ORDERS:
        key = _tie_key(y, t, np.random.default_rng(seed))
        city = np.lexsort((key, -s))  # one sort for both lists of this tie order
        plans[t] = (_plan(s, codes, key, k_row, y, city), _plan(s, zeros, key, None, y, city))
    tops = {t: (_top_plan(kp, y), _top_plan(cp, y, k_pct)) for t, (kp, cp) in plans.items()}
    curve = _curve_codes(s, y)
    bins = _ece_bins(p, n_bins)
    terms = _brier_ece_terms(p, y, bins, n_bins)

    def compute_m(W: np.ndarray, tie: str, k_total: float) -> np.ndarray:
        """Metrics per weight row, shape (B, len(METRIC_NAMES)), in METRIC_NAMES order."""
        ktop, ctop = tops[tie]
        hits, sel = _top_hits_m(ktop, y, W)
        hits_pct, sel_pct = _top_hits_m(ctop, y, W, k_total=k_total)
        auc, ap = _auc_ap_codes(curve, W)
        _, pos, b, e = _weighted_sums_m(W, terms)
        with np.errstate(invalid="ignore", divide="ignore"):
            cols = {
                PRECISION_AT_CAPACITY: np.where(sel > 0, hits / sel, math.nan),
                RECALL_AT_CAPACITY: np.where(pos > 0, hits / pos, math.nan),
                PRECISION_AT_5_PCT: np.where(sel_pct > 0, hits_pct / sel_pct, math.nan),
                ROC_AUC: auc,
                AVERAGE_PRECISION: ap,
                BRIER: b,
                ECE: e,
            }
        return np.column_stack([cols[name] for name in METRIC_NAMES])

    with threadpool_limits(limits=1, user_api="blas"):  # BLAS threads on small products only contend
        ones = np.ones((1, n))
        by_tie = {t: dict(zip(METRIC_NAMES, compute_m(ones, t, k_pct)[0], strict=True)) for t in TIE_ORDERS}
        out: dict[str, dict] = {}
        for name in METRIC_NAMES:
            out[name] = {"value": float(by_tie[ties][name]), "ci95": None}
            if name in LIST_METRICS:
                out[name]["ties"] = {t: float(by_tie[t][name]) for t in TIE_ORDERS}

        if n_boot > 0 and n > 0:
            if weights is None:  # drawn for this call only: nothing kept
                row_child, n_children = _child_codes(child_ids, n)
                draws = bootstrap_weights(np.random.default_rng(seed + 1), row_child, n_children, n_boot)
            else:
                draws = weights.matrices()
            reps = np.concatenate([compute_m(W, ties, k_pct) for W in draws])
            for j, name in enumerate(METRIC_NAMES):
                col = reps[:, j][np.isfinite(reps[:, j])]
                if len(col):
                    out[name]["ci95"] = [float(np.percentile(col, 2.5)), float(np.percentile(col, 97.5))]
    return out


def metric_values(block: Mapping[str, Mapping]) -> dict[str, float]:
    """Flatten a metric block to ``{name: value}``."""
    return {name: float(v["value"]) for name, v in block.items()}


def intervals_overlap(a: Sequence[float] | None, b: Sequence[float] | None) -> bool:
    """True when two closed intervals overlap (or either is missing)."""
    if a is None or b is None:
        return True
    return not (a[1] < b[0] or b[1] < a[0])


def to_table(blocks: Mapping[str, Mapping[str, Mapping]]) -> pd.DataFrame:
    """Long table of metric blocks for CSV artifacts.

    Parameters
    ----------
    blocks : mapping, model name -> metric block (:func:`evaluate_scores`)

    Returns
    -------
    DataFrame
        Columns ``model, metric, value, ci95_lo, ci95_hi, best, worst, stochastic``; triage names.
    """
    rows = []
    for model, block in blocks.items():
        for name, v in block.items():
            ci = v.get("ci95") or [math.nan, math.nan]
            t = v.get("ties") or {}
            rows.append(
                {
                    "model": model,
                    "metric": name,
                    "value": v["value"],
                    "ci95_lo": ci[0],
                    "ci95_hi": ci[1],
                    "best": t.get("best", math.nan),
                    "worst": t.get("worst", math.nan),
                    "stochastic": t.get("stochastic", math.nan),
                }
            )
    return pd.DataFrame(rows)
