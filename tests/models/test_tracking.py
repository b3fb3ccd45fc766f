"""MLflow round trip in a temporary folder: log, register, alias, approve, load, rollback."""

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from models import tracking
from models.cycle import run_target_cycle
from models.evaluate import EVALUATION_KEYS
from models.train import make_splits

#: the synthetic matrix's as-of dates are quarterly month starts (tests/models/conftest.py)
QUARTERLY = {"training_frequency_months": 3, "max_training_history_months": 24}

GRID = [{"num_leaves": 7, "learning_rate": 0.1, "num_boost_round": 30, "min_data_in_leaf": 20}]


def test_mlflow_round_trip(tmp_path, matrix, dictionary, capacity, trained):
    tracking.configure(
        f"sqlite:///{tmp_path}/mlflow/mlflow.db", tmp_path / "mlflow" / "artifacts", "humiao-test"
    )
    splits = make_splits(sorted(set(matrix["as_of_date"])), label_timespan_days=180, n_splits=2, **QUARTERLY)
    tags = {"dagster_run_id": "run-123", "partition": "2024-09-29"}
    with tracking.cycle_run("cycle 2024-09-29", tags=tags) as parent:
        first = run_target_cycle(
            matrix,
            "guardianship_risk",
            dictionary,
            capacity,
            splits,
            label_timespan_days=180,
            grid=GRID,
            n_boot=20,
            simulation=True,
            auto_approve=True,
            tags=tags,
        )
        # a second version, without retraining
        with mlflow.start_run(run_name="guardianship_risk/model", nested=True):
            _, second_version = tracking.log_model(trained.final, matrix, tags=tags)
    client = MlflowClient()
    name = "humiao_guardianship_risk"
    assert str(client.get_model_version_by_alias(name, "champion").version) == first.model_version == "1"
    assert str(client.get_model_version_by_alias(name, "challenger").version) == second_version == "2"
    assert first.evaluation["approval"]["status"] == "approved"
    assert tracking.approval_of(name, "2")["status"] == "pending"

    run = client.get_run(first.run_id)
    assert run.data.tags["dagster_run_id"] == "run-123"
    assert run.data.tags["mlflow.parentRunId"] == parent
    keys = set(run.data.metrics)
    assert "precision_at_capacity_abs" in keys and "prior.precision_at_capacity_abs" in keys
    assert not any("@" in k for k in keys)
    children = client.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{parent}'")
    assert {r.data.tags.get("kind") for r in children} >= {"split", "model"}
    for r in children:
        assert not any("@" in k for k in r.data.metrics)

    artifacts = {a.path for a in client.list_artifacts(first.run_id)}
    assert {
        "evaluation.json",
        "calibrator.json",
        "metrics.csv",
        "fairness.csv",
        "calibration.png",
    } <= artifacts
    local = mlflow.artifacts.download_artifacts(
        run_id=first.run_id, artifact_path="evaluation.json", dst_path=str(tmp_path)
    )
    with open(local, encoding="utf-8") as fh:
        ev = json.load(fh)
    assert (
        set(EVALUATION_KEYS) <= set(ev) and ev["model_version"] == "1" and ev["mlflow_run_id"] == first.run_id
    )

    booster, cal, version = tracking.load_champion("guardianship_risk")
    rows = matrix.head(100)
    expected = first.train.final.calibrator.transform(first.train.final.raw_score(rows))
    got = cal.transform(booster.predict(rows[booster.feature_name()].to_numpy(np.float32)))
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert version == "1"

    tracking.approve(name, "2", by="reviewer", note="card read")
    assert tracking.load_champion("guardianship_risk")[2] == "2"
    assert tracking.approval_of(name, "2")["status"] == "approved"
    assert tracking.rollback(name, by="reviewer") == "1"
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    with pytest.raises(ValueError, match="no earlier"):
        tracking.rollback(name)


def test_no_per_child_rows_reach_mlflow(trained, matrix):
    ex = tracking.input_example(trained.final, matrix)
    assert list(ex.columns) == trained.final.feature_names and len(ex) == 1
    with pytest.raises(ValueError, match="non-feature"):
        tracking.assert_feature_only(matrix[["child_token", "noise_a"]], trained.final.feature_names)
    assert all(pd.api.types.is_float_dtype(t) for t in ex.dtypes)


def test_the_input_example_from_the_feature_array_is_the_one_from_the_frame(trained, matrix):
    """The medians of the selected rows of the float32 array (what the models asset holds) equal those of
    the same rows as DataFrame columns; a feature missing on every selected row gives 0."""
    from models.train import to_float32

    names = trained.final.feature_names
    X = to_float32(matrix, names)
    rows = (matrix.index.to_numpy() % 3) == 0
    X[~rows, 0] = 1e6  # rows left out must not count
    framed = tracking.input_example(trained.final, matrix.loc[rows])
    arrayed = tracking.input_example(trained.final, X, rows)
    pd.testing.assert_frame_equal(arrayed, framed)
    X[rows, 1] = np.nan
    assert tracking.input_example(trained.final, X, rows).iloc[0, 1] == 0.0
    with pytest.raises(ValueError, match="shape"):
        tracking.input_example(trained.final, X[:, :-1], rows)
