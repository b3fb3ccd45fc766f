"""Key rotation and retention purges over the pipeline's stores (what `humiao rotate-key` and
`humiao purge` run). The work is in :mod:`privacy.rotation` and :mod:`privacy.retention`; this module
only knows where each store lives.

Stores that hold pseudonymous tokens:

===========================  ===============================  =========================================
store                        where                            on rotation / purge
===========================  ===============================  =========================================
vault (token → identity)     ``<work_dir>/vault.bin``         re-keyed / identities deleted
review-app database          ``<work_dir>/app/app.db``        re-tokenized / rows deleted
feedback exports             ``<work_dir>/feedback/``         re-tokenized / rows deleted
issued lists (Parquet)       ``<out_dir>/visit_lists/``       re-tokenized / rows deleted
pseudonymized tables,        ``<work_dir>/pseudonymized/``,   removed: the next run rebuilds them from
stage outputs                ``<work_dir>/assets/``           the raw exports under the new key / rows
                                                              of purged children deleted
audit log                    ``<work_dir>/app/audit.log``     never rewritten (append-only, hash chain)
===========================  ===============================  =========================================

Excel workbooks already handed to directors are issued documents: they keep the tokens they were
printed with (rotate at a cycle boundary, after the cycle's visits are recorded).
"""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import pandas as pd

from humiao.config import Config


class MaintenanceError(RuntimeError):
    """A rotation or purge that cannot run as asked (nothing has been changed)."""


def _app_sqlite(cfg: Config) -> Path | None:
    """The review app's SQLite file, None when there is none; PostgreSQL is refused (see below)."""
    from humiao.stages import app_database_url

    url = app_database_url(cfg)
    if url is None:
        return None
    if not url.startswith("sqlite:///"):
        raise MaintenanceError("the review app's database is not SQLite (HUMIAO_APP_DATABASE_URL): rotation and "
                               "purge rewrite SQLite only; export the database to SQLite, run again, import it")
    return Path(url.removeprefix("sqlite:///"))


def _audit_log(cfg: Config) -> Path:
    return cfg.path("work_dir") / "app" / "audit.log"


def rotate_pseudonym_key(cfg: Config, new_key_file: Path, new_version: int | None = None) -> dict:
    """Rotate the pseudonym key: re-tokenize every store that cannot be rebuilt, remove those that can.

    Parameters
    ----------
    cfg
        The configuration (the current key comes from it, as for any run).
    new_key_file
        File holding the new key (hex or base64, ≥ 32 bytes). In production it must lie outside the
        repository and not be readable by others (privacy.keys rules).
    new_version
        The new key's version (default: the current one + 1); must be greater than the current one.

    Returns
    -------
    dict
        ``privacy.rotation.RotationReport.to_dict()`` plus ``removed`` (rebuilt stores), ``old_version``,
        ``new_version`` and ``next_step`` (what the operator does now). Never contains a key.

    Raises
    ------
    MaintenanceError
        No vault yet (nothing to rotate), a version that does not increase, the same key again, a
        PostgreSQL review database.
    privacy.keys.KeyConfigurationError
        A new key file that breaks the key rules.
    privacy.rotation.RotationError
        See :func:`privacy.rotation.rotate` (nothing changed).
    """
    from humiao.stages import pseudonymizer_from_config, vault_key_from_config
    from privacy.keys import (
        DEMO_VERSION_FILE,
        PRODUCTION,
        PSEUDONYM_KEY_ENV,
        PSEUDONYM_KEY_FILE_ENV,
        PSEUDONYM_KEY_VERSION_ENV,
        load_pseudonym_key,
    )
    from privacy.rotation import rotate
    from privacy.tokens import Pseudonymizer

    work = cfg.path("work_dir")
    vault = work / "vault.bin"
    if not vault.exists():
        raise MaintenanceError(f"no vault at {vault}: nothing has been pseudonymized under the current key yet")
    old = pseudonymizer_from_config(cfg)
    version = old.key_version + 1 if new_version is None else int(new_version)
    if version <= old.key_version:
        raise MaintenanceError(f"the new key version must be greater than the current one ({old.key_version})")
    environ = {k: v for k, v in os.environ.items() if k != PSEUDONYM_KEY_ENV}
    environ.update({PSEUDONYM_KEY_FILE_ENV: str(new_key_file), PSEUDONYM_KEY_VERSION_ENV: str(version)})
    key, version, _ = load_pseudonym_key(cfg.env, cfg.root, cfg.path("secrets_dir"), environ=environ)
    new = Pseudonymizer(key, version)
    probe = ("P", "humiao-key-fingerprint")
    if Pseudonymizer(key, old.key_version).token(*probe) == old.token(*probe):
        raise MaintenanceError("the new key equals the current key")

    stores = [p for p in (_app_sqlite(cfg), work / "feedback", cfg.path("out_dir") / "visit_lists")
              if p is not None and p.exists()]
    audit = _audit_log(cfg)
    report = rotate(vault_path=vault, vault_key=vault_key_from_config(cfg), old=old, new=new, stores=stores,
                    audit_log_path=audit if audit.exists() else None, strict=True).to_dict()
    removed = []
    for derived in (cfg.pseudonymized_dir, work / "assets"):
        if derived.exists():
            shutil.rmtree(derived)
            removed.append(str(derived))
    (work / "ingest_report.json").unlink(missing_ok=True)  # its fingerprint names the old key
    (work / "note_cache.parquet").unlink(missing_ok=True)  # keyed with the old key: rebuilt by the next ingest
    if cfg.env != PRODUCTION and not os.environ.get(PSEUDONYM_KEY_ENV) and not os.environ.get(PSEUDONYM_KEY_FILE_ENV):
        secrets_dir = cfg.path("secrets_dir")
        demo = secrets_dir / "pseudonym.key"
        tmp = demo.with_name(".pseudonym.key.new")
        tmp.write_text(Path(new_key_file).read_text(encoding="ascii").strip() + "\n", encoding="ascii")
        os.chmod(tmp, 0o600)
        tmp.replace(demo)
        (secrets_dir / DEMO_VERSION_FILE).write_text(f"{version}\n", encoding="ascii")
        next_step = f"demo key replaced in {demo} (version {version}); run `humiao run` to rebuild the removed stores"
    else:
        next_step = (f"set {PSEUDONYM_KEY_FILE_ENV}={new_key_file} and {PSEUDONYM_KEY_VERSION_ENV}={version} "
                     "for every humiao process, run `humiao run` to rebuild the removed stores, then destroy "
                     "the old key")
    return {**report, "removed": removed, "old_version": old.key_version, "new_version": version,
            "next_step": next_step}


