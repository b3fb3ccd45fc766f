"""Issue 5 additions: the oracle (simulation), observed-vs-true gap, label coverage, baselines per split,
exploration places, the vectorized bootstrap and the audit's reference and flag rules."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from models import metrics as M
from models.capacity import capacity_for_date
from models.evaluate import BASELINE_NAMES, evaluate_target
from models.fairness import fairness_audit
from models.oracle import true_risk_score
from models.scoring import EXPLORATION_ZH, SCORE_COLUMNS, score_cycle

TARGET = "guardianship_risk"


# ----------------------------------------------------------------------------------------- oracle


def _truth(months=("2024-04-01", "2024-05-01", "2024-06-01", "2024-07-01")) -> pd.DataFrame:
    rows = []
    states = {"A": [0, 1, 2, 3], "B": [0, 0, 0, 0], "C": [3, 3, 0, 0]}
    for child, st in states.items():
        for m, s in zip(months, st, strict=True):
            rows.append(
                {
                    "child_token": child,
                    "month": pd.Timestamp(m),
                    "guardianship_state": s,
                    "maltreated": child == "B" and m == "2024-06-01",
                    "true_left_behind": child == "C",
                }
            )
    return pd.DataFrame(rows)


def test_oracle_uses_the_last_complete_month_only():
    rows = pd.DataFrame(
        {"child_token": ["A", "B", "C", "Z"], "as_of_date": [date(2024, 7, 1)] * 4}, index=[10, 11, 12, 13]
    )
    s = true_risk_score(_truth(), rows, TARGET)
    assert list(s.index) == [10, 11, 12, 13]
    # A: June state 2 (July's 3 is after the as-of date), 6-month mean over Apr–Jun = 1
    assert s[10] == pytest.approx(2 + 0.25 * 1.0)
    assert s[11] == pytest.approx(0.5)  # B: maltreated in June
    assert s[12] == pytest.approx(0 + 0.25 * 2.0)  # C: mean(3, 3, 0)
    assert s[13] == 0.0  # not in the truth
    lb = true_risk_score(_truth(), rows, "left_behind_risk")
    assert lb[12] == pytest.approx(1 + 0.5 * 1.0) and lb[10] == 0.0


@pytest.fixture(scope="module")
def sim_eval(trained, matrix, dictionary, capacity):
    rng = np.random.default_rng(3)
    observed = matrix[TARGET].astype(float)
    # true outcomes: every observed positive plus as many undetected ones (labels are detections)
    truth = ((observed > 0) | (rng.random(len(matrix)) < observed.mean())).astype(float)
    oracle = truth + rng.random(len(matrix)) * 0.5  # knows the truth, with noise inside each class
    coverage = pd.DataFrame(
        {
            "as_of_date": [max(matrix["as_of_date"])] * 3,
            "group": ["all", "district", "district"],
            "value": ["全部", "上城区", "淳安县"],
            "cohort_children": [600, 200, 200],
            "visited_children": [120, 20, 60],
        }
    ).assign(coverage=lambda d: d.visited_children / d.cohort_children)
    ev = evaluate_target(
        trained,
        matrix,
        dictionary,
        capacity,
        label_timespan_days=180,
        truth=truth,
        oracle_score=oracle,
        label_coverage=coverage,
        simulation=True,
        n_boot=50,
    )
    return ev, truth


def test_oracle_block_and_gap(sim_eval):
    ev, _ = sim_eval
    json.dumps(ev, allow_nan=False)
    o = ev["oracle"]
    assert o["definition"] and set(o["metrics"]) == set(M.METRIC_NAMES)
    found = o["true_at_risk_found"]
    assert set(found) == {"model", *BASELINE_NAMES, "oracle"}
    n = {v["n_true_at_risk"] for v in found.values()}
    assert len(n) == 1 and n.pop() > 0
    # an oracle that knows the true outcomes finds at least as many truly at-risk children as any list
    assert all(found["oracle"]["found"] >= v["found"] for v in found.values())
    assert found["oracle"]["share"] == pytest.approx(o["truth_metrics"][M.RECALL_AT_CAPACITY]["value"])
    g = o["gap_to_oracle"]["truth"][M.PRECISION_AT_CAPACITY]
    assert g == pytest.approx(
        o["truth_metrics"][M.PRECISION_AT_CAPACITY]["value"]
        - ev["truth_metrics"]["model"][M.PRECISION_AT_CAPACITY]["value"]
    )
    lg = ev["label_gap"]["model"][M.RECALL_AT_CAPACITY]
    assert lg["truth_minus_observed"] == pytest.approx(lg["truth"] - lg["observed"])
    assert lg["observed"] == pytest.approx(ev["metrics"]["model"][M.RECALL_AT_CAPACITY]["value"])


def test_coverage_baselines_per_split_one_feature_and_ventiles(sim_eval):
    ev, _ = sim_eval
    cov = ev["label_coverage"]
    assert cov["as_of_date"] and {r["value"] for r in cov["rows"]} == {"全部", "上城区", "淳安县"}
    for s in ev["splits"]:
        assert set(s["baselines"]) == set(BASELINE_NAMES)
        assert set(s["beats_baselines"]) == set(BASELINE_NAMES)
        assert all(b[M.PRECISION_AT_CAPACITY]["ci95"] is not None for b in s["baselines"].values())
    assert ev["splits"][-1]["baselines"]["checklist"] == ev["metrics"]["checklist"]
    # no feature named: the target's default (absent from this small matrix → best training AUC, noted)
    assert ev["one_feature"]["source"] == "best_training_auc" and any(
        "one_feature_rank" in x for x in ev["notes"]
    )
    vc = ev["ventile_calibration"]
    assert [v["ventile"] for v in vc] == sorted(v["ventile"] for v in vc) and sum(v["n"] for v in vc) == ev[
        "n_test"
    ]
    assert ev["calibration"]["ece"] == ev["metrics"]["model"][M.ECE]["value"]
    assert isinstance(ev["calibration"]["ece_meets_target"], bool)


def test_one_feature_default_used_when_present(trained, matrix, dictionary, capacity):
    m = matrix.assign(visit_count_12m=matrix["school_days_absent_3m"])
    ev = evaluate_target(trained, m, dictionary, capacity, label_timespan_days=180, n_boot=0)
    assert ev["one_feature"] == {"feature": "visit_count_12m", "direction": 1, "source": "default"}
    assert ev["oracle"] is None and ev["label_gap"] is None and ev["label_coverage"] is None


# ----------------------------------------------------------------------------------------- bootstrap


def test_vectorized_bootstrap_is_chunk_invariant_and_matches_weighted_auc(monkeypatch):
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    n = 3000
    y = (rng.random(n) < 0.05).astype(float)
    p = np.clip(0.05 + 0.3 * y * rng.random(n), 0, 1)
    comm = rng.choice(["a", "b", "c"], n)
    cap = {"a": 20, "b": 30, "c": 10}
    full = M.evaluate_scores(y, p, comm, cap, n_boot=40, seed=1)
    monkeypatch.setattr(M, "BOOT_CHUNK_CELLS", 7 * n)  # 7 replicates per chunk
    chunked = M.evaluate_scores(y, p, comm, cap, n_boot=40, seed=1)
    for name in M.METRIC_NAMES:  # equal up to float rounding of the matrix products
        assert full[name]["value"] == chunked[name]["value"]
        assert full[name]["ci95"] == pytest.approx(chunked[name]["ci95"], rel=1e-9)
    # one replicate's weighted AUC equals scikit-learn's with sample weights
    W = next(M.bootstrap_weights(np.random.default_rng(5), np.arange(n), n, 1))
    auc, _ = M._auc_ap_m(M._curve_plan(p), y, W)
    assert auc[0] == pytest.approx(roc_auc_score(y, p, sample_weight=W[0]))


# ----------------------------------------------------------------------------------------- fairness


def test_reference_is_never_unknown_and_few_positives_never_flag():
    n = 3000
    rng = np.random.default_rng(0)
    g = np.array(["未知"] * 1500 + ["甲"] * 1000 + ["乙"] * 500)
    y = (rng.random(n) < 0.1).astype(float)
    y[2500:] = 0
    y[2500:2503] = 1  # 乙: 3 positives, never selected
    sel = rng.random(n) < 0.5
    sel[2500:] = False
    audit = fairness_audit(y, sel, pd.DataFrame({"district": g}), attribute_names=["district"], n_boot=100)
    assert set(audit["reference_group"]) == {"甲"}
    yi = audit.set_index("group")
    assert yi.at["乙", "tpr"] == 0 and not yi.at["乙", "flag"]  # 3 positives: not enough to flag
    flagged = fairness_audit(
        y, sel, pd.DataFrame({"district": g}), attribute_names=["district"], n_boot=100, min_positives_flag=1
    ).set_index("group")
    assert flagged.at["乙", "flag"]


# ----------------------------------------------------------------------------------------- exploration


def test_exploration_places_go_to_unvisited_children(trained, matrix, dictionary, capacity):
    as_of = max(matrix["as_of_date"])
    rows = matrix[matrix["as_of_date"] == as_of].copy()
    rng = np.random.default_rng(1)
    visited = rng.random(len(rows)) < 0.5
    rows["last_visit_date"] = np.where(visited, pd.Timestamp(as_of) - pd.Timedelta(days=30), pd.NaT)
    cap = capacity_for_date(capacity, as_of)
    base = score_cycle(trained.final, None, rows, cap, dictionary, target=TARGET)
    assert list(base.columns) == SCORE_COLUMNS  # share 0: the table is unchanged
    s = score_cycle(
        trained.final, None, rows, cap, dictionary, target=TARGET, exploration_share=0.2, exploration_seed=9
    )
    assert list(s.columns) == [*SCORE_COLUMNS, "selection"]
    again = score_cycle(
        trained.final, None, rows, cap, dictionary, target=TARGET, exploration_share=0.2, exploration_seed=9
    )
    pd.testing.assert_frame_equal(
        s.drop(columns=["reasons", "reason_features"]), again.drop(columns=["reasons", "reason_features"])
    )
    lv = rows.set_index("child_token")["last_visit_date"]
    base_rank = base.set_index("child_token")["rank_in_community"]
    for comm, g in s.groupby("community"):
        k = int(cap[comm])
        e = int(np.floor(0.2 * k + 0.5))
        assert g["rank_in_community"].tolist() == list(range(1, len(g) + 1))
        listed = g[g["rank_in_community"] <= k]
        drawn = listed[listed["selection"] == EXPLORATION_ZH]
        assert len(drawn) == e  # every community here has unvisited children beyond the model's picks
        assert lv.reindex(drawn["child_token"]).isna().all()
        assert (base_rank.reindex(drawn["child_token"]) > k - e).all()
        model_part = listed[listed["selection"] != EXPLORATION_ZH]
        assert (base_rank.reindex(model_part["child_token"]) <= k - e).all()
    assert (s["selection"] == EXPLORATION_ZH).sum() == sum(
        int(np.floor(0.2 * k + 0.5)) for k in cap.reindex(s["community"].unique())
    )
