"""Sensors: new exports start a cycle; a new cycle plan runs the scoring over its as-of dates; monitoring
that suggests retraining requests the retraining job."""

import dagster as dg

from humiao.config import load_config
from humiao.stages import files_hash, raw_files
from pipelines.jobs import ingest_and_plan_job, monthly_scoring_job, retraining_job
from pipelines.partitions import range_tags


@dg.sensor(job=ingest_and_plan_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.STOPPED)
def new_exports_sensor(context: dg.SensorEvaluationContext):
    """Requests an ingest-and-plan run when the raw folder's content hash differs from the last one seen.
    Only content is compared (file bytes), so touching a file without changing it does nothing."""
    raw_dir = load_config().path("raw_dir")
    files = raw_files(raw_dir) if raw_dir.exists() else []
    if not files:
        return dg.SkipReason(f"no exports in {raw_dir}")
    digest = files_hash(files)
    if digest == context.cursor:
        return dg.SkipReason("no new or changed exports")
    context.update_cursor(digest)
    return dg.RunRequest(run_key=digest, tags={"trigger": "new_exports", "files": str(len(files))})


def plan_request(plan: dict, run_key: str, trigger: str) -> dg.RunRequest:
    """A run over the plan's contiguous range of as-of-date partitions (pipelines.partitions)."""
    return dg.RunRequest(run_key=run_key, tags={**range_tags(plan), "trigger": trigger,
                                                "cycle": plan["scoring_as_of_date"][:7]})


def stored_plan() -> dict | None:
    """The latest stored cycle plan (``work/assets/cycle_plan.json``), or None."""
    from pipelines.io_manager import output_path, read_output

    path = output_path(load_config().path("work_dir") / "assets", "cycle_plan")
    return read_output(path) if path is not None else None


def latest_plan_request(trigger: str, key: str):
    """A RunRequest over the stored cycle plan's range, or a skip when no cycle has been planned."""
    plan = stored_plan()
    if plan is None:
        return dg.SkipReason("no cycle plan yet: run ingest_and_plan first")
    return plan_request(plan, f"{trigger}-{plan['scoring_as_of_date']}-{key}", trigger)


@dg.asset_sensor(asset_key=dg.AssetKey("cycle_plan"), job=monthly_scoring_job,
                 default_status=dg.DefaultSensorStatus.STOPPED)
def cycle_plan_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
    """After each ingest-and-plan run: the scoring run over the new plan's as-of dates."""
    return latest_plan_request("cycle_plan", asset_event.run_id)


def retrain_request(metadata: dict, run_id: str, plan: dict | None):
    """RunRequest for the retraining job over ``plan``'s as-of dates when the monitoring metadata
    suggests retraining, else a skip."""
    suggested = metadata.get("retrain_suggested")
    value = getattr(suggested, "value", suggested)
    if not value:
        return dg.SkipReason("monitoring does not suggest retraining")
    if plan is None:
        return dg.SkipReason("no cycle plan yet: run ingest_and_plan first")
    return plan_request(plan, f"retrain-{run_id}", "drift")


@dg.asset_sensor(asset_key=dg.AssetKey("drift"), job=retraining_job,
                 default_status=dg.DefaultSensorStatus.STOPPED)
def retrain_on_drift_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
    """Requests the retraining job when a cycle's monitoring suggests it (too many drifted features or
    performance decay beyond the configured bounds). The new model still waits for a reviewer."""
    mat = asset_event.asset_materialization
    return retrain_request(dict(mat.metadata) if mat else {}, asset_event.run_id, stored_plan())


sensors = [new_exports_sensor, cycle_plan_sensor, retrain_on_drift_sensor]
