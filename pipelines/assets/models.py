"""model_<target>: LightGBM and its baselines per target, evaluated at visit capacity, tracked in MLflow
(one parent run per training cycle, child runs per target × split; DESIGN.md §7, §11.10)."""


import time

import dagster as dg
import pandas as pd

from features.dictionary import feature_dictionary
from humiao.plan import plan_from_dict
from humiao.stages import (
    TARGETS,
    capacity_for,
    coverage_for,
    is_simulated,
    load_truth_for,
    model_splits,
    simulation_evaluation_inputs,
    training_matrix,
)
from models import tracking
from models.cycle import run_target_cycle
from pipelines.cache import assets_dir, reuse, stage_fingerprint, stamp
from pipelines.resources import HumiaoConfig, MlflowTracking


@dg.multi_asset(
    outs={f"model_{t}": dg.AssetOut(kinds={"lightgbm", "mlflow"}) for t in TARGETS},
    group_name="models", can_subset=False,
)
def models(context: dg.AssetExecutionContext, humiao: HumiaoConfig, mlflow_tracking: MlflowTracking,
           features: pd.DataFrame, labels: pd.DataFrame, cycle_plan: dict):
    """Train, select, calibrate, evaluate and register one model per target; the value of each asset is
    its evaluation document (the source of the model card). Simulated input is approved automatically
    (alias ``champion``); real input waits for a governance reviewer."""
    cfg = humiao.cfg
    plan = plan_from_dict(cycle_plan)
    simulated = is_simulated(cfg)
    fp = stage_fingerprint("models", ("models", "features"), [cfg.fingerprint("models", "capacity", "time"),
                           simulated], features, labels, cycle_plan)
    cached = reuse(assets_dir(cfg), [f"model_{t}" for t in TARGETS], fp)
    if cached:
        context.log.info("models reused: code, configuration and inputs unchanged (no new MLflow runs)")
        return tuple(cached)
    mlflow_tracking.setup()
    tags = {"dagster_run_id": context.run_id, "cycle": plan.cycle}
    dictionary = feature_dictionary()
    # no filtered copy of the features: training_matrix copies only the labelled rows it keeps (issue 8)
    training_rows = pd.to_datetime(features["as_of_date"]).isin(pd.to_datetime(list(plan.training_as_of_dates)))
    capacity_input = features.loc[training_rows.to_numpy(), ["as_of_date", "community", "registry_category"]]
    truth = load_truth_for(cfg)  # simulation only
    out = []
    with tracking.cycle_run(f"cycle {plan.cycle}", tags=tags, params={
        "label_timespan_days": cfg.time.label_timespan_days, "scoring_as_of_date": plan.scoring_as_of_date,
        "visits_per_director_per_cycle": cfg.capacity.visits_per_director_per_cycle,
        "left_behind_per_community": cfg.capacity.left_behind_per_community, "simulation": simulated,
    }):
        for target in TARGETS:
            t0 = time.perf_counter()
            matrix = training_matrix(features, labels, target, as_of_dates=plan.training_as_of_dates)
            result = run_target_cycle(
                matrix, target, dictionary, capacity_for(cfg, capacity_input, target), model_splits(plan),
                label_timespan_days=cfg.time.label_timespan_days, grid=cfg.models.grid, seed=cfg.models.seed,
                simulation=simulated, auto_approve=simulated, tags=tags, n_boot=cfg.models.bootstrap_samples,
                one_feature=cfg.models.one_feature.get(target), label_coverage=coverage_for(cfg, plan, target),
                negative_sample_rate=cfg.models.negative_sample_rate,
                **simulation_evaluation_inputs(cfg, truth, matrix, target),
            )
            ev = result.evaluation
            m = ev["metrics"]["model"]
            context.add_output_metadata({
                "mlflow_run_id": ev.get("mlflow_run_id") or "",
                "model_version": str(ev.get("model_version") or ""),
                "precision@capacity_abs": m["precision@capacity_abs"]["value"],
                "roc_auc": m["roc_auc"]["value"],
                "approval": ev["approval"]["status"],
                # train, select, calibrate, evaluate (bootstrap), log and register: for benchmarks/city_scale.py
                f"seconds_{target}": round(time.perf_counter() - t0, 1),
            }, f"model_{target}")
            ev["_files"] = [str(cfg.mlflow_dir / "mlflow.db")]
            out.append(stamp(ev, fp))
    return tuple(out)
