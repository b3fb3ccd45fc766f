"""The re-identification vault and its hash-chained audit log (DESIGN.md §5, §8; interfaces §2).

``vault.bin`` maps a person token to ``{name, id_number, phone, address, community, township}``,
serialized as JSON and encrypted chunk by chunk with Fernet (AES-128-CBC + HMAC-SHA256; :mod:`privacy.sealed`)
under the vault key, which is
separate from the pseudonym key (:mod:`privacy.keys`). Only ``serving`` opens it, for a child director
(own community) or a child supervisor (own township); the data team and reviewers never re-identify
(DESIGN §1).

Every look-up — allowed, refused or not found — is appended to a JSON-lines audit log. Each line carries
``prev``, the SHA-256 of the previous line's bytes (64 zeros for the first), and ``hash``, the SHA-256 of
its own canonical content, so deleting, reordering or editing any line (the last one included) breaks
the chain (:func:`verify_audit_log`). The chain has no secret: it shows tampering by anyone who does not
rewrite the whole file; ship the log to append-only storage for more. The log holds tokens, never identities, and
is never rewritten (also not on key rotation, DESIGN §11.16). PIPL art. 51 (access control, logging),
art. 55–56 (records kept ≥ 3 years).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import io
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import InvalidToken

from privacy.sealed import seal, unseal, write_private_chunks

__all__ = [
    "FIELDS",
    "AuditVerification",
    "Vault",
    "VaultError",
    "append_audit_event",
    "read_encrypted",
    "verify_audit_log",
    "write_encrypted",
]

FIELDS = ("name", "id_number", "phone", "address", "community", "township")
GENESIS = "0" * 64


class VaultError(RuntimeError):
    """The vault cannot be opened (wrong key, corrupted file)."""


def write_encrypted(path: Path, payload: object, fernet_key: bytes) -> None:
    """JSON-serialize ``payload``, encrypt it chunk by chunk with Fernet (:func:`privacy.sealed.seal`) and
    write atomically with mode 0600."""
    seal(path, json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(), fernet_key)


def write_private(path: str | os.PathLike, blob: bytes) -> Path:
    """Write ``blob`` atomically with mode 0600: a temporary file of its own in the same folder
    (removed if the write fails), then a rename. Returns the path."""
    return write_private_chunks(path, (blob,))


def read_encrypted(path: Path, fernet_key: bytes) -> object:
    """Inverse of :func:`write_encrypted`.

    Raises
    ------
    VaultError
        Wrong key or tampered file (Fernet authentication fails).
    """
    try:
        return json.loads(unseal(path, fernet_key))
    except InvalidToken:
        raise VaultError(f"{Path(path).name}: cannot decrypt (wrong key or modified file)") from None


@dataclass(frozen=True)
class AuditVerification:
    """Result of :func:`verify_audit_log`; truthy when the chain is intact."""

    ok: bool
    lines: int
    first_bad_line: int | None = None
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.ok


def _sha(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def _entry_hash(entry: dict) -> str:
    """SHA-256 of the entry's canonical JSON without its own ``hash`` (detects an edited last line)."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return _sha(json.dumps(body, ensure_ascii=False, sort_keys=True).encode())


