"""Validation and normalization of Chinese personal identifiers.

One place for the rules every other module uses: the ingest (structured columns), the Presidio
recognizers (free text) and the leak scanner. Pure functions, no I/O.

Rules and their sources
-----------------------
* Resident identity number (公民身份号码), GB 11643-1999: 6-digit address code (GB/T 2260), 8-digit birth
  date (YYYYMMDD), 3-digit sequence (odd = male), 1 check character by ISO 7064:1983 MOD 11-2.
  The address code is checked only at province level: a person keeps the code of the county where the
  number was issued for life, codes are retired and created (330113 临平区 and 330114 钱塘区 in 2021), and
  no bundled table is complete (python-stdnum #442; id-validator.py #17/#19; shared/cases case-01).
* Legacy 15-digit numbers (before 1999): address + YYMMDD + sequence, no check character; upgraded by
  inserting "19" before the year and computing the check character (GB 11643-1999; case-05).
* Mobile numbers: 11 digits starting 1[3-9] (MIIT numbering plan; new ranges such as 166/167/170/19x keep
  appearing, so the whole 13x–19x block is accepted rather than a list of prefixes: case-16).
* Landlines: trunk prefix 0, a 2–3 digit area code (010, 02x, 0xxx), 7–8 digit subscriber number.
* Service numbers 400/800 + 7 digits are not personal data (case-16).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

import numpy as np

RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RIC_CHECK_CHARS = "10X98765432"

#: Province-level codes of GB/T 2260 (incl. 71 台湾, 81 香港, 82 澳门, and 83 used by residence permits
#: for Taiwan residents). A code outside this set cannot be a resident ID.
PROVINCE_CODES = frozenset(
    ["11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82", "83"]
)

#: County-level names for the city this serves and its retired codes (SIMULATOR_FACTS §1.4); used only
#: to *describe* an ID's region, never to reject one.
HANGZHOU_AREA_CODES = {
    "330100": "浙江省杭州市",
    "330102": "浙江省杭州市上城区",
    "330103": "浙江省杭州市下城区（已撤销，2021）",
    "330104": "浙江省杭州市江干区（已撤销，2021）",
    "330105": "浙江省杭州市拱墅区",
    "330106": "浙江省杭州市西湖区",
    "330108": "浙江省杭州市滨江区",
    "330109": "浙江省杭州市萧山区",
    "330110": "浙江省杭州市余杭区",
    "330111": "浙江省杭州市富阳区",
    "330112": "浙江省杭州市临安区",
    "330113": "浙江省杭州市临平区",
    "330114": "浙江省杭州市钱塘区",
    "330122": "浙江省杭州市桐庐县",
    "330127": "浙江省杭州市淳安县",
    "330182": "浙江省杭州市建德市",
    "330183": "浙江省杭州市富阳市（历史区划）",
    "330185": "浙江省杭州市临安市（历史区划）",
}

PROVINCE_NAMES = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省", "31": "上海市", "32": "江苏省", "33": "浙江省",
    "34": "安徽省", "35": "福建省", "36": "江西省", "37": "山东省", "41": "河南省", "42": "湖北省",
    "43": "湖南省", "44": "广东省", "45": "广西壮族自治区", "46": "海南省", "50": "重庆市", "51": "四川省",
    "52": "贵州省", "53": "云南省", "54": "西藏自治区", "61": "陕西省", "62": "甘肃省", "63": "青海省",
    "64": "宁夏回族自治区", "65": "新疆维吾尔自治区", "71": "台湾省", "81": "香港特别行政区",
    "82": "澳门特别行政区", "83": "台湾居民居住证",
}

EARLIEST_BIRTH = date(1900, 1, 1)

# Reason codes shared by the ingest's quarantine and the reports.
EMPTY = "EMPTY"
INVALID_FORMAT = "INVALID_ID_FORMAT"
INVALID_CHECKSUM = "INVALID_ID_CHECKSUM"
INVALID_BIRTH_DATE = "INVALID_BIRTH_DATE"
INVALID_REGION = "INVALID_ID_REGION"

_SPACES = re.compile(r"[\s\u3000\u00a0\u200b\ufeff-]+")


def normalize_text(value: str) -> str:
    """NFKC-normalize (full-width digits/letters → ASCII, ideographic space → space) and trim."""
    return unicodedata.normalize("NFKC", value).strip()


def ric_check_char(body17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits of a resident ID (GB 11643-1999).

    Raises
    ------
    ValueError
        If ``body17`` is not 17 ASCII digits.
    """
    if len(body17) != 17 or not body17.isascii() or not body17.isdigit():
        raise ValueError(f"expected 17 digits, got {len(body17)} characters")
    total = sum(int(c) * w for c, w in zip(body17, RIC_WEIGHTS, strict=True))
    return RIC_CHECK_CHARS[total % 11]


