"""Per-community home-visit lists: Excel for child directors, Parquet for machines.

The pipeline ranks children for a **home visit by a person** and says why (DESIGN §1, §8). This module
turns the two score tables of a cycle (``guardianship_risk`` and ``left_behind_risk``, docs/interfaces.md
§4) and the cycle's event alerts into:

``<out_dir>/<cycle>/<district>/<township>/<community>.xlsx``
    One workbook per village/community for its child director (儿童主任). Sheet ``走访名单``: a title
    row, a frozen header row and up to three sections, in this order:

    1. 紧急核查 — event alerts (DESIGN §8); they do not use up the visit capacity K;
    2. 监护风险走访名单 — ranked by ``guardianship_risk``, at most the community's capacity K;
    3. 疑似未登记留守儿童（请核实并登记） — ranked by ``left_behind_risk`` with its own capacity
       (DESIGN §11.8).

    Sheet ``说明`` explains in plain Chinese what the list is and is not. Names of places are made
    file-system safe with :func:`serving._files.safe_filename`.

    Children with no registered residence are placed in :data:`UNPLACED` (``（未定位）``): that
    workbook is not a director's visit list but the data team's work list, so it has no capacity — it
    lists **every** unplaced child, ranked, and its 说明 sheet says so.
``<out_dir>/<cycle>/<district>/<township>/乡镇汇总_<township>.xlsx``
    The township child supervisor's (儿童督导员) summary: counts per community by risk level, every
    count below 10 shown as ``"<10"`` with complementary suppression so that no suppressed cell can
    be recovered from a total (DESIGN §5).
``<out_dir>/<cycle>/visit_lists.parquet``
    One file per cycle with every community's lists and alerts (DESIGN §11.18), schema
    :data:`PARQUET_SCHEMA`.

Nothing named is ever written: inputs carry pseudonymous tokens only; unknown input columns are
refused (fail closed) and the written columns are checked against fixed lists.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from serving._files import safe_filename, save_workbook_deterministic
from serving.app.db import ASSESSMENTS

__all__ = [
    "AGREEMENT_CHOICES",
    "COMPLEMENTARY_MARK",
    "LIST_HEADERS",
    "PARQUET_SCHEMA",
    "SMALL_CELL_THRESHOLD",
    "VISIT_OUTCOMES",
    "suppress_small_cells",
    "write_visit_lists",
]

GUARDIANSHIP = "guardianship_risk"
LEFT_BEHIND = "left_behind_risk"
ALERT = "event_alert"

UNPLACED = "（未定位）"
"""The place of a child with no registered residence at the as-of date (features.build.UNPLACED): their
list goes to the bureau's data team, who locate the child and pass them on to the community. No
director visits a （未定位） list, so the visit capacity does not apply: every unplaced child is listed
(its ``capacity`` is the number of children listed)."""

UNPLACED_SECTION_TITLES = {  # the （未定位） workbook: everyone, no capacity (same section names as SECTION_TITLES)
    GUARDIANSHIP: "{n}、监护风险走访名单——全部 {k} 名尚未定位的儿童，按监护风险排序，不设名额；请优先核实排在前面的儿童",
    LEFT_BEHIND: "{n}、疑似未登记留守儿童（请核实并登记）——全部 {k} 名尚未定位的儿童，按留守可能性排序，不设名额",
}


def _is_unplaced(place: Sequence[object]) -> bool:
    return UNPLACED in tuple(str(p) for p in place)

SECTION_ORDER = {ALERT: 0, GUARDIANSHIP: 1, LEFT_BEHIND: 2}
SECTION_TITLES = {  # numbered when written ({n}): a community without alerts starts at 一
    ALERT: "{n}、紧急核查——数据比对发现的事件，请尽快上门核实，不占走访名额",
    GUARDIANSHIP: "{n}、监护风险走访名单——按监护风险排序，本期名额 {k} 人",
    LEFT_BEHIND: "{n}、疑似未登记留守儿童（请核实并登记）——按留守可能性排序，本期名额 {k} 人",
}
CHINESE_NUMERALS = "一二三四"
SECTION_LABELS = {ALERT: "紧急核查", GUARDIANSHIP: "监护风险", LEFT_BEHIND: "疑似未登记留守"}

RISK_LEVELS = ("极危", "高危", "中危", "低危")
DEFAULT_LEVEL_BOUNDS: dict[str, int] = {"极危": 19, "高危": 16, "中危": 11, "低危": 1}
RISK_FILLS = {"极危": "F4B6B6", "高危": "F9CB9C", "中危": "FFE699", "低危": "E2EFDA"}
#: The 走访结果 drop-down: the review app's 监护评估 choices (:data:`serving.app.db.ASSESSMENTS`, the
#: visit_records contract's 良好/一般/监护不当/监护缺失 plus 未见到儿童), so that the Excel list, its 说明
#: sheet and the app name the same outcome the same way.
VISIT_OUTCOMES: tuple[str, ...] = tuple(ASSESSMENTS)
AGREEMENT_CHOICES = ("同意", "不同意")
SMALL_CELL_THRESHOLD = 10
#: Shown for a count of 10 or more hidden only so that a "<10" cell cannot be derived from a total.
COMPLEMENTARY_MARK = "—"

#: Column headers of the director's list, in order, with their widths (characters).
LIST_HEADERS: tuple[tuple[str, float], ...] = (
    ("序号", 6),
    ("儿童编号", 27),
    ("年龄段", 9),
    ("风险等级", 9),
    ("风险分(1–20)", 10),
    ("主要原因", 46),
    ("上次走访日期", 13),
    ("数据截至日期", 13),
    ("备注", 18),
    ("走访日期", 12),
    ("走访结果", 12),
    ("是否同意排序", 12),
    ("不同意原因", 24),
)
_COL = {name: i + 1 for i, (name, _) in enumerate(LIST_HEADERS)}
HEADER_ROW = 3

SCORE_REQUIRED = (
    "child_token",
    "as_of_date",
    "target",
    "community",
    "township",
    "district",
    "score",
    "ventile",
    "risk_level",
    "rank_in_community",
    "capacity",
    "reasons",
    "reason_features",
)
SCORE_OPTIONAL = ("age_band", "last_visit_date", "registry_category", "flags")
#: Harmless bookkeeping columns that models/ may add to the scores table; they are not written.
SCORE_IGNORED = ("model_version", "mlflow_run_id", "cycle")
ALERT_REQUIRED = ("child_token", "community", "event", "event_date")
ALERT_OPTIONAL = ("township", "district", "alert_id", "as_of_date")

_TOKEN_RE = re.compile(r"^[A-Z]_k\d+_[0-9a-f]{20}$")

#: Schema of ``visit_lists.parquet`` (one row per listed child per section).
PARQUET_SCHEMA = pa.schema(
    [
        ("cycle", pa.string()),
        ("district", pa.string()),
        ("township", pa.string()),
        ("community", pa.string()),
        ("section", pa.string()),  # event_alert | guardianship_risk | left_behind_risk
        ("rank", pa.int32()),  # 1-based within the section
        ("child_token", pa.string()),
        ("target", pa.string()),  # null for alerts
        ("age_band", pa.string()),
        ("risk_level", pa.string()),
        ("ventile", pa.int8()),
        ("score", pa.float64()),
        ("reasons", pa.list_(pa.string())),
        ("reason_features", pa.list_(pa.string())),
        ("event", pa.string()),
        ("event_date", pa.date32()),
        ("alert_id", pa.string()),  # stable id of an event alert, for its verification result (核实结果)
        ("last_visit_date", pa.date32()),
        ("registry_category", pa.string()),
        ("flags", pa.list_(pa.string())),
        ("capacity", pa.int32()),
        ("as_of_date", pa.date32()),
        ("data_as_of", pa.date32()),
    ]
)

SUMMARY_HEADERS = (
    "村(社区)",
    "评分儿童数",
    "极危",
    "高危",
    "中危",
    "低危",
    "走访名额K",
    "本期监护风险名单",
    "本期疑似未登记留守",
    "本期紧急核查",
)


# ----------------------------------------------------------------------------------------------
# input checks and normalization
# ----------------------------------------------------------------------------------------------


def _check_scores(df: pd.DataFrame, target: str, name: str) -> pd.DataFrame:
    missing = [c for c in SCORE_REQUIRED if c not in df.columns]
    if missing:
        raise ValueError(f"{name}: missing required columns {missing} (docs/interfaces.md §4)")
    unknown = sorted(set(df.columns) - set(SCORE_REQUIRED) - set(SCORE_OPTIONAL) - set(SCORE_IGNORED))
    if unknown:
        raise ValueError(
            f"{name}: unexpected columns {unknown}; visit lists carry only the known columns "
            "(refusing to write anything that might identify a person)"
        )
    out = df.copy()
    targets = set(out["target"].dropna().astype(str))
    if targets - {target}:
        raise ValueError(f"{name}: target must be {target!r}, found {sorted(targets)}")
    _check_tokens(out["child_token"], name)
    bad_level = set(out["risk_level"].dropna().astype(str)) - set(RISK_LEVELS)
    if bad_level:
        raise ValueError(f"{name}: unknown risk_level values {sorted(bad_level)}")
    v = pd.to_numeric(out["ventile"])
    if ((v < 1) | (v > 20)).any():
        raise ValueError(f"{name}: ventile outside 1–20")
    caps = out.groupby(["district", "township", "community"])["capacity"].nunique()
    if (caps > 1).any():
        raise ValueError(f"{name}: capacity differs within a community: {list(caps[caps > 1].index)}")
    if out.duplicated(["child_token"]).any():
        raise ValueError(f"{name}: a child_token appears more than once")
    for col in SCORE_OPTIONAL:
        if col not in out.columns:
            out[col] = None
    return out


def _check_tokens(tokens: pd.Series, name: str) -> None:
    bad = [t for t in tokens.astype(str) if not _TOKEN_RE.match(t)]
    if bad:
        raise ValueError(
            f"{name}: {len(bad)} child_token value(s) are not pseudonymous tokens "
            "(expected e.g. P_k1_<20 hex>); nothing was written"
        )


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, float) and math.isnan(value):
        return []
    try:
        items = list(value)
    except TypeError:
        return [str(value)]
    return [str(x) for x in items if x is not None and not (isinstance(x, float) and math.isnan(x))]


def _as_date(value: Any) -> dt.date | None:
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()


def _as_str(value: Any) -> str | None:
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    text = str(value).strip()
    return text or None


def _section_rows(scores: pd.DataFrame, section: str, data_as_of: dt.date, cycle: str) -> list[dict]:
    """The listed rows (the first ``capacity`` by rank) of one target, every community."""
    keys = ["district", "township", "community"]
    ordered = scores.assign(
        _neg=-pd.to_numeric(scores["score"]), **{k: scores[k].astype(str) for k in keys}
    ).sort_values([*keys, "rank_in_community", "_neg", "child_token"], kind="mergesort")
    position = ordered.groupby(keys, sort=False).cumcount() + 1
    unplaced = ordered[keys].eq(UNPLACED).any(axis=1)  # the data team's list: everyone, no capacity
    ordered = ordered.assign(_rank=position,
                             _listed_k=ordered.groupby(keys, sort=False)["child_token"].transform("size"))
    listed = ordered[unplaced | (position <= pd.to_numeric(ordered["capacity"]))]
    rows: list[dict] = []
    for rec in listed.to_dict("records"):
        is_unplaced = _is_unplaced((rec["district"], rec["township"], rec["community"]))
        rows.append(
            {
                "cycle": cycle,
                "district": rec["district"],
                "township": rec["township"],
                "community": rec["community"],
                "section": section,
                "rank": int(rec["_rank"]),
                "child_token": str(rec["child_token"]),
                "target": section,
                "age_band": _as_str(rec["age_band"]),
                "risk_level": str(rec["risk_level"]),
                "ventile": int(rec["ventile"]),
                "score": float(rec["score"]),
                "reasons": _as_list(rec["reasons"])[:3],
                "reason_features": _as_list(rec["reason_features"])[:3],
                "event": None,
                "event_date": None,
                "last_visit_date": _as_date(rec["last_visit_date"]),
                "registry_category": _as_str(rec["registry_category"]),
                "flags": _as_list(rec["flags"]),
                "capacity": int(rec["_listed_k"] if is_unplaced else rec["capacity"]),
                "as_of_date": _as_date(rec["as_of_date"]),
                "data_as_of": data_as_of,
            }
        )
    return rows


def _alert_rows(
    alerts: pd.DataFrame | None,
    places: dict[str, set[tuple[str, str]]],
    by_child: dict[str, dict],
    data_as_of: dt.date,
    cycle: str,
) -> list[dict]:
    if alerts is None or len(alerts) == 0:
        return []
    missing = [c for c in ALERT_REQUIRED if c not in alerts.columns]
    if missing:
        raise ValueError(f"alerts: missing required columns {missing}")
    unknown = sorted(set(alerts.columns) - set(ALERT_REQUIRED) - set(ALERT_OPTIONAL))
    if unknown:
        raise ValueError(f"alerts: unexpected columns {unknown}")
    _check_tokens(alerts["child_token"], "alerts")
    recs = []
    for rec in alerts.to_dict("records"):
        community = str(rec["community"])
        if _as_str(rec.get("township")) and _as_str(rec.get("district")):
            district, township = str(rec["district"]), str(rec["township"])
        else:
            known = places.get(community, set())
            if len(known) != 1:
                raise ValueError(
                    f"alerts: cannot place community {community!r} in a township "
                    f"({'unknown' if not known else 'ambiguous'}); give township and district columns"
                )
            district, township = next(iter(known))
        recs.append((district, township, community, _as_date(rec["event_date"]), str(rec["event"]), rec))
    recs.sort(key=lambda r: (r[0], r[1], r[2], -(r[3] or dt.date.min).toordinal(), r[4], r[5]["child_token"]))
    rows: list[dict] = []
    counters: dict[tuple[str, str, str], int] = {}
    for district, township, community, event_date, event, rec in recs:
        key = (district, township, community)
        counters[key] = counters.get(key, 0) + 1
        scored = by_child.get(str(rec["child_token"]), {})
        rows.append(
            {
                "cycle": cycle,
                "district": district,
                "township": township,
                "community": community,
                "section": ALERT,
                "rank": counters[key],
                "child_token": str(rec["child_token"]),
                "target": None,
                "age_band": scored.get("age_band"),
                "risk_level": scored.get("risk_level"),
                "ventile": scored.get("ventile"),
                "score": scored.get("score"),
                "reasons": [],
                "reason_features": [],
                "event": event,
                "event_date": event_date,
                "alert_id": _as_str(rec.get("alert_id")) or None,
                "last_visit_date": scored.get("last_visit_date"),
                "registry_category": scored.get("registry_category"),
                "flags": scored.get("flags", []),
                "capacity": None,
                "as_of_date": _as_date(rec.get("as_of_date")) or scored.get("as_of_date"),
                "data_as_of": data_as_of,
            }
        )
    return rows


# ----------------------------------------------------------------------------------------------
# small-cell suppression
# ----------------------------------------------------------------------------------------------


def suppress_small_cells(
    counts: pd.DataFrame,
    groups: Sequence[tuple[Sequence[str], str | None]],
    *,
    total_row: str | None = None,
    threshold: int = SMALL_CELL_THRESHOLD,
) -> pd.DataFrame:
    """Mask counts below ``threshold``, with complementary suppression.

    Primary suppression masks every count ``< threshold`` (zero included: DESIGN §5 says cells with
    fewer than 10 children). Complementary suppression then masks, in any row or column where
    exactly one cell of an additive group is masked, the smallest other unmasked part, so that no
    masked cell can be recovered by subtracting from a total shown beside it. It repeats until
    nothing changes.

    Parameters
    ----------
    counts : pandas.DataFrame
        Non-negative integer counts; one row per unit (e.g. community) and optionally a total row.
    groups : sequence of (parts, total)
        Additive column groups: the ``parts`` columns sum to the ``total`` column (``None`` when a
        group has no total column). Columns not in any group are left untouched.
    total_row : str, optional
        Index label of a row holding column totals (the other rows sum to it).
    threshold : int, default 10
        Smallest count that may be shown.

    Returns
    -------
    pandas.DataFrame
        Boolean mask, same shape as ``counts`` (True = show as ``"<10"``).
    """
    mask = pd.DataFrame(False, index=counts.index, columns=counts.columns)
    count_cols = [c for parts, total in groups for c in [*parts, *([total] if total else [])]]
    for c in count_cols:
        mask[c] = counts[c] < threshold

    def complete(cells: list[tuple[Any, str]], parts: list[tuple[Any, str]]) -> bool:
        hidden = [cell for cell in cells if mask.at[cell]]
        if len(hidden) != 1:
            return False
        candidates = [p for p in parts if not mask.at[p]]
        if not candidates:
            return False
        pick = min(candidates, key=lambda p: (counts.at[p], str(p[0]), p[1]))
        mask.at[pick] = True
        return True

    body = [i for i in counts.index if i != total_row]
    changed = True
    while changed:
        changed = False
        for parts, total in groups:
            # rows: parts + their row total
            for i in counts.index:
                part_cells = [(i, c) for c in parts]
                cells = part_cells + ([(i, total)] if total else [])
                if total and complete(cells, part_cells):
                    changed = True
            # columns: body rows + the total row
            if total_row is not None:
                for c in [*parts, *([total] if total else [])]:
                    part_cells = [(i, c) for i in body]
                    if complete([*part_cells, (total_row, c)], part_cells):
                        changed = True
    return mask


# ----------------------------------------------------------------------------------------------
# workbook writing
# ----------------------------------------------------------------------------------------------

_THIN = Side(style="thin", color="999999")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_WRAP_TOP = Alignment(wrap_text=True, vertical="top")
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
_BANNER_FILL = PatternFill("solid", fgColor="EDEDED")
_DATE_FMT = "yyyy-mm-dd"
_DATE_ALIGN = Alignment(horizontal="center", vertical="top", wrap_text=True)


def _register_styles(wb: Workbook) -> None:
    """Named styles for the data cells: one assignment per cell instead of four (speed)."""
    base = {"border": _BORDER, "alignment": _WRAP_TOP}
    styles = [
        NamedStyle(name="hm_cell", **base),
        # dates and the text 无记录 in one column: both centred (dates would go right, text left)
        NamedStyle(name="hm_date", number_format=_DATE_FMT, border=_BORDER, alignment=_DATE_ALIGN),
        NamedStyle(
            name="hm_header", font=Font(bold=True), fill=_HEADER_FILL, alignment=_CENTER, border=_BORDER
        ),
        NamedStyle(name="hm_count", border=_BORDER, alignment=Alignment(horizontal="right")),
        NamedStyle(
            name="hm_count_total",
            border=_BORDER,
            alignment=Alignment(horizontal="right"),
            font=Font(bold=True),
        ),
    ]
    styles += [
        NamedStyle(name=f"hm_level_{level}", fill=PatternFill("solid", fgColor=color), **base)
        for level, color in RISK_FILLS.items()
    ]
    for style in styles:
        wb.add_named_style(style)


def _print_setup(ws: Worksheet, header_rows: str | None) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.5
    if header_rows:
        ws.print_title_rows = header_rows
    ws.print_options.gridLines = False


def _reasons_text(row: dict) -> str:
    if row["section"] == ALERT:
        when = row["event_date"].isoformat() if row["event_date"] else "日期不详"
        return f"事件：{row['event']}（{when}）"
    return "\n".join(f"{i}. {r}" for i, r in enumerate(row["reasons"], start=1))


def _remarks_text(row: dict, also_in_main: bool) -> str:
    parts = []
    if row["registry_category"]:
        parts.append(f"台账类别：{row['registry_category']}")
    parts.extend(row["flags"])
    if also_in_main:
        parts.append("同在监护风险名单")
    return "\n".join(parts)


def _write_community_workbook(
    path: Path,
    place: tuple[str, str, str],
    cycle: str,
    data_as_of: dt.date,
    sections: dict[str, list[dict]],
    capacities: dict[str, int],
    timestamp: dt.datetime,
    bounds: Mapping[str, int] = DEFAULT_LEVEL_BOUNDS,
) -> None:
    district, township, community = place
    wb = Workbook()
    _register_styles(wb)
    ws = wb.active
    ws.title = "走访名单"
    ncol = len(LIST_HEADERS)
    last = get_column_letter(ncol)

    ws.cell(1, 1, f"{district} {township} {community} 儿童走访名单（{cycle}）").font = Font(
        bold=True, size=14
    )
    ws.merge_cells(f"A1:{last}1")
    unplaced = _is_unplaced(place)
    ws.cell(
        2,
        1,
        (f"数据截至 {data_as_of.isoformat()}；这是全部尚未定位的儿童（监护风险 {capacities[GUARDIANSHIP]} 人，"
         f"疑似未登记留守 {capacities[LEFT_BEHIND]} 人），供区/市民政局数据组核实居住地，不设走访名额；"
         "请先阅读“说明”页。") if unplaced else
        (f"数据截至 {data_as_of.isoformat()}；监护风险名单名额 {capacities[GUARDIANSHIP]} 人；"
         f"疑似未登记留守名额 {capacities[LEFT_BEHIND]} 人。本名单是上门走访的提示，不是对任何家庭的评判；"
         "请先阅读“说明”页。"),
    ).alignment = Alignment(wrap_text=True, vertical="center")
    ws.merge_cells(f"A2:{last}2")
    ws.row_dimensions[2].height = 30
    for j, (name, width) in enumerate(LIST_HEADERS, start=1):
        ws.cell(HEADER_ROW, j, name).style = "hm_header"
        ws.column_dimensions[get_column_letter(j)].width = width
    ws.freeze_panes = ws.cell(HEADER_ROW + 1, 1).coordinate
    ws.row_dimensions[HEADER_ROW].height = 30

    main_tokens = {r["child_token"] for r in sections[GUARDIANSHIP]}
    data_ranges: list[str] = []
    r = HEADER_ROW + 1
    shown = [sec for sec in (ALERT, GUARDIANSHIP, LEFT_BEHIND) if sec != ALERT or sections[sec]]
    for number, section in enumerate(shown):
        rows = sections[section]
        titles = UNPLACED_SECTION_TITLES if unplaced and section in UNPLACED_SECTION_TITLES else SECTION_TITLES
        title = titles[section].format(n=CHINESE_NUMERALS[number], k=capacities.get(section, ""))
        banner = ws.cell(r, 1, title)
        banner.font = Font(bold=True)
        banner.fill = _BANNER_FILL
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=ncol)
        r += 1
        if not rows:
            ws.cell(r, 1, "（本期无）")
            ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=ncol)
            r += 1
            continue
        first = r
        for row in rows:
            reasons = _reasons_text(row)
            remarks = _remarks_text(row, section == LEFT_BEHIND and row["child_token"] in main_tokens)
            values = {
                "序号": row["rank"],
                "儿童编号": row["child_token"],
                "年龄段": row["age_band"] or "",
                "风险等级": row["risk_level"] or "",
                "风险分(1–20)": row["ventile"],
                "主要原因": reasons,
                "上次走访日期": row["last_visit_date"] or "无记录",
                "数据截至日期": data_as_of,
                "备注": remarks,
            }
            for name, _ in LIST_HEADERS:
                c = ws.cell(r, _COL[name], values.get(name))
                c.style = "hm_date" if name in ("上次走访日期", "数据截至日期", "走访日期") else "hm_cell"
            level = row["risk_level"]
            if level in RISK_FILLS:
                ws.cell(r, _COL["风险等级"]).style = f"hm_level_{level}"
                ws.cell(r, _COL["风险分(1–20)"]).style = f"hm_level_{level}"
            lines = max(reasons.count("\n") + 1, remarks.count("\n") + 1, 1)
            ws.row_dimensions[r].height = 16 * lines + 4
            r += 1
        data_ranges.append(f"{{col}}{first}:{{col}}{r - 1}")

    if data_ranges:
        outcome = DataValidation(
            type="list",
            formula1='"' + ",".join(VISIT_OUTCOMES) + '"',
            allow_blank=True,
            showErrorMessage=True,
            errorTitle="走访结果",
            error="请从下拉列表中选择：" + "、".join(VISIT_OUTCOMES),
            promptTitle="走访结果",
            prompt="走访后填写，从下拉列表中选择",
            showInputMessage=True,
        )
        agree = DataValidation(
            type="list",
            formula1='"' + ",".join(AGREEMENT_CHOICES) + '"',
            allow_blank=True,
            showErrorMessage=True,
            errorTitle="是否同意排序",
            error="请选择：同意 或 不同意",
            promptTitle="是否同意排序",
            prompt="您是否同意这名儿童排在这里？不同意请在右侧写明原因",
            showInputMessage=True,
        )
        visit_date = DataValidation(
            type="date",
            operator="greaterThanOrEqual",
            formula1="DATE(2000,1,1)",
            allow_blank=True,
            showErrorMessage=True,
            error="请填写日期，例如 2025-03-01",
        )
        for dv, col in ((outcome, "走访结果"), (agree, "是否同意排序"), (visit_date, "走访日期")):
            letter = get_column_letter(_COL[col])
            for rng in data_ranges:
                dv.add(rng.format(col=letter))
            ws.add_data_validation(dv)
    _print_setup(ws, f"{HEADER_ROW}:{HEADER_ROW}")
    ws.oddFooter.center.text = "第 &P 页 / 共 &N 页"
    ws.oddHeader.center.text = f"{community} 儿童走访名单 {cycle}（化名编号，不含姓名）"

    _write_explanation_sheet(wb.create_sheet("说明"), place, cycle, data_as_of, capacities, bounds,
                             n_alerts=len(sections[ALERT]))
    save_workbook_deterministic(wb, path, timestamp)


def _levels_text(bounds: Mapping[str, int]) -> str:
    """E.g. ``极危 19–20，高危 16–18，中危 11–15，低危 1–10`` from lower ventile bounds."""
    ordered = sorted(bounds.items(), key=lambda kv: -kv[1])
    parts, upper = [], 20
    for name, low in ordered:
        parts.append(f"{name} {low}–{upper}" if low < upper else f"{name} {low}")
        upper = low - 1
    return "，".join(parts)


def _explanation_paragraphs(
    place: tuple[str, str, str],
    cycle: str,
    data_as_of: dt.date,
    capacities: dict[str, int],
    bounds: Mapping[str, int] = DEFAULT_LEVEL_BOUNDS,
    n_alerts: int = 0,
) -> list[tuple[str, str]]:
    """The 说明 sheet's paragraphs; the sections are named as the list sheet numbers them (a community
    without alerts this cycle has no 紧急核查 section, so its lists start at 一). For the （未定位）
    workbook ``capacities`` are the numbers of children listed (everyone: it has no capacity)."""
    district, township, community = place
    first = 1 if n_alerts else 0
    g_part, lb_part = CHINESE_NUMERALS[first], CHINESE_NUMERALS[first + 1]
    alerts_text = (f"本期有 {n_alerts} 条“紧急核查”（第一部分）：数据比对中发现的事件（例如监护人住院、家庭变故），"
                   "请尽快核实，不占走访名额。" if n_alerts else
                   "本期本村(社区)没有需要紧急核查的事件；如有，会列在名单最前面的“紧急核查”部分。")
    if _is_unplaced(place):
        unplaced_alerts = (f"另有 {n_alerts} 条“紧急核查”（第一部分）：数据比对中发现的事件，请尽快定位并转交核实。"
                           if n_alerts else "")
        lb_text = (f"疑似未登记留守儿童部分列出其中全部 {capacities[LEFT_BEHIND]} 名，按留守可能性排序。"
                   if capacities[LEFT_BEHIND] else "本期没有尚未定位的疑似未登记留守儿童。")
        what = [
            ("h", "这份名单给谁"),
            (
                "p",
                "名单上的儿童在各部门共享的数据中没有可用的居住地登记（户籍、居住证和困境儿童台账都没有），"
                "因此无法分给某个村(社区)。请区/市民政局数据组核实他们现在的居住地（可向公安户籍、学校、社区了解），"
                "核实后转交所在村(社区)儿童主任走访，并在“不同意原因”列注明核实到的村(社区)；同时更正来源部门的登记。",
            ),
            ("h", "这份名单是什么"),
            (
                "p",
                f"这不是某个村(社区)的走访名单，而是本期（{cycle}）全部尚未定位的儿童的核实清单，不设走访名额："
                f"按各部门共享的数据（截至 {data_as_of.isoformat()}）一个不少地列出全部 {capacities[GUARDIANSHIP]} 名"
                f"尚未定位的儿童，按监护风险从高到低排序，请优先核实排在前面的儿童；{lb_text}" + unplaced_alerts,
            ),
        ]
    else:
        what = [
            ("h", "这份名单是什么"),
            (
                "p",
                f"这是提示您本期（{cycle}）优先上门走访哪些儿童的名单。名单由各部门共享的数据"
                f"（截至 {data_as_of.isoformat()}）计算排序，按您所在村(社区)的走访能力只列出前 "
                f"{capacities[GUARDIANSHIP]} 名；疑似未登记留守儿童另列前 {capacities[LEFT_BEHIND]} 名。"
                + alerts_text,
            ),
        ]
    return [
        ("title", f"说明：{district} {township} {community} {cycle} "
                  + ("尚未定位儿童核实清单" if _is_unplaced(place) else "儿童走访名单")),
        *what,
        ("h", "这份名单不是什么"),
        (
            "p",
            "名单只是“请去看一看”的提示，不是对任何家庭或儿童的判断、定性或处分，不能作为任何处置的依据。"
            "是否存在监护问题，只能由您上门了解后判断。不在名单上的儿童，如您了解到有困难，同样应当走访和报告。",
        ),
        ("h", "风险等级与风险分"),
        (
            "p",
            "风险分 1–20 表示这名儿童在全市同类儿童中的相对位置（20 为最需要关注的 5%）。"
            f"风险等级：{_levels_text(bounds)}。它是相对排序，不是概率，也不是结论。"
            f"第{g_part}部分的等级表示监护风险；第{lb_part}部分的等级表示“可能是未登记的留守儿童”的程度"
            + ("；紧急核查中的等级是该儿童的监护风险（如有）。" if n_alerts else "。"),
        ),
        ("h", "主要原因"),
        (
            "p",
            "“主要原因”列出对排序影响最大的三条数据信号及其依据（例如“近3个月缺勤12天”）。"
            "这些是需要您核实的线索，可能过时或有误。发现数据错误时，请在“不同意原因”中写明，"
            "家庭也可以申请更正数据；更正期间名单上会标注“数据更正中”。",
        ),
        (
            "p",
            "残疾、疾病、低保或低收入等情况出现在原因中，是因为这些家庭可能需要更多支持：它们是帮扶的理由，"
            "不是过错，请勿以此评价或标签化家庭。",
        ),
        ("h", "如何记录走访结果"),
        (
            "p",
            f"走访后在同一行填写：走访日期；走访结果（下拉选择：{' / '.join(VISIT_OUTCOMES)}）；"
            "是否同意排序（同意 / 不同意），不同意时写明原因。您的判断会回到系统中，用来改进以后的名单。"
            "发现儿童遭受或疑似遭受侵害的，依法履行强制报告义务，立即报告公安机关和民政部门，不必等待名单。",
        ),
        ("h", "隐私与保密"),
        (
            "p",
            "本名单只含化名编号，不含姓名、身份证号、电话或住址。走访所需的儿童姓名和住址只能在护苗审核系统中，"
            "由本村(社区)儿童主任本人登录后查看；每次查看都会留痕审计，下载的实名名单带有账号和时间水印。",
        ),
        (
            "p",
            "请勿将本名单或实名信息转发、拍照外传、张贴或在群聊中讨论；不得用于走访以外的任何目的。"
            "儿童信息属于敏感个人信息，受《个人信息保护法》保护。本期结束后请按要求交回或销毁纸质名单。",
        ),
        ("h", "有疑问"),
        ("p", "请联系本乡镇(街道)儿童督导员或区县民政局。"),
    ]


def _write_explanation_sheet(
    ws: Worksheet,
    place: tuple[str, str, str],
    cycle: str,
    data_as_of: dt.date,
    capacities: dict[str, int],
    bounds: Mapping[str, int],
    n_alerts: int = 0,
) -> None:
    paragraphs = _explanation_paragraphs(place, cycle, data_as_of, capacities, bounds, n_alerts=n_alerts)
    _write_text_sheet(ws, paragraphs)


#: Width (characters) of the one text column of a 说明 sheet. It must fit A4 portrait at 100 %: "fit to
#: one page wide" cannot shrink a sheet of a single column (one column is always "one page wide", so
#: LibreOffice prints it unscaled and cuts off what lies past the margin). 64 fits with the margins of
#: :func:`_print_setup` in Excel (Calibri) and in LibreOffice (whose fallback font is wider).
TEXT_SHEET_WIDTH = 64
_TEXT_FONTS = {"title": Font(bold=True, size=14), "h": Font(bold=True, size=12), "p": Font(size=11)}


def _text_units(text: str) -> float:
    """Display width of ``text`` in column-width units: a Chinese (wide) character takes about two."""
    return sum(2.1 if unicodedata.east_asian_width(ch) in ("W", "F") else 1.0 for ch in text)


def _wrapped_lines(text: str, width: float, size: float = 11) -> int:
    """Lines ``text`` needs in a wrapped cell ``width`` characters wide (font ``size`` points)."""
    usable = max(1.0, (width - 1.5) * 11 / size)  # a little padding; larger fonts hold fewer characters
    return sum(max(1, math.ceil(_text_units(part) / usable)) for part in str(text).split("\n"))


def _wrapped_height(text: str, width: float, size: float = 11) -> float:
    """Row height (points) for ``text`` wrapped in a cell ``width`` wide: Chinese lines need ~1.5 × size."""
    return round(_wrapped_lines(text, width, size) * size * 1.5 + 5, 1)


def _write_text_sheet(ws: Worksheet, paragraphs: Sequence[tuple[str, str]]) -> None:
    """A 说明 sheet: one wrapped column, each row as high as its text, A4 portrait, one page wide.

    Row heights are computed (Excel and LibreOffice do not grow a row for wrapped text on their own
    when printing), counting a Chinese character as two columns, so no paragraph is cut off.
    """
    ws.column_dimensions["A"].width = TEXT_SHEET_WIDTH
    for i, (kind, text) in enumerate(paragraphs, start=1):
        c = ws.cell(i, 1, text)
        font = _TEXT_FONTS.get(kind, _TEXT_FONTS["p"])
        c.font = font
        c.alignment = Alignment(wrap_text=True, vertical="top")
        ws.row_dimensions[i].height = _wrapped_height(text, TEXT_SHEET_WIDTH, font.sz or 11)
    _print_setup(ws, None)
    ws.page_setup.orientation = "portrait"
    ws.page_setup.fitToHeight = 1  # one sheet of paper: shrink a little rather than run onto a second page


def _summary_counts(
    gs: pd.DataFrame,
    rows: list[dict],
    places: list[tuple[str, str, str]],
    capacities: Mapping[tuple[str, str, str], int],
) -> pd.DataFrame:
    """Counts per community for the township summaries, indexed by (district, township, community)."""
    index = pd.MultiIndex.from_tuples(places, names=["district", "township", "community"])
    keys = [gs[c].astype(str) for c in ("district", "township", "community")]
    levels = pd.crosstab(keys, gs["risk_level"].astype(str)).reindex(index=index, columns=list(RISK_LEVELS))
    counts = levels.fillna(0).astype("int64")
    counts["评分儿童数"] = counts[list(RISK_LEVELS)].sum(axis=1)
    counts["走访名额K"] = [int(capacities.get(p, 0)) for p in places]
    section_counts: dict[tuple[tuple[str, str, str], str], int] = {}
    for r in rows:
        key = ((r["district"], r["township"], r["community"]), r["section"])
        section_counts[key] = section_counts.get(key, 0) + 1
    for col, section in (
        ("本期监护风险名单", GUARDIANSHIP),
        ("本期疑似未登记留守", LEFT_BEHIND),
        ("本期紧急核查", ALERT),
    ):
        counts[col] = [section_counts.get((p, section), 0) for p in places]
    return counts[list(SUMMARY_HEADERS[1:])]


def _write_township_summary(
    path: Path,
    district: str,
    township: str,
    cycle: str,
    data_as_of: dt.date,
    community_counts: pd.DataFrame,
    timestamp: dt.datetime,
) -> dict[str, Any]:
    communities = list(community_counts.index)
    counts = community_counts.reindex(index=[*communities, "合计"], columns=list(SUMMARY_HEADERS[1:]))
    counts = counts.fillna(0).astype("int64")
    counts.loc["合计"] = counts.loc[communities].sum()
    groups = [
        (list(RISK_LEVELS), "评分儿童数"),
        (["本期监护风险名单"], None),
        (["本期疑似未登记留守"], None),
        (["本期紧急核查"], None),
    ]
    mask = suppress_small_cells(counts, groups, total_row="合计")

    wb = Workbook()
    _register_styles(wb)
    ws = wb.active
    ws.title = "乡镇汇总"
    ncol = len(SUMMARY_HEADERS)
    last = get_column_letter(ncol)
    ws.cell(1, 1, f"{district} {township} 儿童督导员汇总（{cycle}）").font = Font(bold=True, size=14)
    ws.merge_cells(f"A1:{last}1")
    ws.cell(
        2,
        1,
        f"数据截至 {data_as_of.isoformat()}。按村(社区)统计监护风险评分儿童的风险等级分布与本期名单人数；"
        "少于10人的格子显示为“<10”；为防止由合计推算，另有个别格子隐去，显示为“—”。",
    ).alignment = Alignment(wrap_text=True, vertical="center")
    ws.merge_cells(f"A2:{last}2")
    ws.row_dimensions[2].height = 32
    widths = [22 if j == 1 else 13 for j in range(1, ncol + 1)]
    for j, name in enumerate(SUMMARY_HEADERS, start=1):
        ws.cell(HEADER_ROW, j, name).style = "hm_header"
        ws.column_dimensions[get_column_letter(j)].width = widths[j - 1]
    # headers such as 本期疑似未登记留守 wrap to two lines: make the row high enough to show them whole
    ws.row_dimensions[HEADER_ROW].height = max(
        _wrapped_height(name, width) for name, width in zip(SUMMARY_HEADERS, widths, strict=True))
    ws.freeze_panes = ws.cell(HEADER_ROW + 1, 2).coordinate
    shown = counts.astype(object).copy()
    for i, label in enumerate(counts.index, start=HEADER_ROW + 1):
        c = ws.cell(i, 1, label)
        c.border = _BORDER
        if label == "合计":
            c.font = Font(bold=True)
        for j, col in enumerate(SUMMARY_HEADERS[1:], start=2):
            value: Any = int(counts.at[label, col])
            if bool(mask.at[label, col]):
                # primary: fewer than 10 children; complementary: hidden so the first cannot be derived
                value = f"<{SMALL_CELL_THRESHOLD}" if value < SMALL_CELL_THRESHOLD else COMPLEMENTARY_MARK
            shown.at[label, col] = value
            ws.cell(i, j, value).style = "hm_count_total" if label == "合计" else "hm_count"
    _print_setup(ws, f"{HEADER_ROW}:{HEADER_ROW}")
    texts = [
            "说明",
            "本表供乡镇(街道)儿童督导员了解各村(社区)本期名单的规模和风险分布，不含任何儿童编号或姓名。",
            "“评分儿童数”为参与监护风险评分的儿童数；极危/高危/中危/低危为其风险等级分布（全市统一的 1–20 分档）。",
            "“走访名额K”为该村(社区)本期走访能力（儿童主任人数 × 每人每期走访数）；名单人数不超过名额。",
            "少于10名儿童的统计格显示为“<10”；当一行或一列只有一个格子被隐去时，会再隐去一个最小的格子（显示为“—”，"
            "表示不少于10），使被隐去的数字无法由合计推算出来。",
            "名单是上门走访的提示，不是对家庭的评判。各村(社区)名单的具体儿童，请通过护苗审核系统按权限查看（留痕审计）。",
    ]
    _write_text_sheet(wb.create_sheet("说明"), [("title", texts[0]), *(("p", t) for t in texts[1:])])
    save_workbook_deterministic(wb, path, timestamp)
    return {"path": path, "table": shown}


# ----------------------------------------------------------------------------------------------
# public entry point
# ----------------------------------------------------------------------------------------------


#: Fewer workbooks than this are written in the calling process whatever ``workers`` says: a spawned
#: worker takes about a second to import openpyxl and pandas, the time of some 40 workbooks.
PARALLEL_MIN_WORKBOOKS = 200


def _call(job: tuple) -> None:
    func, args = job
    func(*args)


def _run_jobs(jobs: Sequence[tuple], workers: int) -> None:
    """Run every ``(function, arguments)`` job: here, or in ``workers`` spawned processes (module-level
    functions and picklable arguments only). An error in a job is raised here once every job is done
    or cancelled."""
    if workers <= 1 or len(jobs) < PARALLEL_MIN_WORKBOOKS:
        for job in jobs:
            _call(job)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunk = max(1, len(jobs) // (workers * 16))
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for _ in pool.map(_call, jobs, chunksize=chunk):
            pass


def _parquet_table(rows: Iterable[dict]) -> pa.Table:
    rows = list(rows)
    for row in rows:
        extra = set(row) - set(PARQUET_SCHEMA.names)
        assert not extra, f"unexpected output columns {extra}"  # never write an unknown column
    columns = {name: [row.get(name) for row in rows] for name in PARQUET_SCHEMA.names}
    return pa.table(columns, schema=PARQUET_SCHEMA)


def write_visit_lists(
    guardianship_scores: pd.DataFrame,
    left_behind_scores: pd.DataFrame,
    out_dir: Path,
    cycle: str,
    *,
    data_as_of: dt.date,
    alerts: pd.DataFrame | None = None,
    risk_levels: Mapping[str, int] | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """Write one cycle's visit lists: a workbook per community, a township summary, one Parquet.

    Parameters
    ----------
    guardianship_scores : pandas.DataFrame
        The ``guardianship_risk`` scores table of the cycle (docs/interfaces.md §4): ``child_token,
        as_of_date, target, community, township, district, score, ventile, risk_level,
        rank_in_community, capacity, reasons, reason_features`` and optionally ``age_band,
        last_visit_date, registry_category, flags`` (a string or a list of strings such as
        ``近期已走访`` / ``数据更正中``). Every scored child, not only the listed ones: the township
        summary counts all of them; the list keeps ranks ``1..capacity`` of each community.
    left_behind_scores : pandas.DataFrame
        The ``left_behind_risk`` scores table, same columns; its ``capacity`` is the capacity of the
        疑似未登记留守儿童 section (default 3 per community, DESIGN §11.8).
    out_dir : pathlib.Path
        Root of the lists; files go under ``out_dir/<cycle>/``.
    cycle : str
        ``'YYYY-MM'``.
    data_as_of : datetime.date
        The date the data is current to; shown on every row and used as the workbooks' fixed
        created/modified time (so re-runs are byte-identical).
    alerts : pandas.DataFrame, optional
        Event alerts (紧急核查): ``child_token, community, event, event_date`` and optionally
        ``township, district`` (needed when a community name is not in the scores tables or is
        ambiguous). Listed first, newest first; they do not use up capacity.
    risk_levels : Mapping[str, int], optional
        Lower ventile bound of each level (configuration ``risk_levels``), used only to explain the
        levels on the 说明 sheet; default 极危 19, 高危 16, 中危 11, 低危 1 (DESIGN §7).
    workers : int
        Processes writing the workbooks (default 1: this one). With more, and at least
        :data:`PARALLEL_MIN_WORKBOOKS` workbooks, they are shared among that many spawned processes:
        openpyxl is pure Python, and a 2,000,000-child city has 8,000 communities (issue 8). The files
        are byte-identical either way.

    Returns
    -------
    dict
        ``cycle``, ``root`` (``out_dir/<cycle>``), ``parquet`` (path), ``parquet_sha256``,
        ``workbooks`` (sorted list of community workbook paths), ``township_summaries`` (sorted list
        of paths), ``counts`` (``communities, guardianship_listed, left_behind_listed, alerts, rows``)
        and ``per_community`` (list of dicts: district, township, community, path, guardianship,
        left_behind, alerts, capacity, left_behind_capacity).

    Raises
    ------
    ValueError
        On a malformed cycle, missing or unexpected columns, a value that is not a pseudonymous
        token, an unknown risk level, or an alert that cannot be placed in a township.
    """
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", cycle):
        raise ValueError(f"cycle must be 'YYYY-MM', got {cycle!r}")
    if isinstance(data_as_of, dt.datetime):
        data_as_of = data_as_of.date()
    bounds = dict(risk_levels or DEFAULT_LEVEL_BOUNDS)
    if set(bounds) != set(RISK_LEVELS):
        raise ValueError(f"risk_levels must name exactly {RISK_LEVELS}, got {sorted(bounds)}")
    gs = _check_scores(guardianship_scores, GUARDIANSHIP, "guardianship_scores")
    lb = _check_scores(left_behind_scores, LEFT_BEHIND, "left_behind_scores")

    places: dict[str, set[tuple[str, str]]] = {}
    for df in (gs, lb):
        for d, t, c in df[["district", "township", "community"]].drop_duplicates().itertuples(index=False):
            places.setdefault(str(c), set()).add((str(d), str(t)))
    by_child: dict[str, dict] = {}
    alert_tokens = (
        set() if alerts is None or "child_token" not in alerts else set(alerts["child_token"].astype(str))
    )
    for rec in gs[gs["child_token"].astype(str).isin(alert_tokens)].to_dict("records"):
        by_child[str(rec["child_token"])] = {
            "age_band": _as_str(rec["age_band"]),
            "risk_level": str(rec["risk_level"]),
            "ventile": int(rec["ventile"]),
            "score": float(rec["score"]),
            "last_visit_date": _as_date(rec["last_visit_date"]),
            "registry_category": _as_str(rec["registry_category"]),
            "flags": _as_list(rec["flags"]),
            "as_of_date": _as_date(rec["as_of_date"]),
        }

    rows = [
        *_alert_rows(alerts, places, by_child, data_as_of, cycle),
        *_section_rows(gs, GUARDIANSHIP, data_as_of, cycle),
        *_section_rows(lb, LEFT_BEHIND, data_as_of, cycle),
    ]
    rows.sort(
        key=lambda r: (r["district"], r["township"], r["community"], SECTION_ORDER[r["section"]], r["rank"])
    )

    root = Path(out_dir) / cycle
    root.mkdir(parents=True, exist_ok=True)
    timestamp = dt.datetime.combine(data_as_of, dt.time(0, 0))

    cap_g = {
        (str(d), str(t), str(c)): int(k)
        for (d, t, c), k in gs.groupby(["district", "township", "community"])["capacity"].first().items()
    }
    cap_l = {
        (str(d), str(t), str(c)): int(k)
        for (d, t, c), k in lb.groupby(["district", "township", "community"])["capacity"].first().items()
    }
    all_places = sorted(
        set(cap_g) | set(cap_l) | {(r["district"], r["township"], r["community"]) for r in rows}
    )
    by_place: dict[tuple[str, str, str], list[dict]] = {}
    for r in rows:
        by_place.setdefault((r["district"], r["township"], r["community"]), []).append(r)
    for place in all_places:  # the data team's list has no capacity: its "K" is everyone listed
        if _is_unplaced(place):
            mine = by_place.get(place, [])
            cap_g[place] = sum(r["section"] == GUARDIANSHIP for r in mine)
            cap_l[place] = sum(r["section"] == LEFT_BEHIND for r in mine)
    summary_counts = _summary_counts(gs, rows, all_places, cap_g)

    workbooks: list[Path] = []
    jobs: list[tuple] = []  # (function, arguments) of every workbook, written together below
    per_community: list[dict[str, Any]] = []
    seen_paths: dict[Path, tuple[str, str, str]] = {}
    for place in all_places:
        district, township, community = place
        path = root / safe_filename(district) / safe_filename(township) / f"{safe_filename(community)}.xlsx"
        if path in seen_paths:
            raise ValueError(f"communities {seen_paths[path]} and {place} map to the same file {path}")
        seen_paths[path] = place
        mine = by_place.get(place, [])
        sections = {s: [r for r in mine if r["section"] == s] for s in SECTION_ORDER}
        capacities = {GUARDIANSHIP: cap_g.get(place, 0), LEFT_BEHIND: cap_l.get(place, 0)}
        jobs.append((_write_community_workbook,
                     (path, place, cycle, data_as_of, sections, capacities, timestamp, bounds)))
        workbooks.append(path)
        per_community.append(
            {
                "district": district,
                "township": township,
                "community": community,
                "path": path,
                "alerts": len(sections[ALERT]),
                "guardianship": len(sections[GUARDIANSHIP]),
                "left_behind": len(sections[LEFT_BEHIND]),
                "capacity": capacities[GUARDIANSHIP],
                "left_behind_capacity": capacities[LEFT_BEHIND],
            }
        )

    summaries: list[Path] = []
    for district, township in sorted({(d, t) for d, t, _ in all_places}):
        communities = sorted(c for d, t, c in all_places if (d, t) == (district, township))
        path = (
            root
            / safe_filename(district)
            / safe_filename(township)
            / f"乡镇汇总_{safe_filename(township)}.xlsx"
        )
        jobs.append((_write_township_summary, (
            path,
            district,
            township,
            cycle,
            data_as_of,
            summary_counts.loc[(district, township)].loc[communities],
            timestamp,
        )))
        summaries.append(path)
    _run_jobs(jobs, workers)

    table = _parquet_table(rows)
    parquet_path = root / "visit_lists.parquet"
    pq.write_table(table, parquet_path, compression="zstd", write_statistics=True)
    digest = hashlib.sha256(parquet_path.read_bytes()).hexdigest()

    return {
        "cycle": cycle,
        "root": root,
        "parquet": parquet_path,
        "parquet_sha256": digest,
        "workbooks": workbooks,
        "township_summaries": summaries,
        "counts": {
            "communities": len(all_places),
            "guardianship_listed": sum(r["section"] == GUARDIANSHIP for r in rows),
            "left_behind_listed": sum(r["section"] == LEFT_BEHIND for r in rows),
            "alerts": sum(r["section"] == ALERT for r in rows),
            "rows": len(rows),
        },
        "per_community": per_community,
    }
