"""Pseudonym-key rotation: re-tokenize every store that holds tokens (DESIGN §5, §11.16).

A token is ``HMAC(key, kind:value)`` tagged with the key version (``P_k1_…``). Rotating the key means:

1. **an old → new map** (:func:`rotation_map`): the vault holds token → identity, so each person
   token's resident ID is re-hashed under the new key; the old token is recomputed first and must
   equal the vault's key (fail closed: a vault written under another key is refused). Household and
   student tokens are not in the vault: their raw values (household numbers, student numbers) are
   passed as ``extra_values`` (from the raw zone), or those stores are rebuilt by re-running the
   ingest with the new key;
2. **re-tokenizing the stores** (:func:`rotate`): Parquet folders (pseudonymized tables, assets,
   feedback), SQLite databases (the review app's feedback database) and JSON files (model cards,
   plans) — every string cell, list element or JSON string that *is* a token is replaced through the
   map — and the vault itself, re-keyed (and re-encrypted, optionally under a new vault key);
3. **the audit log is never rewritten**: its entries keep their version-tagged tokens (DESIGN §11.16),
   which become unlinkable once the old key is destroyed. :func:`rotate` checks that the log's bytes
   are unchanged and its chain still verifies, and appends nothing.

Two phases: every new file is written next to its original first; only when all succeeded are they
moved into place (``os.replace``), so a failure (e.g. an old-version token without a mapping in
strict mode) leaves every store as it was. The keys never appear in a message or the report.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from privacy.identifiers import validate_ric
from privacy.tokens import TOKEN_RE, Pseudonymizer
from privacy.vault import read_encrypted, verify_audit_log, write_encrypted

__all__ = ["RotationError", "RotationReport", "retokenize_value", "rotate", "rotation_map"]


class RotationError(RuntimeError):
    """Rotation refused (inconsistent vault, unmapped tokens in strict mode, altered audit log)."""


def rotation_map(vault_records: Mapping[str, Mapping], old: Pseudonymizer, new: Pseudonymizer,
                 extra_values: Mapping[str, Iterable[str]] | None = None) -> dict[str, str]:
    """Old token → new token for every person in the vault (and every extra value).

    Parameters
    ----------
    vault_records : mapping
        ``{person_token: {"id_number": …, …}}`` as stored in the vault.
    old, new : Pseudonymizer
        The current key and the new key (different versions).
    extra_values : mapping, optional
        ``{"H": household numbers, "S": student numbers, "P": resident IDs}`` — normalized raw values
        whose tokens are not in the vault.

    Returns
    -------
    dict
        ``{old_token: new_token}``.

    Raises
    ------
    RotationError
        Same key version for old and new; a vault record without a valid ID; a vault token that the
        old key does not reproduce (the vault was written under another key).
    """
    if old.key_version == new.key_version:
        raise RotationError(f"the new key must have a new version (both are k{old.key_version})")
    out: dict[str, str] = {}
    for tok, rec in vault_records.items():
        kind = tok[:1]
        r = validate_ric((rec or {}).get("id_number"))
        if not r.valid:
            raise RotationError(f"vault record {tok}: no valid resident ID to re-tokenize")
        if old.token(kind, r.normalized) != tok:
            raise RotationError(f"vault token {tok} is not reproduced by the old key: refusing to rotate")
        out[tok] = new.token(kind, r.normalized)
    for kind, values in (extra_values or {}).items():
        for v in values:
            if isinstance(v, str) and v:
                out[old.token(kind, v)] = new.token(kind, v)
    return out


def retokenize_value(value, mapping: Mapping[str, str], old_version: int, unmapped: set):
    """``value`` with tokens replaced (str, list/tuple/dict recursively); old-version tokens without a
    mapping are added to ``unmapped`` and kept."""
    if isinstance(value, str):
        if len(value) >= 25 and TOKEN_RE.match(value):
            new = mapping.get(value)
            if new is not None:
                return new
            if value[2:].startswith(f"k{old_version}_"):
                unmapped.add(value)
        return value
    if isinstance(value, list):
        return [retokenize_value(v, mapping, old_version, unmapped) for v in value]
    if isinstance(value, tuple):
        return tuple(retokenize_value(v, mapping, old_version, unmapped) for v in value)
    if isinstance(value, dict):
        return {k: retokenize_value(v, mapping, old_version, unmapped) for k, v in value.items()}
    return value


@dataclass
class RotationReport:
    """What :func:`rotate` changed: counts only, never a key or an identity."""

    tokens_mapped: int = 0
    files: dict = field(default_factory=dict)  # path → cells replaced
    vault_records: int = 0
    unmapped_tokens: int = 0
    audit_log_lines: int = 0

    def to_dict(self) -> dict:
        return {"tokens_mapped": self.tokens_mapped, "files": dict(self.files),
                "vault_records": self.vault_records, "unmapped_tokens": self.unmapped_tokens,
                "audit_log_lines": self.audit_log_lines}


def _map_array(arr: pa.ChunkedArray, mapping: dict, old_version: int, unmapped: set):
    """Replace tokens in a string (or list-of-string) column; returns (new array, replaced count)."""
    t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        # each distinct value once (dictionary encode), vectorized take
        enc = pc.dictionary_encode(arr).combine_chunks()
        values = enc.dictionary.to_pylist()
        new_values = [retokenize_value(v, mapping, old_version, unmapped) for v in values]
        changed = [a != b for a, b in zip(values, new_values, strict=True)]
        if not any(changed):
            return arr, 0
        new_dict = pa.array(new_values, type=t)
        out = pc.take(new_dict, enc.indices)
        n = int(pc.sum(pc.is_in(enc.indices, pa.array([i for i, c in enumerate(changed) if c],
                                                       type=enc.indices.type))).as_py() or 0)
        return out, n
    if (pa.types.is_list(t) or pa.types.is_large_list(t)) and (
            pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type)):
        py = arr.to_pylist()
        new = [retokenize_value(v, mapping, old_version, unmapped) for v in py]
        n = sum(a != b for a, b in zip(py, new, strict=True))
        return (pa.array(new, type=t), n) if n else (arr, 0)
    return arr, 0


def _rewrite_parquet(path: Path, mapping: dict, old_version: int, unmapped: set) -> tuple[Path | None, int]:
    table = pq.read_table(path)
    cols, total = [], 0
    for name in table.column_names:
        col, n = _map_array(table.column(name), mapping, old_version, unmapped)
        cols.append(col)
        total += n
    if not total:
        return None, 0
    new = pa.table(cols, schema=table.schema)
    tmp = path.with_name(f".{path.name}.rotating")
    pq.write_table(new, tmp)
    return tmp, total


def _rewrite_json(path: Path, mapping: dict, old_version: int, unmapped: set) -> tuple[Path | None, int]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, 0
    new = retokenize_value(doc, mapping, old_version, unmapped)
    if new == doc:
        return None, 0
    tmp = path.with_name(f".{path.name}.rotating")
    tmp.write_text(json.dumps(new, ensure_ascii=False, indent=2), encoding="utf-8")
    return tmp, sum(1 for _ in _diff(doc, new))


def _diff(a, b):
    if isinstance(a, dict):
        for k in a:
            yield from _diff(a[k], b[k])
    elif isinstance(a, list):
        for x, y in zip(a, b, strict=True):
            yield from _diff(x, y)
    elif a != b:
        yield 1


def _rewrite_sqlite(path: Path, mapping: dict, old_version: int, unmapped: set) -> tuple[Path | None, int]:
    """Copy the database (backup API), replace token cells in every TEXT column of the copy."""
    tmp = path.with_name(f".{path.name}.rotating")
    if tmp.exists():
        tmp.unlink()
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    dst = sqlite3.connect(tmp)
    try:
        src.backup(dst)
        total = 0
        tables = [r[0] for r in dst.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                            "AND name NOT LIKE 'sqlite_%'")]
        for t in tables:
            qt = '"' + t.replace('"', '""') + '"'
            cols = [r[1] for r in dst.execute(f"PRAGMA table_info({qt})")]
            for c in cols:
                qc = '"' + c.replace('"', '""') + '"'
                vals = [r[0] for r in dst.execute(f"SELECT DISTINCT {qc} FROM {qt} WHERE typeof({qc}) = 'text'")]
                for v in vals:
                    nv = retokenize_value(v, mapping, old_version, unmapped)
                    if nv != v:
                        cur = dst.execute(f"UPDATE {qt} SET {qc} = ? WHERE {qc} = ?", (nv, v))
                        total += cur.rowcount
        dst.commit()
    finally:
        src.close()
        dst.close()
    if not total:
        tmp.unlink()
        return None, 0
    return tmp, total


def _sha(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def rotate(*, vault_path: str | os.PathLike, vault_key: bytes, old: Pseudonymizer, new: Pseudonymizer,
           stores: Iterable[str | os.PathLike] = (), audit_log_path: str | os.PathLike | None = None,
           new_vault_key: bytes | None = None, extra_values: Mapping[str, Iterable[str]] | None = None,
           strict: bool = True) -> RotationReport:
    """Re-tokenize every store and re-key the vault.

    Parameters
    ----------
    vault_path, vault_key
        The vault (token → identity) and its Fernet key.
    old, new
        Pseudonymizers of the current and the new pseudonym key.
    stores
        Files or folders holding tokens: ``*.parquet`` (pseudonymized tables, assets, feedback),
        SQLite databases (``*.db``, ``*.sqlite``) and ``*.json``; folders are searched recursively.
    audit_log_path
        The audit log: never rewritten; checked unchanged and intact after the rotation.
    new_vault_key
        Re-encrypt the vault under this key (default: keep the vault key).
    extra_values
        Raw values of household/student tokens (see :func:`rotation_map`).
    strict
        Refuse (and change nothing) when a store holds a token of the old version that the map does
        not cover; False keeps such tokens (they become unlinkable once the old key is destroyed).

    Returns
    -------
    RotationReport

    Raises
    ------
    RotationError
        See :func:`rotation_map`; unmapped old tokens in strict mode; an audit log altered during the
        rotation or not intact before it.
    """
    vault_path = Path(vault_path)
    audit = Path(audit_log_path) if audit_log_path is not None else None
    if audit is not None and not verify_audit_log(audit):
        raise RotationError("the audit log does not verify: investigate before rotating the key")
    audit_sha = _sha(audit) if audit is not None else None

    doc = read_encrypted(vault_path, vault_key)
    records = doc["records"]
    mapping = rotation_map(records, old, new, extra_values)
    report = RotationReport(tokens_mapped=len(mapping))
    unmapped: set = set()

    files: list[Path] = []
    for s in stores:
        p = Path(s)
        if p.is_dir():
            files.extend(sorted(x for x in p.rglob("*") if x.is_file() and not x.name.startswith(".")))
        elif p.is_file():
            files.append(p)
    pending: list[tuple[Path, Path]] = []
    try:
        for f in files:
            if audit is not None and f.resolve() == audit.resolve():
                continue  # never the audit log
            if f.resolve() == vault_path.resolve():
                continue
            with open(f, "rb") as fh:
                head = fh.read(16)
            if f.suffix == ".parquet" or head.startswith(b"PAR1"):
                tmp, n = _rewrite_parquet(f, mapping, old.key_version, unmapped)
            elif head.startswith(b"SQLite format 3\x00"):
                tmp, n = _rewrite_sqlite(f, mapping, old.key_version, unmapped)
            elif f.suffix == ".json":
                tmp, n = _rewrite_json(f, mapping, old.key_version, unmapped)
            else:
                continue
            if tmp is not None:
                pending.append((tmp, f))
                report.files[str(f)] = n
        report.unmapped_tokens = len(unmapped)
        if unmapped and strict:
            raise RotationError(f"{len(unmapped)} tokens of key version {old.key_version} have no mapping "
                                "(household/student tokens need extra_values, or re-run the ingest); "
                                "nothing was changed")
        new_records = {mapping[t]: rec for t, rec in records.items()}
        vault_tmp = vault_path.with_name(f".{vault_path.name}.rotating")
        write_encrypted(vault_tmp, {**doc, "records": new_records, "key_version": new.key_version},
                        new_vault_key or vault_key)
        pending.append((vault_tmp, vault_path))
    except BaseException:
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, target in pending:
        os.replace(tmp, target)
    report.vault_records = len(new_records)
    if audit is not None:
        if _sha(audit) != audit_sha:
            raise RotationError("the audit log changed during the rotation")
        v = verify_audit_log(audit)
        if not v:
            raise RotationError("the audit log no longer verifies")
        report.audit_log_lines = v.lines
    return report
