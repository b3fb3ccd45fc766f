"""Temporal splits: every training label window ends by the first test as-of date."""

from __future__ import annotations

import datetime as dt

import pytest

from features.timechop import Timechop, add_months, chop, plot_splits

D = dt.date


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"model_update_frequency": "3 months", "max_training_histories": ("6 months", "2 years"),
         "training_as_of_date_frequencies": ("1 month", "3 months"), "test_durations": ("0 months", "2 months")},
        {"label_timespan_days": 90, "model_update_frequency": "6 months"},
        {"label_timespan_days": 365, "max_training_histories": "18 months"},
    ],
)
def test_guarantees(kw):
    tc = Timechop(D(2022, 1, 15), D(2025, 11, 20), **kw)
    splits = tc.chop()
    assert splits, "no split"
    span = dt.timedelta(days=tc.label_timespan_days)
    for s in splits:
        dates = (*s.train_as_of_dates, *s.test_as_of_dates)
        assert all(d.day == 1 for d in dates), "as-of dates are first days of months"
        assert list(s.train_as_of_dates) == sorted(set(s.train_as_of_dates))
        # the core guarantee: every training label window ends on/before the first test as-of date
        assert max(s.train_as_of_dates) + span <= s.test_start
        assert s.label_knowledge_cutoff == s.test_start
        # test labels are observable by the label end time; dates within the feature period
        assert s.test_as_of_dates[-1] + span <= tc.label_end_time
        assert min(s.train_as_of_dates) >= D(2022, 2, 1)
        assert s.test_as_of_dates[-1] <= D(2025, 11, 1)
        hist = int(s.max_training_history.split()[0]) * (12 if "year" in s.max_training_history else 1)
        freq = int(s.training_as_of_date_frequency.split()[0])
        assert len(s.train_as_of_dates) <= -(-hist // freq)
        assert (s.train_as_of_dates[-1].year - s.train_as_of_dates[0].year) * 12 + (
            s.train_as_of_dates[-1].month - s.train_as_of_dates[0].month) < hist


def test_default_split_layout():
    splits = chop(D(2023, 1, 1), D(2025, 12, 1))
    last = splits[-1]
    # latest test date whose 180-day window ends by 2025-12-01 is 2025-06-01 (→ 2025-11-28)
    assert last.test_as_of_dates == (D(2025, 6, 1),)
    # latest training date t with t + 180 days <= 2025-06-01 is 2024-12-01 (→ 2025-05-30)
    assert last.train_end == D(2024, 12, 1)
    assert len(last.train_as_of_dates) == 12 and last.train_as_of_dates[0] == D(2024, 1, 1)
    # monthly model updates, test starts one month apart
    assert [s.test_start for s in splits[-3:]] == [D(2025, 4, 1), D(2025, 5, 1), D(2025, 6, 1)]
    # the first split still has a training date on/after the feature start
    assert splits[0].train_as_of_dates[0] == D(2023, 1, 1)
    assert splits[0].as_dict()["label_knowledge_cutoff"] == splits[0].test_start.isoformat()


def test_test_duration_and_frequency():
    s = chop(D(2023, 1, 1), D(2025, 12, 1), test_durations="2 months", test_as_of_date_frequency="1 month")[-1]
    assert s.test_as_of_dates == (D(2025, 4, 1), D(2025, 5, 1), D(2025, 6, 1))
    assert s.train_end + dt.timedelta(days=180) <= D(2025, 4, 1)


def test_bad_inputs():
    with pytest.raises(ValueError):
        Timechop(D(2025, 1, 1), D(2024, 1, 1))
    with pytest.raises(ValueError):
        Timechop(D(2023, 1, 1), D(2025, 1, 1), model_update_frequency="10 days")
    with pytest.raises(ValueError):
        Timechop(D(2023, 1, 1), D(2025, 1, 1), label_timespan_days=0)
    assert chop(D(2025, 1, 1), D(2025, 6, 1)) == []  # not enough time for any split


def test_add_months():
    assert add_months(D(2024, 11, 1), 3) == D(2025, 2, 1)
    assert add_months(D(2024, 1, 1), -1) == D(2023, 12, 1)


def test_plot_splits(tmp_path):
    splits = chop(D(2023, 1, 1), D(2025, 12, 1), model_update_frequency="3 months")
    out = plot_splits(splits, tmp_path / "splits.png")
    assert out.exists() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
