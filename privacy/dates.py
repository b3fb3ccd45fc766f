"""Parsing the dates departmental exports contain (case-09).

Accepted (after NFKC, so ``２０２５年３月１日`` and ``10：05`` work):

* ``2025年3月1日`` / ``2025年03月01日10:05`` / ``2025年3月1日 10时05分``
* ``2025.3.1``, ``2025/3/1``, ``2025-03-01`` (optionally with `` HH:MM[:SS]`` or ``THH:MM``)
* ``20250301`` — the 8-digit compact form only (``20250301100500`` with time)
* Excel serial numbers (1899-12-30 epoch, fraction = time of day), as numeric cells or as text that
  leaked into a CSV — only in columns the contract declares as dates (the caller decides)
* real ``datetime``/``date`` cells
* month columns: ``2025-03``, ``2025/3``, ``2025.03``, ``2025年3月``, ``202503`` (and any full date,
  truncated to its month)

Refused, never guessed (reason codes used by the ingest's quarantine):

* ``DATE_AMBIGUOUS`` — 5–7 digit compact strings such as ``2025111`` (2025-01-11 or 2025-11-01?) and
  ``202531``; DuckDB's ``strptime`` silently reads ``2025111`` as 2025-11-01 (case-09).
* ``DATE_INVALID`` — impossible dates (``2025年2月30日``, month 13) and years outside 1900–2100.
* ``DATE_FORMAT`` — anything else that is not blank.

Blank-looking cells — empty, whitespace incl. the ideographic space U+3000, ``无``, ``/``, ``-``,
``--``, ``—``, ``空``, ``NULL``/``null``/``None``/``NaN`` — are null (:data:`BLANK_MARKERS`).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = [
    "BLANK_MARKERS",
    "DATE_AMBIGUOUS",
    "DATE_FORMAT",
    "DATE_INVALID",
    "EXCEL_EPOCH",
    "is_blank",
    "parse_date",
    "parse_date_series",
    "parse_month",
]

DATE_AMBIGUOUS = "DATE_AMBIGUOUS"
DATE_INVALID = "DATE_INVALID"
DATE_FORMAT = "DATE_FORMAT"

EXCEL_EPOCH = dt.datetime(1899, 12, 30)
MIN_YEAR, MAX_YEAR = 1900, 2100
#: Serials accepted: 1900-03-01 (61, after Lotus' phantom 1900-02-29) to 2100-12-31 (73415).
MIN_SERIAL, MAX_SERIAL = 61, 73415

BLANK_MARKERS = frozenset(
    {
        "",
        "无",
        "/",
        "-",
        "--",
        "—",
        "——",
        "空",
        "NULL",
        "null",
        "Null",
        "None",
        "none",
        "NaN",
        "nan",
        "N/A",
        "n/a",
        "#N/A",
    }
)

_CN = re.compile(
    r"^(\d{4})年(\d{1,2})月(\d{1,2})[日号]?"
    r"(?:\s*(\d{1,2})[:时点](\d{1,2})(?:[:分](\d{1,2})秒?)?分?)?$"
)
_SEP = re.compile(
    r"^(\d{4})([./\-])(\d{1,2})\2(\d{1,2})"
    r"(?:(?:\s+|T)(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.\d+)?)?)?$"
)
_COMPACT8 = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_COMPACT14 = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$")
_SERIAL = re.compile(r"^(\d{2,5})(\.\d+)?$")
_DIGITS = re.compile(r"^\d+$")

_M_SEP = re.compile(r"^(\d{4})[./\-](\d{1,2})$")
_M_CN = re.compile(r"^(\d{4})年(\d{1,2})月(?:份)?$")
_M_COMPACT = re.compile(r"^(\d{4})(\d{2})$")


def _clean(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


def is_blank(value: object) -> bool:
    """True for None/NaN and blank-looking text (see :data:`BLANK_MARKERS`, after NFKC+trim)."""
    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    if isinstance(value, str):
        return _clean(value) in BLANK_MARKERS
    return value is pd.NA or value is pd.NaT


def _mk(
    y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0
) -> tuple[dt.datetime | None, str | None]:
    if not MIN_YEAR <= y <= MAX_YEAR:
        return None, DATE_INVALID
    try:
        return dt.datetime(y, m, d, hh, mm, ss), None
    except ValueError:
        return None, DATE_INVALID


def _from_serial(x: float) -> tuple[dt.datetime | None, str | None]:
    if not MIN_SERIAL <= x < MAX_SERIAL + 1:
        return None, DATE_INVALID
    # round to the second: 45717.41693287 is 10:00:23, not 10:00:23.000 plus float noise
    seconds = round(x * 86400)
    return EXCEL_EPOCH + dt.timedelta(seconds=seconds), None


def _i(s: str | None) -> int:
    return int(s) if s else 0


def parse_date(value: object, *, excel_serials: bool = True) -> tuple[dt.datetime | None, str | None]:
    """Parse one date/datetime cell.

    Parameters
    ----------
    value
        A text cell, a numeric cell (Excel serial, or an 8-digit compact number), a ``datetime`` /
        ``date`` cell, or None.
    excel_serials
        Convert numbers 61–73415 (text or numeric) as Excel serials (epoch 1899-12-30, fraction =
        time of day). Pass True only for columns the contract declares as dates (case-09).

    Returns
    -------
    (datetime | None, reason | None)
        ``(None, None)`` for a blank cell; ``(None, reason)`` with reason ``DATE_AMBIGUOUS``,
        ``DATE_INVALID`` or ``DATE_FORMAT`` when the value is refused.
    """
    if is_blank(value):
        return None, None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime(), None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None), None
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day), None
    if isinstance(value, bool):
        return None, DATE_FORMAT
    if isinstance(value, (int, float, np.integer, np.floating)):
        x = float(value)
        if x.is_integer() and 19000101 <= x <= 21001231:
            return parse_date(str(int(x)), excel_serials=False)
        if excel_serials:
            return _from_serial(x)
        return None, DATE_FORMAT
    s = _clean(str(value))
    m = _CN.match(s)
    if m:
        y, mo, d, hh, mi, ss = m.groups()
        return _mk(int(y), int(mo), int(d), _i(hh), _i(mi), _i(ss))
    m = _SEP.match(s)
    if m:
        y, _, mo, d, hh, mi, ss = m.groups()
        return _mk(int(y), int(mo), int(d), _i(hh), _i(mi), _i(ss))
    m = _COMPACT8.match(s)
    if m:
        return _mk(*(int(g) for g in m.groups()))
    m = _COMPACT14.match(s)
    if m:
        return _mk(*(int(g) for g in m.groups()))
    if excel_serials:
        m = _SERIAL.match(s)
        if m and len(m.group(1)) == 5:
            return _from_serial(float(s))
    if _DIGITS.match(s) and 5 <= len(s) <= 7 and s[:2] in ("19", "20"):
        return None, DATE_AMBIGUOUS
    return None, DATE_FORMAT


def parse_month(value: object) -> tuple[dt.datetime | None, str | None]:
    """Parse a month cell to the first day of the month.

    Accepts ``2025-03``, ``2025/3``, ``2025.03``, ``2025年3月``, ``202503``, any full date accepted by
    :func:`parse_date` (truncated) and datetime cells. ``20253`` is ``DATE_AMBIGUOUS``.

    Returns
    -------
    (datetime | None, reason | None)
        As :func:`parse_date`.
    """
    if is_blank(value):
        return None, None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        x = float(value)
        if x.is_integer() and 190001 <= x <= 210012:
            value = str(int(x))
    if isinstance(value, str):
        s = _clean(value)
        for rx in (_M_SEP, _M_CN, _M_COMPACT):
            m = rx.match(s)
            if m:
                y, mo = int(m.group(1)), int(m.group(2))
                return _mk(y, mo, 1)
        if _DIGITS.match(s) and len(s) == 5:
            return None, DATE_AMBIGUOUS
        value = s
    d, reason = parse_date(value, excel_serials=not isinstance(value, str))
    if d is None:
        return None, reason
    return dt.datetime(d.year, d.month, 1), None


def _map_unique(series: pd.Series, func: Callable[[object], tuple]) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    vals = np.empty(len(uniques) + 1, dtype="datetime64[us]")
    reasons = np.empty(len(uniques) + 1, dtype=object)
    vals[-1] = np.datetime64("NaT")
    reasons[-1] = None
    for i, u in enumerate(uniques):
        d, r = func(u)
        vals[i] = np.datetime64(d, "us") if d is not None else np.datetime64("NaT")
        reasons[i] = r
    return vals[codes], reasons[codes]


def parse_date_series(
    series: pd.Series, kind: str = "date", *, excel_serials: bool = True
) -> tuple[pd.Series, pd.Series]:
    """Vectorized parse of a column: each distinct value is parsed once.

    Parameters
    ----------
    series
        Raw cells (str, numbers, datetimes, None).
    kind
        ``"date"`` (time of day kept in the returned datetime; the ingest truncates for ``date32``),
        ``"datetime"`` or ``"month"`` (first of month).
    excel_serials
        See :func:`parse_date`.

    Returns
    -------
    (values, reasons)
        ``values``: ``datetime64[us]`` Series (NaT for blank or refused); ``reasons``: object Series of
        reason codes (None where parsed or blank). Same index as ``series``.
    """
    if kind == "month":
        func = parse_month
    else:

        def func(v):
            return parse_date(v, excel_serials=excel_serials)

    vals, reasons = _map_unique(series, func)
    return (
        pd.Series(vals, index=series.index, name=series.name),
        pd.Series(reasons, index=series.index, name=series.name, dtype=object),
    )
