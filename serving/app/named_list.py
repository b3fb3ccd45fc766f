"""The **named** visit list a child director downloads for their own community (DESIGN §8).

Built in memory and streamed to the browser: never written to ``out/`` or anywhere else. Every name
comes through :meth:`privacy.vault.Vault.reidentify` (one audited look-up per child). The workbook is
watermarked with the account and the time in the page header and footer (printed on every page), in
a cell above the table, and in the document properties.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Sequence

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties

__all__ = ["HEADERS", "named_list_workbook"]

HEADERS: tuple[tuple[str, float], ...] = (
    ("序号", 6), ("名单", 14), ("儿童编号", 27), ("姓名", 10), ("住址", 34), ("年龄段", 9),
    ("风险等级", 9), ("主要原因 / 事件", 46), ("上次走访日期", 13), ("备注", 16),
)
_FILLS = {"极危": "F4B6B6", "高危": "F9CB9C", "中危": "FFE699", "低危": "E2EFDA"}
_SECTION_SHORT = {"event_alert": "紧急核查", "guardianship_risk": "监护风险", "left_behind_risk": "疑似未登记留守"}


def watermark_text(account: str, at: dt.datetime) -> str:
    """``导出账号 <account> · <time> · 仅供本人走访使用，不得外传``."""
    return f"导出账号 {account} · {at.strftime('%Y-%m-%d %H:%M')} · 仅供本人走访使用，不得外传、复制或拍照转发"


def named_list_workbook(
    rows: Sequence[dict],
    identity_of: Callable[[str], dict | None],
    *,
    community: str,
    township: str,
    cycle: str,
    account: str,
    at: dt.datetime,
    flags_of: Callable[[str], list[str]] = lambda _t: [],
) -> bytes:
    """Build the named list of one community as xlsx bytes.

    Parameters
    ----------
    rows : sequence of dict
        The community's rows of ``visit_lists.parquet`` (already scoped to the account's community).
    identity_of : callable
        ``token -> {name, address, ...}``: an audited vault look-up (None when the child is not in the
        vault; the cells then read 〔名册无记录〕).
    community, township, cycle : str
    account : str
        The signed-in account (watermark).
    at : datetime
        Export time (watermark; local time of the server).
    flags_of : callable
        ``token -> list of remarks`` (e.g. 数据更正中, 本期已记录走访).

    Returns
    -------
    bytes
        The workbook.
    """
    mark = watermark_text(account, at)
    wb = Workbook()
    ws = wb.active
    ws.title = "走访名单（含姓名）"
    n = len(HEADERS)
    last = get_column_letter(n)
    ws.merge_cells(f"A1:{last}1")
    ws["A1"] = f"{township} {community} 儿童走访名单（含姓名） · {cycle}"
    ws["A1"].font = Font(bold=True, size=14)
    ws.merge_cells(f"A2:{last}2")
    ws["A2"] = "水印：" + mark
    ws["A2"].font = Font(color="C00000", bold=True)
    ws["A2"].alignment = Alignment(wrap_text=True)
    thin = Side(style="thin", color="999999")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for i, (h, width) in enumerate(HEADERS, start=1):
        c = ws.cell(row=3, column=i, value=h)
        c.font = Font(bold=True)
        c.fill = PatternFill("solid", fgColor="D9E1F2")
        c.border = border
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(i)].width = width
    r = 4
    for i, row in enumerate(rows, start=1):
        token = row["child_token"]
        ident = identity_of(token)
        reasons = row.get("reasons") or []
        reason_text = row.get("event") if row.get("section") == "event_alert" else "；".join(reasons)
        remarks = [*(row.get("flags") or []), *flags_of(token)]
        values = [
            i, _SECTION_SHORT.get(row.get("section"), row.get("section")), token,
            (ident or {}).get("name") or "〔名册无记录〕", (ident or {}).get("address") or "",
            row.get("age_band") or "", row.get("risk_level") or "", reason_text or "",
            str(row.get("last_visit_date") or ""), "、".join(dict.fromkeys(remarks)),
        ]
        for j, v in enumerate(values, start=1):
            c = ws.cell(row=r, column=j, value=v)
            c.border = border
            c.alignment = Alignment(vertical="top", wrap_text=True)
        lvl = row.get("risk_level")
        if lvl in _FILLS:
            ws.cell(row=r, column=7).fill = PatternFill("solid", fgColor=_FILLS[lvl])
        r += 1
    ws.cell(row=r + 1, column=1, value="水印：" + mark).font = Font(color="C00000")
    ws.freeze_panes = "A4"
    ws.print_title_rows = "3:3"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    for hf in (ws.oddHeader, ws.evenHeader, ws.firstHeader):
        hf.center.text = mark
        hf.center.size = 9
    for hf in (ws.oddFooter, ws.evenFooter, ws.firstFooter):
        hf.center.text = mark + " · 第 &P 页 / 共 &N 页"
        hf.center.size = 9
    wb.properties.creator = account
    wb.properties.title = f"{community} 走访名单（含姓名） {cycle}"
    wb.properties.description = mark
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
