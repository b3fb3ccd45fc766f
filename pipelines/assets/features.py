"""person_spine, features and labels (DESIGN.md §6): time-correct, from the pseudonymized tables."""


from datetime import date

import dagster as dg
import pandas as pd

from features.spine import person_spine as build_person_spine
from humiao.plan import plan_cycle
from humiao.stages import (
    TARGETS,
    build_partition_labels,
    export_feedback,
    ingest_fingerprint,
    iter_partition_frames,
    not_built_fingerprint,
)
from pipelines.assets.ingest import pseudonymized_specs
from pipelines.cache import assets_dir, stage_fingerprint, stamp
from pipelines.io_manager import (
    StoredPartition,
    existing_partition,
    stored_fingerprint,
    stored_partition,
)
from pipelines.partitions import AS_OF_PARTITIONS, plan_partition_keys
from pipelines.resources import HumiaoConfig

PSEUDO = [s.key for s in pseudonymized_specs]


@dg.asset(deps=PSEUDO, group_name="features", kinds={"duckdb", "parquet"})
def cycle_plan(humiao: HumiaoConfig) -> dict:
    """This cycle's as-of dates: the scoring date and the temporal splits (triage timechop)."""
    cfg = humiao.cfg
    plan = plan_cycle(cfg, cfg.pseudonymized_dir).as_dict()
    ingest_fp = ingest_fingerprint(cfg)
    return stamp(plan, stage_fingerprint("cycle_plan", ("features",), [cfg.fingerprint("time"), plan], ingest_fp))


@dg.asset(deps=PSEUDO, group_name="features", kinds={"duckdb", "parquet"})
def person_spine(humiao: HumiaoConfig) -> pd.DataFrame:
    """One row per person token: household, birth month, sex, hukou, place (interfaces §3)."""
    cfg = humiao.cfg
    return stamp(build_person_spine(cfg.pseudonymized_dir),
                 stage_fingerprint("person_spine", ("features",), None, ingest_fingerprint(cfg)))


@dg.multi_asset(
    outs={
        "features": dg.AssetOut(kinds={"duckdb", "parquet"},
                                description="One row per child in either cohort at each as-of date (interfaces §3)."),
        "labels": dg.AssetOut(kinds={"duckdb", "parquet"},
                              description="Both targets' labels and cohort flags per child and as-of date."),
    },
    ins={"cycle_plan": dg.AssetIn("cycle_plan")},
    deps=PSEUDO, group_name="features", can_subset=False,
    partitions_def=AS_OF_PARTITIONS, backfill_policy=dg.BackfillPolicy.single_run(),
)
def features_and_labels(context: dg.AssetExecutionContext, humiao: HumiaoConfig, cycle_plan: dict):
    """Features and labels of each as-of date of the cycle plan in the run's range (monthly partitions),
    in one DuckDB query per source and chunk of dates; a partition whose code, configuration, ingest and
    feedback are unchanged is reused (neither rebuilt nor read). Built partitions are written chunk by
    chunk as they are computed, so memory stays that of one chunk (issue 8). Labels of an as-of date
    whose window has not closed are partial: models read only the plan's training dates.

    A month of the range that the plan does not use (between quarterly training dates, or between the
    last test date and the scoring date) is not built: Dagster materializes a single run's range whole,
    so it is stored as a placeholder without rows (humiao.stages.NOT_BUILT_PREFIX) that every reader
    refuses. Building them cost 40 s a date at 2,000,000 children and nothing read them (issue 8)."""
    cfg = humiao.cfg
    keys = list(context.partition_keys)
    wanted = set(plan_partition_keys("features", cycle_plan))
    feedback = export_feedback(cfg)  # the review app's outcomes become labels (DESIGN §11.12)
    base = assets_dir(cfg)
    ingest_fp = ingest_fingerprint(cfg)
    fps = {k: stage_fingerprint("features_and_labels", ("features",), cfg.fingerprint("time", "rural_hukou_only"),
                                k, ingest_fp, feedback) for k in keys}
    path = {name: {k: base / name / f"{k}.parquet" for k in keys} for name in ("features", "labels")}
    feats: dict[str, StoredPartition] = {}
    labels: dict[str, StoredPartition] = {}
    for k in keys:
        fp = fps[k] if k in wanted else not_built_fingerprint(fps[k])
        if stored_fingerprint(path["features"][k]) == fp and stored_fingerprint(path["labels"][k]) == fp:
            feats[k], labels[k] = (existing_partition(path["features"][k], fp),
                                   existing_partition(path["labels"][k], fp))
        elif k not in wanted:
            feats[k], labels[k] = (stored_partition(stamp(pd.DataFrame(), fp), path["features"][k]),
                                   stored_partition(stamp(pd.DataFrame(), fp), path["labels"][k]))
    not_built = sorted(k for k in keys if k not in wanted)
    if not_built:
        context.log.info(f"{len(not_built)} months of the range are not as-of dates of the cycle plan, stored as "
                         f"not-built placeholders: {', '.join(k[:7] for k in not_built)}")
    todo = [k for k in keys if k not in feats]
    if todo:
        context.log.info(f"building features and labels for {len(todo)} as-of dates ({todo[0]} … {todo[-1]})")
        dates = [date.fromisoformat(k) for k in todo]
        new_labels = build_partition_labels(cfg, dates)
        for k in todo:
            labels[k] = stored_partition(stamp(new_labels.get(k, _empty_like(new_labels)), fps[k]), path["labels"][k])
        del new_labels
        columns = None
        for k, frame in iter_partition_frames(cfg, dates):
            feats[k] = stored_partition(stamp(frame, fps[k]), path["features"][k])
            columns = frame.iloc[0:0].copy()
        for k in todo:  # an as-of date with no child in either cohort
            if k not in feats:
                feats[k] = stored_partition(stamp(columns.copy() if columns is not None else pd.DataFrame(), fps[k]),
                                            path["features"][k])
    built = [k for k in keys if k in wanted]
    rows = {k: feats[k].rows for k in built}
    common = {"partitions": len(keys), "rebuilt": len(todo), "not_built": len(not_built),
              "not_built_as_of_dates": dg.MetadataValue.json(not_built)}
    context.add_output_metadata({**common, "rows": sum(rows.values()),
                                 "rows_by_as_of_date": dg.MetadataValue.json(rows)}, "features")
    prevalence = {k: _prevalence(labels[k].path) for k in built}
    context.add_output_metadata({**common,
                                 "rows": sum(labels[k].rows for k in built),
                                 "prevalence_by_as_of_date": dg.MetadataValue.json(prevalence)}, "labels")
    return feats, labels


def _prevalence(path) -> dict:
    """Share of positive labels per target in one stored labels partition (None when it is empty)."""
    lab = pd.read_parquet(path, columns=list(TARGETS))
    return {t: round(float(lab[t].astype("float").mean()), 5) if len(lab) else None for t in TARGETS}


def _empty_like(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """An empty frame with the columns of the other partitions (an as-of date with no child in a cohort)."""
    any_frame = next(iter(frames.values()), pd.DataFrame())
    return any_frame.iloc[0:0].copy()
