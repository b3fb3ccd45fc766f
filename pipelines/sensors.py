"""A sensor that notices new or changed departmental exports in the input folder."""

import dagster as dg

from humiao.config import load_config
from humiao.stages import files_hash, raw_files
from pipelines.jobs import monthly_scoring_job


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


sensors = [new_exports_sensor]
