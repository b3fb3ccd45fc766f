"""Shared helpers for the messy-corpus tests: ingest one file alone in its own input folder."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from cryptography.fernet import Fernet

from privacy.contracts import load_contracts
from privacy.ingest import ingest_folder
from privacy.tokens import Pseudonymizer

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = load_contracts(REPO / "contracts")
AS_OF = dt.date(2025, 6, 30)
PZ = Pseudonymizer(b"m" * 32, 1)


class StubAnonymizer:
    """Notes are not what the corpus tests; the real NoteAnonymizer is exercised in test_ingest."""

    def anonymize_many(self, texts, known=None, n_jobs=1):
        return ["<NOTE>" if t else t for t in texts]


def components():
    from privacy.identities import KnownIdentities
    from privacy.scanner import LeakScanner

    return KnownIdentities, LeakScanner


def ingest_files(tmp: Path, files: list[Path], **kw):
    """Copy ``files`` into a fresh input folder under ``tmp`` and ingest it (never raises on errors)."""
    known, scanner = components()
    raw = tmp / "in"
    raw.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy(f, raw / f.name)
    kw.setdefault("raise_on_error", False)
    kw.setdefault("raise_on_undeclared", False)
    return ingest_folder(
        raw, CONTRACTS, pseudonymizer=PZ, vault_key=Fernet.generate_key(), out_dir=tmp / "work",
        quarantine_dir=tmp / "q", as_of=AS_OF, anonymizer=StubAnonymizer(), scanner_factory=scanner,
        known_factory=known, **kw,
    )


def outcome(report, name: str) -> dict:
    """The per-file outcome the expectations YAML describes."""
    frs = [f for f in report.files if f.file == name]
    ign = [i for i in report.ignored if i["file"].split("#")[0] == name]
    if not frs:
        return {"status": "ignored", "reasons": [i["reason"] for i in ign]}
    statuses = sorted({f.status for f in frs})
    reasons: dict[str, int] = {}
    for f in frs:
        for k, v in f.reasons.items():
            reasons[k] = reasons.get(k, 0) + v
    return {
        "status": statuses[0] if len(statuses) == 1 else "+".join(statuses),
        "table": sorted({f.table for f in frs if f.table}) or None,
        "rows_read": sum(f.rows_read for f in frs),
        "rows_passed": sum(f.rows_passed for f in frs),
        "rows_quarantined": sum(f.rows_quarantined for f in frs),
        "rows_duplicate": sum(f.rows_duplicate for f in frs),
        "reasons": dict(sorted(reasons.items())),
        "errors": sorted({e["code"] for f in frs for e in f.errors}),
        "notices": sorted({n["code"] for f in frs for n in f.notices}),
        "sheets": len(frs),
        "ignored": sorted(i["reason"] for i in ign),
    }
