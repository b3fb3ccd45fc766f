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
    "Source",
    "decode_bytes",
    "header_candidates",
    "locate_header",
    "open_sources",
    "read_csv_text",
    "read_source",
    "read_table",
    "read_xlsx_grid",
]

HEADER_SEARCH_ROWS = 30
SUMMARY_PREFIXES = ("合计", "总计", "小计")
#: Sign-off lines under a roster (only when the row has at most 3 filled cells).
FOOTER_PREFIXES = ("制表", "填表", "填报人", "填报单位", "审核", "负责人", "单位负责人", "注:", "说明:", "数据来源")


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
    encoding_label: str | None = None
    extra: pd.DataFrame | None = None  # values of columns not in the contract (scanned, then dropped)
    hidden_columns: list[str] = field(default_factory=list)

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


def _split_lines(text: str, skip: int) -> tuple[str, int]:
    """Drop the first ``skip`` physical lines of ``text``; returns (rest, lines dropped)."""
    pos = 0
    for _ in range(skip):
        nl = text.find("\n", pos)
        if nl < 0:
            return "", skip
        pos = nl + 1
    return text[pos:], skip


def read_csv_text(
    text: str, name: str, header_line: int = 1
) -> tuple[list[str], list[list[str]], np.ndarray, np.ndarray]:
    """Parse decoded CSV text into header, records and line numbers.

    ``header_line`` (1-based) is the line holding the header; lines above it (a title such as
    "XX区困境儿童信息台账（截至2025年6月）") are skipped; line numbers stay those of the file.

    Fast path: pyarrow (all columns as strings) when every record is one line; otherwise the csv
    module, which tracks the line on which each record starts (quoted notes may span lines).

    Returns
    -------
    (header, columns, source_line, malformed)
        ``columns`` is a list of per-column lists of str (len = len(header)); ``source_line`` int64 of
        each record's first line (header = line 1); ``malformed`` bool per record (more fields than the
        header).
    """
    offset = 0
    if header_line > 1:
        text, offset = _split_lines(text, header_line - 1)
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
            lines = np.arange(2 + offset, n_lines + 2 + offset, dtype=np.int64)
            return header, cols, lines, np.zeros(n_lines, dtype=bool)
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
        lines.append(start + 1 + offset)  # +1: the header is line 1 (after skipped title lines)
        bad.append(extra)
    return header, cols, np.asarray(lines, dtype=np.int64), np.asarray(bad, dtype=bool)


# -------------------------------------------------------------------------------------------- xlsx

_MERGE_RE = re.compile(rb'<mergeCell\s+ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')
_COL_RE = re.compile(rb"<col\s[^>]*>")
_ATTR_RE = re.compile(rb'(\w+)="([^"]*)"')


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
    hidden_columns: set[int] = field(default_factory=set)  # 0-based column positions hidden in Excel
    hidden: bool = False  # the sheet itself is hidden (often a lookup list for drop-downs)


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
            hidden_cols: set[int] = set()
            try:
                with wb._archive.open(ws._worksheet_path) as src:
                    xml = src.read()
                for m in _MERGE_RE.finditer(xml):
                    c1, r1, c2, r2 = m.groups()
                    c2, r2 = c2 or c1, r2 or r1
                    merges.append((int(r1), _col_index(c1), int(r2), _col_index(c2)))
                for m in _COL_RE.finditer(xml[: xml.find(b"<sheetData")] if b"<sheetData" in xml else xml):
                    attrs = dict(_ATTR_RE.findall(m.group(0)))
                    if attrs.get(b"hidden") in (b"1", b"true"):
                        lo, hi = int(attrs.get(b"min", b"0")), int(attrs.get(b"max", b"0"))
                        hidden_cols.update(range(lo - 1, min(hi, lo + 16384)))
            except (AttributeError, KeyError):
                pass
            state = getattr(ws, "sheet_state", "visible")
            grids.append(SheetGrid(ws.title, rows, merges, hidden_cols, state in ("hidden", "veryHidden")))
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


