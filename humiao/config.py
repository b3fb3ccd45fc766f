"""The one configuration object (DESIGN.md §3 "one configuration object").

Loaded from one YAML file (``humiao.yaml`` at the repository root by default, or the file named by
``HUMIAO_CONFIG``) with environment overrides:

* ``HUMIAO_ENV`` — ``demo`` (default) or ``production``;
* ``HUMIAO_RAW_DIR``, ``HUMIAO_OUT_DIR``, ``HUMIAO_WORK_DIR`` — the main paths;
* ``HUMIAO__<SECTION>__<FIELD>`` — any field, e.g. ``HUMIAO__SIMULATION__CHILDREN=2000``.

A configuration that cannot be used (missing or unreadable file, YAML syntax error, unknown setting,
wrong type or value, bad override) raises :class:`ConfigError`, naming the file, each setting (dotted
path), what was expected and where the value came from; the CLI prints it and exits 2.

Relative paths are resolved against the repository root (the folder holding ``humiao.yaml``), so the
CLI, Dagster and tests agree wherever they are started from. Library packages never read this file:
``pipelines/`` and the CLI pass the values they need.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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

    label_timespan_days: int = Field(180, ge=1)
    feature_start_time: str | None = None
    model_update_frequency_months: int = Field(6, ge=1)
    training_as_of_date_frequency_months: int = Field(1, ge=1)
    max_training_history_months: int = Field(12, ge=1)
    test_duration_months: int = Field(1, ge=1)
    n_splits: int = Field(2, ge=1)
    scoring_as_of_date: str | None = None


class Capacity(_Section):
    """Visit capacity (DESIGN.md §11.9): directors per community = max(1, ceil(active registry children /
    children_per_director)) (Hangzhou 2025 No. 70 §(六): more directors above 30 children);
    K = directors × visits_per_director_per_cycle; the left-behind section has its own K (§11.8)."""

    children_per_director: int = Field(30, ge=1)
    visits_per_director_per_cycle: int = Field(10, ge=1)
    left_behind_per_community: int = Field(3, ge=0)
    exploration_share: float = Field(0.0, ge=0, le=0.5)
    recent_visit_days: int = Field(30, ge=0)  # a listed child visited this recently is marked 近期已走访 (not dropped)


class RiskLevels(_Section):
    """Ventile → level mapping (DESIGN.md §7): lower bound of each level's ventile range."""

    极危: int = Field(19, ge=1, le=20)
    高危: int = Field(16, ge=1, le=20)
    中危: int = Field(11, ge=1, le=20)
    低危: int = Field(1, ge=1, le=20)

    def as_dict(self) -> dict[str, int]:
        return {"极危": self.极危, "高危": self.高危, "中危": self.中危, "低危": self.低危}

    @model_validator(mode="after")
    def _ordered(self) -> RiskLevels:
        """The lower bounds must rise from 低危 (1: every ventile has a level) to 极危."""
        if not (self.低危 == 1 and self.低危 < self.中危 < self.高危 < self.极危):
            raise ValueError("各等级下限应满足 低危 = 1 < 中危 < 高危 < 极危（风险分 1–20）/ lower bounds must "
                             "satisfy 低危 = 1 < 中危 < 高危 < 极危 (ventiles 1–20), got "
                             f"低危 {self.低危}, 中危 {self.中危}, 高危 {self.高危}, 极危 {self.极危}")
        return self


class Checks(_Section):
    """Bounds of the asset checks (DESIGN.md §3 "checks that can fail"). Defaults come from
    SIMULATOR_FACTS / DESIGN §11.15 for simulated data; for real data set them from the last cycle."""

    guardianship_prevalence: tuple[float, float] = (0.002, 0.15)
    left_behind_prevalence: tuple[float, float] = (0.0002, 0.05)

    @field_validator("guardianship_prevalence", "left_behind_prevalence")
    @classmethod
    def _bounds(cls, v: tuple[float, float]) -> tuple[float, float]:
        """[low, high] shares of positive labels: 0 ≤ low ≤ high ≤ 1."""
        lo, hi = v
        if not 0 <= lo <= hi <= 1:
            raise ValueError(f"应为 [下限, 上限]，0 ≤ 下限 ≤ 上限 ≤ 1 / expected [low, high] with 0 ≤ low ≤ high ≤ 1, "
                             f"got [{lo}, {hi}]")
        return v
    max_quarantine_share: float = Field(0.05, ge=0, le=1)  # a table with a larger share of quarantined rows fails the ingest
    max_quarantine_share_by_table: dict[str, float] = Field(default_factory=dict)
    min_cohort_children: int = Field(100, ge=0)
    max_staleness_days: int = Field(62, ge=1)  # a source whose newest fact is older than this at the cycle's as-of date warns
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

    psi_threshold: float = Field(0.25, gt=0)
    max_drifted_share: float = Field(0.2, ge=0, le=1)  # warn (and suggest retraining) when more features than this drift
    max_precision_drop: float = Field(0.03, ge=0, le=1)  # performance decay: precision@capacity_abs lost since training


