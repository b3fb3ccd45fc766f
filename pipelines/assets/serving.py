"""model cards, risk scores, visit lists and the final privacy audit (DESIGN.md §8)."""


import dagster as dg
import pandas as pd

from humiao.plan import plan_from_dict
from humiao.stages import TARGETS, score_targets, write_lists, audit_outputs
from pipelines.resources import HumiaoConfig, MlflowTracking
from serving.model_card import render_model_card


def _card_asset(target: str):
    @dg.asset(name=f"model_card_{target}", ins={"evaluation": dg.AssetIn(f"model_{target}")},
              group_name="serving", kinds={"html"})
    def _card(humiao: HumiaoConfig, evaluation: dict) -> dict:
        """The model card (zh/en HTML, Markdown, JSON) rendered from the MLflow run's evaluation."""
        paths = render_model_card(evaluation, humiao.cfg.path("out_dir") / "model_cards")
        return {k: str(v) for k, v in paths.items()}

    return _card


model_cards = [_card_asset(t) for t in TARGETS]


@dg.asset(group_name="serving", kinds={"lightgbm", "parquet"})
def risk_scores(humiao: HumiaoConfig, mlflow_tracking: MlflowTracking, features: pd.DataFrame,
                cycle_plan: dict, model_guardianship_risk: dict, model_left_behind_risk: dict) -> pd.DataFrame:
    """Both targets' calibrated scores, ventiles, levels, ranks and reasons for the current cycle,
    scored by each target's ``champion`` (DESIGN.md §8 governance gate)."""
    mlflow_tracking.setup()
    return score_targets(humiao.cfg, features, plan_from_dict(cycle_plan))


@dg.asset(group_name="serving", kinds={"excel", "parquet"})
def visit_lists(humiao: HumiaoConfig, risk_scores: pd.DataFrame, features: pd.DataFrame, cycle_plan: dict) -> dict:
    """One workbook per community (ranked list + 疑似未登记留守儿童 section), township summaries, and one
    Parquet of every list, under out/visit_lists/<cycle>/."""
    return write_lists(humiao.cfg, risk_scores, features, plan_from_dict(cycle_plan))


@dg.asset(deps=["visit_lists", *[f"model_card_{t}" for t in TARGETS]], group_name="serving")
def privacy_audit(humiao: HumiaoConfig) -> dict:
    """The final check: the leak scanner over out/ (lists, cards, the MLflow store). Any finding fails
    the run (DESIGN.md §5, §11.2)."""
    report = audit_outputs(humiao.cfg)
    if report["findings"]:
        raise dg.Failure(description=f"raw personal information found in outputs: {report['findings'][:20]}",
                         metadata={"findings": len(report["findings"])})
    return report
