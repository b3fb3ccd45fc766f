"""Prepared sources: the pseudonymized tables read once, integer-keyed and compact, shared by every as-of date.

Why. Every as-of date joins the same source rows on person, household and student tokens. Tokens are
long strings (``P_k1_ee02db…``); hashing and comparing them dominated the joins, and reading every
Parquet file with all its text for each date repeated work that does not depend on the date. The
prepared folder does that work once per delivery of the pseudonymized data:

- ``tokens.parquet`` ``(id BIGINT, token VARCHAR)``: every distinct value of every ``*_token``
  column of :data:`features.sources.TABLE_COLUMNS` (persons, students, households) and its id, a
  63-bit hash of the token (:func:`token_id_sql`) checked to be distinct over the delivery (salted
  otherwise); ids carry no order (outputs are ordered by the decoded token);
- ``<table>.parquet`` for each table of :data:`~features.sources.TABLE_COLUMNS`: the columns
  ``features`` reads (same names and types as the ``src_<table>`` views of
  :func:`features.sources.open_sources`, visit records already unioned with the review-app outcomes and
  de-duplicated) with each ``*_token`` column replaced by its BIGINT id (NULL stays NULL). The
  high-volume tables (:data:`CLUSTERED_TABLES`) are kept clustered by ``knowledge_date`` (in delivery
  order when that is already so, as monthly exports are; sorted otherwise) so that the Parquet
  row-group statistics let a date's scan skip the months its windows do not reach;
- ``person.parquet`` ``(person_token, birth_month, sex)`` and ``first_known.parquet``
  ``(token, first_known)``: the date-free person tables of :func:`features.spine.create_person_tables`
  (birth month and sex; the earliest ``knowledge_date`` at which any department held a row on the
  person), on integer ids;
- ``<table>.parquet`` also holds one BOOLEAN column per ``contains_any`` predicate of the spec on that
  table (keywords in the visit notes, :func:`features.collate.keyword_column`), searched once here;
- ``manifest.json``: format version, the source files' sizes and modification times (so that
  :func:`open_prepared` refuses a folder prepared from other data), the feedback file used.

No value is changed, only re-encoded: features computed from a prepared folder equal those computed
from the pseudonymized folder (``tests/features/test_features_prepare.py``).

Cost (benchmarks/results/features_scale_*.json): seconds per million children, once per delivery;
in the Dagster graph the ``features`` asset prepares once per run, and one run covers the cycle's whole
range of monthly partitions (pipelines/partitions.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import tempfile
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import duckdb
import polars as pl

from features.collate import keyword_column, keyword_predicates
from features.sources import (
    KNOWN_PERSON_COLUMNS,
    TABLE_COLUMNS,
    _to_date,
    feedback_path,
    has_table,
    has_view,
    open_sources,
    sql_literal,
)
from features.spec import SPEC, FeatureSpec, Predicate

#: Bumped when the layout of the prepared folder changes (old folders are then refused).
PREPARED_VERSION = 2
MANIFEST = "manifest.json"
#: High-volume tables kept clustered by knowledge_date (row-group pruning for windowed aggregations).
CLUSTERED_TABLES = ("social_insurance", "attendance")
#: A table counts as clustered when the median row group spans at most this share of its knowledge dates.
CLUSTERED_SPAN = 0.25
#: Rows per Parquet row group of the prepared files (the unit a scan can skip).
ROW_GROUP_SIZE = 122_880
#: Token columns (replaced by BIGINT ids) of each table.
TOKEN_COLUMNS: Mapping[str, tuple[str, ...]] = {
    t: tuple(c for c in cols if c.endswith("_token")) for t, cols in TABLE_COLUMNS.items()
}
#: DuckDB settings of the connections this package opens (overridable per call).
DEFAULT_MEMORY_LIMIT = "4GB"


class PreparedMismatchError(ValueError):
    """The prepared folder was made from other pseudonymized files (or another layout version)."""


def connect(
    memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
    threads: int | None = None,
    temp_directory: str | Path | None = None,
) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB connection configured for ``features``.

    Parameters
    ----------
    memory_limit : str or None, default "4GB"
        DuckDB ``memory_limit`` (its buffer manager spills joins, aggregates and sorts beyond it);
        None keeps DuckDB's default (80 % of RAM).
    threads : int, optional
        DuckDB ``threads``; default: every core.
    temp_directory : str or Path, optional
        Where DuckDB spills; default a new folder in the system temporary directory, removed with
        the connection.

    Returns
    -------
    duckdb.DuckDBPyConnection
        With ``preserve_insertion_order = false`` (no result of this package depends on scan order:
        every output is ordered explicitly).
    """
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    if memory_limit is not None:
        con.execute(f"SET memory_limit = {sql_literal(str(memory_limit))}")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    if temp_directory is None:
        temp_directory = tempfile.mkdtemp(prefix="humiao_duckdb_")
        weakref.finalize(con, shutil.rmtree, temp_directory, True)
    con.execute(f"SET temp_directory = {sql_literal(str(temp_directory))}")
    return con