def _birth_date(yyyymmdd: str) -> date | None:
    try:
        return date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return None


@dataclass(frozen=True)
class RicResult:
    """Outcome of validating one resident ID: ``normalized`` (18 characters, upper-case X) or a
    ``reason`` code; ``upgraded`` is True when a 15-digit legacy number was converted."""

    normalized: str | None
    reason: str | None = None
    upgraded: bool = False

    @property
    def valid(self) -> bool:
        return self.normalized is not None


def validate_ric(value: object, as_of: date | None = None) -> RicResult:
    """Normalize and validate a resident identity number (18-digit, or 15-digit legacy).

    Parameters
    ----------
    value
        The raw cell: str (full-width digits, spaces, lower-case x allowed). Anything else
        (a float from a numeric Excel cell) is INVALID_FORMAT: its digits may already be lost (case-06).
    as_of
        Birth dates after this date are invalid (a newborn born on ``as_of`` is valid). None: no check.

    Returns
    -------
    RicResult
        ``normalized`` is the 18-character form (15-digit numbers upgraded, GB 11643-1999), or None with
        one of the reason codes INVALID_ID_FORMAT, INVALID_ID_REGION, INVALID_BIRTH_DATE,
        INVALID_ID_CHECKSUM, EMPTY.
    """
    if value is None:
        return RicResult(None, EMPTY)
    if not isinstance(value, str):
        return RicResult(None, INVALID_FORMAT)
    s = _SPACES.sub("", normalize_text(value)).upper()
    if not s:
        return RicResult(None, EMPTY)
    upgraded = False
    if len(s) == 15 and s.isdigit():
        birth = _birth_date("19" + s[6:12])
        if s[:2] not in PROVINCE_CODES:
            return RicResult(None, INVALID_REGION)
        if birth is None or birth < EARLIEST_BIRTH or (as_of is not None and birth > as_of):
            return RicResult(None, INVALID_BIRTH_DATE)
        body = s[:6] + "19" + s[6:]
        return RicResult(body + ric_check_char(body), None, True)
    if len(s) != 18 or not s[:17].isdigit() or not (s[17].isdigit() or s[17] == "X"):
        return RicResult(None, INVALID_FORMAT)
    if s[:2] not in PROVINCE_CODES:
        return RicResult(None, INVALID_REGION)
    birth = _birth_date(s[6:14])
    if birth is None or birth < EARLIEST_BIRTH or (as_of is not None and birth > as_of):
        return RicResult(None, INVALID_BIRTH_DATE)
    if ric_check_char(s[:17]) != s[17]:
        return RicResult(None, INVALID_CHECKSUM)
    return RicResult(s, None, upgraded)


_CANONICAL_RIC = re.compile(r"^[0-9]{17}[0-9X]$")
_DAYS_IN_MONTH = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February: leap years below


def canonical_ric_valid(values, as_of: date | None = None) -> np.ndarray:
    """Which of ``values`` are resident IDs already in their normalized form and valid — the common
    case of a clean export, checked in bulk (issue 8: about 6 M distinct IDs at 2,000,000 children).

    A value counts when it is a ``str`` of exactly 18 ASCII characters, 17 digits and a digit or
    upper-case X, and :func:`validate_ric` (with the same ``as_of``) returns it unchanged: province code in
    :data:`PROVINCE_CODES`, a calendar birth date not before :data:`EARLIEST_BIRTH`, the ISO 7064 MOD
    11-2 check character (GB 11643-1999). Everything else is False — including IDs that
    :func:`validate_ric` would accept after normalizing (spaces, full-width digits, a lower-case x, the
    15-digit form): pass those to :func:`validate_ric`.

    Parameters
    ----------
    values : sequence or ndarray of object
        Cells of any type (non-strings are False).
    as_of : date, optional
        Birth dates after it are invalid, as in :func:`validate_ric`.

    Returns
    -------
    ndarray of bool, shape (len(values),)
    """
    cells = np.asarray(values, dtype=object).ravel()
    out = np.zeros(len(cells), dtype=bool)
    if not len(cells):
        return out
    shaped = np.fromiter((isinstance(v, str) and len(v) == 18 and _CANONICAL_RIC.match(v) is not None
                          for v in cells), dtype=bool, count=len(cells))
    idx = np.flatnonzero(shaped)
    if not len(idx):
        return out
    b = np.frombuffer("".join(cells[idx]).encode("ascii"), dtype=np.uint8).reshape(-1, 18)
    d = (b[:, :17] - 48).astype(np.int64)
    check = np.frombuffer(RIC_CHECK_CHARS.encode("ascii"), dtype=np.uint8)[(d @ np.array(RIC_WEIGHTS)) % 11]
    ok = check == b[:, 17]
    province = np.zeros(100, dtype=bool)
    province[[int(c) for c in PROVINCE_CODES]] = True
    ok &= province[d[:, 0] * 10 + d[:, 1]]
    year = d[:, 6] * 1000 + d[:, 7] * 100 + d[:, 8] * 10 + d[:, 9]
    month = d[:, 10] * 10 + d[:, 11]
    day = d[:, 12] * 10 + d[:, 13]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_ok = (month >= 1) & (month <= 12)
    last = np.asarray(_DAYS_IN_MONTH)[np.where(month_ok, month, 0)] - ((month == 2) & ~leap)
    born = year * 10000 + month * 100 + day  # YYYYMMDD as a number: compared with the bounds' own
    ok &= month_ok & (day >= 1) & (day <= last) & (born >= int(EARLIEST_BIRTH.strftime("%Y%m%d")))
    if as_of is not None:
        ok &= born <= int(as_of.strftime("%Y%m%d"))
    out[idx] = ok
    return out


