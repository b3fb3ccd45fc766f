"""person_spine, features and labels (DESIGN.md §6): time-correct, from the pseudonymized tables."""


import dagster as dg
import pandas as pd

from features.spine import person_spine as build_person_spine
from humiao.plan import plan_cycle, plan_from_dict
from humiao.stages import build_feature_frames, export_feedback, ingest_fingerprint
from pipelines.assets.ingest import pseudonymized_specs
from pipelines.cache import assets_dir, reuse, stage_fingerprint, stamp
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
    outs={"features": dg.AssetOut(kinds={"duckdb", "parquet"}), "labels": dg.AssetOut(kinds={"duckdb", "parquet"})},
    deps=PSEUDO, group_name="features", can_subset=False,
)
def features_and_labels(context: dg.AssetExecutionContext, humiao: HumiaoConfig, cycle_plan: dict):
    """Features for every labelled as-of date and the scoring date; labels for the labelled dates
    (both targets, with cohort flags). One DuckDB query per source covers every as-of date."""
    cfg = humiao.cfg
    feedback = export_feedback(cfg)  # the review app's outcomes become labels (DESIGN §11.12)
    fp = stage_fingerprint("features_and_labels", ("features",), cfg.fingerprint("time", "rural_hukou_only"),
                           cycle_plan, ingest_fingerprint(cfg), feedback)
    cached = reuse(assets_dir(cfg), ["features", "labels"], fp)
    if cached:
        feats, labels = cached
    else:
        feats, labels = build_feature_frames(cfg, plan_from_dict(cycle_plan))
        stamp(feats, fp)
        stamp(labels, fp)
    context.add_output_metadata({"rows": len(feats), "as_of_dates": feats["as_of_date"].nunique(),
                                 "reused": bool(cached)}, "features")
    context.add_output_metadata({
        "rows": len(labels), "reused": bool(cached),
        "guardianship_prevalence": float(labels["guardianship_risk"].astype("float").mean()),
        "left_behind_prevalence": float(labels["left_behind_risk"].astype("float").mean()),
    }, "labels")
    return feats, labels