def _fingerprint(pseudo_dir: Path, feedback: Path | None) -> dict:
    files = {}
    for table in TABLE_COLUMNS:
        p = pseudo_dir / f"{table}.parquet"
        if p.exists():
            st = p.stat()
            files[table] = [st.st_size, st.st_mtime_ns]
    fb = None
    if feedback is not None and feedback.exists():
        st = feedback.stat()
        fb = [str(feedback), st.st_size, st.st_mtime_ns]
    return {"files": files, "feedback": fb}


def _copy(con: duckdb.DuckDBPyConnection, sql: str, path: Path) -> None:
    con.execute(f"COPY ({sql}) TO {sql_literal(str(path))} (FORMAT parquet, ROW_GROUP_SIZE {ROW_GROUP_SIZE})")


def prepare_sources(
    pseudo_dir: str | Path,
    out_dir: str | Path,
    *,
    feedback_dir: str | Path | None = None,
    memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
    threads: int | None = None,
    spec: FeatureSpec = SPEC,
    verbose: bool = False,
) -> Path:
    """Write the prepared folder (module docstring) of a pseudonymized folder.

    Parameters
    ----------
    pseudo_dir : str or Path
        Pseudonymized Parquet folder (interfaces §2).
    out_dir : str or Path
        Folder to (re)write. Written next to it first (``.<name>.writing-*``) and renamed into place
        when complete, so ``out_dir`` is always either the previous folder or the new one.
    feedback_dir : str or Path, optional
        Folder of the review app's ``visit_outcomes.parquet`` (default ``<pseudo_dir>/../feedback``),
        unioned into the visit records as in :func:`features.sources.open_sources`.
    memory_limit, threads
        DuckDB settings (:func:`connect`); peak memory stays near ``memory_limit`` (DuckDB spills into
        the folder being written).
    spec : FeatureSpec
        Its ``contains_any`` predicates (keywords in the visit notes) are evaluated once per row
        here and stored as BOOLEAN columns :func:`features.collate.keyword_column` (NULL where the
        text is NULL); a spec with other keywords still works on the folder (it searches the text).
    verbose : bool
        Print seconds per table.

    Returns
    -------
    Path
        ``out_dir``.

    Raises
    ------
    FileNotFoundError, features.sources.SourceSchemaError
        As :func:`features.sources.open_sources`.
    """
    pseudo_dir, final = Path(pseudo_dir), Path(out_dir)
    if not pseudo_dir.is_dir():
        raise FileNotFoundError(f"pseudonymized folder not found: {pseudo_dir}")
    # the fingerprint of the files as they are before reading them (a file rewritten meanwhile makes
    # the folder stale, never wrongly fresh)
    fingerprint = _fingerprint(pseudo_dir, feedback_path(pseudo_dir, feedback_dir))
    final.parent.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix=f".{final.name}.writing-", dir=final.parent))
    tmp = out / ".duckdb_tmp"
    con = connect(memory_limit, threads, tmp)
    try:
        open_sources(pseudo_dir, con, feedback_dir=feedback_dir)
        keywords = keyword_predicates(spec)
        t0, c0 = time.time(), time.process_time()
        # one pass over every token column: the dictionary and, for the person columns through which a
        # person becomes known to a department, the earliest knowledge_date (hm_first_known)
        known = set(KNOWN_PERSON_COLUMNS)
        parts = []
        for t, cols in TOKEN_COLUMNS.items():
            for c in cols:
                k, flag = ("MIN(knowledge_date)", "TRUE") if (t, c) in known else ("CAST(NULL AS DATE)", "FALSE")
                parts.append(f"SELECT {c} AS token, {k} AS k, {flag} AS known FROM src_{t} "
                             f"WHERE {c} IS NOT NULL GROUP BY {c}")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE pp_names AS SELECT token, MIN(k) AS first_known, BOOL_OR(known) AS known "
            f"FROM ({' UNION ALL '.join(parts)}) GROUP BY token"
        )
        salt = _choose_salt(con)
        _copy(con, "SELECT id, token FROM pp_tokens", out / "tokens.parquet")
        _copy(con, "SELECT id AS token, first_known FROM pp_tokens WHERE known", out / "first_known.parquet")
        if verbose:
            print(f"  tokens: {time.time() - t0:.1f}s cpu {time.process_time() - c0:.1f}s", flush=True)
        for table, columns in TABLE_COLUMNS.items():
            t0, c0 = time.time(), time.process_time()
            tokens = TOKEN_COLUMNS[table]
            select = [f"{token_id_sql(f's.{c}', salt)} AS {c}" if c in tokens else f"s.{c}" for c in columns]
            sql = f"SELECT {', '.join(select)} FROM src_{table} s"
            path = out / f"{table}.parquet"
            if table in keywords:
                _write_with_keywords(con, sql, keywords[table], path)
            elif table in CLUSTERED_TABLES:
                _write_clustered(con, sql, path)
            else:
                _copy(con, sql, path)
            if verbose:
                print(f"  {table}: {time.time() - t0:.1f}s cpu {time.process_time() - c0:.1f}s", flush=True)
        t0, c0 = time.time(), time.process_time()
        _write_person_tables(con, out)
        if verbose:
            print(f"  persons: {time.time() - t0:.1f}s cpu {time.process_time() - c0:.1f}s", flush=True)
        manifest = {"version": PREPARED_VERSION, "token_salt": salt, "pseudo_dir": str(pseudo_dir.resolve()),
                    **fingerprint}
        (out / MANIFEST).write_text(json.dumps(manifest, indent=1))
    except BaseException:
        con.close()
        shutil.rmtree(out, ignore_errors=True)
        raise
    con.close()
    shutil.rmtree(tmp, ignore_errors=True)
    _swap_into(out, final)
    return final


