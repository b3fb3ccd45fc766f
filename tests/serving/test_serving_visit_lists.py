"""Visit lists: workbook structure, capacity, sections, Parquet, small cells, determinism."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook
from serving_testdata import AS_OF, COMMUNITIES, CYCLE, token

from serving.visit_lists import (
    AGREEMENT_CHOICES,
    COMPLEMENTARY_MARK,
    LIST_HEADERS,
    PARQUET_SCHEMA,
    VISIT_OUTCOMES,
    suppress_small_cells,
    write_visit_lists,
)


@pytest.fixture
def written(tmp_path, guardianship_scores, left_behind_scores, alerts):
    result = write_visit_lists(
        guardianship_scores, left_behind_scores, tmp_path, CYCLE, data_as_of=AS_OF, alerts=alerts
    )
    return tmp_path, result


def _rows(ws):
    return [[c.value for c in row] for row in ws.iter_rows()]


SECTION_NAMES = {"一、": "紧急核查", "二、": "监护风险走访名单", "三、": "疑似未登记留守儿童"}


def _section(ws, title_start: str) -> list[list]:
    """Data rows of the section named by ``title_start`` (its number when every section is shown, as in
    the alerts community, or its name: numbering starts at 一 in a community without alerts)."""
    name = SECTION_NAMES.get(title_start, title_start)
    rows = _rows(ws)
    out, inside = [], False
    for row in rows[3:]:
        first = row[0]
        if isinstance(first, str) and first[:2] in ("一、", "二、", "三、"):
            inside = name in first
            continue
        if inside and isinstance(first, int):
            out.append(row)
    return out


def test_layout_and_counts(written):
    root, result = written
    assert result["root"] == root / CYCLE
    assert len(result["workbooks"]) == 3
    expected = {root / CYCLE / d / t / f"{c}.xlsx" for d, t, c, _, _ in COMMUNITIES}
    assert set(result["workbooks"]) == expected
    assert all(p.exists() for p in expected)
    assert set(result["township_summaries"]) == {
        root / CYCLE / "临安区" / "於潜镇" / "乡镇汇总_於潜镇.xlsx",
        root / CYCLE / "西湖区" / "转塘街道" / "乡镇汇总_转塘街道.xlsx",
    }
    assert result["parquet"] == root / CYCLE / "visit_lists.parquet"
    # K = 3, 2, 4 (祥里村 has 5 scored ≥ 2); left-behind capacity 3 each
    assert result["counts"] == {
        "communities": 3,
        "guardianship_listed": 3 + 2 + 4,
        "left_behind_listed": 9,
        "alerts": 2,
        "rows": 20,
    }


def test_workbook_structure(written):
    root, _ = written
    wb = load_workbook(root / CYCLE / "临安区" / "於潜镇" / "光明村.xlsx")
    assert wb.sheetnames == ["走访名单", "说明"]
    ws = wb["走访名单"]
    title = ws["A1"].value
    for part in ("临安区", "於潜镇", "光明村", CYCLE):
        assert part in title
    assert [c.value for c in ws[3]] == [h for h, _ in LIST_HEADERS]
    assert [h for h, _ in LIST_HEADERS][:8] == [
        "序号",
        "儿童编号",
        "年龄段",
        "风险等级",
        "风险分(1–20)",
        "主要原因",
        "上次走访日期",
        "数据截至日期",
    ]
    assert [h for h, _ in LIST_HEADERS][-4:] == ["走访日期", "走访结果", "是否同意排序", "不同意原因"]
    assert ws.freeze_panes == "A4"
    assert ws.column_dimensions["F"].width >= 40
    # print setup: A4 landscape, fit to width, header row repeated
    assert ws.page_setup.orientation == "landscape"
    assert int(ws.page_setup.paperSize) == int(ws.PAPERSIZE_A4) == 9
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert int(ws.page_setup.fitToWidth) == 1
    assert ws.print_title_rows == "$3:$3"

    # alerts first, then the main list, then the left-behind section
    banners = [r[0] for r in _rows(ws)[3:] if isinstance(r[0], str) and r[0][:2] in ("一、", "二、", "三、")]
    assert [b[:2] for b in banners] == ["一、", "二、", "三、"]
    assert "疑似未登记留守儿童（请核实并登记）" in banners[2]

    alerts = _section(ws, "一、")
    assert [r[1] for r in alerts] == [token(3)]
    assert "监护人住院" in alerts[0][5] and "2025-05-20" in alerts[0][5]

    main = _section(ws, "二、")
    assert [r[0] for r in main] == [1, 2, 3]  # capacity K=3 of 14 scored
    assert [r[1] for r in main] == [token(1), token(2), token(3)]
    assert main[0][3] == "极危" and main[0][4] == 20
    reasons = main[1][5].split("\n")
    assert reasons == ["1. 近3个月缺勤12天", "2. 父母均在外地参保12个月", "3. 祖父近期住院"]
    assert ws.cell(5, 6).alignment.wrap_text or ws.cell(6, 6).alignment.wrap_text
    assert main[1][8] and "数据更正中" in main[1][8]
    assert main[0][7] == dt.datetime(2025, 6, 1)  # 数据截至日期 as a date cell
    assert all(v is None for r in main for v in r[9:])  # empty columns for the director

    left = _section(ws, "三、")
    assert len(left) == 3
    assert left[0][1] == token(1) and "同在监护风险名单" in left[0][8]

    # fills by risk level on the level cell
    row_of_first = next(i for i, r in enumerate(_rows(ws), start=1) if r[1] == token(1) and r[0] == 1)
    assert ws.cell(row_of_first, 4).fill.fgColor.rgb.endswith("F4B6B6")

    # drop-downs for the outcome and the agreement
    lists = {
        tuple(dv.formula1.strip('"').split(",")): str(dv.sqref)
        for dv in ws.data_validations.dataValidation
        if dv.type == "list"
    }
    assert VISIT_OUTCOMES in lists and AGREEMENT_CHOICES in lists
    assert f"K{row_of_first}" in lists[VISIT_OUTCOMES] or "K" in lists[VISIT_OUTCOMES]

    note = "\n".join(str(c.value) for c in wb["说明"]["A"] if c.value)
    for phrase in ("不是对任何家庭", "核实", "走访结果", "帮扶的理由", "化名编号", "留痕审计", "强制报告"):
        assert phrase in note
    # this community has alerts: the explanation names them and the sections as numbered on the list
    assert "条“紧急核查”（第一部分）" in note and "第二部分的等级表示监护风险；第三部分" in note


def test_explanation_follows_the_sections_of_a_community_without_alerts():
    """The 说明 sheet must not describe a 紧急核查 section the list does not have (new-user finding):
    without alerts the lists are numbered from 一."""
    from serving.visit_lists import _explanation_paragraphs

    caps = {"guardianship_risk": 10, "left_behind_risk": 3}
    text = "".join(t for _, t in _explanation_paragraphs(("区", "镇", "村"), "2026-01", dt.date(2025, 12, 31), caps))
    assert "没有需要紧急核查的事件" in text and "第一部分的等级表示监护风险；第二部分" in text
    assert "紧急核查中的等级" not in text


def test_capacity_respected_everywhere(written):
    _, result = written
    for entry in result["per_community"]:
        wb = load_workbook(entry["path"])
        ws = wb["走访名单"]
        banners = [r[0] for r in _rows(ws)[3:] if isinstance(r[0], str) and r[0][:2] in ("一、", "二、", "三、")]
        assert [b[:2] for b in banners] == ["一、", "二、", "三、"][: len(banners)]  # numbered from 一
        assert len(_section(ws, "二、")) == min(
            entry["capacity"], {c: n for *_, c, _k, n in COMMUNITIES}[entry["community"]]
        )
        assert len(_section(ws, "三、")) <= entry["left_behind_capacity"]
    sizes = {e["community"]: e["guardianship"] for e in result["per_community"]}
    assert sizes == {"光明村": 3, "祥里村": 2, "龙坞社区": 4}


def test_parquet_content(written):
    _, result = written
    table = pq.read_table(result["parquet"])
    assert table.schema.equals(PARQUET_SCHEMA)
    reasons_type = table.schema.field("reasons").type
    assert pa.types.is_list(reasons_type) and pa.types.is_string(reasons_type.value_type)
    df = table.to_pandas()
    assert set(df["section"]) == {"event_alert", "guardianship_risk", "left_behind_risk"}
    assert (df["cycle"] == CYCLE).all() and (df["data_as_of"] == AS_OF).all()
    g = df[df["section"] == "guardianship_risk"]
    assert g.groupby("community").size().to_dict() == {"光明村": 3, "祥里村": 2, "龙坞社区": 4}
    assert (g["rank"] <= g["capacity"]).all()
    first = g[(g["community"] == "光明村") & (g["rank"] == 2)].iloc[0]
    assert list(first["reasons"]) == ["近3个月缺勤12天", "父母均在外地参保12个月", "祖父近期住院"]
    alert = df[df["section"] == "event_alert"].set_index("community")
    assert (
        alert.loc["龙坞社区", "event"] == "低保家庭新生儿" and alert.loc["龙坞社区", "township"] == "转塘街道"
    )
    assert alert.loc["光明村", "risk_level"] == "高危"  # joined from the child's score
    # no column beyond the declared schema, no name-like column
    assert not {"name", "姓名", "id_number", "phone", "address"} & set(df.columns)


def test_township_summary_suppresses_small_cells(written):
    root, _ = written
    wb = load_workbook(root / CYCLE / "临安区" / "於潜镇" / "乡镇汇总_於潜镇.xlsx")
    ws = wb["乡镇汇总"]
    assert "於潜镇" in ws["A1"].value and CYCLE in ws["A1"].value
    header = [c.value for c in ws[3]]
    assert header[:6] == ["村(社区)", "评分儿童数", "极危", "高危", "中危", "低危"]
    body = {r[0]: dict(zip(header, r, strict=True)) for r in _rows(ws)[3:]}
    assert set(body) == {"光明村", "祥里村", "合计"}
    assert body["祥里村"]["评分儿童数"] == "<10"  # 5 children
    assert body["光明村"]["评分儿童数"] == COMPLEMENTARY_MARK  # 14 = 19 − 5 would reveal it
    assert body["合计"]["评分儿童数"] == 19
    # 光明村: 2 极危, 3 高危, 5 中危, 4 低危 — every group below 10 shows "<10"
    assert [body["光明村"][lvl] for lvl in ("极危", "高危", "中危", "低危")] == ["<10"] * 4
    assert body["光明村"]["走访名额K"] == 3  # capacity is not a count of children
    for label, row in body.items():
        for col in header[1:]:
            if col == "走访名额K":
                continue
            v = row[col]
            assert v in ("<10", COMPLEMENTARY_MARK) or (isinstance(v, int) and v >= 10), (label, col, v)
    # no tokens in the supervisor's summary
    assert not any("_k1_" in str(v) for r in _rows(ws) for v in r)


def test_suppress_small_cells_complementary():
    counts = pd.DataFrame(
        {"a": [50, 40, 90], "b": [3, 30, 33], "c": [20, 25, 45], "t": [73, 95, 168]}, index=["x", "y", "合计"]
    )
    mask = suppress_small_cells(counts, [(["a", "b", "c"], "t")], total_row="合计")
    assert mask.at["x", "b"]
    # row x: a second part hidden; column b: a second body cell hidden
    assert mask.loc["x", ["a", "c"]].sum() >= 1
    assert mask.loc[["y"], "b"].sum() >= 1 or mask.at["合计", "b"]
    for r in counts.index:  # no row or column with exactly one hidden cell
        assert mask.loc[r].sum() != 1
    for c in counts.columns:
        assert mask[c].sum() != 1


def test_deterministic(tmp_path, guardianship_scores, left_behind_scores, alerts):
    a = write_visit_lists(
        guardianship_scores, left_behind_scores, tmp_path / "a", CYCLE, data_as_of=AS_OF, alerts=alerts
    )
    shuffled = guardianship_scores.sample(frac=1.0, random_state=3)
    b = write_visit_lists(
        shuffled, left_behind_scores, tmp_path / "b", CYCLE, data_as_of=AS_OF, alerts=alerts
    )
    assert a["parquet_sha256"] == b["parquet_sha256"]
    assert pq.read_table(a["parquet"]).equals(pq.read_table(b["parquet"]))
    for pa_, pb in zip(
        a["workbooks"] + a["township_summaries"], b["workbooks"] + b["township_summaries"], strict=True
    ):
        assert hashlib.sha256(pa_.read_bytes()).digest() == hashlib.sha256(pb.read_bytes()).digest()
        wa, wb_ = load_workbook(pa_), load_workbook(pb)
        assert wa.properties.created == wa.properties.modified == dt.datetime(2025, 6, 1)
        for name in wa.sheetnames:
            assert _rows(wa[name]) == _rows(wb_[name])


def test_workers_write_the_same_bytes(tmp_path, guardianship_scores, left_behind_scores, alerts, monkeypatch):
    """Workbooks shared among spawned processes (issue 8: 8,000 communities at 2M) are the same files,
    byte for byte, as those written here; a job that fails in a worker fails the call."""
    import serving.visit_lists as vl

    one = write_visit_lists(guardianship_scores, left_behind_scores, tmp_path / "one", CYCLE, data_as_of=AS_OF,
                            alerts=alerts)
    monkeypatch.setattr(vl, "PARALLEL_MIN_WORKBOOKS", 1)
    two = write_visit_lists(guardianship_scores, left_behind_scores, tmp_path / "two", CYCLE, data_as_of=AS_OF,
                            alerts=alerts, workers=2)
    files = one["workbooks"] + one["township_summaries"]
    assert len(files) > 2
    for a, b in zip(files, two["workbooks"] + two["township_summaries"], strict=True):
        assert a.relative_to(tmp_path / "one") == b.relative_to(tmp_path / "two")
        assert a.read_bytes() == b.read_bytes(), a.name
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / CYCLE).write_text("a file where the cycle's folder goes", encoding="utf-8")
    with pytest.raises(OSError):
        vl._run_jobs([(vl.safe_filename, ("x",)), (vl.Path.mkdir, (blocked / CYCLE / "d",))], workers=2)


def test_refuses_unknown_columns_and_raw_identifiers(tmp_path, guardianship_scores, left_behind_scores):
    with pytest.raises(ValueError, match="unexpected columns"):
        write_visit_lists(
            guardianship_scores.assign(name="张三"), left_behind_scores, tmp_path, CYCLE, data_as_of=AS_OF
        )
    bad = guardianship_scores.copy()
    bad.loc[0, "child_token"] = "张三"
    with pytest.raises(ValueError, match="not pseudonymous tokens"):
        write_visit_lists(bad, left_behind_scores, tmp_path, CYCLE, data_as_of=AS_OF)
    with pytest.raises(ValueError, match="cycle"):
        write_visit_lists(guardianship_scores, left_behind_scores, tmp_path, "2025-6", data_as_of=AS_OF)
    assert not any(tmp_path.rglob("*.xlsx"))
    unplaced = pd.DataFrame(
        [{"child_token": token(1), "community": "不存在村", "event": "x", "event_date": AS_OF}]
    )
    with pytest.raises(ValueError, match="cannot place"):
        write_visit_lists(
            guardianship_scores, left_behind_scores, tmp_path, CYCLE, data_as_of=AS_OF, alerts=unplaced
        )


def test_no_alerts_and_empty_capacity(tmp_path, guardianship_scores, left_behind_scores):
    gs = guardianship_scores.copy()
    gs.loc[gs["community"] == "祥里村", "capacity"] = 0
    result = write_visit_lists(gs, left_behind_scores, tmp_path, CYCLE, data_as_of=AS_OF)
    assert result["counts"]["alerts"] == 0
    ws = load_workbook(tmp_path / CYCLE / "临安区" / "於潜镇" / "祥里村.xlsx")["走访名单"]
    values = [r[0] for r in _rows(ws)]
    assert "（本期无）" in values
    assert not any(isinstance(v, str) and "紧急核查——" in v for v in values)  # no alert section
    assert any(isinstance(v, str) and v.startswith("一、监护风险走访名单") for v in values)  # numbered from 一


def test_unplaced_children_have_an_owner():
    """A new user found the （未定位） workbook with no one responsible for it: its 说明 sheet hands it to
    the bureau's data team to locate the children and pass them on."""
    from features.build import UNPLACED as FEATURES_UNPLACED
    from serving.visit_lists import UNPLACED, _explanation_paragraphs

    assert UNPLACED == FEATURES_UNPLACED  # the place features give an unlocated child
    caps = {"guardianship_risk": 10, "left_behind_risk": 3}
    text = "".join(t for _, t in _explanation_paragraphs((UNPLACED,) * 3, "2026-01", dt.date(2025, 12, 31), caps))
    assert "没有可用的居住地登记" in text and "民政局数据组" in text
    placed = "".join(t for _, t in _explanation_paragraphs(("区", "镇", "村"), "2026-01", dt.date(2025, 12, 31), caps))
    assert "数据组" not in placed


