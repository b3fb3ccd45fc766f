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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from privacy.contracts import HeaderError, HeaderMap, Table, match_count, normalize_header, resolve_headers

__all__ = [
    "CodedColumn",
    "EncodingError",
    "RawFrame",
    "RawReadError",
    "Source",
    "concat_raw",
    "decode_bytes",
    "detect_encoding_streamed",
    "header_candidates",
    "iter_csv_chunks",
    "iter_source",
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
    coded
        Column name → :class:`CodedColumn` of the same cells as ``data``, for the columns the fast CSV
        path read (None otherwise): the ingest validates and tokenizes per distinct cell from it.
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
    coded: dict[str, CodedColumn] | None = None

    def __len__(self) -> int:
        return len(self.data)


class CodedColumn:
    """One column of a CSV chunk as dictionary codes: cell ``i`` is ``uniques[codes[i]]``.

    The fast CSV path (:func:`_parse_csv_body`) dictionary-encodes each column in Arrow's C++ hash table
    instead of building one Python list per column and factorizing it again and again downstream (the
    blank-row check here, the ingest's validation, duplicate-row hashing and tokenization all work per
    distinct cell). A column of 1,017,000 social-insurance rows, 4 columns: 0.14 s to encode vs 0.49 s
    for ``pd.factorize`` on the Python strings (issue 8, measured on this machine).

    Behaves as a read-only sequence of ``str`` (``len``, indexing, iteration), so code that reads cells
    one by one does not need to know.

    Attributes
    ----------
    codes
        ``intp`` array, one per cell, each in ``[0, len(uniques))`` (CSV cells are never null).
    uniques
        ``object`` array of the distinct cells (``str``), in order of first appearance.
    """

    __slots__ = ("codes", "uniques")

    def __init__(self, codes: np.ndarray, uniques: np.ndarray):
        self.codes = codes
        self.uniques = uniques

    @classmethod
    def from_arrow(cls, array) -> CodedColumn:
        """Encode a pyarrow (chunked) string array; ``ValueError`` if it holds nulls."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
        if array.null_count:
            raise ValueError("a CSV column with null cells cannot be coded")
        enc = pc.dictionary_encode(array)
        return cls(enc.indices.to_numpy().astype(np.intp), enc.dictionary.to_numpy(zero_copy_only=False))

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, i: int) -> str:
        return self.uniques[self.codes[i]]

    def __iter__(self) -> Iterator[str]:
        return iter(self.values())

    def values(self) -> np.ndarray:
        """The cells as an ``object`` array (the distinct ``str`` objects shared, not copied)."""
        return self.uniques[self.codes]

    def take(self, rows: np.ndarray) -> CodedColumn:
        """The cells at positions ``rows``; ``uniques`` keeps only the cells still used, in the same order."""
        codes = self.codes[rows]
        used = np.zeros(len(self.uniques), dtype=bool)
        used[codes] = True
        if used.all():
            return CodedColumn(codes, self.uniques)
        remap = np.cumsum(used) - 1
        return CodedColumn(remap[codes].astype(np.intp), self.uniques[used])


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
        ``columns`` is a list of per-column sequences of str (len = len(header)): a
        :class:`CodedColumn` each on the fast path, lists on the exact one; ``source_line`` int64 of
        each record's first line (header = line 1); ``malformed`` bool per record (more fields than the
        header).
    """
    header, delim, body, first_line = _split_header(text, name, header_line)
    cols, lines, bad = _parse_csv_body(body, len(header), delim, first_line)
    return header, cols, lines, bad


def _split_header(text: str, name: str, header_line: int) -> tuple[list[str], str, str, int]:
    """(header, delimiter, body, physical line number of the body's first line)."""
    offset = 0
    if header_line > 1:
        text, offset = _split_lines(text, header_line - 1)
    first_nl = text.find("\n")
    first_line = text if first_nl < 0 else text[:first_nl]
    delim = _sniff_delimiter(first_line)
    header = next(csv.reader([first_line.rstrip("\r")], delimiter=delim), [])
    if len(header) == 0:
        raise RawReadError(f"{name}: empty file (no header line)")
    body = text[first_nl + 1 :] if first_nl >= 0 else ""
    return header, delim, body, 2 + offset


def _parse_csv_body(
    body: str, ncol: int, delim: str, first_line: int
) -> tuple[list[list[str]], np.ndarray, np.ndarray]:
    """Records of ``body`` (no header), ``first_line`` being the physical line number of its first line.

    Returns (columns, source_line, malformed) as :func:`read_csv_text`; a column is a
    :class:`CodedColumn` on the fast path, a list of ``str`` otherwise."""
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
            cols = [CodedColumn.from_arrow(tbl.column(i)) for i in range(ncol)]
            del tbl
            lines = np.arange(first_line, first_line + n_lines, dtype=np.int64)
            return cols, lines, np.zeros(n_lines, dtype=bool)
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
        lines.append(first_line + start - 1)
        bad.append(extra)
    return cols, np.asarray(lines, dtype=np.int64), np.asarray(bad, dtype=bool)


# ------------------------------------------------------------------------------- large CSV, streamed

#: A CSV larger than this many bytes is never held whole: its encoding is checked block by block and
#: its records are read in chunks of about :data:`CSV_CHUNK_BYTES` (issue 8: the social-insurance export
#: of a 2,000,000-child city is about 3.6 GB; read whole, as Python strings, it needs about 30 GB).
CSV_STREAM_BYTES = 256 * 2**20
#: Bytes read per chunk of a streamed CSV (a chunk ends at the last record boundary inside it).
CSV_CHUNK_BYTES = 64 * 2**20
#: The last chunk holds at least this many lines, so that trailing 合计 rows and sign-off lines (which
#: are only looked for at the end of the file) are never split from it.
CSV_TAIL_LINES = 64

_BOM_CODECS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _first_decode_error(path: Path, encoding: str, block: int) -> int | None:
    """Byte offset of the first byte that ``encoding`` cannot decode strictly, or None (whole file)."""
    dec = codecs.getincrementaldecoder(encoding)(errors="strict")
    pos = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(block)
            pending = len(dec.getstate()[0])
            try:
                dec.decode(b, final=not b)
            except UnicodeDecodeError as e:
                return max(0, pos - pending + e.start)
            if not b:
                return None
            pos += len(b)


def _gbk_equals_gb18030(path: Path, block: int) -> bool:
    """True when strict GBK decodes the whole file to the same text as GB18030 (label ``gbk``)."""
    gbk = codecs.getincrementaldecoder("gbk")(errors="strict")
    gb = codecs.getincrementaldecoder("gb18030")(errors="strict")
    with open(path, "rb") as f:
        while True:
            b = f.read(block)
            try:
                if gbk.decode(b, final=not b) != gb.decode(b, final=not b):
                    return False
            except UnicodeDecodeError:
                return False
            if not b:
                return True


def detect_encoding_streamed(path: Path, block: int | None = None) -> tuple[str, str]:
    """The encoding of a large CSV, decided as :func:`decode_bytes` does, without holding the file.

    Returns
    -------
    (encoding, label)
        ``encoding`` for :func:`iter_csv_chunks` (``utf-8-sig``, ``utf-16``, ``utf-8`` or ``gb18030``);
        ``label`` as :func:`encoding_label` (``gbk`` when GBK gives the same text).

    Raises
    ------
    EncodingError
        As :func:`decode_bytes` (the message names the file and the byte offset).
    """
    path = Path(path)
    block = block or CSV_CHUNK_BYTES
    with open(path, "rb") as f:
        head = f.read(4)
    for bom, enc in _BOM_CODECS:
        if head.startswith(bom):
            err = _first_decode_error(path, enc, block)
            if err is not None:
                kind = "UTF-8" if enc == "utf-8-sig" else "UTF-16"
                raise EncodingError(f"{path.name}: has a {kind} BOM but invalid {kind} at byte {err}")
            return enc, enc
    e_utf8 = _first_decode_error(path, "utf-8", block)
    if e_utf8 is None:
        return "utf-8", "utf-8"
    e_gb = _first_decode_error(path, "gb18030", block)
    if e_gb is None:
        return "gb18030", "gbk" if _gbk_equals_gb18030(path, block) else "gb18030"
    raise EncodingError(
        f"{path.name}: cannot be decoded as UTF-8 (byte {e_utf8}) or GB18030 (byte {e_gb}); "
        "re-export it as UTF-8 or GBK/GB18030 — no lossy decoding is attempted"
    )


def _record_boundary(text: str, keep_lines: int = 0) -> int:
    """Index just after the last newline of ``text`` that ends a record, with at least ``keep_lines``
    lines after it: a newline outside quotes (RFC 4180: a quoted field may hold newlines, a quote
    inside it is doubled, so the quotes before a record boundary are even in number). 0 when there is
    none."""
    pos = len(text)
    for _ in range(keep_lines + 1):
        pos = text.rfind("\n", 0, pos)
        if pos < 0:
            return 0
    odd = text.count('"', 0, pos) % 2
    while odd:
        prev = text.rfind("\n", 0, pos)
        if prev < 0:
            return 0
        odd ^= text.count('"', prev, pos) % 2
        pos = prev
    return pos + 1


def iter_csv_chunks(
    path: Path, encoding: str, header_line: int = 1, chunk_bytes: int | None = None
) -> Iterator[tuple[list[str], list[list[str]], np.ndarray, np.ndarray, bool]]:
    """Read a CSV chunk by chunk: ``(header, columns, source_line, malformed, last)`` per chunk.

    Each chunk holds the whole records of about ``chunk_bytes`` bytes (a chunk ends at a record
    boundary, see :func:`_record_boundary`, and the last chunk holds at least :data:`CSV_TAIL_LINES`
    lines); ``source_line`` are the file's physical line numbers, as
    :func:`read_csv_text` gives them for the whole text; ``last`` is True for the final chunk. The
    header (after ``header_line - 1`` title lines) is read from the first chunk and repeated.

    Raises
    ------
    RawReadError
        No header line.
    """
    path = Path(path)
    chunk_bytes = chunk_bytes or CSV_CHUNK_BYTES
    dec = codecs.getincrementaldecoder(encoding)(errors="strict")
    header: list[str] | None = None
    delim = ","
    carry = ""
    line_no = 0  # physical lines before the text being parsed
    with open(path, "rb") as f:
        nxt = f.read(chunk_bytes)
        while True:
            b, nxt = nxt, (f.read(chunk_bytes) if nxt else b"")
            last = not nxt
            text = carry + dec.decode(b, final=last)
            if last:
                cut = len(text)
            else:
                cut = _record_boundary(text, CSV_TAIL_LINES)
                if cut == 0 or (header is None and text.count("\n", 0, cut) < header_line):
                    carry = text  # one record longer than a chunk, or the header not yet whole: read on
                    continue
            part, carry = text[:cut], text[cut:]
            del text
            if header is None:
                header, delim, body, first = _split_header(part, path.name, header_line)
            else:
                body, first = part, line_no + 1
            line_no += part.count("\n")
            del part
            cols, lines, bad = _parse_csv_body(body, len(header), delim, first)
            del body
            yield header, cols, lines, bad, last
            if last:
                return


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
    cols: list[list], lines: np.ndarray, malformed: np.ndarray, trailing: bool = True
) -> tuple[list[list], np.ndarray, np.ndarray, int, int]:
    n = len(lines)
    if n == 0:
        return cols, lines, malformed, 0, 0
    blank = np.ones(n, dtype=bool)
    for col in cols:
        if isinstance(col, CodedColumn):
            codes, uniques = col.codes, col.uniques
        else:
            codes, uniques = pd.factorize(pd.Series(col, dtype=object), use_na_sentinel=True)
        ub = np.array([_is_blank_cell(u) for u in uniques] + [True], dtype=bool)
        blank &= ub[codes]
    keep = ~blank
    # trailing 合计/总计/小计 rows and sign-off footers (制表人：… 审核人：…) after blank rows are gone
    idx = np.flatnonzero(keep)
    summary = 0
    for i in idx[::-1] if trailing else ():  # not at the end of a chunk that is not the file's last
        text, filled = _first_text(cols, i)
        if text.startswith(SUMMARY_PREFIXES) or (text.startswith(FOOTER_PREFIXES) and filled <= 3):
            keep[i] = False
            summary += 1
        else:
            break
    if keep.all():
        return cols, lines, malformed, 0, 0
    sel = np.flatnonzero(keep)
    new_cols = [c.take(sel) if isinstance(c, CodedColumn) else [c[i] for i in sel] for c in cols]
    return new_cols, lines[sel], malformed[sel], int(blank.sum()), summary


