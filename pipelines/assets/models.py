"""model_<target>: LightGBM and its baselines per target, evaluated at visit capacity, tracked in MLflow
(one parent run per training cycle, child runs per target × split; DESIGN.md §7, §11.10)."""


import gc
import time

import dagster as dg

from features.dictionary import feature_dictionary
from humiao.plan import plan_from_dict
from humiao.stages import (
    TARGETS,
    capacity_for,
    is_simulated,
    model_splits,
    read_training_inputs,
    simulation_inputs_for_rows,
    simulation_truth_lookup,
    stored_coverage_by_target,
)
from models import tracking
from models.cycle import run_target_cycle
from models.train import FeatureArray, fit_only_as_of_dates
from pipelines.cache import assets_dir, reuse, stage_fingerprint, stamp
from pipelines.io_manager import partitions_fingerprint
from pipelines.partitions import plan_partition_keys
from pipelines.resources import HumiaoConfig, MlflowTracking


@dg.multi_asset(
    outs={f"model_{t}": dg.AssetOut(kinds={"lightgbm", "mlflow"}) for t in TARGETS},
    deps=["features", "labels"], group_name="models", can_subset=False,
)
def models(context: dg.AssetExecutionContext, humiao: HumiaoConfig, mlflow_tracking: MlflowTracking,
           cycle_plan: dict):
    """Train, select, calibrate, evaluate and register one model per target; the value of each asset is
    its evaluation document (the source of the model card). Simulated input is approved automatically
    (alias ``champion``); real input waits for a governance reviewer.

    The features and labels partitions of the plan's training dates are read per target and dropped once
    the target's training matrix is built, so that only the matrix is in memory while a model trains
    (issue 8): the features as one float32 array, the other columns as a frame. When the stage is reused,
    nothing is read (the fingerprint comes from the files' schemas).

    With ``models.negative_sample_rate`` < 1 the negatives are sampled when the partitions are read
    (:func:`humiao.stages.read_training_inputs`): on the dates only ever fitted on
    (:func:`models.train.fit_only_as_of_dates`) only the positives and the negatives LightGBM would keep
    are read with every column, the test and calibration dates are read whole, and the columns the
    evaluation reads come for every row — the same models and evaluation as sampling at fit time."""
    cfg = humiao.cfg
    plan = plan_from_dict(cycle_plan)
    simulated = is_simulated(cfg)
    base = assets_dir(cfg)
    training_keys = [d.isoformat() for d in plan.training_as_of_dates]
    inputs = [partitions_fingerprint(base / "features", plan_partition_keys("features", cycle_plan), "features"),
              partitions_fingerprint(base / "labels", plan_partition_keys("labels", cycle_plan), "labels")]
    fp = stage_fingerprint("models", ("models", "features"), [cfg.fingerprint("models", "capacity", "time"),
                           simulated], *inputs, cycle_plan)
    cached = reuse(base, [f"model_{t}" for t in TARGETS], fp)
    if cached:
        context.log.info("models reused: code, configuration and inputs unchanged (no new MLflow runs)")
        return tuple(cached)
    mlflow_tracking.setup()
    tags = {"dagster_run_id": context.run_id, "cycle": plan.cycle}
    dictionary = feature_dictionary()
    splits = model_splits(plan)
    fit_only = fit_only_as_of_dates(splits)
    out = []
    with tracking.cycle_run(f"cycle {plan.cycle}", tags=tags, params={
        "label_timespan_days": cfg.time.label_timespan_days, "scoring_as_of_date": plan.scoring_as_of_date,
        "visits_per_director_per_cycle": cfg.capacity.visits_per_director_per_cycle,
        "left_behind_per_community": cfg.capacity.left_behind_per_community, "simulation": simulated,
    }):
        # both targets' label coverage before any matrix is held (DuckDB queries over the stored partitions)
        coverages = stored_coverage_by_target(cfg, plan, base, TARGETS)
        # simulation only: each cohort row's true outcome and oracle score, the ground truth dropped before
        # any training matrix is read (at 2M it took the step from 10.4 to 19.4 GB when computed alongside)
        truth = simulation_truth_lookup(cfg, base / "labels", training_keys, TARGETS)
        gc.collect()
        for target in TARGETS:
            t0 = time.perf_counter()
            serving = tracking.champion_state(target)  # what keeps serving while this model waits (the card)
            coverage = coverages[target]
            read = read_training_inputs(
                base / "features", base / "labels", training_keys, target, fit_only_as_of_dates=fit_only,
                negative_sample_rate=cfg.models.negative_sample_rate, seed=cfg.models.seed,
                feature_names=dictionary["name"], one_feature=cfg.models.one_feature.get(target),
            )  # fmt: skip
            if read.note:
                context.log.warning(f"{target}: {read.note}")
            capacity = capacity_for(cfg, read.capacity_input, target)
            matrix, rows = read.matrix, read.evaluation_rows
            features = FeatureArray(read.X, read.feature_names) if read.X is not None else None
            read.X = None  # held by `features` only: released before the evaluation
            context.log.info(f"{target}: training matrix {len(matrix):,} rows of {read.rows_before_sampling:,} "
                             f"labelled rows ({len(fit_only)} fit-only dates, negative_sample_rate "
                             f"{cfg.models.negative_sample_rate})")
            del read
            gc.collect()
            result = run_target_cycle(
                matrix, target, dictionary, capacity, splits,
                label_timespan_days=cfg.time.label_timespan_days, grid=cfg.models.grid, seed=cfg.models.seed,
                simulation=simulated, auto_approve=simulated, tags=tags, n_boot=cfg.models.bootstrap_samples,
                one_feature=cfg.models.one_feature.get(target), label_coverage=coverage,
                negative_sample_rate=cfg.models.negative_sample_rate, evaluation_rows=rows, features=features,
                extra_params={"exploration_share": cfg.capacity.exploration_share},
                **simulation_inputs_for_rows(None if truth is None else truth[target], matrix if rows is None else rows),
            )
            del matrix, rows, features, capacity
            ev = result.evaluation
            ev["previous_champion"] = serving["version"] if serving else None
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
            del result
            if truth is not None:
                del truth[target]
            gc.collect()
    return tuple(out)