def _col_letter(i: int) -> str:
    """0-based column position → Excel letters (0 → A)."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


def _first_text(cols: list[list], i: int) -> tuple[str, int]:
    first, n = None, 0
    for c in cols:
        if not _is_blank_cell(c[i]):
            n += 1
            if first is None:
                first = c[i]
    text = unicodedata.normalize("NFKC", str(first)).replace(" ", "") if first is not None else ""
    return text, n


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
    # trailing 合计/总计/小计 rows and sign-off footers (制表人：… 审核人：…) after blank rows are gone
    idx = np.flatnonzero(keep)
    summary = 0
    for i in idx[::-1]:
        text, filled = _first_text(cols, i)
        if text.startswith(SUMMARY_PREFIXES) or (text.startswith(FOOTER_PREFIXES) and filled <= 3):
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
    *,
    hidden_positions: set[int] = frozenset(),
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
    # columns not in the contract (named, or values under an empty header): kept aside to be scanned
    extra: dict[str, pd.Series] = {}
    unmapped = list(hm.unmapped)
    for pos in range(len(cols)):
        if pos in hm.positions:
            continue
        label = normalize_header(header[pos]) if pos < len(header) else ""
        values = pd.Series(cols[pos], dtype=object)
        if not label:
            if all(_is_blank_cell(v) for v in values):
                continue
            label = f"<{_col_letter(pos)}>"
            unmapped.append(label)
        extra[label if label not in extra else f"{label}<{_col_letter(pos)}>"] = values
    hidden = [
        (hm.original.get(hm.positions[p]) if p in hm.positions else normalize_header(header[p]))
        or f"<{_col_letter(p)}>"
        for p in sorted(hidden_positions)
        if p < len(header) and (normalize_header(header[p]) or p in hm.positions)
    ]
    return RawFrame(
        path=path,
        table=table,
        data=df,
        source_row=lines,
        headers=hm.original,
        unmapped=unmapped,
        malformed=malformed,
        blank_rows_skipped=n_blank,
        summary_rows_skipped=n_summary,
        extra=pd.DataFrame(extra, index=pd.RangeIndex(len(lines))) if extra else None,
        hidden_columns=hidden,
        **meta,
    )


# ------------------------------------------------------------------------------- sources (file/sheet)


@dataclass
class Source:
    """One readable unit of a raw file: a CSV, or one worksheet of an xlsx.

    ``rows`` holds every row of a worksheet, but only the first :data:`HEADER_SEARCH_ROWS` parsed
    lines of a CSV (enough to find and recognize the header; the body is parsed by
    :func:`read_csv_text`).
    """

    path: Path
    format: str  # csv | xlsx
    sheet: str | None
    rows: list[tuple]
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)
    hidden_columns: set[int] = field(default_factory=set)
    hidden: bool = False
    encoding: str | None = None
    encoding_label: str | None = None  # utf-8 | utf-8-sig | utf-16 | gbk | gb18030
    text: str | None = None

    @property
    def is_empty(self) -> bool:
        """No non-blank cell at all (an empty file or sheet)."""
        return not any(not _is_blank_cell(v) for r in self.rows for v in r)


def encoding_label(raw: bytes, detected: str) -> str:
    """A finer name for a GB18030-decoded file: ``gbk`` when strict GBK gives the same text."""
    if detected != "gb18030":
        return detected
    try:
        return "gbk" if raw.decode("gbk") == raw.decode("gb18030") else "gb18030"
    except UnicodeDecodeError:
        return "gb18030"


CSV_SUFFIXES = (".csv", ".txt", ".tsv")
XLSX_SUFFIXES = (".xlsx", ".xlsm")


def open_sources(path: Path) -> list[Source]:
    """Open a raw file as its readable units (one per CSV, one per worksheet).

    Raises
    ------
    EncodingError
        A CSV neither UTF-8 nor GB18030.
    RawReadError
        Unsupported type (``.xls``: save as .xlsx) or unreadable xlsx.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        raw = path.read_bytes()
        if not raw.strip():
            return [Source(path, "csv", None, [], encoding=None, text="")]
        text, enc = decode_bytes(raw, path.name)
        preview_text = "\n".join(text.split("\n", HEADER_SEARCH_ROWS)[:HEADER_SEARCH_ROWS])
        delim = _sniff_delimiter(text[: text.find("\n")] if "\n" in text else text)
        try:
            rows = [tuple(r) for r in csv.reader(io.StringIO(preview_text, newline=""), delimiter=delim)]
        except csv.Error:
            rows = [tuple(line.split(delim)) for line in preview_text.split("\n")]
        return [Source(path, "csv", None, rows, encoding=enc, encoding_label=encoding_label(raw, enc), text=text)]
    if suffix in XLSX_SUFFIXES:
        return [
            Source(path, "xlsx", g.name, g.rows, g.merges, g.hidden_columns, g.hidden)
            for g in read_xlsx_grid(path)
        ]
    if suffix in (".xls", ".et", ".wps"):
        raise RawReadError(
            f"{path.name}: old binary spreadsheet format {suffix!r}; open it and save as .xlsx (Excel 2007+)"
        )
    raise RawReadError(f"{path.name}: unsupported file type {suffix!r} (expected .csv or .xlsx)")


def header_candidates(src: Source) -> list[tuple[tuple[int, ...], list[str]]]:
    """Every candidate header in the first rows: single rows and two-row (merged group) headers."""
    grid = SheetGrid(src.sheet or "", src.rows, src.merges)
    out = []
    for r in range(1, min(len(src.rows), HEADER_SEARCH_ROWS) + 1):
        if not any(_cell_text(v).strip() for v in src.rows[r - 1]):
            continue
        out.extend(_header_candidates(grid, r))
    return out


