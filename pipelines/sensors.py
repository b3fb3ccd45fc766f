"""A sensor that notices new or changed departmental exports in the input folder."""

import dagster as dg

from humiao.config import load_config
from humiao.stages import files_hash, raw_files
from pipelines.jobs import monthly_scoring_job, retraining_job


@dg.sensor(job=monthly_scoring_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.STOPPED)
def new_exports_sensor(context: dg.SensorEvaluationContext):
    """Requests a scoring run when the raw folder's content hash differs from the last one seen.
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


def retrain_request(metadata: dict, run_id: str):
    """RunRequest for the retraining job when the monitoring metadata suggests retraining, else a skip."""
    suggested = metadata.get("retrain_suggested")
    value = getattr(suggested, "value", suggested)
    if not value:
        return dg.SkipReason("monitoring does not suggest retraining")
    return dg.RunRequest(run_key=f"retrain-{run_id}", tags={"trigger": "drift"})


@dg.asset_sensor(asset_key=dg.AssetKey("drift"), job=retraining_job,
                 default_status=dg.DefaultSensorStatus.STOPPED)
def retrain_on_drift_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
    """Requests the retraining job when a cycle's monitoring suggests it (too many drifted features or
    performance decay beyond the configured bounds). The new model still waits for a reviewer."""
    mat = asset_event.asset_materialization
    return retrain_request(dict(mat.metadata) if mat else {}, asset_event.run_id)


sensors = [new_exports_sensor, retrain_on_drift_sensor]