def _series(col) -> pd.Series:
    """A read column (list or :class:`CodedColumn`) as an ``object`` Series."""
    return pd.Series(col.values() if isinstance(col, CodedColumn) else col, dtype=object)


def _build(
    path: Path,
    table: Table,
    header: list[str],
    cols: list[list],
    lines: np.ndarray,
    malformed: np.ndarray,
    *,
    hidden_positions: set[int] = frozenset(),
    trailing: bool = True,
    **meta,
) -> RawFrame:
    hm: HeaderMap = resolve_headers(header, table, path.name)
    cols, lines, malformed, n_blank, n_summary = _drop_blank_and_summary(cols, lines, malformed, trailing)
    data = {name: _series(cols[pos]) for pos, name in hm.positions.items() if pos < len(cols)}
    coded = {name: cols[pos] for pos, name in hm.positions.items() if pos < len(cols)
             and isinstance(cols[pos], CodedColumn)}
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
        values = _series(cols[pos])
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
        coded=coded or None,
        **meta,
    )


# ------------------------------------------------------------------------------- sources (file/sheet)


@dataclass
class Source:
    """One readable unit of a raw file: a CSV, or one worksheet of an xlsx.

    ``rows`` holds every row of a worksheet, but only the first :data:`HEADER_SEARCH_ROWS` parsed
    lines of a CSV (enough to find and recognize the header; the body is parsed by
    :func:`read_csv_text`, or chunk by chunk by :func:`iter_csv_chunks` for a CSV larger than
    :data:`CSV_STREAM_BYTES`, whose text is then never held whole).
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
    streamed: bool = False  # a large CSV: ``text`` is None, the records are read in chunks from ``path``

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


def _preview_rows(text: str) -> list[tuple]:
    """The first :data:`HEADER_SEARCH_ROWS` parsed lines of a CSV's text (to find and recognize the
    header); a line the csv module cannot parse is split on the delimiter."""
    preview_text = "\n".join(text.split("\n", HEADER_SEARCH_ROWS)[:HEADER_SEARCH_ROWS])
    delim = _sniff_delimiter(text[: text.find("\n")] if "\n" in text else text)
    try:
        return [tuple(r) for r in csv.reader(io.StringIO(preview_text, newline=""), delimiter=delim)]
    except csv.Error:
        return [tuple(line.split(delim)) for line in preview_text.split("\n")]


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
        if path.stat().st_size > CSV_STREAM_BYTES:
            enc, label = detect_encoding_streamed(path)
            with open(path, "rb") as f:
                head = codecs.getincrementaldecoder(enc)(errors="strict").decode(f.read(4 * 2**20))
            return [Source(path, "csv", None, _preview_rows(head), encoding=enc, encoding_label=label,
                           streamed=True)]
        raw = path.read_bytes()
        if not raw.strip():
            return [Source(path, "csv", None, [], encoding=None, text="")]
        text, enc = decode_bytes(raw, path.name)
        return [Source(path, "csv", None, _preview_rows(text), encoding=enc,
                       encoding_label=encoding_label(raw, enc), text=text)]
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
    """Read one source (CSV or worksheet) under ``table``, whole (a streamed CSV's chunks are joined;
    the ingest reads them one by one with :func:`iter_source`).

    ``rows_used``/``names``: the header found by the caller (:func:`locate_header`); default: the
    candidate that matches the most contract columns.

    Raises
    ------
    HeaderError
        No header row matching the table, required columns missing, or a column given twice.
    """
    return concat_raw(list(iter_source(src, table, rows_used, names)))


def iter_source(
    src: Source,
    table: Table,
    rows_used: tuple[int, ...] | None = None,
    names: list[str] | None = None,
    chunk_bytes: int | None = None,
) -> Iterator[RawFrame]:
    """Read one source under ``table`` as one :class:`RawFrame` — or, for a streamed CSV
    (:attr:`Source.streamed`), one per chunk of about ``chunk_bytes`` (:data:`CSV_CHUNK_BYTES`), in
    file order, with the file's row numbers. Trailing 合计 rows are only looked for in the last chunk.

    Raises
    ------
    HeaderError
        As :func:`read_source` (before the first frame).
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
        if src.streamed:
            chunks = iter_csv_chunks(path, src.encoding or "utf-8", header_line, chunk_bytes)
        else:
            header, cols, lines, malformed = read_csv_text(src.text or "", path.name, header_line)
            chunks = iter([(header, cols, lines, malformed, True)])
        for header, cols, lines, malformed, last in chunks:
            if len(rows_used) > 1 and len(names) >= len(header):
                header = list(names[: len(header)])
            yield _build(
                path, table, header, cols, lines, malformed, trailing=last,
                format="csv", encoding=src.encoding, encoding_label=src.encoding_label,
                header_rows=tuple(rows_used),
            )
        return
    first_data = rows_used[-1] + 1  # 1-based row number
    rows = _fill_merged_data(src.rows, src.merges, first_data)
    body = rows[first_data - 1 :]
    width = max([len(names)] + [len(r) for r in body]) if body else len(names)
    header = list(names) + [""] * (width - len(names))
    cols = [[(r[i] if i < len(r) else None) for r in body] for i in range(width)]
    lines = np.arange(first_data, first_data + len(body), dtype=np.int64)
    malformed = np.zeros(len(body), dtype=bool)
    yield _build(
        path, table, header, cols, lines, malformed,
        hidden_positions=src.hidden_columns,
        format="xlsx", sheet=src.sheet, header_rows=tuple(rows_used),
    )


def concat_raw(frames: list[RawFrame]) -> RawFrame:
    """One :class:`RawFrame` from the chunks of one source (as :func:`iter_source` yields them)."""
    if len(frames) == 1:
        return frames[0]
    first = frames[0]
    extras = [f.extra for f in frames]
    extra = None
    if any(e is not None for e in extras):
        extra = pd.concat(
            [e if e is not None else pd.DataFrame(index=pd.RangeIndex(len(f))) for e, f in zip(extras, frames, strict=True)],
            ignore_index=True,
        )
    return RawFrame(
        path=first.path, table=first.table,
        data=pd.concat([f.data for f in frames], ignore_index=True),
        source_row=np.concatenate([f.source_row for f in frames]),
        headers=first.headers, unmapped=first.unmapped,
        malformed=np.concatenate([f.malformed if f.malformed is not None else np.zeros(len(f), dtype=bool)
                                  for f in frames]),
        format=first.format, encoding=first.encoding, sheet=first.sheet, header_rows=first.header_rows,
        blank_rows_skipped=sum(f.blank_rows_skipped for f in frames),
        summary_rows_skipped=sum(f.summary_rows_skipped for f in frames),
        encoding_label=first.encoding_label, extra=extra, hidden_columns=first.hidden_columns,
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
