"""A person's name inside a place name is not a leak (found by the first 2,000,000-child ingest: the
simulated city's names and community names overlap — 康乐一 and 康乐一区一社区 — and the household
registry, the residence permits, the child registry and the subsistence allowances were refused)."""

from __future__ import annotations

import pandas as pd
import pytest
from cryptography.fernet import Fernet

import tests.privacy.test_ingest as ti
from privacy.identities import KnownIdentities
from privacy.ingest import ingest_folder
from privacy.scanner import LeakScanner
from privacy.tokens import Pseudonymizer


def _scanner(places=("康乐一区一社区", "康乐一社区")):
    known = KnownIdentities().add("names", ["康乐一", "王小明"])
    known.add_places(places)
    return LeakScanner(known)


def test_name_inside_a_place_name_is_not_a_finding():
    sc = _scanner()
    df = pd.DataFrame({"community": ["康乐一区一社区", "康乐一社区", "康乐一", "王小明"]})
    found = sc.scan_dataframe(df, "t")
    assert sorted((f.row, f.entity_type) for f in found) == [(2, "PERSON"), (3, "PERSON")]
    note = pd.DataFrame({"note": ["康乐一今天去了康乐一区一社区"]})
    found = sc.scan_dataframe(note, "t", free_text_columns=["note"])
    assert [(f.entity_type, f.masked) for f in found] == [("PERSON", "康*一")]  # the person, not the place


def test_many_place_spans_in_one_column():
    # a column is scanned as one joined string: every finding is tested against every place span
    # (sorted spans and the furthest end so far, not a pairwise loop)
    sc = _scanner(places=("康乐一区一社区", "康乐一社区", "一区一社区"))
    values = ["康乐一区一社区"] * 300 + ["康乐一"] + ["康乐一社区"] * 300 + ["区康乐一", "王小明"]
    found = sc.scan_dataframe(pd.DataFrame({"c": values}), "t")
    assert sorted(f.row for f in found) == [300, 601, 602]


def test_without_place_names_the_match_is_reported():
    found = _scanner(places=()).scan_dataframe(pd.DataFrame({"community": ["康乐一区一社区"]}), "t")
    assert [f.entity_type for f in found] == ["PERSON"]


def test_only_values_that_end_as_places_become_place_names(tmp_path):
    known = KnownIdentities().add_places(["康乐一", "康乐一区一社区", "西湖区", "三墩镇", "文新街道", "  绿洲 村 ", 5, None])
    assert known.places == {"康乐一区一社区", "西湖区", "三墩镇", "文新街道", "绿洲村"}
    key = Fernet.generate_key()
    known.save(tmp_path / "idx.bin", key)
    assert KnownIdentities.load(tmp_path / "idx.bin", key).places == known.places
    # an index written before place names existed still loads
    old = KnownIdentities().add("names", ["王小明"])
    old.places = set()
    old.save(tmp_path / "old.bin", key)
    assert KnownIdentities.load(tmp_path / "old.bin", key).places == set()


@pytest.fixture(scope="module")
def components():
    return ti._components()


def test_ingest_keeps_tables_whose_community_contains_a_persons_name(tmp_path, components, monkeypatch):
    """王小明 is a child; 王小明家园社区 is where two of the town's children live. Every table passes, and the
    pseudonymized tables still hold the community (it is not redacted either)."""
    value = ti._value

    def patched(table, col, i):
        if col.name == "community" and i in (0, 1):
            return "王小明家园社区"
        return value(table, col, i)

    monkeypatch.setattr(ti, "_value", patched)
    raw = tmp_path / "raw"
    ti.build_raw(raw)
    known_cls, scanner_cls, anonymizer = components
    rep = ingest_folder(
        raw, ti.CONTRACTS, pseudonymizer=Pseudonymizer(b"k" * 32, 1), vault_key=Fernet.generate_key(),
        out_dir=tmp_path / "work", quarantine_dir=tmp_path / "q", as_of=ti.AS_OF, anonymizer=anonymizer,
        scanner_factory=scanner_cls, known_factory=known_cls, raise_on_error=False, raise_on_undeclared=False,
    )
    refused = {n: t.undeclared for n, t in rep.tables.items() if t.undeclared}
    assert refused == {}
    hh = pd.read_parquet(tmp_path / "work" / "pseudonymized" / "household_registry.parquet")
    assert (hh["community"] == "王小明家园社区").sum() == 2
