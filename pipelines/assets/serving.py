"""model cards, risk scores, visit lists and the final privacy audit (DESIGN.md §8)."""


import dagster as dg
import pandas as pd

from humiao.plan import plan_from_dict
from humiao.stages import (
    TARGETS,
    audit_outputs,
    awaiting_approval,
    champions,
    drift_report,
    ingest_fingerprint,
    override_rate_for,
    performance_decay,
    publish_model_cards,
    quality_trends_for,
    score_targets,
    tokens_under_correction,
    write_lists,
)
from models.tracking import champion_state
from pipelines.cache import assets_dir, reuse, stage_fingerprint, stamp
from pipelines.resources import HumiaoConfig, MlflowTracking


def _card_asset(target: str):
    @dg.asset(name=f"model_card_{target}", ins={"evaluation": dg.AssetIn(f"model_{target}")},
              group_name="serving", kinds={"html"})
    def _card(humiao: HumiaoConfig, mlflow_tracking: MlflowTracking, evaluation: dict) -> dict:
        """The model cards (zh/en HTML, Markdown, JSON): the trained version's card for the governance
        reviewer (out/model_cards/versions/) and the serving champion's card (out/model_cards/)."""
        cfg = humiao.cfg
        mlflow_tracking.setup()
        override = override_rate_for(cfg, target)  # directors' disagreement recorded in the review app
        serving = champion_state(target)  # approval in the app changes the serving card
        fp = stage_fingerprint(f"model_card_{target}", ("serving",), override, evaluation, serving)
        cached = reuse(assets_dir(cfg), [f"model_card_{target}"], fp)
        if cached:
            return cached[0]
        res = publish_model_cards(cfg, target, evaluation, override, serving)
        files = [*res["version_card"].values(), *res["serving_card"].values()]
        return stamp({**res, "_files": files}, fp)

    return _card


model_cards = [_card_asset(t) for t in TARGETS]


def _serving_versions(cfg) -> dict:
    return {t: (c or {}).get("version") for t, c in champions(cfg).items()}


@dg.asset(group_name="serving", kinds={"lightgbm", "parquet"},
          ins={"features": dg.AssetIn(metadata={"as_of_dates": "scoring"})})
def risk_scores(context: dg.AssetExecutionContext, humiao: HumiaoConfig, mlflow_tracking: MlflowTracking,
                features: pd.DataFrame, cycle_plan: dict, model_guardianship_risk: dict,
                model_left_behind_risk: dict) -> pd.DataFrame:
    """Both targets' calibrated scores, ventiles, levels, ranks and reasons for the current cycle,
    scored by each target's ``champion`` (DESIGN.md §8 governance gate). While a target has no approved
    model (the first production cycle), nothing is scored: an empty table, and no list is published."""
    cfg = humiao.cfg
    mlflow_tracking.setup()
    serving = _serving_versions(cfg)
    fp = stage_fingerprint("risk_scores", ("models", "features"), [cfg.fingerprint("capacity", "risk_levels")],
                           features, cycle_plan, model_guardianship_risk, model_left_behind_risk, serving)
    cached = reuse(assets_dir(cfg), ["risk_scores"], fp)
    if cached:
        return cached[0]
    waiting = [t for t, v in serving.items() if v is None]
    if waiting:
        context.log.warning(f"no approved model for {', '.join(waiting)}: nothing scored, no list published "
                            "until a governance reviewer approves (humiao serve → 治理审查)")
        context.add_output_metadata({"awaiting_approval": waiting, "rows": 0})
        return stamp(pd.DataFrame({"target": pd.Series(dtype="string"),
                                   "child_token": pd.Series(dtype="string")}), fp)
    context.add_output_metadata({"serving_versions": dg.MetadataValue.json(serving)})
    return stamp(score_targets(cfg, features, plan_from_dict(cycle_plan)), fp)


