"""The cycle's time plan: which as-of dates are scored, trained on and tested (DESIGN.md §6, §11.6).

The current cycle is the month after the last complete month in the data — never the wall clock.
For simulated input the manifest's ``end_month`` says which month that is; for real exports it is the
last month in which the monthly sources (attendance, social insurance) have records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from features.timechop import Split, Timechop, add_months
from humiao.config import Config

MONTHLY_SOURCES = ("attendance", "social_insurance")


@dataclass(frozen=True)
class CyclePlan:
    """As-of dates of one cycle.

    Attributes
    ----------
    scoring_as_of_date : date
        First day of the month after the data's last complete month: the lists' as-of date.
    splits : list of features.timechop.Split
        Temporal splits, oldest test first (train label windows end before the test as-of date).
    data_start : date
        First month of data.
    """

    scoring_as_of_date: date
    splits: list[Split]
    data_start: date

    @property
    def training_as_of_dates(self) -> list[date]:
        """Every as-of date with labels: all splits' train and test dates."""
        out = set()
        for s in self.splits:
            out.update(s.train_as_of_dates)
            out.update(s.test_as_of_dates)
        return sorted(out)

    @property
    def cycle(self) -> str:
        """The list cycle, 'YYYY-MM' of the scoring as-of date."""
        return self.scoring_as_of_date.strftime("%Y-%m")

    def as_dict(self) -> dict:
        return {
            "scoring_as_of_date": self.scoring_as_of_date.isoformat(),
            "data_start": self.data_start.isoformat(),
            "splits": [s.as_dict() for s in self.splits],
        }


def data_months(cfg: Config, pseudo_dir: Path) -> tuple[date, date]:
    """(first month, last complete month) of the data, as first days of months.

    Simulated input: from the manifest. Real input: the span of the monthly sources' ``month``.

    Raises
    ------
    ValueError
        When neither a manifest nor a monthly source says which months the data covers.
    """
    manifest = cfg.path("raw_dir") / "manifest.json"
    if manifest.exists():
        m = json.loads(manifest.read_text(encoding="utf-8"))
        end = date.fromisoformat(m["end_month"] + "-01")
        return add_months(end, -(int(m["months"]) - 1)), end
    lo, hi = None, None
    for name in MONTHLY_SOURCES:
        p = Path(pseudo_dir) / f"{name}.parquet"
        if p.exists():
            a, b = duckdb.execute(f"select min(month), max(month) from read_parquet('{p}')").fetchall()[0]
            if a is not None:
                lo = a if lo is None else min(lo, a)
                hi = b if hi is None else max(hi, b)
    if lo is None:
        raise ValueError(f"cannot tell which months the data covers: no manifest and no {MONTHLY_SOURCES} in {pseudo_dir}")
    return lo, hi


def plan_cycle(cfg: Config, pseudo_dir: Path) -> CyclePlan:
    """The configured temporal plan for the data in ``pseudo_dir`` (see :class:`CyclePlan`).

    Features need history, so the earliest as-of date is 12 months after the data start.
    The last ``cfg.time.n_splits`` splits of :class:`features.timechop.Timechop` are kept.
    """
    t = cfg.time
    start, last_month = data_months(cfg, pseudo_dir)
    scoring = date.fromisoformat(t.scoring_as_of_date) if t.scoring_as_of_date else add_months(last_month, 1)
    feature_start = date.fromisoformat(t.feature_start_time) if t.feature_start_time else add_months(start, 12)
    chop = Timechop(
        feature_start_time=feature_start,
        feature_end_time=scoring,
        label_timespan_days=t.label_timespan_days,
        model_update_frequency=f"{t.model_update_frequency_months} months",
        training_as_of_date_frequencies=(f"{t.training_as_of_date_frequency_months} months",),
        max_training_histories=(f"{t.max_training_history_months} months",),
        test_durations=(f"{t.test_duration_months - 1} months",) if t.test_duration_months > 1 else ("0 months",),
    )
    splits = [s for s in chop.chop() if s.train_as_of_dates][-t.n_splits:]
    if not splits:
        raise ValueError(
            f"no temporal split fits between {feature_start} and {scoring} with a {t.label_timespan_days}-day "
            "label window: simulate more months or shorten time.label_timespan_days")
    return CyclePlan(scoring_as_of_date=scoring, splits=splits, data_start=start)


def plan_from_dict(d: dict) -> CyclePlan:
    """Inverse of :meth:`CyclePlan.as_dict` (the Dagster asset stores the plan as JSON)."""
    def dates(xs):
        return tuple(date.fromisoformat(x) for x in xs)

    splits = [
        Split(
            train_as_of_dates=dates(s["train_as_of_dates"]),
            test_as_of_dates=dates(s["test_as_of_dates"]),
            label_timespan_days=s["label_timespan_days"],
            training_as_of_date_frequency=s["training_as_of_date_frequency"],
            max_training_history=s["max_training_history"],
            test_duration=s["test_duration"],
        )
        for s in d["splits"]
    ]
    return CyclePlan(scoring_as_of_date=date.fromisoformat(d["scoring_as_of_date"]), splits=splits,
                     data_start=date.fromisoformat(d["data_start"]))