def _with_unplaced(scores: pd.DataFrame, n: int, capacity: int = 10) -> pd.DataFrame:
    """``scores`` plus ``n`` children in the （未定位） pseudo-place, with the capacity the pipeline gives a
    community without registered children (one director × 10 visits)."""
    from serving.visit_lists import UNPLACED

    extra = scores.head(1).loc[[scores.index[0]] * n].reset_index(drop=True)
    extra = extra.assign(
        child_token=[token(5000 + i) for i in range(n)],
        district=UNPLACED, township=UNPLACED, community=UNPLACED,
        rank_in_community=range(1, n + 1), score=[round(0.95 - i / 100, 4) for i in range(n)],
        capacity=capacity,
    )
    return pd.concat([scores, extra], ignore_index=True)


def test_unplaced_list_holds_every_unplaced_child_and_says_so(tmp_path, guardianship_scores, left_behind_scores):
    """The （未定位） workbook's 说明 said "只列出前 10 名；疑似未登记留守儿童另列前 0 名": a director's capacity
    on a list no director visits. It is the data team's list of every child not yet placed."""
    from serving.visit_lists import UNPLACED

    gs = _with_unplaced(guardianship_scores, 25)
    result = write_visit_lists(gs, left_behind_scores, tmp_path, CYCLE, data_as_of=AS_OF)
    folder = tmp_path / CYCLE / UNPLACED / UNPLACED
    wb = load_workbook(folder / f"{UNPLACED}.xlsx")

    note = "".join(str(r[0]) for r in _rows(wb["说明"]) if r[0])
    assert "前 0 名" not in note and "前 10 名" not in note  # no capacity on this list
    assert "全部 25 名尚未定位的儿童" in note and "不设走访名额" in note
    assert "民政局数据组" in note and "没有可用的居住地登记" in note
    assert "本期没有尚未定位的疑似未登记留守儿童" in note  # instead of "另列前 0 名"
    assert "尚未定位儿童核实清单" in note

    ws = wb["走访名单"]
    banner = str(ws.cell(2, 1).value)
    assert "名额 10 人" not in banner and "全部尚未定位的儿童" in banner and "监护风险 25 人" in banner
    section = _section(ws, "监护风险走访名单")
    assert [r[0] for r in section] == list(range(1, 26))  # every unplaced child, ranked
    values = [r[0] for r in _rows(ws)]
    assert any(isinstance(v, str) and "全部 25 名尚未定位的儿童" in v and "不设名额" in v for v in values)

    table = pq.read_table(result["parquet"]).to_pandas()
    un = table[table["community"] == UNPLACED]
    assert len(un) == 25 and (un["capacity"] == 25).all() and sorted(un["rank"]) == list(range(1, 26))
    placed = table[(table["community"] == "光明村") & (table["section"] == "guardianship_risk")]
    assert len(placed) == 3  # a real community keeps its capacity
    assert result["counts"]["guardianship_listed"] == 3 + 2 + 4 + 25

    summary = load_workbook(folder / f"乡镇汇总_{UNPLACED}.xlsx")["乡镇汇总"]
    header = [c.value for c in summary[3]]
    row = [c.value for c in summary[4]]
    assert row[header.index("走访名额K")] == 25 and row[header.index("本期监护风险名单")] == 25

    # a placed community's explanation is unchanged: its capacity, no data-team paragraph
    placed_note = "".join(str(r[0]) for r in _rows(load_workbook(
        tmp_path / CYCLE / "临安区" / "於潜镇" / "光明村.xlsx")["说明"]) if r[0])
    assert "只列出前 3 名" in placed_note and "数据组" not in placed_note


