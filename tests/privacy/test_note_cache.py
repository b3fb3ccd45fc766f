"""Incremental ingest (issue 8): a note whose text and record identities are unchanged since the previous
ingest takes its stored result instead of running the anonymizer again — and nothing raw is stored."""

from __future__ import annotations

import csv

import pandas as pd
import pyarrow.parquet as pq
import pytest
from cryptography.fernet import Fernet

from privacy.ingest import NOTE_CACHE_FILE, REDACTION_MARKER, ingest_folder
from privacy.tokens import Pseudonymizer
from tests.privacy.test_ingest import AS_OF, CHILDREN, CONTRACTS, GUARDIANS, PHONES, _components, build_raw

TABLES = {k: CONTRACTS[k] for k in ("child_registry", "visit_records", "incidents", "household_registry")}


class CountingAnonymizer:
    """The real NoteAnonymizer, counting the notes it is given."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def anonymize_many(self, texts, known=None, n_jobs=1):
        self.calls.append(len(texts))
        return self.inner.anonymize_many(texts, known, n_jobs=1)


class Blind:
    """An anonymizer that misses everything: only the leak scanner stands between a name and the store."""

    def anonymize_many(self, texts, known=None, n_jobs=1):
        return list(texts)


@pytest.fixture(scope="module")
def components():
    return _components()


def _run(root, raw, components, anonymizer, *, cache=None, version="v1", pz=None):
    known_cls, scanner_cls, _ = components
    out = root / "work"
    rep = ingest_folder(
        raw, TABLES, pseudonymizer=pz or Pseudonymizer(b"k" * 32, 1), vault_key=Fernet.generate_key(),
        out_dir=out, quarantine_dir=root / "q", as_of=AS_OF, anonymizer=anonymizer, scanner_factory=scanner_cls,
        known_factory=known_cls, note_cache=cache, note_cache_version=version, raise_on_error=False,
    )
    return rep, out


def _notes(out) -> pd.Series:
    return pd.read_parquet(out / "pseudonymized" / "visit_records.parquet")["notes"]


def _rewrite(path, row: int, col: int, value: str) -> None:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    rows[row][col] = value
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)


def test_second_ingest_reuses_every_unchanged_note(tmp_path, components):
    raw = tmp_path / "raw"
    build_raw(raw, TABLES)
    first, a = CountingAnonymizer(components[2]), None
    rep1, out1 = _run(tmp_path / "one", raw, components, first, cache=tmp_path / "none.parquet")
    assert rep1.notes_reused == 0 and rep1.notes_anonymized == sum(first.calls) > 0
    cache = out1 / NOTE_CACHE_FILE
    assert cache.exists()
    second = CountingAnonymizer(components[2])
    rep2, out2 = _run(tmp_path / "two", raw, components, second, cache=cache)
    assert second.calls == [] and rep2.notes_anonymized == 0
    assert rep2.notes_reused == rep1.notes_anonymized
    for t in TABLES:  # the same output, to the byte of every cell
        a = pd.read_parquet(out1 / "pseudonymized" / f"{t}.parquet")
        b = pd.read_parquet(out2 / "pseudonymized" / f"{t}.parquet")
        pd.testing.assert_frame_equal(a, b, obj=t)


def test_changed_note_or_identities_or_version_is_anonymized_again(tmp_path, components):
    raw = tmp_path / "raw"
    build_raw(raw, TABLES)
    _, out1 = _run(tmp_path / "one", raw, components, components[2], cache=tmp_path / "none.parquet")
    cache = out1 / NOTE_CACHE_FILE
    path = raw / TABLES["visit_records"].department / TABLES["visit_records"].file
    note_col = [c.name for c in TABLES["visit_records"].columns].index("notes")
    _rewrite(path, 1, note_col, f"{CHILDREN[0][0]}今天不在家，邻居说{GUARDIANS[0][0]}去了外地。")
    name_col = [c.name for c in TABLES["visit_records"].columns].index("child_name")
    _rewrite(path, 2, name_col, "李晓红")  # the record's identities changed: its note is not the same input
    counting = CountingAnonymizer(components[2])
    rep, out2 = _run(tmp_path / "two", raw, components, counting, cache=cache)
    assert sum(counting.calls) == 2 and rep.notes_anonymized == 2
    notes = _notes(out2)
    assert not notes.str.contains(CHILDREN[0][0]).any() and not notes.str.contains(GUARDIANS[0][0]).any()
    counting = CountingAnonymizer(components[2])
    rep, _ = _run(tmp_path / "three", raw, components, counting, cache=out2 / NOTE_CACHE_FILE, version="v2")
    assert rep.notes_reused == 0 and sum(counting.calls) == rep.notes_anonymized > 2  # new code: all again


def test_cache_holds_the_final_redacted_text_and_no_raw_value(tmp_path, components):
    """An anonymizer that misses a name: the scanner redacts the note in the table, and the cache stores
    the redacted note, never the name; a reused note is scanned again."""
    raw = tmp_path / "raw"
    build_raw(raw, TABLES)
    _, out = _run(tmp_path / "one", raw, components, Blind(), cache=tmp_path / "none.parquet")
    notes = _notes(out)
    assert (notes == REDACTION_MARKER).all()  # every note names a child and a phone
    cache = pq.read_table(out / NOTE_CACHE_FILE).to_pandas()
    assert len(cache) and (cache["text"] == REDACTION_MARKER).all()
    blob = (out / NOTE_CACHE_FILE).read_bytes()
    for value in [n for n, _ in CHILDREN + GUARDIANS] + PHONES + [i for _, i in CHILDREN]:
        assert value.encode() not in blob
    assert cache["key"].str.fullmatch(r"R_k1_[0-9a-f]{20}").all()  # keyed hashes, not the notes


def test_cache_under_another_key_is_never_a_hit(tmp_path, components):
    raw = tmp_path / "raw"
    build_raw(raw, TABLES)
    _, out1 = _run(tmp_path / "one", raw, components, components[2], cache=tmp_path / "none.parquet")
    counting = CountingAnonymizer(components[2])
    rep, _ = _run(tmp_path / "two", raw, components, counting, cache=out1 / NOTE_CACHE_FILE,
                  pz=Pseudonymizer(b"j" * 32, 2))
    assert rep.notes_reused == 0 and rep.notes_anonymized > 0
