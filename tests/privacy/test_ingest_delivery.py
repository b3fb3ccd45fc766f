"""New-user findings on deliveries: the same table delivered twice (a workbook and its sheet re-saved as
CSV) is stored once, with a warning and record conflicts; a refused or failed ingest leaves the
quarantine folder byte-identical, a successful one replaces it (owner-only); mapping errors are
bilingual."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest
import yaml
from _messy_harness import REPO, ingest_files
from openpyxl import Workbook

from privacy import identifiers as ids
from privacy.contracts import load_contracts
from privacy.recognize import MappingError, load_mapping


def rid(i: int, birth: str = "20150101") -> str:
    body = f"330106{birth}{i:03d}"
    return body + ids.ric_check_char(body)


HEAD = ["登记编号", "儿童姓名", "儿童公民身份号码", "儿童类别", "区(县、市)", "乡镇(街道)", "村(社区)", "登记日期"]


def registry_rows(n: int) -> list[list]:
    return [[f"DJ{i:04d}", f"张{'一二三四五六七八九十'[i % 10]}", rid(i), "留守儿童", "西湖区", "北山街道",
             "宝石社区", f"2024-03-{i % 27 + 1:02d}"] for i in range(1, n + 1)]


def test_a_table_delivered_twice_is_stored_once_with_a_warning_and_conflicts(tmp_path):
    rows = registry_rows(12)
    wb = Workbook()
    ws = wb.active
    ws.append(HEAD)
    for r in rows:  # the workbook: dates as dates, ids as text
        ws.append([*r[:7], pd.Timestamp(r[7]).to_pydatetime()])
        ws.cell(ws.max_row, 3).number_format = "@"
    src = tmp_path / "src"
    src.mkdir()
    wb.save(src / "child_registry.xlsx")
    resaved = [list(r) for r in rows[:11]]  # the same sheet "saved as CSV": dates re-written, one row dropped
    for r in resaved:
        r[7] = r[7].replace("-", "/")
    resaved[4][3] = "孤儿"  # same record number, different contents: a conflict
    resaved.append(["DJ9999", "李四", rid(99), "孤儿", "西湖区", "北山街道", "宝石社区", "2024-05-01"])  # new
    pd.DataFrame(resaved, columns=HEAD).to_csv(src / "台账另存.csv", index=False, encoding="utf-8-sig")

    rep = ingest_files(tmp_path, [src / "child_registry.xlsx", src / "台账另存.csv"])
    t = rep.tables["child_registry"]
    assert t.rows_read == 24 and t.rows_passed == 13 and t.rows_duplicate == 11 and t.rows_quarantined == 0
    assert t.reconciled and all(f.reconciled for f in rep.files)
    csv = rep.file("台账另存.csv")
    assert csv.rows_duplicate == csv.rows_duplicate_record == 11 and csv.rows_passed == 1
    assert csv.reasons.get("DUPLICATE_ROW") == 11  # reasons still add up to quarantined + duplicates
    out = pd.read_parquet(tmp_path / "work" / "pseudonymized" / "child_registry.parquet")
    assert len(out) == 13 and out["record_id"].is_unique
    kept = out[out["source_row"] == 6]  # DJ0005: the workbook (first in path order) wins
    assert list(kept["source_file"]) == ["child_registry.xlsx"] and list(kept["category"]) == ["留守儿童"]
    warn = [w for w in rep.warnings if w["code"] == "TABLE_SEVERAL_FILES"]
    assert len(warn) == 1
    for text in (warn[0]["message_zh"], warn[0]["message_en"]):
        assert "child_registry.xlsx" in text and "台账另存.csv" in text and "登记编号" in text and "11" in text
    rec = [i for i in rep.conflicts["items"] if i["code"] == "CONFLICT_RECORD"]
    assert len(rec) == 1 and rep.conflicts["by_field"]["record"] == 1
    assert [r["file"] for r in rec[0]["records"]] == ["child_registry.xlsx", "台账另存.csv"]
    assert rec[0]["token"].startswith("R_") and rec[0]["message_zh"] and rec[0]["message_en"]
    assert "DJ0005" not in (tmp_path / "work" / "ingest_report.json").read_text(encoding="utf-8")


def test_an_identical_copy_in_one_file_is_untouched_by_the_record_key(tmp_path):
    """Within one file a repeated record number is not a cross-file duplicate (unchanged behaviour)."""
    rows = registry_rows(3)
    rows.append([*rows[0][:3], "孤儿", *rows[0][4:]])
    pd.DataFrame(rows, columns=HEAD).to_csv(tmp_path / "台账.csv", index=False)
    rep = ingest_files(tmp_path, [tmp_path / "台账.csv"])
    t = rep.tables["child_registry"]
    assert t.rows_passed == 4 and t.rows_duplicate == 0
    assert not [w for w in rep.warnings if w["code"] == "TABLE_SEVERAL_FILES"]


def test_one_incident_number_for_several_people_across_files_keeps_every_person(tmp_path):
    """One 警情编号 covers every person involved: a second file naming another person of the same incident
    is not a duplicate of the first (the record key is the number and the row's person)."""
    head = ["警情编号", "报警时间", "警情类别", "涉及人员公民身份号码", "人员角色", "区(县、市)", "乡镇(街道)"]
    first = [["JQ0001", "2025-03-01 10:00", "家庭暴力", rid(1), "受害人", "西湖区", "北山街道"],
             ["JQ0002", "2025-03-02 11:00", "儿童走失", rid(2), "受害人", "西湖区", "北山街道"]]
    second = [["JQ0001", "2025-03-01 10:00", "家庭暴力", rid(3, "19800101"), "当事人", "西湖区", "北山街道"],
              ["JQ0002", "2025-03-02 11:00", "儿童走失", rid(2), "受害人", "西湖区", "北山街道"]]  # a true copy
    src = tmp_path / "src"
    src.mkdir()
    pd.DataFrame(first, columns=head).to_csv(src / "警情_3月上.csv", index=False)
    pd.DataFrame(second, columns=head).to_csv(src / "警情_3月下.csv", index=False)
    rep = ingest_files(tmp_path, [src / "警情_3月上.csv", src / "警情_3月下.csv"])
    t = rep.tables["incidents"]
    assert t.rows_read == 4 and t.rows_passed == 3 and t.rows_duplicate == 1 and t.reconciled
    assert not [i for i in rep.conflicts["items"] if i["code"] == "CONFLICT_RECORD"]


def test_a_table_without_record_numbers_delivered_twice_is_stored_once(tmp_path):
    """残疾人证 has no record number: the workbook (dates as Excel dates) and its sheet re-saved as CSV
    (dates as text) normalize to the same rows, so the copy is dropped (new-user finding)."""
    head = ["残疾人证号", "姓名", "公民身份号码", "残疾类别", "残疾等级", "发证日期"]
    rows = [[f"33010620150101{i:03d}41", f"王{'一二三四五六七八九十'[i % 10]}", rid(i), "肢体", "二级",
             f"2019-0{i % 9 + 1}-1{i % 9}"] for i in range(1, 9)]
    wb = Workbook()
    ws = wb.active
    ws.append(head)
    for r in rows:
        ws.append([*r[:5], pd.Timestamp(r[5]).to_pydatetime()])
        ws.cell(ws.max_row, 3).number_format = "@"
    src = tmp_path / "src"
    src.mkdir()
    wb.save(src / "disability_certificates.xlsx")
    pd.DataFrame(rows, columns=head).to_csv(src / "残疾人证另存.csv", index=False, encoding="utf-8-sig")
    rep = ingest_files(tmp_path, [src / "disability_certificates.xlsx", src / "残疾人证另存.csv"])
    t = rep.tables["disability_certificates"]
    assert t.rows_read == 16 and t.rows_passed == 8 and t.rows_duplicate == 8 and t.reconciled
    warn = [w for w in rep.warnings if w["code"] == "TABLE_SEVERAL_FILES"]
    assert len(warn) == 1 and "8" in warn[0]["message_en"]


# ------------------------------------------------------------------------------ quarantine staging


def _config(root):
    from humiao.config import load_config

    cfg = {"paths": {"raw_dir": str(root / "raw"), "truth_dir": str(root / "truth"), "work_dir": str(root / "work"),
                     "quarantine_dir": str(root / "quarantine"), "out_dir": str(root / "out"),
                     "secrets_dir": str(root / "secrets"), "dagster_home": str(root / "dagster"),
                     "contracts_dir": str(REPO / "contracts")},
           "checks": {"max_quarantine_share": 0.6}}
    path = root / "humiao.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return load_config(path)


def _delivery(folder, *, injury_bad: int, allowance: bool = True, allowance_bad: int = 1):
    (folder / "health").mkdir(parents=True)
    rows = [[rid(i), "2025-03-01", "跌倒", "市一医院"] for i in range(1, 9)]
    for r in rows[:injury_bad]:
        r[1] = "2025年2月30日"
    pd.DataFrame(rows, columns=["公民身份号码", "就诊日期", "伤害类型", "就诊医院"]).to_csv(
        folder / "health" / "injury_visits.csv", index=False)
    if allowance:
        (folder / "civil_affairs").mkdir()
        a = [[f"王{i}", rid(i, "19800101"), 3, "低保", "600元", "2024-01-01"] for i in range(1, 7)]
        for r in a[:allowance_bad]:
            r[3] = "不知道"
        pd.DataFrame(a, columns=["户主姓名", "户主公民身份号码", "家庭人口数", "保障类型", "月保障金额(元)",
                                 "开始日期"]).to_csv(folder / "civil_affairs" / "subsistence_allowance.csv",
                                                     index=False)


def _snapshot(folder):
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns, stat.S_IMODE(p.stat().st_mode))
            for p in sorted(folder.iterdir())}


