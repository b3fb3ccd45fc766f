"""Write tables as bureaus deliver them: GBK or UTF-8 CSV, or .xlsx with ID numbers as text cells.

Byte-identical output for the same input: CSVs are plain text; xlsx files get fixed document
properties (created/modified derived from the end month) and fixed zip entry timestamps.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from .contracts import TableContract

__all__ = ["sha256_file", "write_table"]

_TEXT_TYPES = {"resident_id", "phone", "string", "certificate_number", "household_number", "student_number"}


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _csv(df: pd.DataFrame, path: Path, encoding: str, chunk: int = 200_000, append: bool = False) -> None:
    """Write in chunks so a city-sized table never exists twice in memory as one string.

    ``append`` adds the rows (no header) to an existing file: the next shard of a sharded city."""
    eol = "\r\n" if encoding == "gbk" else "\n"
    with open(path, "ab" if append else "wb") as f:
        for start in range(0, max(len(df), 1), chunk):
            part = df.iloc[start : start + chunk]
            header = start == 0 and not append
            f.write(part.to_csv(index=False, header=header, lineterminator=eol).encode(encoding))


def _xlsx(
    df: pd.DataFrame,
    path: Path,
    fixed: dt.datetime,
    date_cols: set[str],
    rng: np.random.Generator,
    mixed_rate: float,
) -> None:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Sheet1")
    ws.append(list(df.columns))
    cols = list(df.columns)
    values = [df[c].to_numpy(dtype=object) for c in cols]
    n = len(df)
    # sorted: a set's order follows Python's per-process string hashing, and each column draws in turn
    as_text = {c: rng.random(n) < mixed_rate for c in sorted(date_cols)}
    for i in range(n):
        row = []
        for c, v in zip(cols, values, strict=True):
            x = v[i]
            if c in date_cols:
                if x is None or (isinstance(x, float) and np.isnan(x)) or pd.isna(x):
                    row.append(None)
                    continue
                d = pd.Timestamp(x).date()
                if as_text[c][i]:
                    cell = WriteOnlyCell(
                        ws,
                        value=f"{d.year}年{d.month}月{d.day}日" if i % 2 else f"{d.year}.{d.month}.{d.day}",
                    )
                    cell.number_format = "@"
                else:
                    cell = WriteOnlyCell(ws, value=dt.datetime(d.year, d.month, d.day))
                    cell.number_format = "yyyy-mm-dd"
                row.append(cell)
            else:
                cell = WriteOnlyCell(ws, value=None if x is None or x == "" else str(x))
                cell.number_format = "@"  # IDs, phones, codes as TEXT cells
                row.append(cell)
        ws.append(row)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    wb.properties.creator = "openpyxl"
    buf = io.BytesIO()
    wb.save(buf)
    # rewrite the zip with fixed entry timestamps so the bytes are reproducible
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    ts = (fixed.year, fixed.month, fixed.day, 0, 0, 0)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=ts)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps 'modified' with the wall clock on save
                stamp = fixed.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + stamp + rb"\g<2>",
                    data,
                )
            z.writestr(zi, data)
    path.write_bytes(out.getvalue())


def write_table(
    df: pd.DataFrame,
    contract: TableContract,
    out_dir: Path,
    fixed: dt.datetime,
    rng: np.random.Generator,
    mixed_rate: float,
    append: bool = False,
) -> Path:
    """Write one table under ``<out_dir>/<department>/<file>`` with the contract's Chinese headers.

    Parameters
    ----------
    df : DataFrame
        Columns exactly the contract's English names (any order; reordered here).
    contract : TableContract
    out_dir : Path
    fixed : datetime
        Timestamp written into xlsx metadata.
    rng : numpy.random.Generator
        For the share of xlsx date cells written as text.
    mixed_rate : float
    append : bool
        CSV only: append the rows without a header to the file an earlier shard wrote (a sharded
        city). An .xlsx table is written whole, once (``ValueError`` if asked to append).

    Returns
    -------
    Path
    """
    missing = [c for c in contract.names if c not in df.columns]
    if missing:
        raise ValueError(f"{contract.table}: columns missing from the simulated table: {missing}")
    df = df[list(contract.names)].copy()
    df.columns = list(contract.headers)
    path = Path(out_dir) / contract.department / contract.file
    path.parent.mkdir(parents=True, exist_ok=True)
    if contract.file.endswith(".xlsx"):
        if append:
            raise ValueError(f"{contract.table}: an .xlsx table is written once, not appended")
        date_cols = {contract.headers[i] for i, n in enumerate(contract.names) if n.endswith("_date")}
        _xlsx(df, path, fixed, date_cols, rng, mixed_rate)
    else:
        df = df.astype(object).where(df.notna(), "")
        _csv(df, path, contract.encoding, append=append)
    return path
