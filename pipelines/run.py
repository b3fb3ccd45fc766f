"""Materialize the whole graph (what `humiao run` and `make run` do): in-process, or each step in its own
process (``pipeline.executor: multiprocess``)."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import yaml

from humiao.config import REPO_ROOT, Config


def _root_message(error) -> str:
    """The innermost cause's message of a step failure (Dagster wraps the library's exception, whose
    message names the file, row, column or setting at fault)."""
    if error is None:
        return ""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return f"{error.cls_name}: {error.message.strip()}" if getattr(error, "cls_name", None) else error.message.strip()


def ensure_instance_settings(cfg: Config) -> None:
    """Give ``$DAGSTER_HOME`` a ``dagster.yaml`` (the one beside the configuration, else the repository's).

    The instance must never run with Dagster's default settings: telemetry would be on and its log
    (``$DAGSTER_HOME/logs/event.log``) is one more file the privacy audit has to clear. An existing file
    is kept, but one that does not turn telemetry off gets ``telemetry: enabled: false`` appended.
    """
    home = cfg.path("dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists():
        src = cfg.root / "dagster.yaml"
        if not src.exists():
            src = REPO_ROOT / "dagster.yaml"
        target.write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    settings = yaml.safe_load(target.read_text(encoding="utf-8")) or {}
    if (settings.get("telemetry") or {}).get("enabled", True) is not False:
        settings["telemetry"] = {"enabled": False}
        target.write_text(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False), encoding="utf-8")


def asset_job(config_file: str | None = None, name: str = "full_cycle") -> dg.JobDefinition:
    """The job ``name`` (pipelines.jobs) for one configuration file, as a step process of the multiprocess
    executor rebuilds it. ``HUMIAO_CONFIG`` is set before the pipeline's modules are imported (they
    read the configuration when imported), so a step never sees another run's configuration: the
    forkserver that forks the steps may have been started by an earlier run of the same process."""
    if config_file:
        os.environ["HUMIAO_CONFIG"] = config_file
    from pipelines.definitions import build_definitions

    return build_definitions(config_file).resolve_job_def(name)


def materialize_all(cfg: Config, *, config_file: str | None = None, console=None) -> dict:
    """Run every asset and check once, against the Dagster instance in ``DAGSTER_HOME`` (in-process, or
    each step in its own process with ``pipeline.executor: multiprocess``):
    first the head of the graph up to the cycle plan (``ingest_and_plan``), then everything else over
    the plan's range of as-of-date partitions (pipelines.partitions). Console log level: INFO
    (``HUMIAO_LOG_LEVEL=DEBUG`` shows every Dagster event).

    Returns ``{"success": bool, "run_id": str, "outputs": {label: path}, "error": str,
    "awaiting_approval": [target]}``; a failed blocking check or asset makes ``success`` False (nothing
    downstream of it ran). ``awaiting_approval`` names the targets with no approved model: the run
    succeeded but published no list (DESIGN.md §8 governance gate).
    """
    home = cfg.path("dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    ensure_instance_settings(cfg)
    os.environ["DAGSTER_HOME"] = str(home)
    from pipelines.definitions import build_definitions
    from pipelines.io_manager import output_path, read_output
    from pipelines.partitions import range_tags

    defs = build_definitions(config_file)
    job = defs.resolve_implicit_global_asset_job_def()
    graph = defs.resolve_asset_graph()
    upstream = dg.AssetSelection.assets("cycle_plan", "person_spine").upstream()
    upstream_keys = {k for k in upstream.resolve(graph) if graph.get(k).is_executable}
    rest = {k for k in dg.AssetSelection.all().resolve(graph) if graph.get(k).is_executable} - upstream_keys
    # The console shows INFO and above (step starts/ends, reuse, warnings); the event log keeps everything.
    run_config = {"loggers": {"console": {"config": {"log_level": os.environ.get("HUMIAO_LOG_LEVEL", "INFO")}}}}
    # Two runs: the cycle plan decides which as-of dates (partitions) the rest of the cycle needs.
    if cfg.pipeline.executor == "multiprocess":
        # each step in its own process, where the job is rebuilt from this run's configuration file
        # (the named jobs of pipelines.jobs select what upstream_keys and rest hold; in-process runs
        # the subsets of the one asset job instead)
        explicit = config_file or os.environ.get("HUMIAO_CONFIG")
        explicit = str(Path(explicit).resolve()) if explicit else None

        def execute(instance, name, keys, tags=None):
            reconstructable = dg.build_reconstructable_job(
                "pipelines.run", "asset_job", reconstructable_kwargs={"config_file": explicit, "name": name})
            return dg.execute_job(reconstructable, instance, run_config=run_config, tags=tags, raise_on_error=False)
    else:
        def execute(instance, name, keys, tags=None):
            return job.get_subset(asset_selection=keys).execute_in_process(
                instance=instance, tags=tags, raise_on_error=False, run_config=run_config)
    with dg.DagsterInstance.get() as instance:
        result = execute(instance, "ingest_and_plan", upstream_keys)
        results = [result]
        plan_path = output_path(cfg.path("work_dir") / "assets", "cycle_plan")
        if result.success and plan_path is not None:
            tags = range_tags(read_output(plan_path))
            result = execute(instance, "full_cycle", rest, tags)
            results.append(result)
    plan_missing = result.success and len(results) == 1
    out = cfg.path("out_dir")
    outputs = {
        "visit lists": out / "visit_lists",
        "model cards": out / "model_cards",
        "MLflow store": cfg.mlflow_dir,
        "reconciliation": cfg.path("work_dir") / "ingest_report.json",
    }
    error = "cycle_plan: the first run succeeded but stored no plan" if plan_missing else ""
    all_events = [e for r in results for e in r.all_events]
    if not result.success:
        failed_checks = [e.asset_check_evaluation_data for e in all_events
                         if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.asset_check_evaluation_data.passed
                         and e.asset_check_evaluation_data.severity == dg.AssetCheckSeverity.ERROR]
        failed_steps = [e for e in all_events if e.is_step_failure]
        error = "; ".join(
            [f"check {c.asset_key.to_user_string()}:{c.check_name} failed {dict(c.metadata)}"[:800] for c in failed_checks]
            + [f"{e.step_key}: {_root_message(e.step_failure_data.error)}"[:1500] for e in failed_steps])
    awaiting: list[str] = []
    lists_path = output_path(cfg.path("work_dir") / "assets", "visit_lists")
    if result.success and not plan_missing and lists_path is not None:
        lists = read_output(lists_path)
        awaiting = list(lists.get("awaiting_approval") or []) if not lists.get("published", True) else []
    return {"success": result.success and not plan_missing, "run_id": result.run_id, "outputs": {k: str(v) for k, v in outputs.items()},
            "error": error, "awaiting_approval": awaiting}
