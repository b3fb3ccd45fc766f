"""Retention: purge children who left scope from the vault (PIPL art. 47; DESIGN §5).

A child leaves scope at 18 or on moving away. After the configured retention period their identity
is deleted from the vault (the only place where a token can be turned back into a person), the
purge is appended to the hash-chained audit log (counts and tokens, never names or IDs), and the
purged tokens are returned so that the serving stores (feedback database, lists) can purge their
rows too (:func:`purge_rows`).

Functions
---------
:func:`due_for_purge`
    Which tokens are due at an as-of date (pure: no I/O).
:func:`purge_vault`
    Remove them from the vault file and log the purge.
:func:`purge_rows`
    Drop the rows of purged tokens from Parquet files (serving stores).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from privacy.identifiers import ric_birth_date, validate_ric
from privacy.vault import append_audit_event, read_encrypted, write_encrypted

__all__ = ["ADULT_AGE", "due_for_purge", "purge_rows", "purge_vault"]

ADULT_AGE = 18


def _birthday(born: date, years: int) -> date:
    try:
        return born.replace(year=born.year + years)
    except ValueError:  # 29 February → 1 March in a non-leap year
        return date(born.year + years, 3, 1)


def due_for_purge(vault_records: Mapping[str, Mapping], as_of: date, *, child_tokens: Iterable[str],
                  moved_away: Mapping[str, date] | None = None,
                  retention_days: int = 0) -> dict[str, str]:
    """Tokens of children whose retention has ended at ``as_of``, with the reason.

    Parameters
    ----------
    vault_records
        ``{token: {"id_number": …}}`` (the vault's records).
    as_of
        The date of the purge run (configuration or the cycle date, never guessed).
    child_tokens
        Tokens of the children in scope (registry children). Guardians and other adults in the vault
        are never purged by the age rule: they are adults by definition.
    moved_away
        ``{token: date moved out of the city}`` (household registry 迁出日期).
    retention_days
        Days kept after leaving scope (configuration; 0 = purge on the day).

    Returns
    -------
    dict
        ``{token: "turned_18" | "moved_away"}``; a token in ``child_tokens`` but not in the vault is
        ignored.

    Raises
    ------
    ValueError
        Negative ``retention_days``.
    """
    if retention_days < 0:
        raise ValueError("retention_days must be ≥ 0")
    keep = timedelta(days=retention_days)
    out: dict[str, str] = {}
    moved_away = moved_away or {}
    for tok in dict.fromkeys(child_tokens):
        rec = vault_records.get(tok)
        if rec is None:
            continue
        r = validate_ric(rec.get("id_number"))
        if r.valid and _birthday(ric_birth_date(r.normalized), ADULT_AGE) + keep <= as_of:
            out[tok] = "turned_18"
            continue
        left = moved_away.get(tok)
        if left is not None and left + keep <= as_of:
            out[tok] = "moved_away"
    return out


def purge_vault(vault_path: str | os.PathLike, vault_key: bytes, audit_log_path: str | os.PathLike,
                as_of: date, *, child_tokens: Iterable[str], moved_away: Mapping[str, date] | None = None,
                retention_days: int = 0, actor: str = "retention") -> list[str]:
    """Delete the identities of children out of scope from the vault and log the purge.

    Returns
    -------
    list of str
        The purged tokens (sorted), for the serving stores (:func:`purge_rows`). Nothing is written
        when nothing is due (but the run is logged with count 0).
    """
    vault_path = Path(vault_path)
    doc = read_encrypted(vault_path, vault_key)
    records = doc["records"]
    due = due_for_purge(records, as_of, child_tokens=child_tokens, moved_away=moved_away,
                        retention_days=retention_days)
    if due:
        kept = {t: r for t, r in records.items() if t not in due}
        write_encrypted(vault_path, {**doc, "records": kept}, vault_key)
    reasons: dict[str, int] = {}
    for why in due.values():
        reasons[why] = reasons.get(why, 0) + 1
    append_audit_event(Path(audit_log_path), "retention_purge", actor=actor, as_of=as_of.isoformat(),
                       retention_days=retention_days, count=len(due), reasons=reasons,
                       tokens=sorted(due), law="PIPL art. 47")
    return sorted(due)


def purge_rows(paths: Iterable[str | os.PathLike], tokens: Iterable[str],
               columns: Iterable[str] | None = None) -> dict[str, int]:
    """Drop every row of a Parquet file whose token columns hold a purged token.

    Parameters
    ----------
    paths
        Parquet files or folders (searched recursively).
    tokens
        Purged tokens.
    columns
        Token columns to look at; default every string column whose name ends in ``_token``.

    Returns
    -------
    dict
        ``{path: rows removed}`` for files that changed (written atomically).
    """
    toks = pa.array(sorted(set(tokens)), type=pa.string())
    out: dict[str, int] = {}
    files: list[Path] = []
    for p in map(Path, paths):
        files.extend(sorted(p.rglob("*.parquet")) if p.is_dir() else [p])
    for f in files:
        table = pq.read_table(f)
        names = list(columns) if columns is not None else [n for n in table.column_names if n.endswith("_token")]
        names = [n for n in names if n in table.column_names]
        if not names or not len(toks):
            continue
        hit = None
        for n in names:
            col = table.column(n)
            if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
                continue
            m = pc.fill_null(pc.is_in(col, value_set=toks.cast(col.type)), False)
            hit = m if hit is None else pc.or_(hit, m)
        if hit is None:
            continue
        removed = int(pc.sum(hit).as_py() or 0)
        if removed:
            tmp = f.with_name(f".{f.name}.purging")
            pq.write_table(table.filter(pc.invert(hit)), tmp)
            os.replace(tmp, f)
            out[str(f)] = removed
    return out