def _swap_into(new: Path, final: Path) -> None:
    """Replace the folder ``final`` by ``new`` (two renames; readers of the old files keep them open)."""
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
        old.rmdir()
        final.rename(old)
        new.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        new.rename(final)


def ensure_prepared(
    pseudo_dir: str | Path,
    out_dir: str | Path,
    *,
    feedback_dir: str | Path | None = None,
    **kwargs,
) -> Path:
    """``out_dir`` if it is the prepared folder of these files (:func:`check_prepared`), else prepare it now.

    Safe to call from several processes at once (an exclusive lock on ``<out_dir>.lock`` while checking
    and preparing): what a monthly-partitioned pipeline calls before each partition's
    :func:`features.build.build_features` (``prepared_dir=``). ``kwargs``: those of :func:`prepare_sources`.

    Returns
    -------
    Path
        ``out_dir``, complete and fresh.
    """
    import fcntl

    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f"{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            check_prepared(out, pseudo_dir, feedback_dir)
            return out
        except (FileNotFoundError, PreparedMismatchError):
            return prepare_sources(pseudo_dir, out, feedback_dir=feedback_dir, **kwargs)


def token_id_sql(column: str, salt: int = 0) -> str:
    """SQL of the integer id of a token: a 63-bit hash (BIGINT, NULL for NULL), salted when ``salt > 0``.

    :func:`prepare_sources` checks that no two distinct tokens of the delivery share an id (and picks
    the next salt if they do), so the ids are exact; an id costs no dictionary join, which is what
    made encoding tens of millions of social-insurance rows slow.
    """
    value = column if salt == 0 else f"{column} || {sql_literal(f'#{salt}')}"
    return f"CASE WHEN {column} IS NULL THEN NULL ELSE CAST(hash({value}) >> 1 AS BIGINT) END"


def _choose_salt(con: duckdb.DuckDBPyConnection, max_salt: int = 16) -> int:
    """Create ``pp_tokens(id, token, first_known, known)`` from ``pp_names`` with the first salt under
    which the ids of the distinct tokens are distinct; returns that salt."""
    for salt in range(max_salt + 1):
        con.execute(f"CREATE OR REPLACE TEMP TABLE pp_tokens AS SELECT {token_id_sql('token', salt)} AS id, * "
                    "FROM pp_names")
        if not _token_collisions(con):
            return salt
    raise RuntimeError(f"token ids collide under {max_salt + 1} salts")  # pragma: no cover - 1e-6 per salt


def _token_collisions(con: duckdb.DuckDBPyConnection) -> int:
    """Number of ids shared by more than one distinct token in ``pp_tokens``."""
    return con.execute("SELECT COUNT(*) - COUNT(DISTINCT id) FROM pp_tokens").fetchall()[0][0]


