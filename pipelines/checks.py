"""Asset checks. Every asset holding person-level data downstream of pseudonymization has a BLOCKING
check that runs the leak scanner over all of it: a finding stops the run (DESIGN.md §3, §5, §11.2).
Bounds of the other checks come from configuration (``checks:`` in humiao.yaml)."""


import warnings

import dagster as dg
import pandas as pd

from humiao.plan import plan_from_dict
from humiao.stages import TARGETS
from pipelines.assets.ingest import TABLES
from pipelines.cache import assets_dir
from pipelines.io_manager import built_partition_keys, consumer_partition_keys, iter_partitions
from pipelines.partitions import AS_OF_PARTITIONS, label_window_closed
from pipelines.resources import HumiaoConfig
from privacy.checks import (
    CheckOutcome,
    fresh_enough,
    label_counts,
    latest_value,
    no_raw_personal_information,
    parquet_has_no_raw_personal_information,
    prevalence_within_counts,
    unique_rows,
)

# Checks of the partitioned features/labels run per partition range (Dagster marks partitioned asset
# checks "preview" in 1.13; pinned release, behaviour covered by tests/pipelines).
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec")


def _result(outcome) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=outcome.passed, metadata=outcome.metadata,
                               severity=dg.AssetCheckSeverity.ERROR)


def _table_name(key: dg.AssetCheckKey) -> str:
    return key.asset_key.path[-1].removeprefix("pseudonymized_")


def _selected(context) -> list[dg.AssetCheckKey]:
    """The check keys this step evaluates, in the contracts' table order."""
    order = {f"pseudonymized_{n}": i for i, n in enumerate(TABLES)}
    return sorted(context.selected_asset_check_keys, key=lambda k: order.get(k.asset_key.path[-1], len(order)))


@dg.multi_asset_check(
    specs=[dg.AssetCheckSpec("no_raw_personal_information", asset=f"pseudonymized_{n}", blocking=True,
                             description="Every value of the pseudonymized table through the leak scanner.")
           for n in TABLES],
    name="pseudonymized_no_raw_personal_information", can_subset=True,
)
def pseudonymized_pii(context: dg.AssetCheckExecutionContext, humiao: HumiaoConfig):
    """The blocking leak scan of every pseudonymized table, one check per table, in one step: with the
    multiprocess executor (city scale) each step builds the scanner again, 12 s at 2,000,000 children,
    and the 14 tables' checks as 14 steps spent 3 of their 5 minutes doing that (issue 8)."""
    cfg = humiao.cfg
    for key in _selected(context):
        name = _table_name(key)
        free_text = [c.name for c in TABLES[name].columns if c.privacy == "free_text"]
        out = parquet_has_no_raw_personal_information(humiao.scanner, cfg.pseudonymized_dir / f"{name}.parquet",
                                                      f"pseudonymized/{name}.parquet", free_text)
        yield dg.AssetCheckResult(asset_key=key.asset_key, check_name=key.name, passed=out.passed,
                                  metadata=out.metadata, severity=dg.AssetCheckSeverity.ERROR)


@dg.multi_asset_check(
    specs=[dg.AssetCheckSpec("fresh", asset=f"pseudonymized_{n}", additional_deps=["cycle_plan"],
                             description="Warns when the source's newest fact is stale at the cycle's as-of date.")
           for n in TABLES],
    name="pseudonymized_fresh", can_subset=True, ins={"cycle_plan": dg.AssetIn("cycle_plan")},
)
def pseudonymized_fresh(context: dg.AssetCheckExecutionContext, humiao: HumiaoConfig, cycle_plan: dict):
    """Non-blocking: each source's newest knowledge date against the cycle's scoring as-of date (limits in
    ``checks.max_staleness_days`` and ``checks.staleness_days_by_table``); one step for every table."""
    cfg = humiao.cfg
    scoring = plan_from_dict(cycle_plan).scoring_as_of_date
    for key in _selected(context):
        name = _table_name(key)
        dates = latest_value(cfg.pseudonymized_dir / f"{name}.parquet", "knowledge_date")
        limit = cfg.checks.staleness_days_by_table.get(name, cfg.checks.max_staleness_days)
        out = fresh_enough(dates, scoring, limit)
        yield dg.AssetCheckResult(asset_key=key.asset_key, check_name=key.name, passed=out.passed,
                                  metadata=out.metadata, severity=dg.AssetCheckSeverity.WARN)


@dg.asset_check(asset="person_spine", name="no_raw_personal_information", blocking=True)
def person_spine_pii(humiao: HumiaoConfig, person_spine: pd.DataFrame) -> dg.AssetCheckResult:
    return _result(no_raw_personal_information(humiao.scanner, person_spine, "person_spine"))


def _run_partitions(context, humiao: HumiaoConfig, name: str, columns: list[str] | None = None):
    """The run's built partitions of ``name``, one as-of date at a time (a check never holds every date
    at once: issue 8). A run over every partition (not a range) means the cycle plan's dates, as the IO
    manager reads them. The not-built placeholders of a range's unused months hold no rows and are
    skipped (pipelines.io_manager.built_partition_keys)."""
    base = assets_dir(humiao.cfg)
    keys = consumer_partition_keys(base, name, list(context.partition_keys), len(AS_OF_PARTITIONS.get_partition_keys()))
    return iter_partitions(base / name, built_partition_keys(base / name, keys), name, columns)


