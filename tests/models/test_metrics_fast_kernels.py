"""The bootstrap kernels of evaluate_scores that read only the top of each list and sum the ROC curve per
threshold (issue 8: a 2,000,000-child test date) give the values of the kernels that read every row in list
order: exactly for the list metrics (sums of whole numbers), to rounding for ROC AUC and average precision."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models import metrics as M


def _case(seed: int, n: int, n_groups: int, k_max: int, tie_levels: int | None, prevalence: float):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(float)
    s = rng.random(n) + 0.3 * y
    if tie_levels:  # heavy ties, as a one-feature or registry baseline makes
        s = np.floor(s * tie_levels) / tie_levels
    codes = rng.integers(0, n_groups, n)
    k_row = rng.integers(0, k_max + 1, n_groups)[codes].astype(float)
    key = rng.random(n)
    return y, s, codes, k_row, key


def _weights(seed: int, n: int, B: int, clusters: int | None = None):
    rng = np.random.default_rng(seed)
    cl = np.arange(n) if clusters is None else rng.integers(0, clusters, n)
    W = np.concatenate(list(M.bootstrap_weights(rng, cl, int(cl.max()) + 1, B)))
    return np.vstack([np.ones(n), W])


@pytest.mark.parametrize(("n", "n_groups", "k_max", "ties", "prev"), [
    (3000, 40, 5, None, 0.05), (3000, 40, 60, None, 0.05), (2000, 1, 30, None, 0.02), (2500, 300, 3, 7, 0.1),
    (1500, 20, 10, 1, 0.05), (800, 5, 400, None, 0.5), (500, 50, 0, None, 0.05),
])  # fmt: skip
def test_top_of_list_hits_equal_every_row(n, n_groups, k_max, ties, prev):
    """Per-community and city-wide lists, small and large K (larger than a group, zero), heavy ties,
    bootstrap weights by child (some children with several rows) and the all-ones point estimate."""
    y, s, codes, k_row, key = _case(n + n_groups, n, n_groups, k_max, ties, prev)
    for clusters in (None, n // 3):
        W = _weights(n, n, 25, clusters)
        plan = M._plan(s, codes, key, k_row, y)
        np.testing.assert_array_equal(np.column_stack(M._top_hits_m(M._top_plan(plan, y), y, W)),
                                      np.column_stack(M._list_hits_m(plan, y, W)))
        city = M._plan(s, np.zeros(n, dtype=np.int64), key, None, y)
        k = M.k_for_pct(n, 5.0)
        np.testing.assert_array_equal(np.column_stack(M._top_hits_m(M._top_plan(city, y, k), y, W, k_total=k)),
                                      np.column_stack(M._list_hits_m(city, y, W, k_total=k)))


def test_a_replicate_short_of_weight_at_the_top_falls_back_to_every_row():
    """A cut group whose candidates all drew weight 0 selects rows below them: that replicate is computed
    on every row, and the result is still the one of every row."""
    n = 200
    y = (np.arange(n) % 7 == 0).astype(float)
    m = math.ceil(2 + M.CANDIDATE_SD * math.sqrt(2) + M.CANDIDATE_PAD)  # candidates of a list of K = 2
    y[m], y[m + 1] = 0.0, 1.0
    s = -np.arange(n, dtype=float)  # row i is i-th on the list
    codes = np.zeros(n, dtype=np.int64)
    k_row = np.full(n, 2.0)
    plan = M._plan(s, codes, np.zeros(n), k_row, y)
    top = M._top_plan(plan, y)
    assert len(top.rows) == m == 31 and len(top.group_first) == 1
    W = np.ones((3, n))
    W[1, : len(top.rows)] = 0.0  # replicate 1: no candidate drawn
    W[2, 5] = 4.0
    hits, sel = M._top_hits_m(top, y, W)
    ref_hits, ref_sel = M._list_hits_m(plan, y, W)
    np.testing.assert_array_equal(hits, ref_hits)
    np.testing.assert_array_equal(sel, ref_sel)
    assert sel.tolist() == [2.0, 2.0, 2.0] and hits[1] == 1.0  # rows 31 and 32 selected


@pytest.mark.parametrize(("n", "ties", "prev"), [(3000, None, 0.05), (3000, 5, 0.1), (400, 1, 0.3),
                                                 (1000, None, 0.0), (300, None, 1.0), (2000, 40, 0.01)])
def test_roc_auc_and_average_precision_from_threshold_sums_equal_the_curve(n, ties, prev):
    """Ties across positives and negatives count as one threshold (half credit in the AUC); no positive or
    no negative gives NaN (AP 1.0 with positives only), as the curve kernel does."""
    y, s, *_ = _case(n, n, 1, 1, ties, prev)
    W = _weights(n + 1, n, 30, n // 2)
    auc, ap = M._auc_ap_codes(M._curve_codes(s, y), W)
    ref_auc, ref_ap = M._auc_ap_m(M._curve_plan(s), y, W)
    np.testing.assert_allclose(auc, ref_auc, rtol=1e-12, atol=0, equal_nan=True)
    np.testing.assert_allclose(ap, ref_ap, rtol=1e-12, atol=0, equal_nan=True)
    if 0 < prev < 1:
        assert np.isfinite(auc).all() and np.isfinite(ap).all()
        from sklearn.metrics import average_precision_score, roc_auc_score

        assert auc[0] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        assert ap[0] == pytest.approx(average_precision_score(y, s), abs=1e-12)


def test_bootstrap_weights_drawn_once_give_the_same_intervals(monkeypatch):
    """BootstrapWeights (issue 8: twelve blocks on one test date drew the same weights twelve times) gives
    every call exactly the intervals it draws itself, on its first pass (drawing) and later ones (kept
    counts), over several chunks; weights drawn for other rows, replicates or seed are refused."""
    import pandas as pd

    monkeypatch.setattr(M, "BOOT_CHUNK_CELLS", 7 * 900)  # 7 replicates per chunk: several chunks
    rng = np.random.default_rng(11)
    n = 900
    y = (rng.random(n) < 0.1).astype(float)
    comm = rng.choice([f"c{i}" for i in range(12)], n)
    cap = pd.Series({f"c{i}": 1 + i % 4 for i in range(12)})
    children = rng.integers(0, 500, n).astype(str)
    w = M.BootstrapWeights(children, n, 40, 3)
    for i in range(3):
        s = rng.random(n) + 0.4 * y * i
        p = np.clip(s / 2, 0, 1)
        alone = M.evaluate_scores(y, p, comm, cap, rank_score=s, child_ids=children, n_boot=40, seed=3)
        shared = M.evaluate_scores(y, p, comm, cap, rank_score=s, child_ids=children, n_boot=40, seed=3, weights=w)
        assert shared == alone
        assert any(v["ci95"] and v["ci95"][0] < v["ci95"][1] for v in alone.values())
    assert w._counts is not None and sum(len(c) for c in w._counts) == 40
    for bad in (M.BootstrapWeights(children, n, 41, 3), M.BootstrapWeights(children, n, 40, 4)):
        with pytest.raises(ValueError, match="weights were drawn"):
            M.evaluate_scores(y, p, comm, cap, child_ids=children, n_boot=40, seed=3, weights=bad)
    with pytest.raises(ValueError, match="rows"):
        M.BootstrapWeights(children[:10], n, 40, 3)


@pytest.mark.parametrize(("n", "n_groups", "tie_levels"), [
    (5000, 40, None), (5000, 40, 3), (4000, 1, 5), (3000, 70_000, None), (0, 1, None), (200, 7, 1),
])  # fmt: skip
def test_list_order_is_the_three_key_sort(n, n_groups, tie_levels):
    """Lists are sorted city-wide once and regrouped by community (a radix sort of the codes up to 65,536
    communities); the order is that of the three-key stable sort by community, score, tie key, for
    random, best and worst tie keys and heavy ties, and the rank restarts at 1 in each community."""
    rng = np.random.default_rng(n + n_groups)
    y = (rng.random(n) < 0.1).astype(float)
    s = rng.random(n)
    if tie_levels:
        s = np.floor(s * tie_levels) / tie_levels
    codes = rng.integers(0, n_groups, n)
    for key in (rng.random(n), -y, y):
        want = np.lexsort((key, -s, codes))
        order, rank = M.list_order(s, codes, key)
        assert order.tolist() == want.tolist()
        city = np.lexsort((key, -s))
        assert M._plan(s, codes, key, None, city_order=city).order.tolist() == want.tolist()
        assert M._plan(s, np.zeros(n, dtype=np.int64), key, None, city_order=city).order.tolist() == city.tolist()
        if n:
            first = np.r_[True, codes[order][1:] != codes[order][:-1]]
            assert (rank[order][first] == 1).all() and rank.max() <= np.bincount(codes).max()


def test_weighted_brier_ece_and_positives_are_those_of_the_repeated_rows():
    """Brier, ECE, total weight and positives per bootstrap replicate, from one product with the weights
    and one per-bin sum, are those of each replicate's rows repeated as often as drawn (ECE: the weighted
    gap between mean probability and outcome rate per bin, empty bins left out); a replicate of zero
    weight gives NaN."""
    from sklearn.metrics import brier_score_loss

    rng = np.random.default_rng(11)
    n, n_bins = 3000, 10
    p = np.round(rng.random(n) ** 2, 3)
    p[:40] = 1.0  # the top bin's edge
    y = (rng.random(n) < p).astype(float)
    W = _weights(12, n, 30, clusters=n // 2)
    W = np.vstack([W, np.zeros(n)])
    bins = M._ece_bins(p, n_bins)
    tot, pos, brier, ece = M._weighted_sums_m(W, M._brier_ece_terms(p, y, bins, n_bins))
    for b in range(len(W) - 1):
        rep = np.repeat(np.arange(n), W[b].astype(int))
        pr, yr, br = p[rep], y[rep], bins[rep]
        assert tot[b] == len(rep) and pos[b] == yr.sum()
        assert brier[b] == pytest.approx(brier_score_loss(yr, pr), rel=1e-12)
        want = sum(abs(pr[br == k].mean() - yr[br == k].mean()) * (br == k).mean() for k in np.unique(br))
        assert ece[b] == pytest.approx(want, rel=1e-10)
        assert ece[b] == pytest.approx(M.expected_calibration_error(yr, pr), rel=1e-10)
    assert tot[-1] == 0 and np.isnan(brier[-1]) and np.isnan(ece[-1])
    assert len(set(np.round(ece[:-1], 12))) > 20  # the replicates really differ
