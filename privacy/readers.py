"""Reading departmental exports (CSV and xlsx) as a bureau delivers them (DESIGN.md §3–4).

* **CSV** — every cell is a string (never type-inferred: ``330106198501011231`` must not become a float,
  case-08). Encoding is detected strictly, in this order: a UTF-8 BOM → ``utf-8-sig`` (the BOM never
  reaches a header, case-10); a UTF-16 BOM → ``utf-16``; strict UTF-8; strict GB18030 (a superset of
  GBK/GB2312 that also decodes Extension-A names such as 䶮, case-11); otherwise
  :class:`EncodingError` naming the file. There is no ``errors="ignore"``/``"replace"`` anywhere: a lossy
  decode would turn 王䶮 into 王 and merge two children's tokens.
* **xlsx** — read with openpyxl (read-only, cached formula values); every cell keeps its *type*
  (``str``, ``int``/``float``, ``datetime``) so that the ingest can tell a numeric cell in an ID column
  (15 significant digits, case-06) from a text cell. The header row is found by matching the contract's
  headers: title rows and blank rows above it are skipped; a two-row header with merged group cells is
  combined as ``组_子`` (``监护人信息_姓名``) while a vertically merged header cell keeps its own name
  (case-08). With several sheets, the one whose header matches is used.
* Blank rows and trailing 合计/总计/小计 rows are dropped (and counted).
* ``source_row`` is the row number a clerk sees: the spreadsheet row, or the CSV line on which the
  record starts (header = line 1).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from privacy.contracts import HeaderError, HeaderMap, Table, match_count, normalize_header, resolve_headers

__all__ = [
    "EncodingError",
    "RawFrame",
    "RawReadError",
    "decode_bytes",
    "read_csv_text",
    "read_table",
    "read_xlsx_grid",
]

HEADER_SEARCH_ROWS = 30
SUMMARY_PREFIXES = ("合计", "总计", "小计")


class RawReadError(ValueError):
    """A raw file cannot be read (unsupported type, no matching header, malformed structure)."""


class EncodingError(RawReadError):
    """A CSV is neither UTF-8 nor GB18030. The message names the file and the byte offset."""


@dataclass
class RawFrame:
    """A raw table as read, before any validation.

    Attributes
    ----------
    path
        The file read.
    table
        Its contract table.
    data
        One column per mapped contract column (English name). CSV cells are ``str``; xlsx cells keep
        their type (``str``, ``int``, ``float``, ``datetime``, ``bool``) or ``None``.
    source_row
        int64 array, the row number a clerk sees for each data row (1-based).
    headers
        Column name → the header text found in the file.
    unmapped
        Header texts not in the contract (dropped; listed in the ingest report).
    malformed
        Boolean array: the CSV record had more fields than the header (quarantined MALFORMED_ROW).
    """

    path: Path
    table: Table
    data: pd.DataFrame
    source_row: np.ndarray
    headers: dict[str, str]
    unmapped: list[str] = field(default_factory=list)
    malformed: np.ndarray | None = None
    format: str = "csv"
    encoding: str | None = None
    sheet: str | None = None
    header_rows: tuple[int, ...] = (1,)
    blank_rows_skipped: int = 0
    summary_rows_skipped: int = 0

    def __len__(self) -> int:
        return len(self.data)


# --------------------------------------------------------------------------------------- encodings


def decode_bytes(raw: bytes, name: str) -> tuple[str, str]:
    """Decode a CSV file's bytes strictly.

    Returns
    -------
    (text, encoding)
        ``encoding`` is ``"utf-8-sig"``, ``"utf-16"``, ``"utf-8"`` or ``"gb18030"``.

    Raises
    ------
    EncodingError
        Neither strict UTF-8 nor strict GB18030 decodes the bytes (the message names the file and the
        first undecodable byte offset of the UTF-8 attempt).
    """
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return raw[3:].decode("utf-8", errors="strict"), "utf-8-sig"
        except UnicodeDecodeError as e:
            raise EncodingError(f"{name}: has a UTF-8 BOM but invalid UTF-8 at byte {e.start + 3}") from None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16", errors="strict"), "utf-16"
        except UnicodeDecodeError as e:
            raise EncodingError(f"{name}: has a UTF-16 BOM but invalid UTF-16 at byte {e.start}") from None
    try:
        return raw.decode("utf-8", errors="strict"), "utf-8"
    except UnicodeDecodeError as e_utf8:
        try:
            return raw.decode("gb18030", errors="strict"), "gb18030"
        except UnicodeDecodeError as e_gb:
            raise EncodingError(
                f"{name}: cannot be decoded as UTF-8 (byte {e_utf8.start}) or GB18030 (byte {e_gb.start}); "
                "re-export it as UTF-8 or GBK/GB18030 — no lossy decoding is attempted"
            ) from None


# --------------------------------------------------------------------------------------------- CSV


def _sniff_delimiter(first_line: str) -> str:
    if "\t" in first_line and "," not in first_line:
        return "\t"
    return ","


def read_csv_text(text: str, name: str) -> tuple[list[str], list[list[str]], np.ndarray, np.ndarray]:
    """Parse decoded CSV text into header, records and line numbers.

    Fast path: pyarrow (all columns as strings) when every record is one line; otherwise the csv
    module, which tracks the line on which each record starts (quoted notes may span lines).

    Returns
    -------
    (header, columns, source_line, malformed)
        ``columns`` is a list of per-column lists of str (len = len(header)); ``source_line`` int64 of
        each record's first line (header = line 1); ``malformed`` bool per record (more fields than the
        header).
    """
    first_nl = text.find("\n")
    first_line = text if first_nl < 0 else text[:first_nl]
    delim = _sniff_delimiter(first_line)
    header = next(csv.reader([first_line.rstrip("\r")], delimiter=delim), [])
    ncol = len(header)
    if ncol == 0:
        raise RawReadError(f"{name}: empty file (no header line)")
    body = text[first_nl + 1 :] if first_nl >= 0 else ""
    n_lines = body.count("\n") + (0 if body.endswith("\n") or not body else 1)
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        names = [f"c{i}" for i in range(ncol)]
        tbl = pacsv.read_csv(
            io.BytesIO(body.encode("utf-8")),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=True),
            parse_options=pacsv.ParseOptions(delimiter=delim, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                null_values=[],
            ),
        )
        if tbl.num_rows == n_lines:
            cols = [tbl.column(i).to_pylist() for i in range(ncol)]
            return header, cols, np.arange(2, n_lines + 2, dtype=np.int64), np.zeros(n_lines, dtype=bool)
    except Exception:  # ragged rows etc.: the exact (slower) path below reports them
        pass
    reader = csv.reader(io.StringIO(body, newline=""), delimiter=delim)
    cols: list[list[str]] = [[] for _ in range(ncol)]
    lines: list[int] = []
    bad: list[bool] = []
    prev_end = 0
    for rec in reader:
        start = prev_end + 1
        prev_end = reader.line_num
        if not rec or all(not c.strip() for c in rec):
            continue  # blank line
        extra = len(rec) > ncol and any(c.strip() for c in rec[ncol:])
        rec = (rec + [""] * ncol)[:ncol]
        for i in range(ncol):
            cols[i].append(rec[i])
        lines.append(start + 1)  # +1: the header is line 1
        bad.append(extra)
    return header, cols, np.asarray(lines, dtype=np.int64), np.asarray(bad, dtype=bool)


# -------------------------------------------------------------------------------------------- xlsx

_MERGE_RE = re.compile(rb'<mergeCell\s+ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')


def _col_index(letters: bytes) -> int:
    n = 0
    for ch in letters.decode("ascii"):
        n = n * 26 + (ord(ch) - 64)
    return n


@dataclass
class SheetGrid:
    """All cell values of one worksheet (row 1 first) and its merged ranges (1-based, inclusive)."""

    name: str
    rows: list[tuple]
    merges: list[tuple[int, int, int, int]]  # (min_row, min_col, max_row, max_col)


def read_xlsx_grid(path: Path) -> list[SheetGrid]:
    """Read every worksheet of an xlsx as typed cell values plus merged ranges.

    Read-only openpyxl does not expose merged cells, so they are read from the sheet XML.

    Raises
    ------
    RawReadError
        If the file is not a readable xlsx.
    """
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as e:
        raise RawReadError(f"{Path(path).name}: not a readable .xlsx ({type(e).__name__})") from None
    grids = []
    try:
        for ws in wb.worksheets:
            if not hasattr(ws, "reset_dimensions"):
                continue  # chartsheet
            ws.reset_dimensions()  # some exporters write a wrong <dimension>, which would truncate
            rows = [tuple(r) for r in ws.iter_rows(min_row=1, values_only=True)]
            merges: list[tuple[int, int, int, int]] = []
            try:
                with wb._archive.open(ws._worksheet_path) as src:
                    xml = src.read()
                for m in _MERGE_RE.finditer(xml):
                    c1, r1, c2, r2 = m.groups()
                    c2, r2 = c2 or c1, r2 or r1
                    merges.append((int(r1), _col_index(c1), int(r2), _col_index(c2)))
            except (AttributeError, KeyError):
                pass
            grids.append(SheetGrid(ws.title, rows, merges))
    finally:
        wb.close()
    return grids


def _cell_text(v: object) -> str:
    if v is None:
        return ""
    return str(v)


def _header_candidates(grid: SheetGrid, r: int) -> list[tuple[tuple[int, ...], list[str]]]:
    """Single-row header at row r (1-based) and the two-row header (r, r+1) combined."""
    rows = grid.rows
    top = [_cell_text(v) for v in rows[r - 1]]
    out: list[tuple[tuple[int, ...], list[str]]] = [((r,), top)]
    if r < len(rows):
        bottom = [_cell_text(v) for v in rows[r]]
        width = max(len(top), len(bottom))
        top_f = (top + [""] * width)[:width]
        bottom_f = (bottom + [""] * width)[:width]
        group = list(top_f)
        vertical = set()
        for r1, c1, r2, c2 in grid.merges:
            if r1 == r and r2 == r and c2 > c1:  # horizontal group cell: propagate its label
                label = top_f[c1 - 1] if c1 - 1 < width else ""
                for c in range(c1, min(c2, width) + 1):
                    group[c - 1] = label
            elif r1 == r and r2 >= r + 1:  # vertical merge over both header rows: own name
                for c in range(c1, min(c2, width) + 1):
                    vertical.add(c - 1)
        combined = []
        for i in range(width):
            g, s = normalize_header(group[i]), normalize_header(bottom_f[i])
            if i in vertical or not s:
                combined.append(g)
            elif not g:
                combined.append(s)
            else:
                combined.append(f"{g}_{s}")
        out.append(((r, r + 1), combined))
    return out


def _find_header(grid: SheetGrid, table: Table) -> tuple[int, tuple[int, ...], list[str]]:
    best = (0, (0,), [])
    for r in range(1, min(len(grid.rows), HEADER_SEARCH_ROWS) + 1):
        if not any(_cell_text(v).strip() for v in grid.rows[r - 1]):
            continue
        for rows_used, names in _header_candidates(grid, r):
            score = match_count(names, table)
            if score > best[0]:
                best = (score, rows_used, names)
    return best


def _is_blank_cell(v: object) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


# ------------------------------------------------------------------------------------- read_table


def _drop_blank_and_summary(
    cols: list[list], lines: np.ndarray, malformed: np.ndarray
) -> tuple[list[list], np.ndarray, np.ndarray, int, int]:
    n = len(lines)
    if n == 0:
        return cols, lines, malformed, 0, 0
    blank = np.ones(n, dtype=bool)
    for col in cols:
        s = pd.Series(col, dtype=object)
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        ub = np.array([_is_blank_cell(u) for u in uniques] + [True], dtype=bool)
        blank &= ub[codes]
    keep = ~blank
    # trailing 合计/总计/小计 rows (after blank rows are gone)
    idx = np.flatnonzero(keep)
    summary = 0
    for i in idx[::-1]:
        first = next((c[i] for c in cols if not _is_blank_cell(c[i])), None)
        text = unicodedata.normalize("NFKC", str(first)).replace(" ", "") if first is not None else ""
        if text.startswith(SUMMARY_PREFIXES):
            keep[i] = False
            summary += 1
        else:
            break
    if keep.all():
        return cols, lines, malformed, 0, 0
    sel = np.flatnonzero(keep)
    new_cols = [[c[i] for i in sel] for c in cols]
    return new_cols, lines[sel], malformed[sel], int(blank.sum()), summary


def _build(
    path: Path,
    table: Table,
    header: list[str],
    cols: list[list],
    lines: np.ndarray,
    malformed: np.ndarray,
    **meta,
) -> RawFrame:
    hm: HeaderMap = resolve_headers(header, table, path.name)
    cols, lines, malformed, n_blank, n_summary = _drop_blank_and_summary(cols, lines, malformed)
    data = {name: pd.Series(cols[pos], dtype=object) for pos, name in hm.positions.items() if pos < len(cols)}
    df = pd.DataFrame(data, index=pd.RangeIndex(len(lines)))
    for c in table.columns:  # optional columns absent from the file: all null
        if c.name not in df.columns:
            df[c.name] = pd.Series([None] * len(df), dtype=object)
    df = df[[c.name for c in table.columns]]
    return RawFrame(
        path=path,
        table=table,
        data=df,
        source_row=lines,
        headers=hm.original,
        unmapped=hm.unmapped,
        malformed=malformed,
        blank_rows_skipped=n_blank,
        summary_rows_skipped=n_summary,
        **meta,
    )


def read_table(path: Path, table: Table) -> RawFrame:
    """Read a raw CSV or xlsx for ``table`` (see module docstring for the rules).

    Parameters
    ----------
    path
        The file (``.csv``, ``.txt``, ``.xlsx``/``.xlsm``).
    table
        Its contract.

    Returns
    -------
    RawFrame

    Raises
    ------
    EncodingError
        A CSV that is neither UTF-8 nor GB18030 (never decoded lossily).
    HeaderError
        Required columns missing (message names the file and the columns) or a column given twice.
    RawReadError
        Unsupported file type or unreadable xlsx.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        text, enc = decode_bytes(path.read_bytes(), path.name)
        header, cols, lines, malformed = read_csv_text(text, path.name)
        return _build(path, table, header, cols, lines, malformed, format="csv", encoding=enc)
    if suffix in (".xlsx", ".xlsm"):
        grids = read_xlsx_grid(path)
        if not grids:
            raise RawReadError(f"{path.name}: no worksheets")
        scored = [(_find_header(g, table), g) for g in grids]
        (score, rows_used, names), grid = max(scored, key=lambda t: t[0][0])
        if score == 0:
            raise HeaderError(
                f"{path.name}: no header row matching table {table.name} in the first "
                f"{HEADER_SEARCH_ROWS} rows of sheets {[g.name for g in grids]}",
                file=path.name,
                missing=[c.name for c in table.columns if c.required],
            )
        first_data = rows_used[-1] + 1  # 1-based row number
        body = grid.rows[first_data - 1 :]
        width = len(names)
        cols = [[(r[i] if i < len(r) else None) for r in body] for i in range(width)]
        lines = np.arange(first_data, first_data + len(body), dtype=np.int64)
        malformed = np.zeros(len(body), dtype=bool)
        return _build(
            path,
            table,
            names,
            cols,
            lines,
            malformed,
            format="xlsx",
            sheet=grid.name,
            header_rows=rows_used,
        )
    raise RawReadError(f"{path.name}: unsupported file type {suffix!r} (expected .csv or .xlsx)")
