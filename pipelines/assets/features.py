"""person_spine, features and labels (DESIGN.md §6): time-correct, from the pseudonymized tables."""


import dagster as dg
import pandas as pd

from features.spine import person_spine as build_person_spine
from humiao.plan import plan_cycle, plan_from_dict
from humiao.stages import build_feature_frames
from pipelines.assets.ingest import pseudonymized_specs
from pipelines.resources import HumiaoConfig

PSEUDO = [s.key for s in pseudonymized_specs]


@dg.asset(deps=PSEUDO, group_name="features", kinds={"duckdb", "parquet"})
def cycle_plan(humiao: HumiaoConfig) -> dict:
    """This cycle's as-of dates: the scoring date and the temporal splits (triage timechop)."""
    return plan_cycle(humiao.cfg, humiao.cfg.pseudonymized_dir).as_dict()


@dg.asset(deps=PSEUDO, group_name="features", kinds={"duckdb", "parquet"})
def person_spine(humiao: HumiaoConfig) -> pd.DataFrame:
    """One row per person token: household, birth month, sex, hukou, place (interfaces §3)."""
    return build_person_spine(humiao.cfg.pseudonymized_dir)


@dg.multi_asset(
    outs={"features": dg.AssetOut(kinds={"duckdb", "parquet"}), "labels": dg.AssetOut(kinds={"duckdb", "parquet"})},
    deps=PSEUDO, group_name="features", can_subset=False,
)
def features_and_labels(context: dg.AssetExecutionContext, humiao: HumiaoConfig, cycle_plan: dict):
    """Features for every labelled as-of date and the scoring date; labels for the labelled dates
    (both targets, with cohort flags). One DuckDB query per source covers every as-of date."""
    plan = plan_from_dict(cycle_plan)
    feats, labels = build_feature_frames(humiao.cfg, plan)
    context.add_output_metadata({"rows": len(feats), "as_of_dates": feats["as_of_date"].nunique()}, "features")
    context.add_output_metadata({
        "rows": len(labels),
        "guardianship_prevalence": float(labels["guardianship_risk"].astype("float").mean()),
        "left_behind_prevalence": float(labels["left_behind_risk"].astype("float").mean()),
    }, "labels")
    return feats, labels
