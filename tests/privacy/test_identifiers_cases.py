"""shared/cases public-reports 01, 04, 05, 16: every expected value is an assertion."""

import csv
from datetime import date
from pathlib import Path

import pytest

from privacy import identifiers as ids
from privacy.identifiers import normalize_phone, validate_ric

CASES = Path(__file__).resolve().parents[3] / "shared" / "cases" / "public-reports"
if not CASES.exists():  # CI clones the repo beside a copy of shared/
    CASES = Path(__file__).resolve().parents[2].parent / "shared" / "cases" / "public-reports"


def _rows(name):
    path = CASES / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    with path.open(encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def test_case01_area_codes_never_reject_valid_ids():
    for row in _rows("case-01.csv"):
        r = validate_ric(row["公民身份号码"])
        assert r.valid, (row["row"], r.reason)
        region = ids.ric_region(r.normalized)
        assert region  # a name or "unknown/historic", never an exception
    assert ids.ric_region("330113202203151239") == "浙江省杭州市临平区"
    assert ids.ric_region("330114202203151243") == "浙江省杭州市钱塘区"
    assert ids.ric_region("230119199401081235").startswith("黑龙江省")


def test_case04_birth_dates_against_as_of():
    for row in _rows("case-04.csv"):
        as_of = date.fromisoformat(row["as_of"])
        r = validate_ric(row["公民身份号码"], as_of=as_of)
        if row["expected"].startswith("valid"):
            assert r.valid, (row["row"], r.reason)
        else:
            assert r.reason == ids.INVALID_BIRTH_DATE, (row["row"], r.reason)
    assert validate_ric("33010620150202109x").normalized == "33010620150202109X"


def test_case05_legacy_ids_upgrade_and_link():
    rows = _rows("case-05.csv")
    for row in rows:
        r = validate_ric(row["证件号码"])
        if row["expected_18"] == "INVALID":
            assert not r.valid
        else:
            assert r.normalized == row["expected_18"]
    assert validate_ric("110105800101123").upgraded


def test_case16_phone_normalization():
    for row in _rows("case-16.csv"):
        r = normalize_phone(row["raw"])
        assert r.kind == row["expected_kind"], row
        assert (r.normalized or "") == row["expected_normalised"], row


def test_numeric_cells_are_not_resident_ids():
    # case-06: an ID that reached us as a number has lost digits; it is never accepted.
    assert validate_ric(3.30106201601011e17).reason == ids.INVALID_FORMAT
    assert normalize_phone(13800000000.0).normalized == "13800000000"


@pytest.mark.parametrize("bad", ["330106201501011235", "990106201501011236", "3301062015010112", ""])
def test_invalid_ids(bad):
    assert not validate_ric(bad).valid


def test_full_width_and_spaces():
    assert validate_ric("３３０１０６ ２０１５０１０１ １２３６").normalized == "330106201501011236"


def test_check_char_vector():
    assert ids.ric_check_char("34052419800101001") == "X"  # GB 11643 test vector (SIMULATOR_FACTS §8)
    assert ids.luhn_valid("4111111111111111") and not ids.luhn_valid("4111111111111112")


def _ric_like(rng, body_prefixes=("33", "11", "83", "99", "00", "65")) -> str:
    body = (f"{rng.choice(body_prefixes)}{rng.randint(0, 9999):04d}{rng.randint(1895, 2030)}"
            f"{rng.randint(0, 13):02d}{rng.randint(0, 32):02d}{rng.randint(0, 999):03d}")
    return body + (ids.ric_check_char(body) if rng.random() < 0.85 else rng.choice("0123456789X"))


def test_canonical_ric_valid_agrees_with_validate_ric():
    """The bulk check (issue 8) is True exactly where validate_ric returns the value unchanged: random
    IDs (bad provinces, months 00/13, days 00/32, years 1895–2030, wrong check characters), the forms
    validate_ric normalizes first (lower-case x, spaces, full-width digits, 15 digits), non-strings,
    29 February in leap and common years, 1900-01-01 and the as-of date itself."""
    import random

    import numpy as np

    rng = random.Random(7)
    values: list[object] = []
    for _ in range(20_000):
        v = _ric_like(rng)
        r = rng.random()
        values.append(v.lower() if r < 0.03 else f" {v}" if r < 0.05 else v[:15] if r < 0.07
                      else "３" + v[1:] if r < 0.08 else v)
    for body in ("33010620000229123", "33010619000229123", "33010620240229123", "33010619000101123",
                 "33010618991231123", "33010620250601123", "33010620250602123"):
        values.append(body + ids.ric_check_char(body))
    values += [None, 330106200001011234, 3.3e17, "", "33010620000101123x"]
    for as_of in (None, date(2025, 6, 1)):
        got = ids.canonical_ric_valid(values, as_of)
        want = np.array([isinstance(v, str) and validate_ric(v, as_of).normalized == v for v in values])
        assert (got == want).all(), [v for v, g, w in zip(values, got, want, strict=True) if g != w][:5]
        assert 0.3 < want.mean() < 0.9  # both kinds are well represented
    assert ids.canonical_ric_valid([]).shape == (0,)
    assert list(ids.canonical_ric_valid(values[-12:-10])) == [True, False]  # 2000-02-29 yes, 1900-02-29 no