def locate_header(src: Source, score) -> tuple[float, tuple[int, ...], list[str]]:
    """The candidate header with the highest ``score(names)`` (first one on ties; 0 when none)."""
    best: tuple[float, tuple[int, ...], list[str]] = (0, (0,), [])
    for rows_used, names in header_candidates(src):
        sc = score(names)
        if sc > best[0]:
            best = (sc, rows_used, names)
    return best


def _fill_merged_data(rows: list[tuple], merges, first_data: int) -> list[tuple]:
    """Vertically/horizontally merged cells in the data region (a township written once over its
    rows): every cell of the range takes the top-left value, as the clerk sees it."""
    todo = [m for m in merges if m[0] >= first_data and (m[2] > m[0] or m[3] > m[1])]
    if not todo:
        return rows
    rows = list(rows)
    for r1, c1, r2, c2 in todo:
        if r1 - 1 >= len(rows):
            continue
        top = rows[r1 - 1]
        v = top[c1 - 1] if c1 - 1 < len(top) else None
        for r in range(r1, min(r2, len(rows)) + 1):
            row = list(rows[r - 1])
            if len(row) < c2:
                row += [None] * (c2 - len(row))
            for c in range(c1, c2 + 1):
                row[c - 1] = v
            rows[r - 1] = tuple(row)
    return rows


def read_source(
    src: Source,
    table: Table,
    rows_used: tuple[int, ...] | None = None,
    names: list[str] | None = None,
) -> RawFrame:
    """Read one source (CSV or worksheet) under ``table``.

    ``rows_used``/``names``: the header found by the caller (:func:`locate_header`); default: the
    candidate that matches the most contract columns.

    Raises
    ------
    HeaderError
        No header row matching the table, required columns missing, or a column given twice.
    """
    path = src.path
    if rows_used is None or names is None:
        score, rows_used, names = locate_header(src, lambda h: match_count(h, table))
        if score == 0:
            where = f"sheet {src.sheet!r}" if src.sheet else "the file"
            raise HeaderError(
                f"{path.name}: no header row matching table {table.name} in the first "
                f"{HEADER_SEARCH_ROWS} rows of {where}",
                file=path.name,
                missing=[c.name for c in table.columns if c.required],
                code="NO_HEADER",
                columns=[c.header for c in table.columns if c.required],
            )
    if src.format == "csv":
        header_line = rows_used[-1]
        header, cols, lines, malformed = read_csv_text(src.text or "", path.name, header_line)
        if len(rows_used) > 1 and len(names) >= len(header):
            header = list(names[: len(header)])
        return _build(
            path, table, header, cols, lines, malformed,
            format="csv", encoding=src.encoding, encoding_label=src.encoding_label,
            header_rows=tuple(rows_used),
        )
    first_data = rows_used[-1] + 1  # 1-based row number
    rows = _fill_merged_data(src.rows, src.merges, first_data)
    body = rows[first_data - 1 :]
    width = max([len(names)] + [len(r) for r in body]) if body else len(names)
    header = list(names) + [""] * (width - len(names))
    cols = [[(r[i] if i < len(r) else None) for r in body] for i in range(width)]
    lines = np.arange(first_data, first_data + len(body), dtype=np.int64)
    malformed = np.zeros(len(body), dtype=bool)
    return _build(
        path, table, header, cols, lines, malformed,
        hidden_positions=src.hidden_columns,
        format="xlsx", sheet=src.sheet, header_rows=tuple(rows_used),
    )


# ------------------------------------------------------------------------------------- read_table


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
        For an xlsx with several sheets, the sheet whose header matches best (visible sheets first).

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
    sources = open_sources(path)
    if not sources:
        raise RawReadError(f"{path.name}: no worksheets")
    if sources[0].format == "csv":
        src = sources[0]
        if src.is_empty:
            raise RawReadError(f"{path.name}: empty file (no header line)")
        score, rows_used, names = locate_header(src, lambda h: match_count(h, table))
        if score == 0:  # keep the historic behaviour: the first line is the header
            rows_used, names = (1,), list(src.rows[0])
        return read_source(src, table, rows_used, names)
    scored = [(locate_header(s, lambda h: match_count(h, table)), not s.hidden, s) for s in sources]
    (score, rows_used, names), _, src = max(scored, key=lambda t: (t[0][0], t[1]))
    if score == 0:
        raise HeaderError(
            f"{path.name}: no header row matching table {table.name} in the first "
            f"{HEADER_SEARCH_ROWS} rows of sheets {[s.sheet for s in sources]}",
            file=path.name,
            missing=[c.name for c in table.columns if c.required],
            code="NO_HEADER",
            columns=[c.header for c in table.columns if c.required],
        )
    return read_source(src, table, rows_used, names)