def purge_out_of_scope(cfg: Config, as_of: date, retention_days: int | None = None) -> dict:
    """Purge children out of scope (18 years old, or moved out of the city) once their retention has
    passed: identities from the vault, their rows from the review database, feedback exports, issued
    list Parquet and stage outputs; the purge is appended to the audit log (PIPL art. 47).

    Parameters
    ----------
    as_of
        The date of the purge (never the wall clock implicitly: the CLI defaults it to today explicitly).
    retention_days
        Days kept after leaving scope (default ``privacy.retention_days`` in the configuration).

    Returns
    -------
    dict
        ``{"as_of", "retention_days", "purged": n, "rows_removed": {path: n}}`` (no tokens, no identities).

    Raises
    ------
    MaintenanceError
        No vault or no pseudonymized registry to decide who is a child.
    """
    from humiao.stages import vault_key_from_config
    from privacy.retention import purge_rows, purge_vault

    work = cfg.path("work_dir")
    vault = work / "vault.bin"
    registry = cfg.pseudonymized_dir / "child_registry.parquet"
    if not vault.exists() or not registry.exists():
        raise MaintenanceError("purge needs the vault and the pseudonymized child registry: run `humiao run` first")
    days = cfg.privacy.retention_days if retention_days is None else int(retention_days)
    children = pd.read_parquet(registry, columns=["child_token"])["child_token"].dropna().unique().tolist()
    moved = _moved_away(cfg)
    audit = _audit_log(cfg)
    audit.parent.mkdir(parents=True, exist_ok=True)
    tokens = purge_vault(vault, vault_key_from_config(cfg), audit, as_of, child_tokens=children,
                         moved_away=moved, retention_days=days, actor="humiao purge")
    rows: dict[str, int] = {}
    if tokens:
        parquet_stores = [p for p in (work / "feedback", cfg.path("out_dir") / "visit_lists", work / "assets",
                                      cfg.pseudonymized_dir) if p.exists()]
        rows.update(purge_rows(parquet_stores, tokens))
        db = _app_sqlite(cfg)
        if db is not None and db.exists():
            rows.update(_purge_sqlite(db, tokens))
    return {"as_of": as_of.isoformat(), "retention_days": days, "purged": len(tokens), "rows_removed": rows}


def _moved_away(cfg: Config) -> dict[str, date]:
    """``{person token: date moved out of the city}`` from the pseudonymized household registry (迁出日期)."""
    path = cfg.pseudonymized_dir / "household_registry.parquet"
    if not path.exists():
        return {}
    frame = pd.read_parquet(path, columns=["person_token", "moved_out_date"]).dropna()
    out = pd.to_datetime(frame["moved_out_date"], errors="coerce").dt.date
    return {t: d for t, d in zip(frame["person_token"], out, strict=True) if pd.notna(d)}


def _purge_sqlite(db: Path, tokens: list[str]) -> dict[str, int]:
    """Delete every row whose ``child_token`` is purged from every table of the review database."""
    import sqlite3

    removed = {}
    con = sqlite3.connect(db)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for t in tables:
            cols = [r[1] for r in con.execute(f'PRAGMA table_info("{t}")')]
            if "child_token" not in cols:
                continue
            n = 0
            for i in range(0, len(tokens), 500):
                chunk = tokens[i:i + 500]
                cur = con.execute(f'DELETE FROM "{t}" WHERE child_token IN ({",".join("?" * len(chunk))})', chunk)
                n += cur.rowcount
            if n:
                removed[f"{db}:{t}"] = n
        con.commit()
    finally:
        con.close()
    return removed
