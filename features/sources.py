"""The pseudonymized tables that ``features`` reads, and how they are opened in DuckDB.

Every function of this package takes the pseudonymized directory (interfaces §2:
``<work_dir>/pseudonymized/<table>.parquet``) and works on DuckDB views named ``src_<table>``.
A table whose file is absent is replaced by an empty table of the same columns, so a department
that has not delivered yet makes its features zero/NaN instead of failing the run; a file that is
present but lacks a column this package needs fails loudly at the door (:class:`SourceSchemaError`).

Only the columns used here are listed; extra columns are ignored.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path

import duckdb

#: Columns read from each pseudonymized table (English names of ``contracts/*.yaml`` plus the
#: token columns and ``knowledge_date`` of interfaces §2) and the DuckDB type each is read as.
TABLE_COLUMNS: Mapping[str, Mapping[str, str]] = {
    "child_registry": {
        "record_id": "VARCHAR",
        "child_token": "VARCHAR",
        "category": "VARCHAR",
        "guardian_token": "VARCHAR",
        "guardian_relation": "VARCHAR",
        "district": "VARCHAR",
        "township": "VARCHAR",
        "community": "VARCHAR",
        "registered_date": "DATE",
        "closed_date": "DATE",
        "knowledge_date": "DATE",
        "source_row": "BIGINT",
    },
    "subsistence_allowance": {
        "head_token": "VARCHAR",
        "household_size": "BIGINT",
        "allowance_type": "VARCHAR",
        "monthly_amount": "DOUBLE",
        "start_date": "DATE",
        "end_date": "DATE",
        "knowledge_date": "DATE",
        "source_row": "BIGINT",
    },
    "visit_records": {
        "visit_id": "VARCHAR",
        "visit_date": "DATE",
        "child_token": "VARCHAR",
        "visit_mode": "VARCHAR",
        "guardianship_assessment": "VARCHAR",
        "notes": "VARCHAR",
        "filed_date": "DATE",
        "knowledge_date": "DATE",
        "source_row": "BIGINT",
    },
    "household_registry": {
        "person_token": "VARCHAR",
        "sex": "VARCHAR",
        "birth_date": "DATE",
        "household_token": "VARCHAR",
        "relation_to_head": "VARCHAR",
        "hukou_type": "VARCHAR",
        "district": "VARCHAR",
        "township": "VARCHAR",
        "community": "VARCHAR",
        "registered_date": "DATE",
        "moved_out_date": "DATE",
        "deregistered_date": "DATE",
        "deregistration_reason": "VARCHAR",
        "knowledge_date": "DATE",
        "source_row": "BIGINT",
    },
    "incidents": {
        "incident_id": "VARCHAR",
        "reported_at": "TIMESTAMP",
        "category": "VARCHAR",
        "person_token": "VARCHAR",
        "role": "VARCHAR",
        "knowledge_date": "DATE",
        "source_row": "BIGINT",
    },
    "residence_permits": {
        "person_token": "VARCHAR",
        "district": "VARCHAR",
        "township": "VARCHAR",
        "community": "VARCHAR",
        "hukou_origin": "VARCHAR",
        "registered_date": "DATE",
        "cancelled_date": "DATE",
        "knowledge_date": "DATE",
        "source_row": "BIGINT",
    },
    "student_enrollment": {
        "student_token": "VARCHAR",
        "child_token": "VARCHAR",
        "school": "VARCHAR",
        "grade": "VARCHAR",
        "boarding": "BOOLEAN",
        "status": "VARCHAR",
        "status_date": "DATE",
        "enrolled_date": "DATE",
        "knowledge_date": "DATE",
        "source_row": "BIGINT",
    },
    "attendance": {
        "student_token": "VARCHAR",
        "month": "DATE",
        "days_absent": "BIGINT",
        "school_days": "BIGINT",
        "knowledge_date": "DATE",
        "source_row": "BIGINT",
    },
    "child_health_checks": {
        "child_token": "VARCHAR",
        "check_date": "DATE",
        "on_schedule": "BOOLEAN",
        "knowledge_date": "DATE",
        "source_row": "BIGINT",
    },
    "injury_visits": {
        "child_token": "VARCHAR",
        "visit_date": "DATE",
        "injury_type": "VARCHAR",
        "knowledge_date": "DATE",
        "source_row": "BIGINT",
    },
    "inpatient_admissions": {
        "person_token": "VARCHAR",
        "admission_date": "DATE",
        "discharge_date": "DATE",
        "ward": "VARCHAR",
        "knowledge_date": "DATE",
        "source_row": "BIGINT",
    },
    "disability_certificates": {
        "person_token": "VARCHAR",
        "category": "VARCHAR",
        "grade": "VARCHAR",
        "issued_date": "DATE",
        "knowledge_date": "DATE",
        "source_row": "BIGINT",
    },
    "social_insurance": {
        "person_token": "VARCHAR",
        "insured_city": "VARCHAR",
        "month": "DATE",
        "knowledge_date": "DATE",
        "source_row": "BIGINT",
    },
    "detention_records": {
        "person_token": "VARCHAR",
        "start_date": "DATE",
        "expected_release_date": "DATE",
        "released_date": "DATE",
        "knowledge_date": "DATE",
        "source_row": "BIGINT",
    },
    "id_attributes": {
        "person_token": "VARCHAR",
        "birth_month": "DATE",
        "sex": "VARCHAR",
    },
}

#: Which department each table comes from (for the feature dictionary).
TABLE_DEPARTMENT: Mapping[str, str] = {
    "child_registry": "民政",
    "subsistence_allowance": "民政",
    "visit_records": "民政",
    "household_registry": "公安",
    "incidents": "公安",
    "residence_permits": "公安",
    "student_enrollment": "教育",
    "attendance": "教育",
    "child_health_checks": "卫健",
    "injury_visits": "卫健",
    "inpatient_admissions": "卫健",
    "disability_certificates": "残联",
    "social_insurance": "人社",
    "detention_records": "司法",
    "id_attributes": "公安",
}

#: (table, token column) pairs through which a person becomes "known to a department".
KNOWN_PERSON_COLUMNS: tuple[tuple[str, str], ...] = (
    ("child_registry", "child_token"),
    ("visit_records", "child_token"),
    ("student_enrollment", "child_token"),
    ("child_health_checks", "child_token"),
    ("injury_visits", "child_token"),
    ("household_registry", "person_token"),
    ("residence_permits", "person_token"),
    ("incidents", "person_token"),
    ("disability_certificates", "person_token"),
    ("inpatient_admissions", "person_token"),
    ("social_insurance", "person_token"),
    ("detention_records", "person_token"),
)

_counter = itertools.count()


class SourceSchemaError(ValueError):
    """A pseudonymized Parquet file lacks a column that ``features`` needs."""


def sql_literal(value: object) -> str:
    """Render a Python scalar as a SQL literal (strings quoted, quotes doubled)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


