"""Every direct identifier seen in the raw input is in the scanner index (DESIGN §5): student numbers,
household numbers and disability certificate numbers ("other_ids"), matched exactly and only as whole
runs (never inside tokens, hashes or longer numbers, DESIGN §11.1)."""

from __future__ import annotations

import pandas as pd
import pytest
from cryptography.fernet import Fernet

from privacy.anonymizer import NoteAnonymizer
from privacy.identities import KnownIdentities, embedded_ric, normalize_other_id
from privacy.scanner import LeakScanner

RIC = "330106201501011236"
STUDENT = "G" + RIC
DISAB = RIC + "42"
HOUSEHOLD = "100441314"


@pytest.fixture(scope="module")
def known():
    # the ingest hands every identifier column in as id_numbers
    return KnownIdentities().add("id_numbers", [STUDENT, HOUSEHOLD, DISAB, " 2000 1234 56 ", "男", None])


def test_other_ids_kept_and_embedded_ids_added(known):
    assert known.other_ids == {STUDENT, HOUSEHOLD, DISAB, "2000123456"}
    assert RIC in known.id_numbers
    assert embedded_ric(STUDENT) == RIC and embedded_ric(DISAB) == RIC and embedded_ric(HOUSEHOLD) is None


@pytest.mark.parametrize("value,expected", [
    ("１００４４１３１４", HOUSEHOLD), ("g330106201501011236", STUDENT), ("1004-41314", HOUSEHOLD),
    ("12345", None), ("农业家庭户口", None), ("ABCDEFG1", None), (None, None), (3.5, None), (True, None),
    (100441314, HOUSEHOLD),
])
def test_normalize_other_id(value, expected):
    assert normalize_other_id(value) == expected


def test_save_load_round_trip(tmp_path, known):
    key = Fernet.generate_key()
    known.save(tmp_path / "idx.bin", key)
    assert KnownIdentities.load(tmp_path / "idx.bin", key).other_ids == known.other_ids


@pytest.mark.parametrize("text,entity", [
    ("户号100441314。", "OTHER_ID"),
    ("户号：100441314", "OTHER_ID"),
    ("学籍号G330106201501011236", "CN_STUDENT_NUMBER"),
    ("残疾证号33010620150101123642", "CN_DISABILITY_CERT"),
])
def test_scanner_finds_other_ids(known, text, entity):
    hits = LeakScanner(known).scan_text(text)
    assert [h[0] for h in hits] == [entity]


@pytest.mark.parametrize("text", [
    "H_k1_100441314aa00bb11cc", "P_k1_a100441314b", "1004413140", "2100441314", "100441314.5",
    "0.100441314", "sha=ab100441314", "household_100441314_x",
])
def test_scanner_ignores_other_id_digits_inside_tokens(known, text):
    assert LeakScanner(known).scan_text(text) == []


def test_clean_frame_has_no_findings_and_leaky_frame_has(known):
    sc = LeakScanner(known)
    clean = pd.DataFrame({"household_token": ["H_k1_100441314aa00bb11cc", "H_k1_0123456789abcdef0123"],
                          "members": [3, 100441314 * 10], "score": [0.100441314, 0.5],
                          "note": ["家中有3人", "户号已核实"]})
    assert sc.scan_dataframe(clean, "clean") == []
    leaky = clean.assign(note=["家中有3人", "户号100441314已核实"])
    f = sc.scan_dataframe(leaky, "leaky")
    assert [(x.column, x.row, x.entity_type) for x in f] == [("note", 1, "OTHER_ID")]
    assert HOUSEHOLD not in f[0].masked and f[0].masked.count("*") >= 5


def test_anonymizer_replaces_record_other_ids():
    a = NoteAnonymizer()
    out = a.anonymize(f"户号{HOUSEHOLD}，学籍号{STUDENT}，token H_k1_{HOUSEHOLD}ab",
                      {"id_numbers": [HOUSEHOLD, STUDENT]})
    assert HOUSEHOLD + "，" not in out and STUDENT not in out
    assert out.startswith("户号<OTHER_ID>，学籍号<CN_STUDENT_NUMBER>") and out.endswith(f"H_k1_{HOUSEHOLD}ab")
