"""The scanner's compact index of known identities (issue 8): identifiers as whole runs looked up by
hash, addresses by their shortest form widened to the longest known form. Same findings as one
automaton of every written form, at a fraction of the memory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from privacy.identities import KnownIdentities
from privacy.scanner import LeakScanner, _hashes, _SortedHashes

RIC_BAD = "330106201501011235"  # checksum wrong: found only because it is known
PHONE = "13812345678"
HOUSEHOLD = "HZ20200001"
FULL = "杭州市临平区乔司街道长安路232号4幢3单元301室"
OTHER = "拱墅区米市巷街道长安路232号4幢3单元301室"  # another district, the same tail


@pytest.fixture(scope="module")
def scanner():
    k = KnownIdentities()
    k.add("id_numbers", [RIC_BAD])
    k.add("phones", [PHONE])
    k.add("other_ids", [HOUSEHOLD])
    k.add("addresses", [FULL, OTHER])
    return LeakScanner(k)


def spans(scanner, text):
    return [(e, text[s:t]) for e, s, t in scanner.scan_text(text)]


@pytest.mark.parametrize(("text", "expected"), [
    (f"身份证{RIC_BAD}。", [("CN_RIC", RIC_BAD)]),
    (f"身份证{RIC_BAD[:-2]}", []),  # a prefix is not the identifier
    (f"J{RIC_BAD}", []),  # glued to a letter: an incident number
    (f"{RIC_BAD}_k1", []),  # glued to an underscore: a token
    (f"3.{RIC_BAD}", []),  # the digits of a decimal
    (f"{RIC_BAD}.5", []),
    (f"见{RIC_BAD}.", [("CN_RIC", RIC_BAD)]),  # a full stop ends the sentence
    (f"a.{RIC_BAD}", [("CN_RIC", RIC_BAD)]),
])
def test_known_id_counts_only_as_a_whole_run(scanner, text, expected):
    assert spans(scanner, text) == expected


@pytest.mark.parametrize("text", [f"+86{PHONE}", f"86{PHONE}", f"0086{PHONE}", f"+86 {PHONE}", f"电话{PHONE}。"])
def test_known_phone_after_the_country_code(scanner, text):
    found = [v for e, v in spans(scanner, text) if e == "PHONE_NUMBER"]
    assert len(found) == 1 and found[0].endswith(PHONE)  # the pattern's span may include the code


@pytest.mark.parametrize(("text", "start"), [(f"+86{PHONE}", 3), (f"86{PHONE}", 2), (f"0086{PHONE}", 4),
                                             (f"A86{PHONE}", 3), (PHONE, 0)])
def test_known_runs_find_the_phone_itself_after_the_code(scanner, text, start):
    # the index alone (without the patterns): the span is the known phone
    assert scanner._runs.find(text) == [("PHONE_NUMBER", start, start + len(PHONE))]


@pytest.mark.parametrize("text", [f"1{PHONE}", f"A{PHONE}", f"{PHONE}0", f"85{PHONE}"])
def test_known_phone_inside_another_number_is_not_found(scanner, text):
    assert [e for e, _ in spans(scanner, text) if e == "PHONE_NUMBER"] == []


@pytest.mark.parametrize(("text", "expected"), [
    (f"户号{HOUSEHOLD}", [("OTHER_ID", HOUSEHOLD)]),
    (f"户号{HOUSEHOLD.lower()}", [("OTHER_ID", HOUSEHOLD.lower())]),
    (f"户号{HOUSEHOLD}.", []),  # strict: no full stop either side (DESIGN §11.1)
    (f"户号{HOUSEHOLD}7", []),
    (f"户号X{HOUSEHOLD}", []),
])
def test_other_identifier_is_strict(scanner, text, expected):
    assert spans(scanner, text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    (f"住{FULL}。", FULL),
    (f"住{OTHER}。", OTHER),
    ("住临平区乔司街道长安路232号4幢3单元301室。", "临平区乔司街道长安路232号4幢3单元301室"),
    ("住乔司街道长安路232号4幢3单元301室。", "乔司街道长安路232号4幢3单元301室"),
    # a district prefix that is no known form: the known tail is found, without it
    ("住西湖区长安路232号4幢3单元301室。", "长安路232号4幢3单元301室"),
])
def test_address_found_at_its_longest_known_form(scanner, text, expected):
    assert spans(scanner, text) == [("CN_ADDRESS", expected)]


def test_address_index_keeps_one_key_per_tail(scanner):
    # two addresses that share their shortest form give one automaton key
    assert len(scanner._all) == 1


def test_sorted_hashes_lookup_and_last_member_wins():
    h = _hashes(["a", "b", "a", "c"])
    s = _SortedHashes(h, np.array([1, 2, 3, 4], dtype=np.int8))
    assert len(s) == 3
    assert s.lookup(_hashes(["a", "c", "zz", "b"])).tolist() == [3, 4, -1, 2]
    assert s.lookup(_hashes([])).tolist() == []
    assert _SortedHashes(_hashes([]), np.empty(0, np.int8)).lookup(_hashes(["a"])).tolist() == [-1]


def test_hashes_are_the_same_in_every_process():
    code = "from privacy.scanner import _hashes; print(_hashes(['330106201501011235', '王小明']).tolist())"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "12345"}, cwd=Path(__file__).parents[2])
    assert other.stdout.strip() == str(_hashes(["330106201501011235", "王小明"]).tolist())


def test_empty_index_finds_only_patterns():
    s = LeakScanner()
    assert s.scan_text(f"号码{RIC_BAD}") == []
    assert [e for e, _, _ in s.scan_text("号码330106201501011236")] == ["CN_RIC"]


def test_clean_memo_skips_values_scanned_clean_and_finds_the_same(scanner, monkeypatch):
    """Partitions scanned with a shared memo (issue 8): a value scanned clean in one partition is not
    scanned again in the next, and each partition's findings are those of scanning it alone — a leak in a
    later partition, a leak under a clean column name, a number stored as a float, prose columns."""
    import pandas as pd

    first = pd.DataFrame({"child_token": ["c_aa", "c_bb", "c_cc"], "n": [1.0, 2.0, float(PHONE)],
                          "note": ["x", "y", "z"]})
    second = pd.DataFrame({"child_token": ["c_aa", f"住{RIC_BAD}", "c_dd"], "n": [float(PHONE), 3.0, 4.0],
                           "note": ["x", "y", FULL]})
    seen: list[list[str]] = []
    real = LeakScanner._scan_values

    def spy(self, values, free_text):
        seen.append(list(values))
        return real(self, values, free_text)

    memo: dict[str, set[str]] = {}
    expected = [scanner.scan_dataframe(f, "p", free_text_columns=["note"]) for f in (first, second)]
    monkeypatch.setattr(LeakScanner, "_scan_values", spy)
    got = [scanner.scan_dataframe(f, "p", free_text_columns=["note"], clean=memo) for f in (first, second)]
    assert got == expected
    assert [(f.column, f.row, f.entity_type) for f in got[1]] == [
        ("child_token", 1, "CN_RIC"), ("n", 0, "PHONE_NUMBER"), ("note", 2, "CN_ADDRESS")]
    assert memo["child_token"] == {"c_aa", "c_bb", "c_cc", "c_dd"}  # the leak never enters the memo
    assert "note" not in memo and PHONE not in memo.get("n", set())
    token_scans = [v for v in seen if "c_dd" in v]  # the second partition's token column
    assert token_scans == [["", f"住{RIC_BAD}", "c_dd"]]


def test_numeric_columns_without_ten_digit_values_are_not_scanned(scanner):
    """Integer and float columns are scanned only when some value has 10+ digits (a phone or an ID stored
    as a number); small counts are skipped without factorizing."""
    import pandas as pd

    strings, codes = LeakScanner._column_strings(pd.Series([1.5, np.nan, 3.0], dtype="float32"))
    assert strings == [] and len(codes) == 0
    strings, codes = LeakScanner._column_strings(pd.Series([7, int(PHONE)], dtype="int64"))
    assert strings == ["", PHONE] and list(codes) == [0, 1]
    strings, _ = LeakScanner._column_strings(pd.Series([np.nan, np.nan]))
    assert strings == []