#: File written by serving with the visit outcomes recorded in the review app (DESIGN §11.12).
FEEDBACK_FILE = "visit_outcomes.parquet"


def feedback_path(pseudo_dir: str | Path, feedback_dir: str | Path | None = None) -> Path:
    """Where the review-app visit outcomes are: ``<feedback_dir>/visit_outcomes.parquet``, by default
    ``<pseudo_dir>/../feedback/visit_outcomes.parquet`` (i.e. ``<work_dir>/feedback/``)."""
    folder = Path(feedback_dir) if feedback_dir is not None else Path(pseudo_dir).parent / "feedback"
    return folder / FEEDBACK_FILE


def _select_columns(con: duckdb.DuckDBPyConnection, path: Path, columns: Mapping[str, str]) -> str:
    present = {
        row[0]
        for row in con.execute("SELECT name FROM parquet_schema(?) WHERE name <> 'schema'", [str(path)]).fetchall()
    }
    missing = [c for c in columns if c not in present and c != "source_row"]
    if missing:
        raise SourceSchemaError(f"{path.name}: missing column(s) {missing} needed by features/")
    select = ", ".join(
        f"CAST({c} AS {t}) AS {c}" if c in present else f"CAST(NULL AS {t}) AS {c}" for c, t in columns.items()
    )
    return f"SELECT {select} FROM read_parquet({sql_literal(str(path))})"


