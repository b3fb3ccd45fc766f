"""One target's training cycle end to end — the single call ``pipelines/`` makes per target.

    train_target → (MLflow) split runs → refit logged and registered as ``challenger``
    → evaluate_target → ``evaluation.json`` in the model run → (simulation only) approve → ``champion``

Approval is automatic only when the caller says the input carries the simulator's manifest
(``auto_approve=True``, DESIGN §11.10); otherwise the version waits for a governance reviewer
(:func:`models.tracking.approve`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import mlflow
import pandas as pd

from models import tracking
from models.baselines import ExpertChecklist
from models.evaluate import evaluate_target
from models.train import DEFAULT_GRID, SAMPLED_ATTR, FeatureArray, Split, TrainResult, _dates, train_target

AUTO_APPROVER = "humiao (automatic: simulated input)"


@dataclass
class CycleResult:
    """What one target's cycle produced."""

    evaluation: dict
    train: TrainResult
    run_id: str | None
    model_version: str | None


def run_target_cycle(
    matrix: pd.DataFrame,
    target: str,
    feature_dictionary: pd.DataFrame,
    capacity: pd.DataFrame,
    splits: Sequence[Split],
    *,
    label_timespan_days: int,
    grid: Sequence[Mapping] = DEFAULT_GRID,
    seed: int = 0,
    one_feature: str | None = None,
    one_feature_direction: int | None = None,
    checklist: ExpertChecklist | None = None,
    truth: pd.Series | None = None,
    oracle_score: pd.Series | None = None,
    label_coverage: pd.DataFrame | None = None,
    simulation: bool = False,
    auto_approve: bool = False,
    track: bool = True,
    tags: Mapping | None = None,
    extra_params: Mapping | None = None,
    n_boot: int = 200,
    negative_sample_rate: float = 1.0,
    evaluation_rows: pd.DataFrame | None = None,
    features: FeatureArray | None = None,
) -> CycleResult:
    """Train, log, register, evaluate (and, for simulated input, approve) one target.

    Parameters
    ----------
    matrix, target, feature_dictionary, capacity, splits, label_timespan_days, grid, seed, negative_sample_rate
        See :func:`models.train.train_target` (``splits``: the cycle plan's :class:`features.timechop.Split`
        objects, or :class:`models.train.Split` per test date).
    one_feature, one_feature_direction, checklist, truth, oracle_score, label_coverage, simulation,
    extra_params, n_boot
        See :func:`models.evaluate.evaluate_target` (``one_feature=None``: the target's default,
        :data:`models.evaluate.DEFAULT_ONE_FEATURE`; ``oracle_score``: :func:`models.oracle.true_risk_score`,
        simulation only; ``label_coverage``: :func:`features.labels.label_coverage` for this target).
    evaluation_rows : DataFrame, optional
        What :func:`models.evaluate.evaluate_target` reads instead of ``matrix``: every labelled row of
        every training date with the columns evaluation reads (identifiers, groups, ``registry_category``,
        the one-feature and checklist features, the label), index aligned with ``matrix``'s (and with
        ``truth``/``oracle_score``). Required when ``matrix`` was negative-sampled at read time
        (:func:`humiao.stages.read_training_inputs`): the baselines are fitted, and the card's training
        rows counted, on every row, so the evaluation is the one of the full matrix. Default: ``matrix``.
    features : FeatureArray, optional
        The features of ``matrix``'s rows (``train_target``'s ``X`` and ``feature_names``); then ``matrix``
        needs no feature column. Released (``features.X = None``) once the model is trained and logged,
        before the evaluation (issue 8: 3.2 GB at 2,000,000 children).
    auto_approve : bool
        Move ``champion`` at once (simulated input only; the card says so).
    track : bool
        Log to MLflow (call :func:`models.tracking.configure` first). If an MLflow run is active
        (the cycle's parent run), the target's runs are nested in it.
    tags : mapping, optional
        Dagster run id / partition etc., set on every run.

    Returns
    -------
    CycleResult
    """
    if matrix.attrs.get(SAMPLED_ATTR) and evaluation_rows is None:
        raise ValueError("the matrix was negative-sampled at read time: pass evaluation_rows (every labelled row "
                         "with the columns evaluation reads), or the baselines would be fitted on a sample")
    rows = matrix if evaluation_rows is None else evaluation_rows
    trained_at = datetime.now(UTC)
    X = None if features is None else features.X
    result = train_target(matrix, target, feature_dictionary, splits, capacity, grid=grid, seed=seed,
                          negative_sample_rate=negative_sample_rate, X=X,
                          feature_names=None if features is None else features.names)
    run_id = version = None
    kwargs = dict(
        label_timespan_days=label_timespan_days, one_feature=one_feature,
        one_feature_direction=one_feature_direction, checklist=checklist, truth=truth,
        oracle_score=oracle_score, label_coverage=label_coverage, simulation=simulation, trained_at=trained_at, extra_params=extra_params, n_boot=n_boot, seed=seed,
    )  # fmt: skip
    if not track:
        X = None
        if features is not None:
            features.release()
        ev = evaluate_target(result, rows, feature_dictionary, capacity, **kwargs)
        return CycleResult(ev, result, None, None)

    nested = mlflow.active_run() is not None
    if nested:  # split runs beside the model run, under the cycle's parent run
        tracking.log_split_runs(result, tags=tags)
    with mlflow.start_run(
        run_name=f"{target}/model", nested=nested, tags={k: str(v) for k, v in (tags or {}).items()}
    ):
        if not nested:  # no parent run: the model run is the parent of its split runs
            tracking.log_split_runs(result, tags=tags)
        mlflow.set_tags({"target": target, "kind": "model", "simulation": str(simulation)})
        # the input example is the feature medians of the refit's fit-date rows held in the matrix: every
        # row, or the positives and sampled negatives when sampled at read time (a synthetic row only)
        on_fit = _dates(matrix).isin(result.final.train_as_of_dates).to_numpy()
        if X is None:
            run_id, version = tracking.log_model(result.final, matrix[on_fit], tags=tags)
        else:  # the medians column by column from the array: the rows are not copied
            run_id, version = tracking.log_model(result.final, X, rows=on_fit, tags=tags)
            X = None
            features.release()  # the evaluation does not read the features
        name = tracking.model_name(target)
        approval = None
        if auto_approve:
            approval = tracking.approve(
                name, version, by=AUTO_APPROVER, note="simulated input: approved automatically"
            )
        ev = evaluate_target(
            result, rows, feature_dictionary, capacity, model_name=name, model_version=version,
            mlflow_run_id=run_id, approval=approval, **kwargs,
        )  # fmt: skip
        tracking.log_evaluation(ev, tables={"split_metrics_all_configs": result.split_metrics})
    return CycleResult(ev, result, run_id, version)