def _write_clustered(con: duckdb.DuckDBPyConnection, sql: str, path: Path) -> None:
    """Write ``sql`` in source order; if its row groups are not clustered by knowledge_date (the median
    group spans more than :data:`CLUSTERED_SPAN` of the dates), rewrite it sorted. Only the speed of
    windowed scans depends on this, never a value."""
    con.execute("SET preserve_insertion_order = true")
    try:
        _copy(con, sql, path)
    finally:
        con.execute("SET preserve_insertion_order = false")
    groups, median_span, span = con.execute(
        "SELECT COUNT(*), median(date_diff('day', CAST(stats_min AS DATE), CAST(stats_max AS DATE))), "
        "date_diff('day', MIN(CAST(stats_min AS DATE)), MAX(CAST(stats_max AS DATE))) "
        f"FROM parquet_metadata({sql_literal(str(path))}) WHERE path_in_schema = 'knowledge_date'"
    ).fetchall()[0]
    if groups > 1 and span and median_span > CLUSTERED_SPAN * span:
        unsorted = path.with_suffix(".unsorted.parquet")
        path.rename(unsorted)
        _copy(con, f"SELECT * FROM read_parquet({sql_literal(str(unsorted))}) ORDER BY knowledge_date", path)
        unsorted.unlink()


def _write_with_keywords(con: duckdb.DuckDBPyConnection, sql: str, predicates: list[Predicate], path: Path) -> None:
    """Write ``sql`` with one BOOLEAN column per ``contains_any`` predicate (Polars: a literal substring
    search, byte for byte DuckDB's ``contains``; NULL text → NULL, as ``contains(NULL, w) OR …``)."""
    df = con.sql(sql).pl()
    df = df.with_columns(
        pl.any_horizontal([pl.col(p.column).str.contains(str(w), literal=True) for w in p.value]).alias(
            keyword_column(p)
        )
        for p in predicates
    )
    df.write_parquet(path, row_group_size=ROW_GROUP_SIZE)


def _write_person_tables(con: duckdb.DuckDBPyConnection, out: Path) -> None:
    """``person.parquet`` from the encoded tables and ``pp_tokens`` (rules of
    :func:`features.spine.create_person_tables`)."""

    def src(t: str) -> str:
        return f"read_parquet({sql_literal(str(out / f'{t}.parquet'))})"

    _copy(
        con,
        f"""
        WITH hh AS (
            SELECT person_token,
                   arg_max(birth_date, {{'k': knowledge_date, 'r': source_row}})
                       FILTER (WHERE birth_date IS NOT NULL) AS birth_month,
                   arg_max(sex, {{'k': knowledge_date, 'r': source_row}})
                       FILTER (WHERE sex IS NOT NULL) AS sex
            FROM {src('household_registry')} GROUP BY person_token
        ), ida AS (
            SELECT person_token, ANY_VALUE(birth_month) AS birth_month, ANY_VALUE(sex) AS sex
            FROM {src('id_attributes')} GROUP BY person_token
        ), tokens AS (
            SELECT person_token FROM ida
            UNION SELECT person_token FROM hh
        ), person AS (
            SELECT t.person_token,
                   CAST(date_trunc('month', COALESCE(ida.birth_month, hh.birth_month)) AS DATE) AS birth_month,
                   COALESCE(ida.sex, hh.sex) AS sex
            FROM tokens t
            LEFT JOIN ida USING (person_token)
            LEFT JOIN hh USING (person_token)
        )
        SELECT * FROM person
        UNION ALL
        SELECT id, NULL, NULL FROM pp_tokens WHERE known AND id NOT IN (SELECT person_token FROM person)
        """,
        out / "person.parquet",
    )


def check_prepared(prepared_dir: str | Path, pseudo_dir: str | Path | None = None,
                   feedback_dir: str | Path | None = None) -> dict:
    """Read the manifest of a prepared folder; with ``pseudo_dir``, check it was made from those files.

    Returns
    -------
    dict
        The manifest.

    Raises
    ------
    FileNotFoundError
        No ``manifest.json`` (absent or incomplete folder).
    PreparedMismatchError
        Another layout version, or (with ``pseudo_dir``) source files whose size or modification
        time differ from those it was prepared from.
    """
    path = Path(prepared_dir) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"not a (complete) prepared folder: {prepared_dir} has no {MANIFEST}")
    manifest = json.loads(path.read_text())
    if manifest.get("version") != PREPARED_VERSION:
        raise PreparedMismatchError(f"{prepared_dir}: version {manifest.get('version')}, expected {PREPARED_VERSION}")
    if pseudo_dir is not None:
        now = _fingerprint(Path(pseudo_dir), feedback_path(Path(pseudo_dir), feedback_dir))
        if now != {"files": manifest["files"], "feedback": manifest["feedback"]}:
            raise PreparedMismatchError(
                f"{prepared_dir} was prepared from other files than {pseudo_dir} (or another feedback file); "
                "run features.prepare.prepare_sources again"
            )
    return manifest


