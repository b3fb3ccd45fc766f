"""The Dagster Definitions: read top to bottom, this is the whole flow (DESIGN.md §3).

    raw_<table> (external) → pseudonymized_<table> → cycle_plan, person_spine
    → features, labels (monthly as-of-date partitions: one run per cycle range, pipelines/partitions.py)
    → model_<target> (MLflow) → model_card_<target> → risk_scores → visit_lists → privacy_audit

In-process executor (2 cores); resources switched by HUMIAO_ENV through the config file.
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
        executor=dg.in_process_executor,
        loggers={"console": humiao_console_logger},
    )


defs = build_definitions()
