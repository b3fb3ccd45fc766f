"""Metrics@K against hand-computed examples; ECE; agreement with scikit-learn; bootstrap."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from models import metrics as M

# community A: K=2, list 0.9(+) 0.8(-) | 0.7(+) 0.1(-)  -> 1 hit of 2 places
# community B: K=1, list 0.6(-) | 0.5(+) 0.4(+)          -> 0 hits of 1 place
Y = [1, 0, 1, 0, 0, 1, 1]
S = [0.9, 0.8, 0.7, 0.1, 0.6, 0.5, 0.4]
C = ["A", "A", "A", "A", "B", "B", "B"]
K = {"A": 2, "B": 1}


def test_precision_recall_at_k_sum_over_communities():
    assert M.precision_at_k_per_community(Y, S, C, K) == pytest.approx(1 / 3)
    assert M.recall_at_k_per_community(Y, S, C, K) == pytest.approx(1 / 4)
    # a city-wide top 3 would pick 0.9, 0.8, 0.7: 2 hits — per-community ranking differs on purpose
    assert M.precision_at_pct(Y, S, pct=3 / 7 * 100) == pytest.approx(2 / 3)


def test_capacity_larger_than_community_takes_everyone():
    assert M.precision_at_k_per_community(Y, S, C, {"A": 10, "B": 10}) == pytest.approx(4 / 7)
    assert M.recall_at_k_per_community(Y, S, C, {"A": 10, "B": 10}) == 1.0


def test_ties_best_worst_stochastic():
    y, s, c = [1, 0, 0, 0], [0.5] * 4, ["A"] * 4
    assert M.precision_at_k_per_community(y, s, c, {"A": 1}, ties="best") == 1.0
    assert M.precision_at_k_per_community(y, s, c, {"A": 1}, ties="worst") == 0.0
    vals = {M.precision_at_k_per_community(y, s, c, {"A": 1}, ties="stochastic", seed=i) for i in range(20)}
    assert vals == {0.0, 1.0}
    block = M.evaluate_scores(y, s, c, {"A": 1}, n_boot=0)
    assert block[M.PRECISION_AT_CAPACITY]["ties"]["best"] == 1.0
    assert block[M.PRECISION_AT_CAPACITY]["ties"]["worst"] == 0.0


def test_missing_capacity_is_an_error():
    with pytest.raises(ValueError, match="capacity is missing"):
        M.precision_at_k_per_community(Y, S, C, {"A": 2})


def test_select_top_k_and_nan_scores_rank_last():
    sel = M.select_top_k([np.nan, 0.2, 0.1], ["A", "A", "A"], {"A": 2})
    assert sel.tolist() == [False, True, True]


def test_mlflow_key_has_no_at_sign():
    for name in M.METRIC_NAMES:
        assert "@" not in M.mlflow_key(name)
    assert M.mlflow_key("precision@capacity_abs") == "precision_at_capacity_abs"
    assert M.mlflow_key("precision@5_pct") == "precision_at_5_pct"


def test_auc_ap_brier_match_scikit_learn_with_ties():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    s = np.round(rng.random(500), 1)  # many ties
    assert M.roc_auc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert M.average_precision(y, s) == pytest.approx(average_precision_score(y, s))
    assert M.brier(y, s) == pytest.approx(brier_score_loss(y, s))


def test_ece_zero_on_perfectly_calibrated_toy_and_known_value_otherwise():
    p, y = [], []
    for b in range(10):
        prob = b / 10 + 0.05
        n_pos = round(100 * prob)
        p += [prob] * 100
        y += [1] * n_pos + [0] * (100 - n_pos)
    assert M.expected_calibration_error(y, p) == pytest.approx(0.0, abs=1e-12)
    # everyone at 0.9, half positive: |0.9 - 0.5| = 0.4
    assert M.expected_calibration_error([1, 0] * 50, [0.9] * 100) == pytest.approx(0.4)
    bins = M.calibration_bins([1, 0] * 50, [0.9] * 100)
    assert bins == [{"mean_predicted": pytest.approx(0.9), "observed": 0.5, "n": 100}]


def test_bootstrap_interval_is_seeded_and_brackets_value():
    rng = np.random.default_rng(2)
    n = 2000
    comm = rng.choice(list("ABCDE"), n)
    y = rng.integers(0, 2, n)
    s = y * 0.3 + rng.random(n)
    cap = dict.fromkeys("ABCDE", 40)
    a = M.evaluate_scores(y, np.clip(s, 0, 1), comm, cap, n_boot=100, seed=3)
    b = M.evaluate_scores(y, np.clip(s, 0, 1), comm, cap, n_boot=100, seed=3)
    assert a == b
    for name in M.METRIC_NAMES:
        lo, hi = a[name]["ci95"]
        assert lo <= a[name]["value"] <= hi, name
    # child-level bootstrap: two rows per child still gives intervals
    p = np.clip(s, 0, 1)
    c = M.evaluate_scores(
        np.r_[y, y],
        np.r_[p, p],
        np.r_[comm, comm],
        cap,
        child_ids=np.r_[np.arange(n), np.arange(n)],
        n_boot=20,
    )
    assert c[M.ROC_AUC]["ci95"][0] < c[M.ROC_AUC]["ci95"][1]
    table = M.to_table({"model": a})
    assert set(table["metric"]) == set(M.METRIC_NAMES)
