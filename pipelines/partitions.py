"""Monthly as-of-date partitions of ``features`` and ``labels`` (issue 4, DESIGN.md §6).

One partition = one as-of date (the first day of a month, key ``YYYY-MM-DD``). A cycle materializes one
contiguous range of partitions in a single run (``BackfillPolicy.single_run``: one DuckDB query covers
every as-of date built): from its first training as-of date to its scoring as-of date. Dagster runs a
range whole (a single run cannot take a set of months with gaps), so the months of the range that the
plan does not use — between quarterly training dates, and between the last test date (whose label
window has just closed) and the scoring date — are stored as placeholders without rows, which every
reader refuses (humiao.stages.NOT_BUILT_PREFIX). Every cycle rebuilds its partitions anyway (their
fingerprint holds the ingest's), so building those months bought nothing: 10 of the default plan's 25
months, 18 of 25 with quarterly training dates (issue 8).

An unpartitioned consumer (models, scores, lists, monitoring) reads the partitions its cycle plan
names (:func:`plan_partition_keys`), never every partition ever materialized.
"""

from __future__ import annotations

from datetime import date

import dagster as dg

PARTITION_START = "2018-01-01"
"""The earliest as-of date a cycle can ask for (facts before it are still used as history). The
simulated city starts in 2023; the child-director system it serves dates from 2019 (seeds/)."""

AS_OF_PARTITIONS = dg.MonthlyPartitionsDefinition(start_date=PARTITION_START, end_offset=1)
"""Monthly as-of dates up to and including the current month (``end_offset=1``): a cycle's scoring as-of
date is the first day of the month after the last complete month of data, i.e. at most this month."""

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def _training_dates(plan: dict) -> list[str]:
    out = set()
    for s in plan["splits"]:
        out.update(s["train_as_of_dates"])
        out.update(s["test_as_of_dates"])
    return sorted(out)


AS_OF_SELECTIONS = ("cycle", "scoring", "monitoring")
"""Which of a cycle's as-of dates an unpartitioned consumer reads (input metadata ``as_of_dates``):
``cycle`` every date the plan uses (training, test and scoring: the models), ``scoring`` the scoring date
only (risk scores), ``monitoring`` the newest labelled date and the scoring date (drift, decay)."""


def plan_partition_keys(asset: str, plan: dict, selection: str = "cycle") -> list[str]:
    """Partition keys of ``asset`` that a cycle plan uses: ``features`` — every training and test as-of
    date and the scoring date; ``labels`` — the training and test as-of dates. ``selection`` narrows
    them (:data:`AS_OF_SELECTIONS`): ``scoring`` → the scoring date (features only), ``monitoring`` → the
    newest training date (and, for features, the scoring date).

    Raises
    ------
    KeyError
        For an asset that is not partitioned by as-of date, or a selection it has no dates for.
    """
    training = _training_dates(plan)
    if asset not in ("features", "labels"):
        raise KeyError(f"{asset} is not partitioned by as-of date")
    scoring = [plan["scoring_as_of_date"]] if asset == "features" else []
    if selection == "cycle":
        return sorted({*training, *scoring})
    if selection == "scoring" and asset == "features":
        return scoring
    if selection == "monitoring":
        return sorted({training[-1], *scoring})
    raise KeyError(f"{asset}: no as-of dates for selection {selection!r} (one of {AS_OF_SELECTIONS})")


def cycle_range(plan: dict) -> tuple[str, str]:
    """(first, last) partition key of the contiguous range a cycle materializes."""
    keys = plan_partition_keys("features", plan)
    return keys[0], keys[-1]


def range_tags(plan: dict) -> dict[str, str]:
    """Run tags that make one run materialize the cycle's partition range."""
    first, last = cycle_range(plan)
    return {RANGE_START_TAG: first, RANGE_END_TAG: last}


def label_window_closed(key: str, plan: dict, label_timespan_days: int) -> bool:
    """Whether the label window of as-of date ``key`` has closed by the data horizon (the scoring date):
    only such partitions have complete labels (DESIGN §6: a label window [as_of, as_of + timespan))."""
    from datetime import timedelta

    return date.fromisoformat(key) + timedelta(days=label_timespan_days) <= date.fromisoformat(
        plan["scoring_as_of_date"])