@dg.asset(group_name="serving", kinds={"excel", "parquet"})
def visit_lists(context: dg.AssetExecutionContext, humiao: HumiaoConfig, mlflow_tracking: MlflowTracking,
                risk_scores: pd.DataFrame, cycle_plan: dict) -> dict:
    """One workbook per community (ranked list + 疑似未登记留守儿童 section), township summaries, and one
    Parquet of every list, under out/visit_lists/<cycle>/. ``{"published": False, "awaiting_approval":
    [targets]}`` and nothing written while a target has no approved model."""
    cfg = humiao.cfg
    if risk_scores.empty:
        mlflow_tracking.setup()
        waiting = awaiting_approval(cfg)
        context.add_output_metadata({"published": False, "awaiting_approval": waiting})
        return {"published": False, "awaiting_approval": waiting, "cycle": cycle_plan.get("cycle"), "_files": []}
    fp = stage_fingerprint("visit_lists", ("serving", "features"), [cfg.fingerprint("risk_levels")], risk_scores,
                           cycle_plan, ingest_fingerprint(cfg),
                           sorted(tokens_under_correction(cfg)),
                           sorted(tokens_under_correction(cfg, "open_cases.parquet")))
    cached = reuse(assets_dir(cfg), ["visit_lists"], fp)
    if cached:
        return cached[0]
    res = write_lists(cfg, risk_scores, plan_from_dict(cycle_plan))
    return stamp({**res, "published": True, "_files": [res["parquet"], *res["workbooks"]]}, fp)


@dg.asset(group_name="monitoring", kinds={"parquet"},
          ins={"features": dg.AssetIn(metadata={"as_of_dates": "monitoring"}),
               "labels": dg.AssetIn(metadata={"as_of_dates": "monitoring"})})
def drift(humiao: HumiaoConfig, mlflow_tracking: MlflowTracking, features: pd.DataFrame, labels: pd.DataFrame,
          risk_scores: pd.DataFrame, cycle_plan: dict, model_guardianship_risk: dict,
          model_left_behind_risk: dict) -> dg.Output[dict]:
    """Monitoring of this cycle (issue 7): feature and score drift (population stability index vs the
    latest labelled as-of date), performance decay as labels arrive, data-quality trends per department.
    Its check warns and suggests retraining."""
    cfg = humiao.cfg
    plan = plan_from_dict(cycle_plan)
    mlflow_tracking.setup()
    report = drift_report(cfg, features, risk_scores, plan)
    report["performance"] = performance_decay(cfg, features, labels, plan, {
        "guardianship_risk": model_guardianship_risk, "left_behind_risk": model_left_behind_risk})
    report["quality_trends"] = quality_trends_for(cfg)
    decayed = any(p["decayed"] for p in report["performance"].values())
    return dg.Output(report, metadata={
        "drifted_share": report["drifted_share"], "retrain_suggested": report["retrain_suggested"] or decayed,
        "score_psi": dg.MetadataValue.json(report["scores"])})


@dg.asset_check(asset=drift, name="drift_within_bounds")
def drift_within_bounds(humiao: HumiaoConfig, drift: dict) -> dg.AssetCheckResult:
    """Non-blocking: a visible warning when the share of drifted features exceeds the configured bound."""
    flagged = [f["column"] for f in drift["features"] if f["flagged"]]
    decayed = [t for t, p in drift.get("performance", {}).items() if p["decayed"]]
    quality = [f"{q['run']} {q['department']}: {q['flag']}" for q in drift.get("quality_trends", []) if q.get("flag")]
    return dg.AssetCheckResult(
        passed=not (drift["retrain_suggested"] or decayed or quality), severity=dg.AssetCheckSeverity.WARN,
        metadata={"drifted_share": drift["drifted_share"], "drifted_features": flagged[:30],
                  "score_psi": drift["scores"], "retrain_suggested": drift["retrain_suggested"] or bool(decayed),
                  "performance_decayed": decayed, "data_quality_flags": quality[:30]})


@dg.asset(deps=["visit_lists", *[f"model_card_{t}" for t in TARGETS]], group_name="serving")
def privacy_audit(humiao: HumiaoConfig) -> dict:
    """The final check: the leak scanner over out/ (lists, cards, the MLflow store) and the Dagster
    instance (event log). Any finding fails the run (DESIGN.md §5, §11.2)."""
    report = audit_outputs(humiao.cfg)
    if report["findings"]:
        raise dg.Failure(description=f"raw personal information found in outputs: {report['findings'][:20]}",
                         metadata={"findings": len(report["findings"])})
    return report