# ----------------------------------------------------------------------------------------------
# printing (new-user findings: the 说明 sheet lost its right-hand text on paper, summary headers were
# cut, 上次走访日期 mixed right-aligned dates with a left-aligned 无记录)
# ----------------------------------------------------------------------------------------------


def _text_sheets(root):
    """(path, sheet) of every 说明 sheet of a cycle's workbooks."""
    for path in sorted(root.rglob("*.xlsx")):
        yield path, load_workbook(path)["说明"]


def test_explanation_sheets_are_laid_out_for_a4_portrait(written):
    """One narrow wrapped column (a single column too wide for the page is never scaled down by "fit
    to width": it is cut off), each row as high as its wrapped text with Chinese characters counted
    as two columns."""
    from serving.visit_lists import _text_units

    root, _ = written
    for path, ws in _text_sheets(root / CYCLE):
        width = ws.column_dimensions["A"].width
        assert width <= 70, path  # fits A4 portrait at 100 % in Excel and LibreOffice
        assert ws.page_setup.orientation == "portrait" and int(ws.page_setup.paperSize) == 9
        assert ws.sheet_properties.pageSetUpPr.fitToPage and int(ws.page_setup.fitToWidth) == 1
        for row in ws.iter_rows(min_col=1, max_col=1):
            c = row[0]
            if not c.value:
                continue
            assert c.alignment.wrap_text, (path, c.coordinate)
            size = c.font.sz or 11
            lines = math.ceil(_text_units(str(c.value)) / (width - 1.5) * size / 11)
            assert ws.row_dimensions[c.row].height >= lines * size * 1.3, (path, c.coordinate, c.value[:20])


