"""What the review app reads: the cycle's visit lists, the vault (audited), the audit log, the model
cards, the ingest report; and the sanitizer for free text typed into the app.

Nothing here writes outside ``<work_dir>/app`` (database, audit log) and ``<work_dir>/feedback``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import threading
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from privacy.vault import Vault, verify_audit_log

__all__ = [
    "SECTION_NAMES",
    "ListStore",
    "NoteSanitizer",
    "VaultAccess",
    "audit_access_denied",
    "audit_summary",
    "list_model_cards",
    "read_ingest_report",
]

SECTION_NAMES = {
    "event_alert": "紧急核查",
    "guardianship_risk": "监护风险走访名单",
    "left_behind_risk": "疑似未登记留守儿童（请核实并登记）",
}
_CYCLE_RE = re.compile(r"^\d{4}-\d{2}$")
_TOKEN_RE = re.compile(r"^[A-Z]_k\d+_[0-9a-f]{20}$")


def is_token(value: str) -> bool:
    """True for a pseudonymous token ``P_k1_<20 hex>`` (anything else is refused before any look-up)."""
    return bool(_TOKEN_RE.match(value or ""))


def _clean(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if v is pd.NaT:
        return None
    if hasattr(v, "tolist") and not isinstance(v, str):
        return [str(x) for x in v.tolist()]
    return v


class ListStore:
    """The current cycle's lists, from ``<out_dir>/visit_lists/<cycle>/visit_lists.parquet``.

    The current cycle is the latest ``YYYY-MM`` folder holding a ``visit_lists.parquet``; the file is
    re-read when it changes on disk.
    """

    def __init__(self, visit_lists_dir: Path):
        self.dir = Path(visit_lists_dir)
        self._lock = threading.Lock()
        self._cache: tuple[Path, float, pd.DataFrame] | None = None

    def current_path(self) -> Path | None:
        if not self.dir.exists():
            return None
        cycles = sorted(p for p in self.dir.iterdir()
                        if p.is_dir() and _CYCLE_RE.match(p.name) and (p / "visit_lists.parquet").exists())
        return cycles[-1] / "visit_lists.parquet" if cycles else None

    def frame(self) -> pd.DataFrame:
        """Every row of the current cycle (empty frame when there is none)."""
        path = self.current_path()
        if path is None:
            return pd.DataFrame(columns=["cycle", "community", "township", "section", "rank", "child_token"])
        mtime = path.stat().st_mtime
        with self._lock:
            if self._cache is None or self._cache[0] != path or self._cache[1] != mtime:
                df = pd.read_parquet(path)
                df["_order"] = df["section"].map({"event_alert": 0, "guardianship_risk": 1,
                                                  "left_behind_risk": 2}).fillna(9)
                df = df.sort_values(["district", "township", "community", "_order", "rank"], kind="mergesort")
                self._cache = (path, mtime, df.drop(columns="_order").reset_index(drop=True))
            return self._cache[2]

    def cycle(self) -> str | None:
        path = self.current_path()
        return path.parent.name if path else None

    def rows_for(self, *, community: str | None = None, township: str | None = None) -> list[dict]:
        """List rows of one community (and township) or of one township, as plain dicts."""
        df = self.frame()
        if township is not None:
            df = df[df["township"] == township]
        if community is not None:
            df = df[df["community"] == community]
        return [{k: _clean(v) for k, v in r.items()} for r in df.to_dict("records")]

    def rows_of_child(self, token: str) -> list[dict]:
        """Every list row of one child in the current cycle (a child can be in two sections)."""
        df = self.frame()
        df = df[df["child_token"] == token]
        return [{k: _clean(v) for k, v in r.items()} for r in df.to_dict("records")]

    def communities(self) -> list[tuple[str, str]]:
        """(township, community) pairs of the current cycle."""
        df = self.frame()
        if df.empty:
            return []
        return sorted({(str(t), str(c)) for t, c in zip(df["township"], df["community"], strict=True)})


class VaultAccess:
    """Opens the vault once (re-opens it when ``vault.bin`` changes) and re-identifies for a user.

    Every call goes through :meth:`privacy.vault.Vault.reidentify`, which appends to the hash-chained
    audit log: allowed, refused and not-found look-ups alike.
    """

    def __init__(self, vault_path: Path, vault_key: bytes | None, audit_log_path: Path):
        self.path = Path(vault_path)
        self._key = vault_key
        self.audit_log_path = Path(audit_log_path)
        self._lock = threading.Lock()
        self._vault: tuple[float, Vault] | None = None

    def __repr__(self) -> str:
        return f"VaultAccess(path={self.path.name!r}, key=<hidden>)"

    @property
    def available(self) -> bool:
        return self._key is not None and self.path.exists()

    def _get(self) -> Vault:
        if not self.available:
            raise FileNotFoundError("名册库（vault.bin）或密钥不可用：无法显示姓名")
        mtime = self.path.stat().st_mtime
        with self._lock:
            if self._vault is None or self._vault[0] != mtime:
                self._vault = (mtime, Vault(self.path, self._key, self.audit_log_path))
            return self._vault[1]

    def reidentify(self, actor: str, scope: Mapping[str, str], purpose: str, token: str) -> dict:
        """:meth:`privacy.vault.Vault.reidentify` (audited). Raises PermissionError / KeyError."""
        return self._get().reidentify(actor, scope, purpose, token)


def audit_access_denied(audit_log_path: Path, actor: str, scope: Mapping[str, str], token: str,
                        where: str, why: str) -> None:
    """Append a refused access (a child outside the user's list, by URL or API) to the audit log.

    The entry has the shape of the vault's own entries (``outcome = "refused"``) and joins the same
    hash chain, so :func:`privacy.vault.verify_audit_log` covers it.
    """
    from privacy.vault import _append_audit  # the vault's chained writer (see report: make public)

    _append_audit(Path(audit_log_path), {
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "actor": str(actor),
        "scope": {k: v for k, v in dict(scope).items() if v},
        "purpose": f"访问 {where}",
        "token": str(token)[:64],
        "outcome": "refused",
        "why": why,
    })


def audit_entries(audit_log_path: Path) -> list[dict]:
    """Every entry of the audit log (empty when missing)."""
    p = Path(audit_log_path)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


def audit_summary(audit_log_path: Path) -> dict:
    """Aggregates of the audit log for the governance reviewer (no tokens, no child rows).

    Returns
    -------
    dict
        ``verification`` (:class:`privacy.vault.AuditVerification`), ``total``, ``by_outcome``
        (Counter), ``by_actor`` (list of (actor, allowed, refused, not_found)), ``by_day`` (last 30 days:
        list of (day, count)).
    """
    entries = audit_entries(audit_log_path)
    by_actor: dict[str, Counter] = {}
    by_day: Counter = Counter()
    for e in entries:
        by_actor.setdefault(e.get("actor", "?"), Counter())[e.get("outcome", "?")] += 1
        by_day[str(e.get("time", ""))[:10]] += 1
    return {
        "verification": verify_audit_log(audit_log_path),
        "total": len(entries),
        "by_outcome": Counter(e.get("outcome", "?") for e in entries),
        "by_actor": sorted((a, c["allowed"], c["refused"], c["not_found"]) for a, c in by_actor.items()),
        "by_day": sorted(by_day.items())[-30:],
    }


def list_model_cards(model_cards_dir: Path) -> list[dict]:
    """The Chinese and English HTML cards: ``[{target, zh, en, run_id, title}]``."""
    d = Path(model_cards_dir)
    if not d.exists():
        return []
    out = []
    for p in sorted(d.glob("*.html")):
        if p.name.endswith(".en.html"):
            continue
        target = p.name.removesuffix(".html")
        head = p.read_text(encoding="utf-8", errors="replace")[:4000]
        run = re.search(r'name="mlflow-run-id" content="([0-9a-f]+)"', head)
        title = re.search(r"<title>(.*?)</title>", head, re.S)
        en = d / f"{target}.en.html"
        out.append({"target": target, "zh": p.name, "en": en.name if en.exists() else None,
                    "run_id": run.group(1) if run else None,
                    "title": title.group(1).strip() if title else target})
    return out


def read_ingest_report(path: Path) -> dict | None:
    """``ingest_report.json`` (reconciliation; never raw values), or None."""
    p = Path(path)
    if not p.exists():
        return None
    return json.loads(p.read_text(encoding="utf-8"))


class NoteSanitizer:
    """Free text typed into the app → anonymized text that may be stored (DESIGN §5 "Free text").

    1. :class:`privacy.anonymizer.NoteAnonymizer` with the child's known identities from the vault
       (record-aware recognition) and the Presidio recognizers for Chinese;
    2. :class:`privacy.scanner.LeakScanner` over the result — with the scanner's identity index when
       ``identity_index.bin`` exists (every name, ID, phone, address seen in the raw input), else the
       child's own identities and validated identifier patterns. A finding replaces the whole text
       by :data:`serving.feedback.REDACTED_NOTE` (DESIGN §11.2: quarantine the note, go on).

    Both engines are built once, on first use (the identity index takes a few seconds to load).
    """

    def __init__(self, identity_index_path: Path | None = None, vault_key: bytes | None = None):
        self._index_path = Path(identity_index_path) if identity_index_path else None
        self._key = vault_key
        self._lock = threading.Lock()
        self._anonymizer = None
        self._index_scanner = None

    def __repr__(self) -> str:
        return "NoteSanitizer()"

    def _engines(self):
        with self._lock:
            if self._anonymizer is None:
                from privacy.anonymizer import NoteAnonymizer
                from privacy.scanner import LeakScanner

                self._anonymizer = NoteAnonymizer()
                known = None
                if self._index_path is not None and self._index_path.exists() and self._key:
                    from privacy.identities import KnownIdentities

                    known = KnownIdentities.load(self._index_path, self._key)
                self._index_scanner = LeakScanner(known=known)
            return self._anonymizer, self._index_scanner

    def warm_up(self) -> None:
        """Build the engines now (call in a background thread at start-up)."""
        self._engines()

    def sanitize(self, text: str | None, identity: Mapping[str, Any] | None) -> tuple[str | None, bool]:
        """Anonymize and check one text.

        Parameters
        ----------
        text : str or None
            What the person typed (never stored as such).
        identity : mapping, optional
            The child's vault record (``name``, ``id_number``, ``phone``, ``address``).

        Returns
        -------
        (text, redacted)
            The storable text (None for empty input) and whether it had to be replaced entirely.
        """
        from privacy.identities import KnownIdentities
        from privacy.scanner import LeakScanner
        from serving.feedback import REDACTED_NOTE

        if text is None or not text.strip():
            return None, False
        text = text.strip()[:2000]
        known = {"names": [], "id_numbers": [], "phones": [], "addresses": []}
        if identity:
            for field, kind in (("name", "names"), ("id_number", "id_numbers"), ("phone", "phones"),
                                ("address", "addresses")):
                if identity.get(field):
                    known[kind].append(str(identity[field]))
        anonymizer, index_scanner = self._engines()
        out = anonymizer.anonymize(text, known=known)
        ki = KnownIdentities()
        for kind, vals in known.items():
            if vals:
                ki.add(kind, vals)
        if index_scanner.scan_text(out, free_text=True) or LeakScanner(known=ki).scan_text(out, free_text=True):
            return REDACTED_NOTE, True
        return out, False