def _append_audit(path: Path, entry: dict) -> None:
    """Append one entry, chained to the last line, under an exclusive lock (O_APPEND, mode 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with open(path, "rb") as f:
            last = b""
            seq = 0
            for raw in f:
                if raw.strip():
                    last = raw.rstrip(b"\n")
                    seq += 1
        entry = {"seq": seq + 1, **entry, "prev": _sha(last) if last else GENESIS}
        entry["hash"] = _entry_hash(entry)
        os.write(fd, json.dumps(entry, ensure_ascii=False, sort_keys=True).encode() + b"\n")
        os.fsync(fd)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def append_audit_event(path: Path, event: str, **fields) -> None:
    """Append a non-look-up event (e.g. a retention purge) to the audit log, hash-chained like every
    look-up. ``fields`` must hold tokens and counts only, never identities."""
    entry = {"time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "event": str(event), **fields}
    _append_audit(Path(path), entry)


def verify_audit_log(path: Path) -> AuditVerification:
    """Check the hash chain of an audit log.

    Returns
    -------
    AuditVerification
        ``ok`` False with the first 1-based line that breaks the chain (edited, deleted, inserted or
        reordered lines; a sequence gap) and the reason. A missing file is an empty, intact log.
    """
    path = Path(path)
    if not path.exists():
        return AuditVerification(True, 0)
    prev = GENESIS
    n = 0
    with path.open("rb") as f:
        for i, raw in enumerate(f, start=1):
            line = raw.rstrip(b"\n")
            if not line:
                return AuditVerification(False, n, i, "empty line")
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                return AuditVerification(False, n, i, "not JSON")
            if entry.get("prev") != prev:
                return AuditVerification(False, n, i, "hash chain broken (previous line changed or removed)")
            if entry.get("hash") != _entry_hash(entry):
                return AuditVerification(False, n, i, "line content changed (its own hash does not match)")
            if entry.get("seq") != i:
                return AuditVerification(False, n, i, "sequence number out of order")
            prev = _sha(line)
            n = i
    return AuditVerification(True, n)


class Vault:
    """Token → identity look-ups for authorized, scoped actors, every one audited.

    Parameters
    ----------
    path
        ``vault.bin`` written by :meth:`Vault.write`.
    fernet_key
        The vault key (:func:`privacy.keys.load_vault_key`).
    audit_log_path
        The append-only audit log (JSON lines, hash-chained).
    """

    def __init__(self, path: Path, fernet_key: bytes, audit_log_path: Path):
        self.path = Path(path)
        self._key = fernet_key
        self.audit_log_path = Path(audit_log_path)
        self._records: dict[str, dict] | None = None

    def __repr__(self) -> str:
        return f"Vault(path={self.path.name!r}, key=<hidden>)"

    @staticmethod
    def write(path: Path, records: Mapping[str, Mapping] | Iterable[Mapping], fernet_key: bytes) -> int:
        """Encrypt and write the vault.

        Parameters
        ----------
        records
            ``{token: {field: value}}`` or an iterable of dicts each with a ``token`` key. Only
            :data:`FIELDS` are kept.

        Returns
        -------
        int
            Number of tokens written.
        """
        items = records.items() if isinstance(records, Mapping) else ((r["token"], r) for r in records)
        # the JSON of {"version": 1, "records": {token: {field: value}}}, written record by record: a 2M
        # city's vault is ~5 M records, and a dict of them plus its JSON as one str took ~8 GB (issue 8)
        buf = io.BytesIO()
        buf.write(b'{"version":1,"records":{')
        seen: set[str] = set()  # a token given twice: the later record wins, as in a dict (and json.loads)
        for tok, rec in items:
            tok = str(tok)
            if buf.tell() > 24:
                buf.write(b",")
            seen.add(tok)
            buf.write(json.dumps(tok, ensure_ascii=False).encode())
            buf.write(b":")
            buf.write(json.dumps({f: (None if rec.get(f) is None else str(rec.get(f))) for f in FIELDS},
                                 ensure_ascii=False, separators=(",", ":")).encode())
        buf.write(b"}}")
        n = len(seen)
        del seen
        view = buf.getbuffer()  # sealed chunk by chunk from the buffer: no second copy of the JSON (issue 8)
        try:
            seal(path, view, fernet_key)
        finally:
            view.release()
        return n

    #: Rows per piece of :meth:`write_frame`'s JSON (its text is made a piece at a time).
    FRAME_PIECE_ROWS = 250_000

    @staticmethod
    def write_frame(path: Path, frame, fernet_key: bytes) -> int:
        """Encrypt and write the vault from a frame: the same file as :meth:`write` of its rows, made by
        pandas' C JSON writer a piece of :attr:`FRAME_PIECE_ROWS` rows at a time (issue 8: at 2,000,000
        children the vault holds 5.7 M people, and :meth:`write`'s one ``json.dumps`` per record took most
        of the 150 s the ingest spent on it).

        Parameters
        ----------
        frame : pandas.DataFrame
            Indexed by token (unique), with any of :data:`FIELDS` as columns (a missing column is None for
            everyone; other columns are ignored). Values are written as text; missing values as None.

        Returns
        -------
        int
            Number of tokens written.

        Raises
        ------
        ValueError
            The index has a token twice.
        """
        import pandas as pd

        if not frame.index.is_unique:
            raise ValueError("vault frame: a token appears twice in the index")
        buf = io.BytesIO()
        buf.write(b'{"version":1,"records":{')
        step = Vault.FRAME_PIECE_ROWS
        for start in range(0, len(frame), step):
            piece = frame.iloc[start:start + step]
            piece = pd.DataFrame({f: (piece[f] if f in piece.columns else pd.Series(None, index=piece.index,
                                                                                   dtype=object)).astype("string")
                                  for f in FIELDS}, index=piece.index.astype(str))
            text = piece.to_json(orient="index", force_ascii=False).encode()
            del piece
            if start:
                buf.write(b",")
            buf.write(memoryview(text)[1:-1])  # without the piece's own braces
            del text
        buf.write(b"}}")
        view = buf.getbuffer()
        try:
            seal(path, view, fernet_key)
        finally:
            view.release()
        return len(frame)

    def _load(self) -> dict[str, dict]:
        if self._records is None:
            doc = read_encrypted(self.path, self._key)
            self._records = doc["records"]
        return self._records

    def __len__(self) -> int:
        return len(self._load())

    def reidentify(self, actor: str, actor_scope: Mapping[str, str], purpose: str, token: str) -> dict:
        """Return the identity behind ``token`` if ``actor`` may see it; audit every attempt.

        Parameters
        ----------
        actor
            The accountable user account (kept as-is in the log).
        actor_scope
            ``{"community": ...}`` for a child director or ``{"township": ...}`` for a child supervisor
            (both keys: both must match). Anything else is refused.
        purpose
            Why (e.g. ``"home visit 2025-03"``); required.
        token
            The person token.

        Returns
        -------
        dict
            ``{name, id_number, phone, address, community, township}``.

        Raises
        ------
        PermissionError
            Empty purpose, no usable scope, or the person is outside the actor's scope (logged as
            ``refused``).
        KeyError
            Unknown token (logged as ``not_found``).
        """
        scope = {k: v for k, v in dict(actor_scope or {}).items() if k in ("community", "township") and v}
        base = {
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "actor": str(actor),
            "scope": scope,
            "purpose": str(purpose or ""),
            "token": str(token),
        }
        if not actor or not purpose or not scope:
            _append_audit(
                self.audit_log_path,
                {**base, "outcome": "refused", "why": "actor, purpose and scope required"},
            )
            raise PermissionError(
                "re-identification needs an actor, a purpose and a community or township scope"
            )
        rec = self._load().get(token)
        if rec is None:
            _append_audit(self.audit_log_path, {**base, "outcome": "not_found"})
            raise KeyError(token)
        mismatch = [k for k, v in scope.items() if rec.get(k) != v]
        if mismatch:
            _append_audit(
                self.audit_log_path, {**base, "outcome": "refused", "why": f"outside scope: {mismatch}"}
            )
            raise PermissionError(f"{actor}: {token} is outside the actor's {'/'.join(mismatch)}")
        _append_audit(self.audit_log_path, {**base, "outcome": "allowed"})
        return dict(rec)