def _scan_partitions(context, humiao: HumiaoConfig, name: str) -> CheckOutcome:
    """The leak scan of every partition, the findings and counts added up; a value scanned clean in one
    partition (a child's token is in every as-of date) is not scanned again in the next."""
    findings, rows, examples, columns = 0, 0, [], 0
    clean: dict[str, set[str]] = {}
    for key, frame in _run_partitions(context, humiao, name):
        out = no_raw_personal_information(humiao.scanner, frame, f"{name}/{key}", clean=clean)
        findings += out.metadata["findings"]
        rows += out.metadata["rows"]
        columns = max(columns, out.metadata["columns"])
        examples += out.metadata["examples"][: 20 - len(examples)]
    return CheckOutcome(findings == 0, {"rows": rows, "columns": columns, "findings": findings, "examples": examples})


@dg.asset_check(asset="features", name="no_raw_personal_information", blocking=True, partitions_def=AS_OF_PARTITIONS)
def features_pii(context: dg.AssetCheckExecutionContext, humiao: HumiaoConfig) -> dg.AssetCheckResult:
    """Every value of the run's feature partitions through the leak scanner, one partition at a time."""
    return _result(_scan_partitions(context, humiao, "features"))


@dg.asset_check(asset="features", name="unique_child_as_of_date", blocking=True, partitions_def=AS_OF_PARTITIONS)
def features_unique(context: dg.AssetCheckExecutionContext, humiao: HumiaoConfig) -> dg.AssetCheckResult:
    """No child twice on one as-of date (a partition is one as-of date, so each is checked alone)."""
    dup, dates = 0, 0
    key = ["child_token", "as_of_date"]
    for _, frame in _run_partitions(context, humiao, "features", columns=key):
        dup += int(unique_rows(frame, key).metadata["duplicates"])
        dates += int(frame["as_of_date"].nunique())
    return _result(CheckOutcome(dup == 0, {"duplicates": dup, "key": key, "as_of_dates": dates}))


@dg.asset_check(asset="labels", name="no_raw_personal_information", blocking=True, partitions_def=AS_OF_PARTITIONS)
def labels_pii(context: dg.AssetCheckExecutionContext, humiao: HumiaoConfig) -> dg.AssetCheckResult:
    return _result(_scan_partitions(context, humiao, "labels"))


@dg.asset_check(asset="labels", name="prevalence_within_bounds", blocking=True, partitions_def=AS_OF_PARTITIONS,
                additional_ins={"cycle_plan": dg.AssetIn("cycle_plan")})
def labels_prevalence(context: dg.AssetCheckExecutionContext, humiao: HumiaoConfig,
                      cycle_plan: dict) -> dg.AssetCheckResult:
    """Label prevalence of the run's partitions whose label window has closed (partial windows are
    lower by construction and are not judged) within the configured bands. Positives and labelled rows
    are added up one partition at a time (issue 8: never every date's labels at once)."""
    cfg = humiao.cfg
    c = cfg.checks
    bounds = {"guardianship_risk": c.guardianship_prevalence, "left_behind_risk": c.left_behind_prevalence}
    totals = {t: (0.0, 0) for t in bounds}
    judged, open_window = set(), set()
    for _, frame in _run_partitions(context, humiao, "labels", columns=["as_of_date", *TARGETS]):
        dates = pd.to_datetime(frame["as_of_date"])
        keys = {d: d.strftime("%Y-%m-%d") for d in dates.unique()}  # a partition is one date: one key
        closed = [d for d, k in keys.items() if label_window_closed(k, cycle_plan, cfg.time.label_timespan_days)]
        judged |= {keys[d] for d in closed}
        open_window |= {k for d, k in keys.items() if d not in closed}
        if not closed:
            continue
        counts = label_counts(frame[dates.isin(closed).to_numpy()], bounds)
        totals = {t: (totals[t][0] + counts[t][0], totals[t][1] + counts[t][1]) for t in bounds}
    if not judged:
        return dg.AssetCheckResult(passed=True, severity=dg.AssetCheckSeverity.ERROR, metadata={
            "as_of_dates_judged": 0, "note": "no as-of date of this run has a closed label window"})
    out = prevalence_within_counts(totals, bounds)
    return dg.AssetCheckResult(passed=out.passed, severity=dg.AssetCheckSeverity.ERROR,
                               metadata={**out.metadata, "as_of_dates_judged": len(judged),
                                         "as_of_dates_open_window": len(open_window)})


@dg.asset_check(asset="risk_scores", name="no_raw_personal_information", blocking=True)
def risk_scores_pii(humiao: HumiaoConfig, risk_scores: pd.DataFrame) -> dg.AssetCheckResult:
    return _result(no_raw_personal_information(humiao.scanner, risk_scores, "risk_scores"))


def _card_check(target: str):
    @dg.asset_check(asset=f"model_card_{target}", name="no_raw_personal_information", blocking=True)
    def _check(humiao: HumiaoConfig) -> dg.AssetCheckResult:
        cfg = humiao.cfg
        return _result(no_raw_personal_information(humiao.scanner, cfg.path("out_dir") / "model_cards", f"model_card_{target}"))

    return _check


@dg.asset_check(asset="visit_lists", name="no_raw_personal_information", blocking=True)
def visit_lists_pii(humiao: HumiaoConfig, visit_lists: dict) -> dg.AssetCheckResult:
    cfg = humiao.cfg
    return _result(no_raw_personal_information(humiao.scanner, cfg.path("out_dir") / "visit_lists", "visit_lists"))


checks = [
    pseudonymized_pii, pseudonymized_fresh,
    person_spine_pii, features_pii, features_unique, labels_pii, labels_prevalence, risk_scores_pii,
    *[_card_check(t) for t in TARGETS], visit_lists_pii,
]
