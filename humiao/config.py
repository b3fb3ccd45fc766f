"""The one configuration object (DESIGN.md §3 "one configuration object").

Loaded from one YAML file (``humiao.yaml`` at the repository root by default, or the file named by
``HUMIAO_CONFIG``) with environment overrides:

* ``HUMIAO_ENV`` — ``demo`` (default) or ``production``;
* ``HUMIAO_RAW_DIR``, ``HUMIAO_OUT_DIR``, ``HUMIAO_WORK_DIR`` — the main paths;
* ``HUMIAO__<SECTION>__<FIELD>`` — any field, e.g. ``HUMIAO__SIMULATION__CHILDREN=2000``.

Relative paths are resolved against the repository root (the folder holding ``humiao.yaml``), so the
CLI, Dagster and tests agree wherever they are started from. Library packages never read this file:
``pipelines/`` and the CLI pass the values they need.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG_FILE = REPO_ROOT / "humiao.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Paths(_Section):
    """Where things live. ``raw_dir`` holds departmental exports as delivered (never written by the
    pipeline except by the simulator); ``truth_dir`` the simulator's ground truth (outside raw_dir);
    ``work_dir`` pseudonymized stages; ``quarantine_dir`` rejected raw rows (owner-only);
    ``out_dir`` what people and MLflow get; ``secrets_dir`` demo keys (git-ignored, owner-only)."""

    raw_dir: Path = Path("data/raw")
    truth_dir: Path = Path("data/truth")
    work_dir: Path = Path("data/work")
    quarantine_dir: Path = Path("data/quarantine")
    out_dir: Path = Path("out")
    secrets_dir: Path = Path(".secrets")
    dagster_home: Path = Path(".dagster")
    contracts_dir: Path = Path("contracts")


class Simulation(_Section):
    """The embedded default input: a scaled-down simulated city (DESIGN.md §9)."""

    children: int = Field(20000, ge=200)
    months: int = Field(36, ge=12)
    seed: int = 42
    end_month: str = "2025-12"  # DESIGN §11.6: never the wall clock

    @field_validator("end_month")
    @classmethod
    def _month(cls, v: str) -> str:
        date.fromisoformat(v + "-01")
        return v


class Time(_Section):
    """Temporal settings in triage's vocabulary (DESIGN.md §6). Dates are ISO strings; ``None`` values
    are derived from the data's last complete month (DESIGN §11.6)."""

    label_timespan_days: int = 180
    feature_start_time: str | None = None
    model_update_frequency_months: int = 6
    training_as_of_date_frequency_months: int = 1
    max_training_history_months: int = 12
    test_duration_months: int = 1
    n_splits: int = 2
    scoring_as_of_date: str | None = None


class Capacity(_Section):
    """Visit capacity (DESIGN.md §11.9): directors per community = max(1, ceil(active registry children /
    children_per_director)) (Hangzhou 2025 No. 70 §(六): more directors above 30 children);
    K = directors × visits_per_director_per_cycle; the left-behind section has its own K (§11.8)."""

    children_per_director: int = 30
    visits_per_director_per_cycle: int = 10
    left_behind_per_community: int = 3
    exploration_share: float = Field(0.0, ge=0, le=0.5)
    recent_visit_days: int = 30  # a listed child visited this recently is marked 近期已走访 (not dropped)


class RiskLevels(_Section):
    """Ventile → level mapping (DESIGN.md §7): lower bound of each level's ventile range."""

    极危: int = 19
    高危: int = 16
    中危: int = 11
    低危: int = 1

    def as_dict(self) -> dict[str, int]:
        return {"极危": self.极危, "高危": self.高危, "中危": self.中危, "低危": self.低危}


class Checks(_Section):
    """Bounds of the asset checks (DESIGN.md §3 "checks that can fail"). Defaults come from
    SIMULATOR_FACTS / DESIGN §11.15 for simulated data; for real data set them from the last cycle."""

    guardianship_prevalence: tuple[float, float] = (0.002, 0.15)
    left_behind_prevalence: tuple[float, float] = (0.0002, 0.05)
    max_quarantine_share: float = 0.05  # a table with a larger share of quarantined rows fails the ingest
    max_quarantine_share_by_table: dict[str, float] = Field(default_factory=dict)
    min_cohort_children: int = 100
    max_staleness_days: int = 62  # a source whose newest fact is older than this at the cycle's as-of date warns
    staleness_days_by_table: dict[str, int] = Field(default_factory=lambda: {
        # sparse sources: months may pass without a record in a small town
        "detention_records": 400, "disability_certificates": 400, "subsistence_allowance": 400,
        "incidents": 200, "inpatient_admissions": 200, "injury_visits": 200, "residence_permits": 200,
        "child_registry": 200,
    })


class Monitoring(_Section):
    """Drift monitoring per cycle (issue 7): population stability index of every feature and of the
    scores between the latest labelled as-of date and the current cycle. PSI ≥ 0.25 is the usual
    "significant shift" threshold (Siddiqi 2006, Credit Risk Scorecards)."""

    psi_threshold: float = 0.25
    max_drifted_share: float = 0.2  # warn (and suggest retraining) when more features than this drift
    max_precision_drop: float = 0.03  # performance decay: precision@capacity_abs lost since training


