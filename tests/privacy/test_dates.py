"""privacy.dates: the date spellings of departmental exports (case-09 and kin)."""

import datetime as dt

import pandas as pd
import pytest

from privacy.dates import (
    DATE_AMBIGUOUS,
    DATE_FORMAT,
    DATE_INVALID,
    is_blank,
    parse_date,
    parse_date_series,
    parse_month,
)

D = dt.datetime(2025, 3, 1)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2025年3月1日", D),
        ("２０２５年３月１日", D),
        ("2025年03月01日10:05", D.replace(hour=10, minute=5)),
        ("2025年3月1日 10时05分", D.replace(hour=10, minute=5)),
        ("2025.3.1", D),
        ("2025/3/1", D),
        ("2025-03-01", D),
        ("20250301", D),
        ("2025-03-01 10:05:03", D.replace(hour=10, minute=5, second=3)),
        ("45717", D),
        (45717, D),
        (45717.5, D.replace(hour=12)),
        (20250301, D),
        (D, D),
        (dt.date(2025, 3, 1), D),
        (44103.41693287, dt.datetime(2020, 9, 29, 10, 0, 23)),
    ],
)
def test_accepted(raw, expected):
    assert parse_date(raw) == (expected, None)


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("2025111", DATE_AMBIGUOUS),
        ("202531", DATE_AMBIGUOUS),
        ("202503", DATE_AMBIGUOUS),
        ("2025年2月30日", DATE_INVALID),
        ("2025-13-01", DATE_INVALID),
        ("18990101", DATE_INVALID),
        ("明天", DATE_FORMAT),
        ("3/1/2025", DATE_FORMAT),
    ],
)
def test_refused(raw, reason):
    assert parse_date(raw) == (None, reason)


def test_serials_only_where_allowed():
    assert parse_date("45717", excel_serials=False) == (None, DATE_FORMAT)
    assert parse_date(45717, excel_serials=False) == (None, DATE_FORMAT)


@pytest.mark.parametrize("blank", [None, "", "  ", "\u3000", "无", "/", "-", "空", "NULL", float("nan")])
def test_blank_looking_is_null(blank):
    assert is_blank(blank) and parse_date(blank) == (None, None) and parse_month(blank) == (None, None)


@pytest.mark.parametrize("raw", ["2025-03", "2025年3月", "202503", "2025/3", "2025.03", "2025-03-17", 202503])
def test_months(raw):
    assert parse_month(raw) == (D, None)


def test_month_refusals():
    assert parse_month("20253") == (None, DATE_AMBIGUOUS)
    assert parse_month("2025-13") == (None, DATE_INVALID)


def test_series_parses_each_distinct_value_once():
    s = pd.Series(["2025年3月1日", None, "2025111", 45717.5] * 5000, dtype=object)
    vals, reasons = parse_date_series(s)
    assert str(vals.dtype) == "datetime64[us]" and len(vals) == 20000
    assert (
        vals.iloc[0] == pd.Timestamp(D)
        and pd.isna(vals.iloc[1])
        and vals.iloc[3] == pd.Timestamp("2025-03-01 12:00")
    )
    assert reasons.iloc[2] == DATE_AMBIGUOUS and reasons.iloc[1] is None
    m, r = parse_date_series(pd.Series(["202503", "2025年3月"]), kind="month")
    assert (m == pd.Timestamp(D)).all() and r.isna().all()
