"""MLflow: runs, the model registry, aliases ``challenger``/``champion``, approval and rollback.

Layout of one training cycle (DESIGN §7, §8, §11.10)::

    parent run  "cycle <as-of>"              tags: Dagster run id / partition (plain dict, no dagster import)
      ├─ child "<target>/split <i>"          params: split dates; metrics per grid config and the selected one
      └─ child "<target>/model"              the refit model (mlflow.lightgbm, signature, input example),
                                             calibrator.json, evaluation.json, tables (CSV), plots (PNG)
    registered model  humiao_<target>        new version → alias "challenger"; approve() → "champion"

Storage: a SQLite backend (``sqlite:///out/mlflow/mlflow.db``) and a local artifact folder
(``out/mlflow/artifacts``), see :func:`configure`.

No personal data goes to MLflow: no per-child row is ever logged. The model's input example is one
synthetic row of training medians (not any child's row) and is checked to be feature-only numbers;
metric keys come from :func:`models.metrics.mlflow_key` (MLflow refuses ``@``); tables are aggregates.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import lightgbm as lgb
import mlflow
import mlflow.lightgbm
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import infer_signature

from models import metrics as M
from models.train import Calibrator, FittedModel, TrainResult

CHALLENGER = "challenger"
CHAMPION = "champion"
MODEL_PREFIX = "humiao_"
_HISTORY_TAG = "champion_history"


def _pip_requirements() -> list[str]:
    """Pinned requirements of the logged model (skips MLflow's slow environment inference)."""
    import sklearn

    return [f"lightgbm=={lgb.__version__}", f"mlflow=={mlflow.__version__}", f"numpy=={np.__version__}",
            f"pandas=={pd.__version__}", f"scikit-learn=={sklearn.__version__}"]  # fmt: skip


def model_name(target: str) -> str:
    """Registered model name of a target: ``humiao_<target>``."""
    return f"{MODEL_PREFIX}{target}"


def configure(tracking_uri: str, artifact_root: Path | str, experiment: str) -> str:
    """Point MLflow at a tracking store and an artifact folder; create the experiment if needed.

    Parameters
    ----------
    tracking_uri : str
        e.g. ``"sqlite:///out/mlflow/mlflow.db"`` (its folder is created).
    artifact_root : path-like
        Artifact location of a *new* experiment, e.g. ``out/mlflow/artifacts`` (created).
    experiment : str
        Experiment name.

    Returns
    -------
    str
        Experiment id.
    """
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    root = Path(artifact_root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    exp = mlflow.get_experiment_by_name(experiment)
    exp_id = (
        exp.experiment_id if exp else mlflow.create_experiment(experiment, artifact_location=root.as_uri())
    )
    mlflow.set_experiment(experiment_id=exp_id)
    return exp_id


def _finite_metrics(values: Mapping[str, float], prefix: str = "") -> dict[str, float]:
    out = {}
    for name, v in values.items():
        if v is not None and np.isfinite(v):
            out[prefix + M.mlflow_key(name)] = float(v)
    return out


def _str_tags(tags: Mapping | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (tags or {}).items()}


@contextmanager
def cycle_run(run_name: str, *, tags: Mapping | None = None, params: Mapping | None = None) -> Iterator[str]:
    """Parent run of one training cycle; yields its run id.

    Parameters
    ----------
    run_name : str
        e.g. ``"cycle 2025-06-01"``.
    tags : mapping, optional
        e.g. ``{"dagster_run_id": …, "partition": …}`` (plain values; this module never imports dagster).
    params : mapping, optional
        Cycle-level parameters (capacity settings, label timespan, config hash).
    """
    with mlflow.start_run(run_name=run_name, tags=_str_tags(tags)) as run:
        if params:
            mlflow.log_params({k: str(v)[:6000] for k, v in params.items()})
        yield run.info.run_id


def log_split_runs(result: TrainResult, *, tags: Mapping | None = None) -> list[str]:
    """One nested run per (target, split): split dates as params, every config's metrics, the selected one's.

    Metric keys: ``<metric>`` for the selected config, ``config_<i>.<metric>`` for each grid config.

    Returns
    -------
    list of str
        Run ids, in split order.
    """
    ids = []
    sm = result.split_metrics
    for si, split in enumerate(result.splits):
        with mlflow.start_run(
            run_name=f"{result.target}/split {si}", nested=True, tags=_str_tags(tags)
        ) as run:
            mlflow.set_tags({"target": result.target, "kind": "split", "split_index": str(si)})
            mlflow.log_params(
                {
                    "target": result.target,
                    "train_as_of_dates": ",".join(d.isoformat() for d in split.train_as_of_dates),
                    "test_as_of_date": split.test_as_of_date.isoformat(),
                    "selected_config_index": result.selected_index,
                }
            )
            metrics = {}
            for row in sm[sm["split_index"] == si].to_dict(orient="records"):
                vals = {n: row[n] for n in M.METRIC_NAMES}
                metrics |= _finite_metrics(vals, prefix=f"config_{row['config_index']}.")
                if row["config_index"] == result.selected_index:
                    metrics |= _finite_metrics(vals)
            mlflow.log_metrics(metrics)
            ids.append(run.info.run_id)
    return ids


def input_example(fitted: FittedModel, train_frame: pd.DataFrame | np.ndarray,
                  rows: np.ndarray | None = None) -> pd.DataFrame:
    """One synthetic feature-only row: the training median of every feature (not any child's row).

    Parameters
    ----------
    fitted : FittedModel
    train_frame : DataFrame or ndarray
        Training rows holding the model's features, or the feature array (shape (n, p), columns in
        ``fitted.feature_names`` order; :func:`models.train.train_target`'s ``X``).
    rows : ndarray of bool, shape (n,), optional
        With an array: the training rows among its rows (default every row). The medians are taken one
        column at a time, so the rows are never copied as a whole (issue 8).

    Returns
    -------
    DataFrame, shape (1, p), float32, columns = the model's features (a feature missing on every row: 0)
    """
    if isinstance(train_frame, np.ndarray):
        if train_frame.ndim != 2 or train_frame.shape[1] != len(fitted.feature_names):
            raise ValueError(f"feature array of shape {train_frame.shape} for {len(fitted.feature_names)} features")
        idx = np.flatnonzero(rows) if rows is not None else slice(None)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a column missing on every row: NaN, then 0
            values = [np.nanmedian(train_frame[idx, j].astype("float64")) for j in range(train_frame.shape[1])]
        med = pd.Series(values, index=fitted.feature_names, dtype="float64")
    else:
        med = train_frame[fitted.feature_names].astype("float32").median(skipna=True)
    ex = pd.DataFrame([med.fillna(0.0).to_numpy(dtype="float32")], columns=fitted.feature_names)
    assert_feature_only(ex, fitted.feature_names)
    return ex


def assert_feature_only(frame: pd.DataFrame, feature_names) -> None:
    """Raise if a frame bound for MLflow holds anything but numeric feature columns (no tokens, no ids).

    Raises
    ------
    ValueError
    """
    extra = [c for c in frame.columns if c not in set(feature_names)]
    if extra:
        raise ValueError(f"refusing to log non-feature columns to MLflow: {extra}")
    non_num = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_num:
        raise ValueError(f"refusing to log non-numeric columns to MLflow: {non_num}")


def log_model(
    fitted: FittedModel,
    train_frame: pd.DataFrame | np.ndarray,
    *,
    rows: np.ndarray | None = None,
    register: bool = True,
    tags: Mapping | None = None,
) -> tuple[str, str | None]:
    """Log the refit model (with signature and input example) and its calibrator in the active run.

    Registers it as ``humiao_<target>`` and points alias ``challenger`` at the new version.

    Parameters
    ----------
    fitted : FittedModel
        ``TrainResult.final``.
    train_frame : DataFrame or ndarray
        Training rows, or the feature array with ``rows`` selecting them; only feature medians are
        taken from it (see :func:`input_example`).
    rows : ndarray of bool, optional
        See :func:`input_example`.
    register : bool
    tags : mapping, optional
        Model-version tags.

    Returns
    -------
    (run_id, version)
        ``version`` is None when ``register`` is False.
    """
    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("log_model needs an active MLflow run")
    example = input_example(fitted, train_frame, rows)
    raw = fitted.booster.predict(example.to_numpy(dtype=np.float32))
    signature = infer_signature(example, raw)
    name = model_name(fitted.target)
    info = mlflow.lightgbm.log_model(
        fitted.booster,
        name="model",
        signature=signature,
        input_example=example,
        registered_model_name=name if register else None,
        pip_requirements=_pip_requirements(),
    )
    mlflow.log_dict(fitted.calibrator.to_dict(), "calibrator.json")
    mlflow.log_params({f"lgb.{k}": str(v)[:500] for k, v in fitted.params.items()})
    mlflow.log_params(
        {
            "refit_train_as_of_dates": ",".join(str(d) for d in fitted.train_as_of_dates),
            "calibration_as_of_dates": ",".join(str(d) for d in fitted.calibration_as_of_dates),
            "calibration_method": fitted.calibrator.method,
            "n_features": len(fitted.feature_names),
        }
    )
    version = None
    if register:
        version = str(info.registered_model_version)
        client = MlflowClient()
        client.set_registered_model_alias(name, CHALLENGER, version)
        for k, v in _str_tags(tags).items():
            client.set_model_version_tag(name, version, k, v)
        client.set_model_version_tag(name, version, "approval_status", "pending")
        client.set_model_version_tag(name, version, "mlflow_run_id", run.info.run_id)
    return run.info.run_id, version


def _plots(evaluation: Mapping, folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    bins = evaluation.get("calibration", {}).get("bins", [])
    if bins:
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1)
        ax.scatter([b["mean_predicted"] for b in bins], [b["observed"] for b in bins],
                   s=[10 + 200 * b["n"] / max(x["n"] for x in bins) for b in bins])  # fmt: skip
        ax.set_xlabel("mean predicted probability")
        ax.set_ylabel("observed rate")
        ax.set_title(f"calibration ({evaluation['calibration'].get('method')})")
        paths.append(folder / "calibration.png")
        fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
        plt.close(fig)
    prk = [r for r in evaluation.get("precision_recall_at_k", []) if "k_per_community_factor" in r]
    if prk:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        f = [r["k_per_community_factor"] for r in prk]
        ax.plot(f, [r["precision"] for r in prk], marker="o", label="precision")
        ax.plot(f, [r["recall"] for r in prk], marker="o", label="recall")
        ax.axvline(1.0, c="grey", ls=":", lw=1)
        ax.set_xlabel("list length / capacity K (per community)")
        ax.legend()
        paths.append(folder / "precision_recall_at_k.png")
        fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
        plt.close(fig)
    imp = evaluation.get("importance_by_family") or {}
    if imp:
        fig, ax = plt.subplots(figsize=(5, 0.4 * len(imp) + 1))
        items = sorted(imp.items(), key=lambda kv: kv[1])
        ax.barh([k for k, _ in items], [v for _, v in items])
        ax.set_xlabel("share of gain")
        paths.append(folder / "importance_by_family.png")
        fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
        plt.close(fig)
    return paths


def log_evaluation(evaluation: Mapping, *, tables: Mapping[str, pd.DataFrame] | None = None) -> None:
    """Log the evaluation document, its tables and plots, and headline metrics in the active run.

    Artifacts: ``evaluation.json`` (UTF-8, Chinese unescaped), ``metrics.csv`` (all models, triage names),
    ``fairness.csv``, ``splits.csv``, any extra ``tables`` (CSV, must be aggregates), PNG plots.
    Metrics: ``<model|baseline>.<mlflow key>`` plus the model's metrics unprefixed.
    """
    metrics = {}
    for model, block in evaluation["metrics"].items():
        vals = {n: v["value"] for n, v in block.items()}
        metrics |= _finite_metrics(vals, prefix="" if model == "model" else f"{model}.")
    for model, block in (evaluation.get("truth_metrics") or {}).items():  # simulation: true outcomes
        metrics |= _finite_metrics({n: v["value"] for n, v in block.items()}, prefix=f"truth.{model}.")
    oracle = evaluation.get("oracle") or {}
    for key, prefix in (("metrics", "oracle."), ("truth_metrics", "truth.oracle.")):
        if oracle.get(key):
            metrics |= _finite_metrics({n: v["value"] for n, v in oracle[key].items()}, prefix=prefix)
    for kind, gaps in (oracle.get("gap_to_oracle") or {}).items():
        metrics |= _finite_metrics(dict(gaps), prefix=f"gap_to_oracle.{kind}.")
    mlflow.log_metrics(metrics)
    mlflow.log_params(
        {
            "capacity_total": evaluation["capacity_total"],
            "n_communities": evaluation["n_communities"],
            "label_timespan_days": evaluation["label_timespan_days"],
            "test_as_of_dates": ",".join(evaluation["test_as_of_dates"]),
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "evaluation.json").write_text(
            json.dumps(evaluation, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        M.to_table(evaluation["metrics"]).to_csv(folder / "metrics.csv", index=False)
        pd.DataFrame(evaluation["fairness"]).to_csv(folder / "fairness.csv", index=False)
        pd.DataFrame(
            [
                {
                    "test_as_of_date": s["test_as_of_date"],
                    "model": model,
                    "metric": n,
                    "value": v["value"],
                    "ci95_lo": (v.get("ci95") or [None, None])[0],
                    "ci95_hi": (v.get("ci95") or [None, None])[1],
                }
                for s in evaluation["splits"]
                for model, block in {"model": s["metrics"], **(s.get("baselines") or {})}.items()
                for n, v in block.items()
            ]
        ).to_csv(folder / "splits.csv", index=False)
        if oracle:
            blocks = {"oracle": oracle.get("metrics") or {}}
            if oracle.get("truth_metrics"):
                blocks["oracle_truth"] = oracle["truth_metrics"]
            M.to_table(blocks).to_csv(folder / "oracle.csv", index=False)
        if evaluation.get("label_coverage"):
            pd.DataFrame(evaluation["label_coverage"]["rows"]).to_csv(
                folder / "label_coverage.csv", index=False
            )
        for name, df in (tables or {}).items():
            if "child_token" in df.columns:
                raise ValueError(f"table {name!r} holds per-child rows; MLflow gets aggregates only")
            df.to_csv(folder / f"{name}.csv", index=False)
        _plots(evaluation, folder)
        mlflow.log_artifacts(str(folder))


# ---------------------------------------------------------------------------------------------------
# governance: approval, rollback, loading the champion


def _history(client: MlflowClient, name: str) -> list[str]:
    tags = client.get_registered_model(name).tags
    return json.loads(tags.get(_HISTORY_TAG, "[]"))


def approve(model_name: str, version: str | int, *, by: str = "", note: str = "") -> dict:
    """Move alias ``champion`` to ``version`` after a governance reviewer approved its card.

    The previous champion is remembered (registered-model tag ``champion_history``) for :func:`rollback`.

    Returns
    -------
    dict
        ``{"status": "approved", "by", "at" (ISO, UTC), "note"}`` — also set as model-version tags.
    """
    client = MlflowClient()
    version = str(version)
    client.get_model_version(model_name, version)  # raises when absent
    history = _history(client, model_name)
    if not history or history[-1] != version:
        history.append(version)
    at = datetime.now(UTC).isoformat(timespec="seconds")
    client.set_registered_model_alias(model_name, CHAMPION, version)
    client.set_registered_model_tag(model_name, _HISTORY_TAG, json.dumps(history))
    for k, v in {
        "approval_status": "approved",
        "approved_by": by,
        "approved_at": at,
        "approval_note": note,
    }.items():
        client.set_model_version_tag(model_name, version, k, v)
    return {"status": "approved", "by": by, "at": at, "note": note}


def rollback(model_name: str, *, by: str = "", note: str = "") -> str:
    """Move ``champion`` back to the previously approved version.

    Returns
    -------
    str
        The version that is champion now.

    Raises
    ------
    ValueError
        When there is no earlier approved version.
    """
    client = MlflowClient()
    history = _history(client, model_name)
    if len(history) < 2:
        raise ValueError(f"{model_name}: no earlier approved version to roll back to")
    withdrawn = history.pop()
    client.set_registered_model_alias(model_name, CHAMPION, history[-1])
    client.set_registered_model_tag(model_name, _HISTORY_TAG, json.dumps(history))
    at = datetime.now(UTC).isoformat(timespec="seconds")
    client.set_model_version_tag(model_name, withdrawn, "approval_status", "rolled_back")
    client.set_model_version_tag(model_name, withdrawn, "rolled_back_at", at)
    client.set_model_version_tag(model_name, withdrawn, "rolled_back_by", by)
    if note:
        client.set_model_version_tag(model_name, withdrawn, "rollback_note", note)
    return history[-1]


def approval_of(model_name: str, version: str | int) -> dict:
    """The approval block of a model version, read from its tags (for the card)."""
    tags = MlflowClient().get_model_version(model_name, str(version)).tags
    status = tags.get("approval_status", "pending")
    return {
        "status": "approved" if status == "approved" else "pending" if status == "pending" else status,
        "by": tags.get("approved_by", ""),
        "at": tags.get("approved_at"),
        "note": tags.get("approval_note", ""),
    }


def champion_state(target: str) -> dict | None:
    """Which version of a target serves now, and its approval, or None when nothing was ever approved.

    Returns
    -------
    dict or None
        ``{"version": str, "run_id": str, "approval": approval_of(...)}``; None when the registered
        model or its ``champion`` alias does not exist (the governance gate has not opened yet).
    """
    from mlflow.exceptions import MlflowException

    name = model_name(target)
    try:
        mv = MlflowClient().get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None
    return {"version": str(mv.version), "run_id": mv.run_id, "approval": approval_of(name, mv.version)}


def load_evaluation(run_id: str) -> dict:
    """The evaluation document (``evaluation.json``) logged in a model run: the source of its card.

    Raises
    ------
    mlflow.exceptions.MlflowException
        When the run or the artifact does not exist.
    """
    return mlflow.artifacts.load_dict(f"runs:/{run_id}/evaluation.json")


def load_by_alias(target: str, alias: str = CHAMPION) -> tuple[lgb.Booster, Calibrator, str]:
    """Load the model and calibrator a registry alias points at.

    Returns
    -------
    (booster, calibrator, version)
    """
    name = model_name(target)
    mv = MlflowClient().get_model_version_by_alias(name, alias)
    booster = mlflow.lightgbm.load_model(f"models:/{name}@{alias}")
    cal = mlflow.artifacts.load_dict(f"runs:/{mv.run_id}/calibrator.json")
    return booster, Calibrator.from_dict(cal), str(mv.version)


def load_champion(target: str) -> tuple[lgb.Booster, Calibrator, str]:
    """The serving model of a target: alias ``champion`` of ``humiao_<target>``.

    Returns
    -------
    (booster, calibrator, version)
    """
    return load_by_alias(target, CHAMPION)