def test_township_summary_headers_have_room(written):
    root, _ = written
    ws = load_workbook(root / CYCLE / "临安区" / "於潜镇" / "乡镇汇总_於潜镇.xlsx")["乡镇汇总"]
    height = ws.row_dimensions[3].height
    assert height is not None and height >= 2 * 11 * 1.3  # 本期疑似未登记留守 wraps to two lines
    from openpyxl.utils import get_column_letter

    for j, c in enumerate(ws[3], start=1):
        assert ws.column_dimensions[get_column_letter(j)].width * 2 >= len(c.value), c.value  # ≤ 2 lines each


def test_last_visit_column_is_aligned_consistently(written):
    _, result = written
    col = [h for h, _ in LIST_HEADERS].index("上次走访日期") + 1
    cells = []
    for path in result["workbooks"]:
        ws = load_workbook(path)["走访名单"]
        cells += [ws.cell(r, col) for r in range(4, ws.max_row + 1) if isinstance(ws.cell(r, 1).value, int)]
    texts = [c for c in cells if c.value == "无记录"]
    dates = [c for c in cells if isinstance(c.value, dt.datetime)]
    assert texts and dates  # the fixture has both
    aligns = {c.alignment.horizontal for c in cells}
    assert len(aligns) == 1 and aligns != {None} and aligns != {"general"}, aligns