def test_a_refused_or_failed_ingest_leaves_the_quarantine_folder_byte_identical(tmp_path, monkeypatch):
    from humiao.stages import run_ingest
    from privacy.ingest import IngestFailed

    monkeypatch.setenv("HUMIAO_PSEUDONYM_KEY", "11" * 32)
    monkeypatch.setenv("HUMIAO_VAULT_KEY", "22" * 32)
    cfg = _config(tmp_path)
    _delivery(tmp_path / "d1", injury_bad=1)
    run_ingest(cfg, tmp_path / "d1", force=True)
    q = cfg.path("quarantine_dir")
    assert stat.S_IMODE(q.stat().st_mode) == 0o700
    before = _snapshot(q)
    assert set(before) == {"injury_visits.csv", "subsistence_allowance.csv"}
    assert all(mode == 0o600 for _, _, mode in before.values())
    lines = len(before["subsistence_allowance.csv"][0].decode("utf-8-sig").splitlines())

    # refused: the civil-affairs table is missing from the delivery (DELIVERY_INCOMPLETE)
    _delivery(tmp_path / "d2", injury_bad=3, allowance=False)
    with pytest.raises(IngestFailed) as e:
        run_ingest(cfg, tmp_path / "d2", force=True)
    assert {x["code"] for x in e.value.errors} == {"DELIVERY_INCOMPLETE"}
    assert _snapshot(q) == before
    # failed: a table over the quarantine threshold
    _delivery(tmp_path / "d3", injury_bad=7, allowance_bad=5)
    with pytest.raises(IngestFailed):
        run_ingest(cfg, tmp_path / "d3", force=True)
    assert _snapshot(q) == before
    assert not [p for p in q.parent.iterdir() if p.name.startswith(".quarantine")]  # no staging left over

    # success: replaced as a whole, still owner-only and private
    _delivery(tmp_path / "d4", injury_bad=0, allowance_bad=2)
    run_ingest(cfg, tmp_path / "d4", force=True)
    after = _snapshot(q)
    assert set(after) == {"subsistence_allowance.csv"}  # injury_visits quarantined nothing this time
    assert len(after["subsistence_allowance.csv"][0].decode("utf-8-sig").splitlines()) == lines + 1
    assert stat.S_IMODE(q.stat().st_mode) == 0o700 and all(m == 0o600 for _, _, m in after.values())
    assert os.listdir(q.parent).count("quarantine") == 1


# ------------------------------------------------------------------------------ mapping messages


@pytest.mark.parametrize("spec", [{"a.csv": "no_such_table"}, {"a.csv": {"tabel": "x"}}, "- a.csv\n"])
def test_mapping_errors_are_chinese_first_then_english(spec, tmp_path):
    if isinstance(spec, str):  # a YAML list, not a mapping
        (tmp_path / "m.yaml").write_text(spec, encoding="utf-8")
        spec = tmp_path / "m.yaml"
    with pytest.raises(MappingError) as e:
        load_mapping(spec, load_contracts(REPO / "contracts"))
    text = str(e.value)
    zh, _, en = text.partition(" / ")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh.replace("映射", "")), text
    assert en and all(not ("\u4e00" <= ch <= "\u9fff") for ch in en), text


def test_a_mapping_file_that_cannot_be_read_is_bilingual(tmp_path):
    p = tmp_path / "humiao_mapping.yaml"
    p.write_text("files: [unclosed\n", encoding="utf-8")
    with pytest.raises(MappingError) as e:
        load_mapping(p, load_contracts(REPO / "contracts"))
    assert "无法读取" in str(e.value) and "cannot be read" in str(e.value)
    assert str(e.value).index("无法读取") < str(e.value).index("cannot be read")