class Models(_Section):
    """Model search settings (DESIGN.md §7)."""

    seed: int = 7
    num_threads: int = Field(2, ge=1)
    grid: list[dict] = Field(
        default_factory=lambda: [
            {"num_leaves": 15, "learning_rate": 0.05, "n_estimators": 200, "min_child_samples": 50},
            {"num_leaves": 31, "learning_rate": 0.05, "n_estimators": 300, "min_child_samples": 100},
        ]
    )
    bootstrap_samples: int = Field(200, ge=10)
    # share of negative training rows kept (weighted back by 1/rate; models.train.negative_sample_mask):
    # 1.0 trains on every row; city-scale runs (issue 8) may lower it. The models asset drops the other
    # negatives of the fit-only as-of dates when it reads the partitions (test and calibration dates are
    # read whole; humiao.stages.read_training_inputs): the same models and evaluation, a smaller matrix
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


class PipelineSettings(_Section):
    """How Dagster runs the steps of ``humiao run``.

    ``in_process`` (default): every step in the one pipeline process; a step costs nothing to start.
    ``multiprocess``: each step in its own process, one at a time (Dagster's multiprocess executor,
    ``max_concurrent: 1`` on two cores). What a step leaves behind goes back to the system when it
    ends, so the peak is the largest single step rather than what the earlier steps left behind. Each
    step is forked from a server that has imported the libraries once, and a step that scans for leaks
    loads the scanner index the ingest kept (``identity_index.bin.scanner``) instead of deriving it.
    For city scale (issue 8); a cluster uses the Kubernetes executor instead (docs/production.md)."""

    executor: Literal["in_process", "multiprocess"] = "in_process"


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
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    rural_hukou_only: bool = False  # left-behind cohort: national definition counts rural hukou only
    mlflow_experiment: str = "humiao"
    root: Path = REPO_ROOT

    # ------------------------------------------------------------------ derived
    def path(self, name: str) -> Path:
        """An absolute path from ``paths``: relative ones are resolved against ``root`` (the configuration
        file's folder), except ``contracts_dir``: the data contracts ship with the code, so a relative
        one is resolved against the repository (a copy of humiao.yaml elsewhere still finds them)."""
        p = Path(getattr(self.paths, name))
        if p.is_absolute():
            return p
        return (REPO_ROOT / p) if name == "contracts_dir" else (self.root / p)

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


