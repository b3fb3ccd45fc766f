"""Recognition of files by their headers (privacy.recognize): a renamed file, a mapping-file pin, an
unrecognized file, ambiguity reported (never guessed), the historic <department>/<file> layout."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from _messy_harness import CONTRACTS, ingest_files

from privacy.ingest import IngestFailed
from privacy.readers import open_sources
from privacy.recognize import MappingError, plan_folder, recognize_source, score_headers

HAND = Path(__file__).resolve().parent / "messy" / "hand"


def _csv(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def test_score_prefers_the_table_whose_columns_are_all_there():
    hh = [c.header for c in CONTRACTS["household_registry"].columns]
    scores = {n: score_headers(hh, t).score for n, t in CONTRACTS.items()}
    assert max(scores, key=scores.get) == "household_registry" and scores["household_registry"] == 1.0
    assert scores["child_registry"] < 0.7  # shares 姓名/身份证号/places, but far fewer columns


def test_renamed_file_recognized_by_headers_even_with_a_title_line(tmp_path):
    p = _csv(tmp_path / "in" / "新建文件夹" / "导出(1).csv",
             [["XX区残疾人证台账（截至2025年6月）"], ["残疾人证号", "姓名", "身份证号", "残疾类别", "残疾等级", "发证日期"]])
    plan = plan_folder(tmp_path / "in", CONTRACTS)
    (ps,) = plan.sources
    assert (ps.status, ps.table, ps.how, ps.header_rows) == ("recognized", "disability_certificates", "headers", (2,))
    assert ps.rel == "新建文件夹/导出(1).csv" and p.exists()


def test_unrecognized_and_ambiguous_files_are_reported_not_guessed(tmp_path):
    rep = ingest_files(tmp_path, [HAND / "h06_不认识的表.csv", HAND / "h05_两表皆可.csv"])
    un = rep.file("h06_不认识的表.csv")
    amb = rep.file("h05_两表皆可.csv")
    assert un.status == "unrecognized" and un.table is None and un.notices[0]["code"] == "TABLE_UNRECOGNIZED"
    assert amb.status == "ambiguous" and amb.table is None
    assert {c["table"] for c in amb.candidates[:2]} == {"detention_records", "disability_certificates"}
    assert "humiao_mapping.yaml" in amb.errors[0]["message_zh"] and "humiao_mapping.yaml" in amb.errors[0]["message_en"]
    assert rep.status == "failed"  # ambiguity is an error …
    assert all(t.status == "missing" for t in rep.tables.values())  # … and nothing was guessed
    with pytest.raises(IngestFailed, match="TABLE_AMBIGUOUS"):
        ingest_files(tmp_path / "again", [HAND / "h05_两表皆可.csv"], raise_on_error=True)
    strict = ingest_files(tmp_path / "strict", [HAND / "h06_不认识的表.csv"], fail_on_unrecognized=True)
    assert strict.status == "failed"


def test_mapping_file_pins_a_file_and_a_sheet(tmp_path):
    raw = tmp_path / "in"
    raw.mkdir()
    shutil.copy(HAND / "h05_两表皆可.csv", raw / "名单.csv")
    shutil.copy(HAND / "h22_残联_说明页加数据页.xlsx", raw / "残联.xlsx")
    (raw / "humiao_mapping.yaml").write_text(
        "files:\n  名单.csv: detention_records\n  残联.xlsx:\n    sheets: {残疾人证: disability_certificates, 填表说明: ignore}\n",
        encoding="utf-8",
    )
    plan = plan_folder(raw, CONTRACTS)
    by = {p.label: p for p in plan.sources}
    assert by["名单.csv"].table == "detention_records" and by["名单.csv"].how == "mapping"
    assert by["残联.xlsx#残疾人证"].how == "mapping"
    assert {"file": "残联.xlsx#填表说明", "reason": "MAPPING_IGNORE"} in plan.ignored
    assert {"file": "humiao_mapping.yaml", "reason": "CONTROL_FILE"} in plan.ignored
    # the pinned 名单.csv lacks 羁押开始日期: a clear, bilingual error instead of a guess
    rep = ingest_files(tmp_path / "run", [raw / "名单.csv", raw / "残联.xlsx", raw / "humiao_mapping.yaml"])
    err = rep.file("名单.csv").errors[0]
    assert err["code"] == "REQUIRED_COLUMN_MISSING" and "羁押开始日期" in err["message_zh"]
    assert "required column" in err["message_en"] and "名单.csv" in err["message_en"]
    assert rep.tables["detention_records"].status == "failed"
    assert rep.tables["disability_certificates"].rows_passed == 3


def test_mapping_to_unknown_table_fails_before_reading(tmp_path):
    with pytest.raises(MappingError, match="no_such_table"):
        plan_folder(tmp_path, CONTRACTS, {"a.csv": "no_such_table"})


def test_historic_layout_still_pins(tmp_path):
    t = CONTRACTS["attendance"]
    _csv(tmp_path / "in" / "education" / "attendance.csv",
         [[c.header for c in t.columns], ["G330106201501011236", "2025-03", "1", "22"]])
    (ps,) = plan_folder(tmp_path / "in", CONTRACTS).sources
    assert (ps.table, ps.how) == ("attendance", "layout")


def test_pinned_workbook_skips_side_sheets(tmp_path):
    raw = tmp_path / "in" / "disability_federation"
    raw.mkdir(parents=True)
    shutil.copy(HAND / "h22_残联_说明页加数据页.xlsx", raw / "disability_certificates.xlsx")
    plan = plan_folder(tmp_path / "in", CONTRACTS)
    assert [p.sheet for p in plan.sources] == ["残疾人证"]
    assert any(i["reason"] == "SHEET_NOT_THE_TABLE" for i in plan.ignored)


def test_recognize_source_on_a_merged_header_workbook(tmp_path):
    from simulator.mess import write_messy

    write_messy(tmp_path / "gen")
    (src,) = open_sources(tmp_path / "gen" / "台账_合并表头_合计行.xlsx")
    status, table, _score, rows, names, _ = recognize_source(src, CONTRACTS)
    assert (status, table, rows) == ("recognized", "child_registry", (3, 4))
    assert "监护人信息_公民身份号码" in names and "儿童信息_姓名" in names