def test_outcome_choices_are_the_apps_assessments(written):
    """The 说明 sheet and the drop-down said 监护良好/监护一般 while the app said 良好/一般: one constant."""
    from serving.app.db import ASSESSMENTS

    assert tuple(ASSESSMENTS) == VISIT_OUTCOMES
    root, _ = written
    note = "".join(str(c.value) for c in load_workbook(root / CYCLE / "临安区" / "於潜镇" / "光明村.xlsx")["说明"]["A"]
                   if c.value)
    assert "下拉选择：" + " / ".join(ASSESSMENTS) in note
    assert "监护良好" not in note


def _soffice() -> str | None:
    import shutil

    return shutil.which("soffice") or shutil.which("libreoffice")


@pytest.mark.skipif(_soffice() is None or __import__("shutil").which("pdftotext") is None,
                    reason="LibreOffice (soffice) and pdftotext are needed to print the workbooks")
def test_printed_workbooks_show_every_paragraph_in_full(tmp_path, guardianship_scores, left_behind_scores, alerts):
    """Print (soffice → PDF) a community workbook, the （未定位） list and a township summary; every
    paragraph of their 说明 sheets and every summary header must be on paper in full."""
    import subprocess

    from serving.visit_lists import SUMMARY_HEADERS, UNPLACED

    gs = _with_unplaced(guardianship_scores, 12)
    write_visit_lists(gs, left_behind_scores, tmp_path / "lists", CYCLE, data_as_of=AS_OF, alerts=alerts)
    root = tmp_path / "lists" / CYCLE
    books = [root / "临安区" / "於潜镇" / "光明村.xlsx", root / UNPLACED / UNPLACED / f"{UNPLACED}.xlsx",
             root / "临安区" / "於潜镇" / "乡镇汇总_於潜镇.xlsx"]
    pdf_dir = tmp_path / "pdf"
    subprocess.run([_soffice(), f"-env:UserInstallation={(tmp_path / 'lo').as_uri()}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(pdf_dir), *map(str, books)],
                   check=True, capture_output=True, timeout=240)

    def squash(text: str) -> str:
        return re.sub(r"\s+", "", text)

    for book in books:
        pdf = pdf_dir / f"{book.stem}.pdf"
        assert pdf.exists(), f"soffice did not print {book.name}"
        printed = squash(subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True,
                                        text=True).stdout)
        paragraphs = [str(c.value) for c in load_workbook(book)["说明"]["A"] if c.value]
        assert len(paragraphs) >= 5
        for text in paragraphs:
            assert squash(text) in printed, f"{book.name}: cut off on paper: {text[:30]}…"
        if book.stem.startswith("乡镇汇总"):
            for header in SUMMARY_HEADERS:
                assert squash(header) in printed, f"summary header cut off: {header}"
