"""Check logic behind the asset checks (pipelines/checks.py wires them; no dagster here).

Each function returns a :class:`CheckOutcome`: ``passed`` and metadata that never carries a raw value
(findings are masked by the scanner)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

#: Rows of a Parquet file scanned at a time by :func:`parquet_has_no_raw_personal_information`.
SCAN_BATCH_ROWS = 1_000_000


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    metadata: dict = field(default_factory=dict)


def no_raw_personal_information(scanner, obj: pd.DataFrame | Path, location: str,
                                free_text_columns: Iterable[str] = (), *,
                                clean: dict[str, set[str]] | None = None) -> CheckOutcome:
    """Scan a DataFrame (every cell) or a file tree with the leak scanner (DESIGN.md §5).

    Parameters
    ----------
    scanner : privacy.scanner.LeakScanner
    obj : DataFrame or Path
    location : str
        Named in the findings.
    free_text_columns : iterable of str
        Columns holding (anonymized) notes: 2-character known names are searched there too (§11.1).
    clean : dict, optional
        For a DataFrame: the memo of values already scanned clean that the scans of one table's
        pieces share (:meth:`privacy.scanner.LeakScanner.scan_dataframe`); the same findings.

    Returns
    -------
    CheckOutcome
        ``passed`` when there is no finding; metadata ``findings`` (count) and up to 20 masked examples.
    """
    if isinstance(obj, pd.DataFrame):
        findings = scanner.scan_dataframe(obj, location, free_text_columns=list(free_text_columns), clean=clean)
        scanned = {"rows": len(obj), "columns": len(obj.columns)}
    else:
        findings = scanner.scan_path(obj) if Path(obj).exists() else []
        scanned = {"path": str(obj)}
    examples = [_example(f) for f in findings[:20]]
    return CheckOutcome(not findings, {**scanned, "findings": len(findings), "examples": examples})


def _example(f, row_offset: int = 0) -> str:
    """One finding as a check's example (masked value only); ``row_offset`` counts rows of earlier batches."""
    row = None if f.row is None else f.row + row_offset
    return f"{f.location} {f.column or ''} row {row} {f.entity_type} {f.masked}"


def parquet_has_no_raw_personal_information(
    scanner, path: Path, location: str, free_text_columns: Iterable[str] = (), batch_rows: int = SCAN_BATCH_ROWS
) -> CheckOutcome:
    """:func:`no_raw_personal_information` of a Parquet file, read ``batch_rows`` rows at a time.

    A 2,000,000-child city's pseudonymized social-insurance table has 55 M rows: read whole as a
    DataFrame it needed more memory than the machine had left (issue 8). Each batch is scanned as a
    DataFrame; the findings are added up and the examples give rows counted from the file's first row.
    A missing file is an empty table (passed, 0 rows). The batches share one ``clean`` memo
    (:meth:`privacy.scanner.LeakScanner.scan_dataframe`): a value scanned clean in an earlier batch is
    not scanned again — a person's token recurs in every month of a monthly table — while a value with a
    finding is found in every row that holds it (40 % less time on social insurance at 2M, issue 8).

    Returns
    -------
    CheckOutcome
        The same metadata as :func:`no_raw_personal_information` of the whole file: ``rows``,
        ``columns``, ``findings`` and up to 20 masked examples.
    """
    path = Path(path)
    if not path.exists():
        return no_raw_personal_information(scanner, pd.DataFrame(), location, free_text_columns)
    pf = pq.ParquetFile(path)
    rows = findings = 0
    examples: list[str] = []
    clean: dict[str, set[str]] = {}
    for batch in pf.iter_batches(batch_size=batch_rows):
        frame = pa.Table.from_batches([batch]).to_pandas()
        found = scanner.scan_dataframe(frame, location, free_text_columns=list(free_text_columns), clean=clean)
        if rows:  # a finding in a column's name (row None) is counted once, with the first batch
            found = [f for f in found if f.row is not None]
        findings += len(found)
        examples += [_example(f, rows) for f in found[: 20 - len(examples)]]
        rows += len(frame)
        del frame
    columns = len([n for n in pf.schema_arrow.names if not n.startswith("__index_level_")])
    return CheckOutcome(findings == 0, {"rows": rows, "columns": columns, "findings": findings, "examples": examples})


def latest_value(path: Path, column: str) -> pd.Series:
    """The largest non-null value of one Parquet column, as a Series of at most one element (empty when
    the file is missing or the column all null): what :func:`fresh_enough` needs, without reading the
    column into pandas (55 M knowledge dates at 2M children)."""
    path = Path(path)
    if not path.exists():
        return pd.Series([], dtype="datetime64[us]")
    latest = pc.max(pq.read_table(path, columns=[column])[column]).as_py()
    return pd.Series([] if latest is None else [latest], dtype="datetime64[us]")


def unique_rows(frame: pd.DataFrame, key: list[str]) -> CheckOutcome:
    """No duplicate ``key`` rows (e.g. child_token × as_of_date)."""
    dup = int(frame.duplicated(key).sum())
    return CheckOutcome(dup == 0, {"duplicates": dup, "key": key})


def label_counts(labels: pd.DataFrame, columns: Iterable[str]) -> dict[str, tuple[float, int]]:
    """``{column: (positives, labelled rows)}`` of label columns (missing labels not counted), so that
    prevalence can be added up over partitions (:func:`prevalence_within_counts`)."""
    out = {}
    for col in columns:
        y = labels[col].dropna().astype(float)
        out[col] = (float(y.sum()), len(y))
    return out


def prevalence_within_counts(counts: Mapping[str, tuple[float, int]],
                             bounds: Mapping[str, tuple[float, float]]) -> CheckOutcome:
    """Each label's prevalence (positives / labelled rows, from :func:`label_counts`, possibly added up
    over partitions) lies within its configured [low, high] band; no labelled row fails."""
    meta, ok = {}, True
    for col, (lo, hi) in bounds.items():
        pos, n = counts.get(col, (0.0, 0))
        p = pos / n if n else float("nan")
        inside = n > 0 and lo <= p <= hi
        ok &= inside
        meta[col] = {"prevalence": p, "low": lo, "high": hi, "within": inside, "labelled_rows": n}
    return CheckOutcome(ok, meta)


def prevalence_within(labels: pd.DataFrame, bounds: Mapping[str, tuple[float, float]]) -> CheckOutcome:
    """Each label's prevalence among labelled rows lies within its configured [low, high] band."""
    return prevalence_within_counts(label_counts(labels, bounds), bounds)


def fresh_enough(knowledge_dates: pd.Series, as_of, max_age_days: int) -> CheckOutcome:
    """The newest fact of a source was known at most ``max_age_days`` before ``as_of`` (data freshness
    per source, issue 7). An empty source is not fresh."""
    d = pd.to_datetime(knowledge_dates, errors="coerce").dropna()
    if d.empty:
        return CheckOutcome(False, {"latest_knowledge_date": None, "max_age_days": max_age_days})
    latest = d.max()
    age = (pd.Timestamp(as_of) - latest).days
    return CheckOutcome(age <= max_age_days, {"latest_knowledge_date": str(latest.date()), "age_days": int(age),
                                              "max_age_days": max_age_days})