def drop_relation(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop the temporary table or view ``name`` if it exists (whichever it is)."""
    for kind, catalog in (("VIEW", "duckdb_views()"), ("TABLE", "duckdb_tables()")):
        col = "view_name" if kind == "VIEW" else "table_name"
        found = con.execute(f"SELECT COUNT(*) FROM {catalog} WHERE {col} = ? AND temporary", [name]).fetchall()[0][0]
        if found:
            con.execute(f"DROP {kind} {name}")


def has_view(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the temporary view ``name`` exists in ``con``."""
    return bool(con.execute(
        "SELECT COUNT(*) FROM duckdb_views() WHERE view_name = ? AND temporary", [name]).fetchall()[0][0])


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the temporary table ``name`` exists in ``con``."""
    return bool(con.execute(
        "SELECT COUNT(*) FROM duckdb_tables() WHERE table_name = ? AND temporary", [name]).fetchall()[0][0])


#: Relations registered by :func:`features.prepare.open_prepared` (dropped when plain sources are opened).
PREPARED_RELATIONS = ("pp_tokens", "pp_person", "pp_first_known")


def visit_records_sql(
    con: duckdb.DuckDBPyConnection, bureau: Path | None, feedback: Path | None
) -> str:
    """The ``src_visit_records`` query: the bureau's export ∪ the review-app outcomes, one row per visit_id.

    DESIGN §6 / §11.12: one source of labels, not two. When a ``visit_id`` occurs more than once
    (re-exported, or re-written by the app) the copy known first is kept (earliest
    ``knowledge_date``; ties: the bureau's export, then the lowest ``source_row``), so the visit is
    usable from the first date the bureau knew it and is counted once. Rows without a visit_id are
    kept as they are.
    """
    cols = TABLE_COLUMNS["visit_records"]
    parts = []
    if bureau is not None:
        parts.append(f"SELECT *, 0 AS _feedback FROM ({_select_columns(con, bureau, cols)})")
    if feedback is not None:
        parts.append(f"SELECT *, 1 AS _feedback FROM ({_select_columns(con, feedback, cols)})")
    union = " UNION ALL ".join(parts)
    return (
        f"SELECT * EXCLUDE (_feedback) FROM ({union}) "
        "QUALIFY visit_id IS NULL OR row_number() OVER (PARTITION BY visit_id "
        "ORDER BY knowledge_date NULLS LAST, _feedback, source_row) = 1"
    )


def open_sources(
    pseudo_dir: str | Path,
    con: duckdb.DuckDBPyConnection | None = None,
    *,
    feedback_dir: str | Path | None = None,
) -> duckdb.DuckDBPyConnection:
    """Register every pseudonymized table as a temporary view ``src_<table>``.

    ``src_visit_records`` is the union of the bureau's visit records and the review-app outcomes
    (:func:`feedback_path`, when the file exists), de-duplicated by ``visit_id``
    (:func:`visit_records_sql`).

    Parameters
    ----------
    pseudo_dir : str or Path
        Folder holding ``<table>.parquet`` files (interfaces §2).
    con : duckdb.DuckDBPyConnection, optional
        Connection to use; a new in-memory one is created when omitted.
    feedback_dir : str or Path, optional
        Folder of ``visit_outcomes.parquet`` written by serving; default ``<pseudo_dir>/../feedback``.

    Returns
    -------
    duckdb.DuckDBPyConnection
        The connection with views ``src_<table>`` for every table of :data:`TABLE_COLUMNS`.

    Raises
    ------
    FileNotFoundError
        ``pseudo_dir`` is not a folder.
    SourceSchemaError
        A present file lacks a needed column.
    """
    pseudo_dir = Path(pseudo_dir)
    if not pseudo_dir.is_dir():
        raise FileNotFoundError(f"pseudonymized folder not found: {pseudo_dir}")
    if con is None:
        con = duckdb.connect()
        con.execute("SET preserve_insertion_order = false")
    for name in PREPARED_RELATIONS:
        drop_relation(con, name)
    for table, columns in TABLE_COLUMNS.items():
        path = pseudo_dir / f"{table}.parquet"
        if table == "visit_records":
            fb = feedback_path(pseudo_dir, feedback_dir)
            bureau = path if path.exists() else None
            extra = fb if fb.exists() else None
            if bureau is not None or extra is not None:
                con.execute(f"CREATE OR REPLACE TEMP VIEW src_{table} AS {visit_records_sql(con, bureau, extra)}")
                continue
        if path.exists():
            con.execute(f"CREATE OR REPLACE TEMP VIEW src_{table} AS {_select_columns(con, path, columns)}")
        else:
            select = ", ".join(f"CAST(NULL AS {t}) AS {c}" for c, t in columns.items())
            con.execute(f"CREATE OR REPLACE TEMP VIEW src_{table} AS SELECT {select} WHERE FALSE")
    return con


def register_as_of_dates(con: duckdb.DuckDBPyConnection, as_of_dates) -> None:
    """Create the temporary table ``hm_as_of(as_of_date DATE)`` with the distinct as-of dates."""
    import datetime as _dt

    dates = sorted({_to_date(d) for d in as_of_dates})
    if not dates:
        raise ValueError("as_of_dates is empty")
    for d in dates:
        if not isinstance(d, _dt.date):
            raise TypeError(f"as_of_date must be a date, got {d!r}")
    values = ", ".join(f"(DATE {sql_literal(d.isoformat())})" for d in dates)
    con.execute(f"CREATE OR REPLACE TEMP TABLE hm_as_of AS SELECT * FROM (VALUES {values}) t(as_of_date)")


def _to_date(value):
    import datetime as _dt

    import pandas as pd

    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, str):
        return _dt.date.fromisoformat(value)
    raise TypeError(f"as_of_date must be a date, got {value!r}")


def fetch_df(con: duckdb.DuckDBPyConnection, sql: str, date_columns: tuple[str, ...] = ()):
    """Run ``sql`` and return a pandas DataFrame whose ``date_columns`` hold ``datetime.date`` or None."""
    df = con.sql(sql).df()
    for c in date_columns:
        if c in df.columns:
            d = df[c].dt.date if str(df[c].dtype).startswith("datetime64") else df[c]
            df[c] = d.astype(object).where(d.notna(), None)
    return df
