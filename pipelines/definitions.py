"""The Dagster Definitions: read top to bottom, this is the whole flow (DESIGN.md §3).

    raw_<table> (external) → pseudonymized_<table> → cycle_plan, person_spine
    → features, labels (monthly as-of-date partitions: one run per cycle range, pipelines/partitions.py)
    → model_<target> (MLflow) → model_card_<target> → risk_scores → visit_lists → privacy_audit

In-process executor (2 cores) by default, the multiprocess executor with one step at a time when
``pipeline.executor: multiprocess`` (city scale); resources switched by HUMIAO_ENV through the config file.
"""

from __future__ import annotations

import dagster as dg

from humiao.config import load_config
from pipelines.assets.features import cycle_plan, features_and_labels, person_spine
from pipelines.assets.ingest import pseudonymize, raw_specs
from pipelines.assets.models import models
from pipelines.assets.serving import (
    drift,
    drift_within_bounds,
    model_cards,
    privacy_audit,
    risk_scores,
    visit_lists,
)
from pipelines.checks import checks
from pipelines.io_manager import ParquetJsonIOManager
from pipelines.jobs import jobs
from pipelines.loggers import humiao_console_logger
from pipelines.resources import HumiaoConfig, MlflowTracking, PrivacyKeys
from pipelines.schedules import schedules
from pipelines.sensors import sensors

#: Imported once by the forkserver of the multiprocess executor, so that a step starts in about a second
#: instead of importing them again. Third-party libraries only: the pipeline's own modules read the
#: configuration when imported, and a step must read the configuration of its own run
#: (pipelines.run.asset_job).
FORKSERVER_PRELOAD = ["dagster", "numpy", "pandas", "pyarrow.parquet", "duckdb", "lightgbm", "sklearn.metrics",
                      "mlflow", "cryptography.fernet", "ahocorasick", "jieba", "openpyxl", "jinja2"]


def executor_for(name: str) -> dg.ExecutorDefinition:
    """``in_process``: Dagster's in-process executor; ``multiprocess``: its multiprocess executor with
    one step at a time (two cores: a step that is alone may use both; humiao/config.py PipelineSettings),
    each step forked from a server that has imported :data:`FORKSERVER_PRELOAD`."""
    if name == "multiprocess":
        return dg.multiprocess_executor.configured(
            {"max_concurrent": 1, "start_method": {"forkserver": {"preload_modules": FORKSERVER_PRELOAD}}})
    return dg.in_process_executor


def build_definitions(config_file: str | None = None) -> dg.Definitions:
    """Definitions for one configuration file (None: humiao.yaml + environment)."""
    cfg = load_config(config_file)
    return dg.Definitions(
        assets=[*raw_specs, pseudonymize, cycle_plan, person_spine, features_and_labels, models,
                *model_cards, risk_scores, visit_lists, drift, privacy_audit],
        asset_checks=[*checks, drift_within_bounds],
        jobs=jobs,
        schedules=schedules,
        sensors=sensors,
        resources={
            "humiao": HumiaoConfig(config_file=config_file),
            "keys": PrivacyKeys(config_file=config_file),
            "mlflow_tracking": MlflowTracking(tracking_uri=cfg.mlflow_tracking_uri,
                                              artifact_root=str(cfg.mlflow_dir / "artifacts"),
                                              experiment=cfg.mlflow_experiment),
            "io_manager": ParquetJsonIOManager(base_dir=str(cfg.path("work_dir") / "assets")),
        },
        executor=executor_for(cfg.pipeline.executor),
        loggers={"console": humiao_console_logger},
    )


defs = build_definitions()
