"""evaluation.json carries every key serving renders the card from."""

import json

import pytest

from models.evaluate import BASELINE_NAMES, EVALUATION_KEYS, evaluate_target
from models.fairness import FAIRNESS_ATTRIBUTES
from models.metrics import METRIC_NAMES, PRECISION_AT_CAPACITY


@pytest.fixture(scope="module")
def evaluation(trained, matrix, dictionary, capacity):
    truth = matrix["guardianship_risk"].astype(float)
    return evaluate_target(
        trained,
        matrix,
        dictionary,
        capacity,
        label_timespan_days=180,
        one_feature="parents_away_months_12m",
        truth=truth,
        simulation=True,
        n_boot=50,
    )


def test_all_keys_and_json(evaluation):
    assert set(EVALUATION_KEYS) <= set(evaluation)
    text = json.dumps(evaluation, ensure_ascii=False, allow_nan=False)  # strict JSON: no NaN
    assert json.loads(text)["target"] == "guardianship_risk"


def test_metric_blocks(evaluation):
    assert set(evaluation["metrics"]) == {"model", *BASELINE_NAMES}
    for block in evaluation["metrics"].values():
        assert set(block) == set(METRIC_NAMES)
        for v in block.values():
            assert {"value", "ci95"} <= set(v)
    assert set(evaluation["beats_baselines"]) == set(BASELINE_NAMES)
    for b in evaluation["beats_baselines"].values():
        assert b["metric"] == PRECISION_AT_CAPACITY and set(b) == {
            "metric",
            "better_point_estimate",
            "significant",
        }
    assert evaluation["beats_baselines"]["prior"]["better_point_estimate"]
    assert evaluation["truth_metrics"]["model"].keys() == evaluation["metrics"]["model"].keys()


def test_sections(evaluation):
    assert evaluation["simulation"] is True and evaluation["approval"]["status"] == "pending"
    assert len(evaluation["splits"]) == 2
    assert set(evaluation["splits"][0]) >= {"train_as_of_dates", "test_as_of_date", "metrics"}
    assert set(evaluation["selection"]) >= {"criterion", "selected_config", "regret"}
    fair_keys = {
        "attribute",
        "group",
        "reference_group",
        "n",
        "n_positive",
        "prevalence",
        "tpr",
        "fnr",
        "for",
        "fpr",
        "precision",
        "ppr",
        "tpr_disparity",
        "tpr_disparity_ci95",
        "flag",
    }
    assert all(fair_keys <= set(r) for r in evaluation["fairness"])
    assert {r["attribute"] for r in evaluation["fairness"]} == set(FAIRNESS_ATTRIBUTES)
    assert evaluation["calibration"]["method"] in {"isotonic", "platt", "identity"}
    assert all(set(b) == {"mean_predicted", "observed", "n"} for b in evaluation["calibration"]["bins"])
    assert any("k_per_community_factor" in r for r in evaluation["precision_recall_at_k"])
    assert abs(sum(evaluation["importance_by_family"].values()) - 1) < 1e-9
    f = evaluation["features"][0]
    assert set(f) == {"name", "family", "description_zh", "sensitive", "sensitive_reason_zh"}
    assert evaluation["capacity_total"] > 0 and evaluation["n_communities"] == 12
    assert evaluation["test_as_of_dates"] == [evaluation["splits"][-1]["test_as_of_date"]]
    assert any("checklist" in n for n in evaluation["notes"])  # absent checklist features are reported


def test_fairness_audit_covers_every_split_test_date(evaluation, trained, matrix, dictionary, capacity):
    """The audit pools every split's test date (each list chosen by that split's model at that date's
    capacity); children are counted once (the bootstrap clusters), rows are child × date."""
    scope = evaluation["fairness_scope"]
    assert scope["scope"] == "all_splits"
    assert scope["test_as_of_dates"] == [s["test_as_of_date"] for s in evaluation["splits"]]
    assert scope["n_rows"] == sum(s["n_test"] for s in evaluation["splits"])
    assert scope["n_children"] < scope["n_rows"]  # the same children on both dates
    sex = [r for r in evaluation["fairness"] if r["attribute"] == "sex"]
    assert sum(r["n"] for r in sex) == scope["n_rows"] and sum(r["n_children"] for r in sex) == scope["n_children"]
    assert sum(r["ppr"] for r in sex) == pytest.approx(1.0)
    latest = evaluate_target(
        trained, matrix, dictionary, capacity, label_timespan_days=180, n_boot=0, fairness_scope="latest",
        truth=matrix["guardianship_risk"].astype(float), simulation=True,
    )  # fmt: skip
    assert latest["fairness_scope"]["test_as_of_dates"] == evaluation["test_as_of_dates"]
    assert sum(r["n"] for r in latest["fairness"] if r["attribute"] == "sex") == evaluation["n_test"]
    assert len(latest["fairness_truth"]) == len(latest["fairness"])
    with pytest.raises(ValueError, match="fairness_scope"):
        evaluate_target(trained, matrix, dictionary, capacity, label_timespan_days=180, fairness_scope="x")
