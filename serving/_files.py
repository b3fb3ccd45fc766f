"""Deterministic file writing helpers shared by the serving outputs.

Re-running a cycle on the same inputs must give the same content (DESIGN §11.7). openpyxl stamps
workbooks with the wall clock (core properties and zip entry times); these helpers pin both so that
two writes of the same workbook are byte-identical.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

from openpyxl import Workbook
from openpyxl.writer.excel import ExcelWriter

__all__ = ["safe_filename", "save_workbook_deterministic"]

_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')


def safe_filename(name: object) -> str:
    """Return a file-system-safe version of a place name.

    Parameters
    ----------
    name : object
        A community, township or district name (Chinese characters are kept).

    Returns
    -------
    str
        The name with path separators, reserved characters and control characters replaced by
        ``_``, surrounding whitespace and dots stripped; ``"未知"`` for an empty result.
    """
    text = _UNSAFE.sub("_", str(name)).strip().strip(".")
    return text or "未知"


def save_workbook_deterministic(wb: Workbook, path: Path, timestamp: dt.datetime) -> Path:
    """Save an openpyxl workbook so that equal content gives equal bytes.

    Parameters
    ----------
    wb : openpyxl.Workbook
        The workbook to save.
    path : pathlib.Path
        Destination ``.xlsx`` path; parent folders are created.
    timestamp : datetime.datetime
        The fixed time written as the workbook's created/modified properties and as every zip
        entry's time (use the data's as-of date, never the wall clock).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    ts = timestamp.replace(tzinfo=None, microsecond=0)
    wb.properties.created = ts
    wb.properties.modified = ts
    wb.properties.creator = "humiao"
    wb.properties.lastModifiedBy = "humiao"
    raw = io.BytesIO()
    archive = zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
    ExcelWriter(wb, archive).save()  # closes the archive; does not touch properties.modified
    date_time = (max(ts.year, 1980), ts.month, ts.day, ts.hour, ts.minute, ts.second)
    out = io.BytesIO()
    with zipfile.ZipFile(raw, "r") as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=date_time)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            dst.writestr(fixed, src.read(info.filename))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out.getvalue())
    return path
