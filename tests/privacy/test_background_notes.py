"""Notes anonymized in background workers while the ingest reads on (issue 8: at 2,000,000 children the
visit records' 1.64 M notes took 492 s of a 36-minute ingest, with the rest of it waiting). Whatever
the batch sizes and chunks, the output must be the one the in-place anonymizer gives."""

from __future__ import annotations

import multiprocessing as mp

import pandas as pd
import pytest
from cryptography.fernet import Fernet

import privacy.anonymizer as anonymizer_mod
import privacy.ingest as ingest_mod
import privacy.readers as readers
from privacy.anonymizer import BackgroundAnonymizer, NoteAnonymizer
from privacy.identities import KnownIdentities
from privacy.ingest import ingest_folder
from privacy.scanner import LeakScanner
from privacy.tokens import Pseudonymizer
from tests.privacy.test_ingest import AS_OF, CHILDREN, CONTRACTS, GUARDIANS, build_raw

TABLES = {k: CONTRACTS[k] for k in ("child_registry", "visit_records", "incidents", "household_registry")}
PZ_KEY, VAULT_KEY = b"k" * 32, Fernet.generate_key()


def _ingest(root, raw, *, jobs: int):
    out = root / "work"
    rep = ingest_folder(raw, TABLES, pseudonymizer=Pseudonymizer(PZ_KEY, 1), vault_key=VAULT_KEY, out_dir=out,
                        quarantine_dir=root / "q", as_of=AS_OF, anonymizer=NoteAnonymizer(),
                        scanner_factory=LeakScanner, known_factory=KnownIdentities, raise_on_error=False,
                        anonymizer_jobs=jobs)
    return rep, {t: pd.read_parquet(out / "pseudonymized" / f"{t}.parquet") for t in TABLES}


@pytest.fixture
def submitted(monkeypatch):
    """Every batch goes to the background, in tasks of 3 notes; the batches submitted are recorded."""
    monkeypatch.setattr(ingest_mod, "BACKGROUND_MIN_NOTES", 1)
    monkeypatch.setattr(anonymizer_mod, "BACKGROUND_TASK_NOTES", 3)
    sizes: list[int] = []
    real = BackgroundAnonymizer.submit

    def spy(self, texts, known):
        sizes.append(len(texts))
        return real(self, texts, known)

    monkeypatch.setattr(BackgroundAnonymizer, "submit", spy)
    return sizes


@pytest.mark.parametrize("chunked", [False, True])
def test_background_notes_give_the_in_place_output(tmp_path, submitted, monkeypatch, chunked):
    """The same tables, cell for cell, and the same counts, whether the visit records come as one frame
    or in many chunks (each chunk's notes a batch of its own, filled into its spilled rows)."""
    raw = tmp_path / "raw"
    build_raw(raw, TABLES)
    rep1, in_place = _ingest(tmp_path / "one", raw, jobs=1)
    assert submitted == [] and rep1.notes_anonymized > 0
    if chunked:
        monkeypatch.setattr(readers, "CSV_STREAM_BYTES", 0)
        monkeypatch.setattr(readers, "CSV_CHUNK_BYTES", 64)
        monkeypatch.setattr(readers, "CSV_TAIL_LINES", 1)
    rep2, background = _ingest(tmp_path / "two", raw, jobs=2)
    assert sum(submitted) == rep2.notes_anonymized == rep1.notes_anonymized
    free_text = sum(c.privacy == "free_text" for t in TABLES.values() for c in t.columns)  # one batch each
    assert free_text >= 2 and (len(submitted) > free_text if chunked else len(submitted) == free_text)
    assert rep2.status == rep1.status
    for t in TABLES:
        pd.testing.assert_frame_equal(in_place[t], background[t], obj=t)
    notes = background["visit_records"]["notes"].dropna()
    assert len(notes) and notes.str.contains("<PERSON_").any()
    for name, _ in CHILDREN + GUARDIANS:
        assert not notes.str.contains(name).any()
    assert mp.active_children() == []  # the workers are gone once the ingest is done


def test_small_batches_and_one_process_stay_in_place(tmp_path, monkeypatch):
    """Below BACKGROUND_MIN_NOTES, with anonymizer_jobs=1, or with an anonymizer that spawned workers
    cannot rebuild (a custom analyzer), notes are anonymized in place: no worker is started."""
    started = []
    monkeypatch.setattr(BackgroundAnonymizer, "__init__", lambda self, *a, **k: started.append(a))
    raw = tmp_path / "raw"
    build_raw(raw, TABLES)
    rep, _ = _ingest(tmp_path / "one", raw, jobs=2)  # a few dozen notes, far below the default minimum
    assert rep.notes_anonymized > 0 and started == []
    monkeypatch.setattr(ingest_mod, "BACKGROUND_MIN_NOTES", 1)
    rep, _ = _ingest(tmp_path / "two", raw, jobs=1)
    assert rep.notes_anonymized > 0 and started == []
    assert not BackgroundAnonymizer.usable(NoteAnonymizer(analyzer=object()))
    assert not BackgroundAnonymizer.usable(object())
    assert BackgroundAnonymizer.usable(NoteAnonymizer())


def test_failed_ingest_stops_the_workers(tmp_path, submitted, monkeypatch):
    """An ingest that fails after its notes were handed over leaves no worker behind."""
    raw = tmp_path / "raw"
    build_raw(raw, TABLES)

    def boom(self, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ingest_mod.IngestSession, "finish", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        _ingest(tmp_path / "one", raw, jobs=2)
    assert submitted and mp.active_children() == []