# ------------------------------------------------------------------------------------------ errors


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with the configuration: the setting (dotted path, ``""`` for the file as a
    whole), what was expected (Chinese and English), the value found, and where it came from."""

    setting: str
    expected_zh: str
    expected_en: str
    got: str | None = None
    source_zh: str | None = None  # e.g. "第 12 行" or "环境变量 HUMIAO__CAPACITY__X"
    source_en: str | None = None

    def line_zh(self) -> str:
        where = f"设置项 {self.setting}" if self.setting else "整个文件"
        if self.source_zh:
            where += f"（{self.source_zh}）"
        got = f"，实际为 {self.got}" if self.got is not None else ""
        return f"{where}：应为{self.expected_zh}{got}"

    def line_en(self) -> str:
        where = f"setting {self.setting}" if self.setting else "the file"
        if self.source_en:
            where += f" ({self.source_en})"
        got = f", got {self.got}" if self.got is not None else ""
        return f"{where}: expected {self.expected_en}{got}"


class ConfigError(ValueError):
    """The configuration cannot be used: unreadable or missing file, YAML syntax error, unknown setting,
    wrong type or value. ``file`` names the configuration file, ``problems`` every setting at fault;
    :meth:`render` gives the bilingual message a user sees (the CLI prints it and exits 2)."""

    def __init__(self, file: Path | str, problems: list[ConfigProblem]):
        self.file = str(file)
        self.problems = list(problems)
        super().__init__(f"configuration file {self.file}: " + "; ".join(p.line_en() for p in self.problems))

    def render(self) -> str:
        lines = [f"配置错误 / configuration error: {self.file}"]
        for p in self.problems:
            lines.append(f"  - {p.line_zh()}")
            lines.append(f"    {p.line_en()}")
        lines.append("请改正后重试（各设置项的说明见仓库根目录的 humiao.yaml）/ fix it and run again "
                     "(humiao.yaml at the repository root documents every setting).")
        return "\n".join(lines)

    def __reduce__(self):  # picklable (a process pool or Dagster may carry it across processes)
        return (self.__class__, (self.file, self.problems))


class ConfigFileNotFoundError(ConfigError, FileNotFoundError):
    """An explicitly named configuration file (``--config`` or ``HUMIAO_CONFIG``) does not exist."""


def _shown(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _known_settings(loc: tuple) -> list[str]:
    """Field names of the section that ``loc`` (an unknown key's location) points into."""
    model: type[BaseModel] | None = Config
    for part in loc[:-1]:
        field = model.model_fields.get(str(part)) if model is not None else None
        ann = field.annotation if field is not None else None
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
        if model is None:
            return []
    return [n for n in model.model_fields if n != "root"]


def _expected(err: dict) -> tuple[str, str]:
    """(Chinese, English) of what pydantic expected, in words a user of humiao.yaml understands."""
    t, ctx = err["type"], err.get("ctx") or {}
    if t == "extra_forbidden":
        known = _known_settings(tuple(err["loc"]))
        name = str(err["loc"][-1])
        close = difflib.get_close_matches(name, known, n=1)
        hint_zh = f"；是否想写 {close[0]}？" if close else ""
        hint_en = f"; did you mean {close[0]}?" if close else ""
        listed = ", ".join(known)
        return (f"已知的设置项之一（{listed}）{hint_zh}" if known else "已知的设置项（这里不接受新的设置）",
                f"one of the known settings ({listed}){hint_en}" if known else "a known setting")
    table = {
        "int_parsing": ("整数", "a whole number"), "int_type": ("整数", "a whole number"),
        "int_from_float": ("整数（不带小数）", "a whole number (no fraction)"),
        "float_parsing": ("数字", "a number"), "float_type": ("数字", "a number"),
        "bool_parsing": ("true 或 false", "true or false"), "bool_type": ("true 或 false", "true or false"),
        "string_type": ("文字", "text"), "path_type": ("路径", "a path"),
        "missing": ("一个值（必填）", "a value (required)"),
        "model_type": ("一组设置（“名称: 值”，写在下一级缩进中）", "a section of settings (name: value, indented)"),
        "dict_type": ("一组“名称: 值”", "a mapping of name: value"),
        "list_type": ("列表，例如 [a, b]", "a list, e.g. [a, b]"),
        "tuple_type": ("列表，例如 [a, b]", "a list, e.g. [a, b]"),
        "too_long": ("更短的列表", "a shorter list"),
    }
    if t in table:
        return table[t]
    if t == "literal_error":
        expected = str(ctx.get("expected"))
        return f"以下之一：{expected.replace(' or ', '、').replace(', ', '、')}", f"one of {expected}"
    for key, zh, en in (("ge", "不小于", "≥"), ("gt", "大于", ">"), ("le", "不大于", "≤"), ("lt", "小于", "<")):
        if key in ctx and t.startswith(("greater", "less")):
            return f"{zh} {ctx[key]} 的数", f"a number {en} {ctx[key]}"
    if t == "value_error":
        why = str(ctx.get("error", err["msg"]))
        return f"有效的值（{why}）", f"a valid value ({why})"
    return f"有效的值（{err['msg']}）", err["msg"][0].lower() + err["msg"][1:]


def _yaml_lines(text: str) -> dict[tuple[str, ...], int]:
    """1-based line of every mapping key in a YAML document, by its path of keys."""
    out: dict[tuple[str, ...], int] = {}

    def walk(node, prefix: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = (*prefix, str(k.value))
                out[key] = k.start_mark.line + 1
                walk(v, key)

    with contextlib.suppress(yaml.YAMLError):  # a syntax error is reported by yaml.safe_load
        walk(yaml.compose(text), ())
    return out


def _validation_problems(e: ValidationError, lines: dict[tuple[str, ...], int],
                         origins: dict[tuple[str, ...], str]) -> list[ConfigProblem]:
    problems = []
    for err in e.errors():
        loc = tuple(str(p) for p in err["loc"])
        zh, en = _expected(err)
        src_zh = src_en = None
        for n in range(len(loc), 0, -1):  # the innermost key that an override or a file line sets
            if loc[:n] in origins:
                src_zh, src_en = _origin(origins[loc[:n]])
                break
            if loc[:n] in lines:
                src_zh, src_en = f"第 {lines[loc[:n]]} 行", f"line {lines[loc[:n]]}"
                break
        got = None if err["type"] in ("extra_forbidden", "missing") else _shown(err.get("input"))
        problems.append(ConfigProblem(".".join(loc), zh, en, got, src_zh, src_en))
    return problems


# ------------------------------------------------------------------------------------------ loading


def _origin(origin: str) -> tuple[str, str]:
    """(Chinese, English) words for where an override came from."""
    if origin.startswith("HUMIAO"):
        return f"来自环境变量 {origin}", f"from the environment variable {origin}"
    return f"来自 {origin}", f"from {origin}"


def _set_nested(d: dict, keys: list[str], value: str, *, file: Path | str = "", origin: str = "",
                parse: bool = True) -> None:
    """Set ``d[k1][k2]…`` to ``value`` parsed as YAML (an environment override or a keyword override)."""
    try:
        parsed = yaml.safe_load(value) if parse else value
    except yaml.YAMLError as e:
        raise ConfigError(file, [ConfigProblem(".".join(keys), "可解析的 YAML 值", "a parsable YAML value",
                                               _shown(value), *_origin(origin))]) from e
    for i, k in enumerate(keys[:-1]):
        d = d.setdefault(k, {})
        if not isinstance(d, dict):
            where = ".".join(keys[: i + 1])
            raise ConfigError(file, [ConfigProblem(where, "一组设置（“名称: 值”）", "a section of settings",
                                                   _shown(d), *_origin(origin))])
    d[keys[-1]] = parsed


def load_config(path: Path | str | None = None, **overrides) -> Config:
    """Load the configuration file, then apply environment overrides, then ``overrides``.

    Raises
    ------
    ConfigFileNotFoundError
        If an explicitly named file (``path`` or ``HUMIAO_CONFIG``) does not exist (a
        :class:`ConfigError` and a :class:`FileNotFoundError`).
    ConfigError
        On an unreadable file, a YAML syntax error, unknown keys or bad values: ``.problems`` names
        each setting (dotted path), what was expected and where the value came from (file line or
        environment variable); the pydantic or YAML error is its ``__cause__``.
    """
    explicit = path or os.environ.get("HUMIAO_CONFIG")
    cfg_path = Path(explicit) if explicit else DEFAULT_CONFIG_FILE
    data: dict = {}
    lines: dict[tuple[str, ...], int] = {}
    origins: dict[tuple[str, ...], str] = {}
    if cfg_path.exists():
        try:
            text = cfg_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(cfg_path, [ConfigProblem("", "可读取的 UTF-8 文本文件", "a readable UTF-8 text file",
                                                       type(e).__name__)]) from e
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            what = " ".join(str(x) for x in (getattr(e, "context", None), getattr(e, "problem", None)) if x)
            src = (f"第 {mark.line + 1} 行第 {mark.column + 1} 列", f"line {mark.line + 1}, column {mark.column + 1}"
                   ) if mark is not None else (None, None)
            raise ConfigError(cfg_path, [ConfigProblem("", "正确的 YAML 格式（YAML 语法错误：" + (what or str(e)) + "）",
                                                       "valid YAML (syntax error: " + (what or str(e)) + ")",
                                                       None, *src)]) from e
        if not isinstance(data, dict):
            raise ConfigError(cfg_path, [ConfigProblem("", "“设置项: 值”的映射（如 humiao.yaml）",
                                                       "a mapping of setting: value (like humiao.yaml)",
                                                       type(data).__name__)])
        lines = _yaml_lines(text)
    elif explicit:
        via = "--config" if path else "HUMIAO_CONFIG"
        raise ConfigFileNotFoundError(cfg_path, [ConfigProblem(
            "", f"一个存在的配置文件（由 {via} 指定）", f"an existing configuration file (named by {via})",
            None, "文件不存在", "file not found")])
    data.setdefault("root", str(cfg_path.resolve().parent if cfg_path.exists() else REPO_ROOT))
    if "HUMIAO_ENV" in os.environ:
        data["env"] = os.environ["HUMIAO_ENV"]
        origins[("env",)] = "HUMIAO_ENV"
    for var, key in (("HUMIAO_RAW_DIR", "raw_dir"), ("HUMIAO_OUT_DIR", "out_dir"),
                     ("HUMIAO_WORK_DIR", "work_dir"), ("HUMIAO_TRUTH_DIR", "truth_dir")):
        if var in os.environ:
            _set_nested(data, ["paths", key], os.environ[var], file=cfg_path, origin=var, parse=False)
            origins[("paths", key)] = var
    for var, value in os.environ.items():
        if var.startswith("HUMIAO__"):
            keys = [p.lower() for p in var[len("HUMIAO__"):].split("__")]
            _set_nested(data, keys, value, file=cfg_path, origin=var)
            origins[tuple(keys)] = var
    for k, v in overrides.items():
        _set_nested(data, k.split("."), json.dumps(v) if not isinstance(v, str) else v, file=cfg_path,
                    origin=f"load_config({k}=…)")
        origins[tuple(k.split("."))] = f"load_config({k}=…)"
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError(cfg_path, _validation_problems(e, lines, origins)) from e