def open_prepared(prepared_dir: str | Path, con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Register the prepared folder in ``con``: views ``src_<table>`` (BIGINT token ids), ``pp_tokens``,
    ``pp_person`` and ``pp_first_known``.

    The ``src_*`` views have the columns of :func:`features.sources.open_sources` with BIGINT token
    columns, so every query of :mod:`features.spine`, :mod:`features.cohorts` and
    :mod:`features.collate` runs on them unchanged; :func:`features.spine.create_person_tables`
    reads ``pp_person`` / ``pp_first_known`` instead of recomputing them.

    Raises
    ------
    FileNotFoundError, PreparedMismatchError
        As :func:`check_prepared` (without the source check; :func:`features.build.build_features`
        does that).
    """
    prepared_dir = Path(prepared_dir)
    check_prepared(prepared_dir)

    def view(name: str, file: str) -> None:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {name} AS "
            f"SELECT * FROM read_parquet({sql_literal(str(prepared_dir / file))})"
        )

    for table in TABLE_COLUMNS:
        view(f"src_{table}", f"{table}.parquet")
    view("pp_tokens", "tokens.parquet")
    view("pp_person", "person.parquet")
    view("pp_first_known", "first_known.parquet")
    return con


#: Target child × as-of-date rows per chunk when ``chunk_dates`` is not given (memory of a chunk
#: grows with its rows: about 2.5 GB per million at 2,000,000 children, see benchmarks/results).
CHUNK_CHILD_ROWS = 500_000


def auto_chunk_dates(con: duckdb.DuckDBPyConnection, dates: list[dt.date], rows: int = CHUNK_CHILD_ROWS) -> int:
    """As-of dates per chunk so that a chunk has about ``rows`` child rows (at least one date).

    Children per date are estimated by the people whose birth month falls in the 18 years before the
    latest date (``hm_person`` or the prepared ``pp_person``; an upper bound of the cohort).
    """
    table = "pp_person" if has_view(con, "pp_person") else "hm_person"
    if not (has_view(con, table) or has_table(con, table)):
        return 1
    n = con.execute(
        f"SELECT COUNT(*) FROM {table} WHERE birth_month <= {_date_sql(dates[-1])} "
        f"AND birth_month > CAST({_date_sql(dates[0])} - INTERVAL 18 YEAR AS DATE)"
    ).fetchall()[0][0]
    return max(1, int(rows) // max(int(n), 1))


def _date_sql(d: dt.date) -> str:
    return f"DATE {sql_literal(d.isoformat())}"


def as_of_list(as_of_dates: Iterable[dt.date]) -> list[dt.date]:
    """Sorted distinct as-of dates (``datetime.date``); raises ValueError when empty."""
    dates = sorted({_to_date(d) for d in as_of_dates})
    if not dates:
        raise ValueError("as_of_dates is empty")
    return dates


@contextlib.contextmanager
def prepared_sources(
    pseudo_dir: str | Path,
    prepared_dir: str | Path | None = None,
    *,
    feedback_dir: str | Path | None = None,
    memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
    threads: int | None = None,
    spec: FeatureSpec = SPEC,
) -> Iterator[Path]:
    """The prepared folder to read: ``prepared_dir`` (checked against ``pseudo_dir``) or, when None, a
    temporary one made now by :func:`features.prepare.prepare_sources` and removed on exit.

    Raises
    ------
    FileNotFoundError, features.prepare.PreparedMismatchError
        ``prepared_dir`` is incomplete or was made from other files (:func:`features.prepare.check_prepared`).
    """
    if prepared_dir is not None:
        check_prepared(prepared_dir, pseudo_dir, feedback_dir)
        yield Path(prepared_dir)
        return
    with tempfile.TemporaryDirectory(prefix="humiao_prepared_") as tmp:
        yield prepare_sources(pseudo_dir, tmp, feedback_dir=feedback_dir, memory_limit=memory_limit,
                              threads=threads, spec=spec)



__all__ = ["CHUNK_CHILD_ROWS", "PreparedMismatchError", "as_of_list", "auto_chunk_dates", "check_prepared", "connect",
           "ensure_prepared", "has_table", "has_view", "open_prepared", "prepare_sources", "prepared_sources"]