def is_valid_ric(value: str, as_of: date | None = None) -> bool:
    """True when ``value`` is a valid 18- or 15-digit resident ID (see :func:`validate_ric`)."""
    return validate_ric(value, as_of).valid


def ric_birth_date(normalized: str) -> date:
    """Birth date encoded in a normalized 18-character resident ID."""
    d = _birth_date(normalized[6:14])
    if d is None:
        raise ValueError("not a normalized resident ID")
    return d


def ric_sex(normalized: str) -> str:
    """'男' when the 17th character (sequence) is odd, else '女' (GB 11643-1999 §5.3)."""
    return "男" if int(normalized[16]) % 2 == 1 else "女"


def ric_region(normalized: str) -> str:
    """A description of the ID's address code; never rejects (case-01): Hangzhou codes by name,
    other codes by province plus "（区县代码未收录/历史区划）"."""
    code = normalized[:6]
    if code in HANGZHOU_AREA_CODES:
        return HANGZHOU_AREA_CODES[code]
    province = PROVINCE_NAMES.get(code[:2], "未知")
    return f"{province}（区县代码未收录/历史区划）"


# ---------------------------------------------------------------------------------------------- phones

MOBILE = "mobile"
LANDLINE = "landline"
SERVICE = "service"
INVALID = "invalid"

_MOBILE_RE = re.compile(r"1[3-9]\d{9}")
_LANDLINE_RE = re.compile(r"0(?:10|2\d|[3-9]\d{2})[2-9]\d{6,7}")
_SERVICE_RE = re.compile(r"(?:400|800)\d{7}|95\d{3,6}|96\d{3,6}|1[01]\d{3}|12\d{3}")
_FLOAT_ARTEFACT = re.compile(r"^(\d+)\.0+$")


@dataclass(frozen=True)
class PhoneResult:
    """A normalized phone number (digits only, no country code) and its kind:
    'mobile', 'landline', 'service' (not personal data) or 'invalid' (normalized is None)."""

    normalized: str | None
    kind: str


def normalize_phone(value: object) -> PhoneResult:
    """Normalize a phone cell: NFKC (full-width digits), strip spaces/dashes/brackets, drop +86/0086/86,
    drop an Excel float artefact (``13800000000.0``), then classify (case-16).

    A float or int cell (a phone typed as a number) is accepted: phones have 11–12 digits, within the
    15 significant digits Excel keeps, so no precision is lost.
    """
    if value is None:
        return PhoneResult(None, INVALID)
    if isinstance(value, bool):
        return PhoneResult(None, INVALID)
    if isinstance(value, int):
        s = str(value)
    elif isinstance(value, float):
        if value != value or not value.is_integer():
            return PhoneResult(None, INVALID)
        s = str(int(value))
    else:
        s = normalize_text(str(value))
    m = _FLOAT_ARTEFACT.match(s)
    if m:
        s = m.group(1)
    s = re.sub(r"[\s()（）\-—_.]", "", s)
    if s.startswith("+86"):
        s = s[3:]
    elif s.startswith("0086"):
        s = s[4:]
    elif s.startswith("86") and len(s) == 13:
        s = s[2:]
    if not s.isascii() or not s.isdigit():
        return PhoneResult(None, INVALID)
    if _MOBILE_RE.fullmatch(s):
        return PhoneResult(s, MOBILE)
    if _SERVICE_RE.fullmatch(s):
        return PhoneResult(s, SERVICE)
    if _LANDLINE_RE.fullmatch(s):
        return PhoneResult(s, LANDLINE)
    return PhoneResult(None, INVALID)


def luhn_valid(digits: str) -> bool:
    """Luhn (ISO/IEC 7812-1) check over an ASCII digit string."""
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0