class Models(_Section):
    """Model search settings (DESIGN.md §7)."""

    seed: int = 7
    num_threads: int = 2
    grid: list[dict] = Field(
        default_factory=lambda: [
            {"num_leaves": 15, "learning_rate": 0.05, "n_estimators": 200, "min_child_samples": 50},
            {"num_leaves": 31, "learning_rate": 0.05, "n_estimators": 300, "min_child_samples": 100},
        ]
    )
    bootstrap_samples: int = 200
    # share of negative training rows kept (weighted back by 1/rate; models.train.negative_sample_mask):
    # 1.0 trains on every row; city-scale runs (issue 8) may lower it
    negative_sample_rate: float = Field(1.0, gt=0, le=1)
    # the one-feature baseline per target (DESIGN §7): the strongest single signal a bureau could use
    one_feature: dict[str, str] = Field(default_factory=lambda: {
        "guardianship_risk": "visit_count_12m", "left_behind_risk": "parents_away_months_12m"})


class FeaturesSettings(_Section):
    """Which engine runs the feature spec (:func:`features.build.build_features`): DuckDB on one machine;
    Spark where a province runs the same asset graph on a cluster (the active SparkSession, else local)."""

    engine: Literal["duckdb", "polars", "spark"] = "duckdb"


class PrivacySettings(_Section):
    """Retention (PIPL art. 47: personal information is deleted once its purpose is achieved). A child
    leaves scope at 18 or on moving out of the city; ``humiao purge`` deletes their identity from the
    vault and their rows from the serving stores ``retention_days`` later (time for open cases to close)."""

    retention_days: int = Field(180, ge=0)


class Config(_Section):
    """Everything configurable in humiao. See ``humiao.yaml`` for the documented defaults."""

    env: Literal["demo", "production"] = "demo"
    paths: Paths = Field(default_factory=Paths)
    simulation: Simulation = Field(default_factory=Simulation)
    time: Time = Field(default_factory=Time)
    capacity: Capacity = Field(default_factory=Capacity)
    risk_levels: RiskLevels = Field(default_factory=RiskLevels)
    checks: Checks = Field(default_factory=Checks)
    models: Models = Field(default_factory=Models)
    features: FeaturesSettings = Field(default_factory=FeaturesSettings)
    monitoring: Monitoring = Field(default_factory=Monitoring)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    rural_hukou_only: bool = False  # left-behind cohort: national definition counts rural hukou only
    mlflow_experiment: str = "humiao"
    root: Path = REPO_ROOT

    # ------------------------------------------------------------------ derived
    def path(self, name: str) -> Path:
        """An absolute path from ``paths``: relative ones are resolved against ``root``."""
        p = Path(getattr(self.paths, name))
        return p if p.is_absolute() else (self.root / p)

    @property
    def pseudonymized_dir(self) -> Path:
        return self.path("work_dir") / "pseudonymized"

    @property
    def mlflow_dir(self) -> Path:
        return self.path("out_dir") / "mlflow"

    @property
    def mlflow_tracking_uri(self) -> str:
        return f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"

    def fingerprint(self, *sections: str) -> str:
        """SHA-256 of the named sections' values: part of a stage's cache key."""
        payload = {s: getattr(self, s).model_dump(mode="json") if hasattr(getattr(self, s), "model_dump")
                   else getattr(self, s) for s in sections}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _set_nested(d: dict, keys: list[str], value: str) -> None:
    for k in keys[:-1]:
        d = d.setdefault(k, {})
    d[keys[-1]] = yaml.safe_load(value)


def load_config(path: Path | str | None = None, **overrides) -> Config:
    """Load the configuration file, then apply environment overrides, then ``overrides``.

    Raises
    ------
    FileNotFoundError
        If an explicitly named file does not exist.
    pydantic.ValidationError
        On unknown keys or bad values (the message names the field).
    """
    explicit = path or os.environ.get("HUMIAO_CONFIG")
    cfg_path = Path(explicit) if explicit else DEFAULT_CONFIG_FILE
    data: dict = {}
    if cfg_path.exists():
        data = yaml.safe_load(cfg_path.read_text(encoding="utf-8")) or {}
    elif explicit:
        raise FileNotFoundError(f"configuration file not found: {cfg_path}")
    data.setdefault("root", str(cfg_path.resolve().parent if cfg_path.exists() else REPO_ROOT))
    if "HUMIAO_ENV" in os.environ:
        data["env"] = os.environ["HUMIAO_ENV"]
    for var, key in (("HUMIAO_RAW_DIR", "raw_dir"), ("HUMIAO_OUT_DIR", "out_dir"),
                     ("HUMIAO_WORK_DIR", "work_dir"), ("HUMIAO_TRUTH_DIR", "truth_dir")):
        if var in os.environ:
            data.setdefault("paths", {})[key] = os.environ[var]
    for var, value in os.environ.items():
        if var.startswith("HUMIAO__"):
            _set_nested(data, [p.lower() for p in var[len("HUMIAO__"):].split("__")], value)
    for k, v in overrides.items():
        _set_nested(data, k.split("."), json.dumps(v) if not isinstance(v, str) else v)
    return Config.model_validate(data)
