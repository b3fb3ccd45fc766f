"""Temporal splits for training and testing, in the spirit of triage's ``timechop``.

All as-of dates are first days of months (monthly cycles). For each split:

- **test as-of dates** start at ``test_start`` and step by ``test_as_of_date_frequency`` up to
  ``test_start + test_duration`` (inclusive; ``'0 months'`` = one test date), and every test label
  window ends by ``label_end_time``: ``last test date + label_timespan_days <= label_end_time``;
- **training as-of dates** step back from the latest month start ``t`` with
  ``t + label_timespan_days <= test_start`` by the training frequency, while
  ``t > t_last - max_training_history`` and ``t >= feature_start_time``;
- so **every training row's label window ends on or before the first test as-of date** (DESIGN §6),
  and its labels must be built with ``label_knowledge_cutoff = test_start`` (DESIGN §11.6:
  :attr:`Split.label_knowledge_cutoff`) so that no training label is known after the test date.

Successive splits move ``test_start`` back from the latest feasible one by ``model_update_frequency``
until no training date fits after ``feature_start_time``. One split is produced per
(test_start, training frequency, max history, test duration), sorted by test_start.

Intervals are strings ``'N month(s)'`` or ``'N year(s)'``; the label timespan is in days.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import asdict, dataclass
from pathlib import Path

from features.spec import parse_interval


def month_start(d: dt.date, *, up: bool = False) -> dt.date:
    """First day of ``d``'s month (``up=True``: of the next month unless ``d`` is already a first)."""
    first = dt.date(d.year, d.month, 1)
    if up and first != d:
        return add_months(first, 1)
    return first


def add_months(d: dt.date, months: int) -> dt.date:
    """``d`` (a first of month) plus ``months`` calendar months."""
    y, m = divmod(d.month - 1 + months, 12)
    return dt.date(d.year + y, m + 1, 1)


def interval_months(interval: str) -> int:
    """``'3 months'`` → 3, ``'1 year'`` → 12; day/week intervals are refused (as-of dates are monthly)."""
    n, unit = parse_interval(interval)
    if unit == "MONTH":
        return n
    if unit == "YEAR":
        return 12 * n
    raise ValueError(f"interval {interval!r}: timechop works in months or years")


@dataclass(frozen=True)
class Split:
    """One temporal split (a triage ``matrix pair``)."""

    train_as_of_dates: tuple[dt.date, ...]
    test_as_of_dates: tuple[dt.date, ...]
    label_timespan_days: int
    training_as_of_date_frequency: str
    max_training_history: str
    test_duration: str

    @property
    def test_start(self) -> dt.date:
        return self.test_as_of_dates[0]

    @property
    def train_end(self) -> dt.date:
        """The last training as-of date."""
        return self.train_as_of_dates[-1]

    @property
    def label_knowledge_cutoff(self) -> dt.date:
        """Cutoff for the training labels of this split: the first test as-of date (DESIGN §11.6)."""
        return self.test_start

    def as_dict(self) -> dict:
        d = asdict(self)
        d["train_as_of_dates"] = [x.isoformat() for x in self.train_as_of_dates]
        d["test_as_of_dates"] = [x.isoformat() for x in self.test_as_of_dates]
        d["label_knowledge_cutoff"] = self.label_knowledge_cutoff.isoformat()
        return d


class Timechop:
    """Plan temporal splits.

    Parameters
    ----------
    feature_start_time : datetime.date
        Earliest allowed as-of date (rounded up to a month start). Choose it late enough that
        features have history (e.g. 12 months after the data begin).
    feature_end_time : datetime.date
        Latest as-of date with features (rounded down to a month start), e.g. the current cycle.
    label_timespan_days : int, default 180
        Label window length (days).
    model_update_frequency : str, default "1 month"
        Distance between successive test starts (how often a model is retrained).
    training_as_of_date_frequencies : tuple of str, default ("1 month",)
        Spacing of training as-of dates; one split per value.
    max_training_histories : tuple of str, default ("12 months",)
        How far back training as-of dates go from the last one; one split per value.
    test_durations : tuple of str, default ("0 months",)
        Span of test as-of dates after test_start; one split per value.
    test_as_of_date_frequency : str, default "1 month"
    label_end_time : datetime.date, optional
        Latest date whose labels are observable (default ``feature_end_time``): test label windows
        end by then.
    """

    def __init__(
        self,
        feature_start_time: dt.date,
        feature_end_time: dt.date,
        label_timespan_days: int = 180,
        model_update_frequency: str = "1 month",
        training_as_of_date_frequencies: tuple[str, ...] | list[str] = ("1 month",),
        max_training_histories: tuple[str, ...] | list[str] = ("12 months",),
        test_durations: tuple[str, ...] | list[str] = ("0 months",),
        test_as_of_date_frequency: str = "1 month",
        label_end_time: dt.date | None = None,
    ):
        if isinstance(training_as_of_date_frequencies, str):
            training_as_of_date_frequencies = (training_as_of_date_frequencies,)
        if isinstance(max_training_histories, str):
            max_training_histories = (max_training_histories,)
        if isinstance(test_durations, str):
            test_durations = (test_durations,)
        self.feature_start_time = month_start(feature_start_time, up=True)
        self.feature_end_time = month_start(feature_end_time)
        self.label_end_time = label_end_time or feature_end_time
        if self.feature_start_time > self.feature_end_time:
            raise ValueError(f"feature_start_time {feature_start_time} is after feature_end_time {feature_end_time}")
        if int(label_timespan_days) <= 0:
            raise ValueError("label_timespan_days must be positive")
        self.label_timespan_days = int(label_timespan_days)
        self.model_update_frequency = model_update_frequency
        self.training_as_of_date_frequencies = tuple(training_as_of_date_frequencies)
        self.max_training_histories = tuple(max_training_histories)
        self.test_durations = tuple(test_durations)
        self.test_as_of_date_frequency = test_as_of_date_frequency
        for name, value in [("model_update_frequency", model_update_frequency),
                            ("test_as_of_date_frequency", test_as_of_date_frequency),
                            *(("training_as_of_date_frequencies", f) for f in self.training_as_of_date_frequencies),
                            *(("max_training_histories", h) for h in self.max_training_histories)]:
            if interval_months(value) <= 0:
                raise ValueError(f"{name} must be at least one month, got {value!r}")
        for t in self.test_durations:
            if interval_months(t) < 0:
                raise ValueError(f"test duration must not be negative, got {t!r}")

    @property
    def span(self) -> dt.timedelta:
        return dt.timedelta(days=self.label_timespan_days)

    def latest_as_of_date(self) -> dt.date:
        """The as-of date to score now (no labels yet): ``feature_end_time``."""
        return self.feature_end_time

    def _test_dates(self, start: dt.date, duration: str) -> list[dt.date]:
        step = interval_months(self.test_as_of_date_frequency)
        n = interval_months(duration)
        return [add_months(start, k) for k in range(0, n + 1, step)]

    def _train_dates(self, test_start: dt.date, frequency: str, history: str) -> list[dt.date]:
        last = month_start(test_start - self.span)  # latest month start with t + span <= test_start
        while last + self.span > test_start:  # pragma: no cover - month_start already guarantees it
            last = add_months(last, -1)
        step, hist = interval_months(frequency), interval_months(history)
        dates = [add_months(last, -k) for k in range(0, hist, step)]
        return sorted(d for d in dates if d >= self.feature_start_time)

    def chop(self) -> list[Split]:
        """All splits, sorted by test start (then frequency, history, duration)."""
        update = interval_months(self.model_update_frequency)
        splits = []
        for duration, frequency, history in itertools.product(
            self.test_durations, self.training_as_of_date_frequencies, self.max_training_histories
        ):
            # latest test start: its last test date's labels end by label_end_time
            start = self.feature_end_time
            while start >= self.feature_start_time:
                tests = self._test_dates(start, duration)
                if tests[-1] + self.span <= self.label_end_time and tests[-1] <= self.feature_end_time:
                    break
                start = add_months(start, -1)
            while start >= self.feature_start_time:
                train = self._train_dates(start, frequency, history)
                if not train:
                    break
                splits.append(
                    Split(tuple(train), tuple(self._test_dates(start, duration)), self.label_timespan_days,
                          frequency, history, duration)
                )
                start = add_months(start, -update)
        splits.sort(key=lambda s: (s.test_start, s.training_as_of_date_frequency, s.max_training_history,
                                   s.test_duration))
        return splits


def chop(feature_start_time: dt.date, feature_end_time: dt.date, label_timespan_days: int = 180, **kwargs) -> list[Split]:
    """Shortcut for ``Timechop(...).chop()``."""
    return Timechop(feature_start_time, feature_end_time, label_timespan_days, **kwargs).chop()


def plot_splits(splits: list[Split], path: str | Path) -> Path:
    """Draw the splits (one line per split): training as-of dates (blue) with their label windows,
    test as-of dates (orange) with theirs; write a PNG to ``path`` and return it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(10, max(2.5, 0.45 * len(splits) + 1.2)))
    for i, s in enumerate(splits):
        span = dt.timedelta(days=s.label_timespan_days)
        last = s.train_as_of_dates[-1]
        ax.plot([last, last + span], [i - 0.15, i - 0.15], color="tab:blue", alpha=0.35, lw=4)
        ax.scatter(s.train_as_of_dates, [i] * len(s.train_as_of_dates), color="tab:blue", s=14,
                   label="training as-of date" if i == 0 else None)
        t0 = s.test_as_of_dates[-1]
        ax.plot([s.test_start, t0 + span], [i + 0.15, i + 0.15], color="tab:orange", alpha=0.35, lw=4)
        ax.scatter(s.test_as_of_dates, [i] * len(s.test_as_of_dates), color="tab:orange", marker="s", s=18,
                   label="test as-of date" if i == 0 else None)
        ax.axvline(s.test_start, ymin=0, ymax=1, color="grey", lw=0.3)
    ax.set_yticks(range(len(splits)))
    ax.set_yticklabels([f"split {i}" for i in range(len(splits))])
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    ax.set_title("Temporal splits (bars: label windows of the last training / test as-of dates)")
    if splits:
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
