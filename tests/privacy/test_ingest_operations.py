"""Entity conflicts across departments, the quarantine threshold, bilingual messages naming file, sheet,
row and column, and the monitoring helpers (PSI, data-quality trends)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from _messy_harness import AS_OF, CONTRACTS, PZ, ingest_files
from openpyxl import Workbook

from privacy.contracts import Formats, table_from_dict
from privacy.ingest import MESSAGES, REASON_CODES, IngestFailed, message
from privacy.monitoring import psi, psi_table, quality_trends
from simulator.mess import write_messy


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    d = tmp_path_factory.mktemp("gen")
    write_messy(d, seed=7)
    return d


def test_same_person_conflicting_birth_dates_one_token_conflict_recorded(gen, tmp_path):
    files = [gen / "户籍_出生日期冲突.csv", gen / "困境儿童台账_GBK.csv", gen / "学籍_全角_空格_小写x.csv"]
    rep = ingest_files(tmp_path, files)
    c = rep.conflicts
    births = [i for i in c["items"] if i["field"] == "birth_date"]
    assert c["by_field"].get("birth_date") == 2 and sorted(i["records"][0]["row"] for i in births) == [2, 3]
    assert all(i["records"][0]["file"] == "户籍_出生日期冲突.csv" for i in births)
    assert all(i["code"] == "CONFLICT_BIRTH_DATE" and i["message_en"] for i in births)
    out = tmp_path / "work" / "pseudonymized"
    hh = pd.read_parquet(out / "household_registry.parquet")
    se = pd.read_parquet(out / "student_enrollment.parquet")
    cr = pd.read_parquet(out / "child_registry.parquet")
    for tok in (i["token"] for i in births):  # one token per person, across departments
        assert (hh["person_token"] == tok).sum() == 1
        assert (se["child_token"] == tok).sum() == 1 and (cr["child_token"] == tok).sum() == 1
    blob = (tmp_path / "work" / "ingest_report.json").read_text(encoding="utf-8")
    raw = pd.read_csv(files[0], dtype=str)
    for v in list(raw["公民身份号码"]) + list(raw["姓名"]) + list(raw["出生日期"]):
        assert v not in blob  # the report carries tokens and row numbers, never values
    # 15-digit guardian IDs in the GBK file link to the same people as elsewhere (upgrade, not a new person)
    assert rep.file("困境儿童台账_GBK.csv").legacy_ids_upgraded == 4


def _threshold_table(share=None):
    cols = [
        {"name": "id_number", "header": "公民身份号码", "type": "resident_id", "privacy": "direct_identifier",
         "pseudonym": "person_token", "required": True},
        {"name": "visit_date", "header": "就诊日期", "type": "date", "privacy": "attribute", "required": True},
    ]
    d = {"file": "x.csv", "columns": cols}
    if share is not None:
        d["max_quarantine_share"] = share
    return {"injury_visits": table_from_dict("injury_visits", d, "health")}


def test_quarantine_threshold_fails_the_ingest(gen, tmp_path):
    f = gen / "伤害就诊_日期写法.csv"  # 2 of 12 rows quarantined = 16.7 %
    ok = ingest_files(tmp_path / "a", [f], max_quarantine_share=0.2)
    assert ok.status == "ok" and (tmp_path / "a" / "work" / "pseudonymized" / "injury_visits.parquet").exists()
    with pytest.raises(IngestFailed) as e:
        ingest_files(tmp_path / "b", [f], max_quarantine_share=0.1, raise_on_error=True)
    err = e.value.errors[0]
    assert err["code"] == "QUARANTINE_THRESHOLD" and "16.7%" in err["message_en"] and "10.0%" in err["message_zh"]
    assert not (tmp_path / "b" / "work" / "pseudonymized" / "injury_visits.parquet").exists()
    rep = json.loads((tmp_path / "b" / "work" / "ingest_report.json").read_text(encoding="utf-8"))
    assert rep["status"] == "failed" and rep["tables"]["injury_visits"]["status"] == "failed"
    assert (tmp_path / "b" / "q" / "injury_visits.csv").exists()  # the clerk still gets the rows to fix
    # per-table configuration beats the contract, the contract beats the scalar default
    assert ingest_files(tmp_path / "c", [f], max_quarantine_share={"injury_visits": 0.5}).status == "ok"
    from privacy.ingest import IngestSession

    s = IngestSession(pseudonymizer=PZ, vault_key=b"", out_dir=tmp_path, quarantine_dir=tmp_path, as_of=AS_OF,
                      max_quarantine_share=0.9)
    assert s._threshold(_threshold_table(0.01)["injury_visits"]) == 0.01
    assert s._threshold(_threshold_table()["injury_visits"]) == 0.9


def test_messages_name_file_sheet_row_column_in_both_languages(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.title = "西湖区"
    ws.append(["公民身份号码", "就诊日期", "伤害类型"])
    ws.append(["330106201501011236", "2025年2月30日", "跌倒"])
    ws.append(["330106201501011236", "2025-03-01", "摔伤"])
    ws["A2"].number_format = ws["A3"].number_format = "@"
    wb.save(tmp_path / "伤害.xlsx")
    rep = ingest_files(tmp_path, [tmp_path / "伤害.xlsx"])
    f = rep.file("伤害.xlsx")
    by = {q["code"]: q for q in f.quarantined_rows}
    m = by["DATE_INVALID"]
    assert m["message_zh"].startswith("文件“伤害.xlsx”，工作表“西湖区”，第 2 行，“就诊日期”列")
    assert m["message_en"].startswith("file “伤害.xlsx”, sheet “西湖区”, row 2, column “就诊日期” (visit_date)")
    c = by["INVALID_CATEGORY"]
    assert c["row"] == 3 and "跌倒" in c["message_zh"] and "allowed options" in c["message_en"]
    q = pd.read_csv(tmp_path / "q" / "injury_visits.csv", dtype=str, encoding="utf-8-sig")
    assert list(q["source_row"]) == ["2", "3"] and q["message_zh"].str.contains("第").all()


def test_every_reason_code_has_both_languages():
    for code in REASON_CODES:
        zh, en = MESSAGES[code]
        assert "{where}" in zh and "{where}" in en, code
    m = message("REQUIRED_COLUMN_MISSING", file="a.csv", expected="就诊日期")
    assert "就诊日期" in m["message_zh"] and "a.csv" in m["message_en"]


def test_format_options_come_from_the_contract(tmp_path):
    t = CONTRACTS["subsistence_allowance"]
    assert "元" in t.formats.amount_units and "无" in t.formats.blank_values
    f = Formats.from_dict({"amount_units": ["块"], "max_text_length": 10})
    assert f.amount_units == ("块",) and f.max_text_length == 10


def test_psi_flags_a_shifted_column_only():
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"days_absent": rng.poisson(2, 5000), "grade": rng.choice(["一年级", "二年级"], 5000),
                        "child_token": [f"P_{i}" for i in range(5000)]})
    cur = pd.DataFrame({"days_absent": rng.poisson(2, 5000) + 3, "grade": rng.choice(["一年级", "二年级"], 5000),
                        "child_token": [f"P_{i}" for i in range(5000)]})
    assert psi(ref["days_absent"], ref["days_absent"].sample(frac=1, random_state=2)).psi < 0.01
    r = psi(ref["days_absent"], cur["days_absent"], threshold=0.25)
    assert r.kind == "numeric" and r.flagged and r.psi > 1.0
    table = psi_table(ref, cur).set_index("column")
    assert "child_token" not in table.index
    assert bool(table.loc["days_absent", "flagged"]) and not bool(table.loc["grade", "flagged"])
    cat = psi(pd.Series(["低保"] * 90 + ["低保边缘"] * 10), pd.Series(["低保"] * 50 + ["低保边缘"] * 50))
    assert cat.kind == "categorical" and cat.flagged


def test_quality_trends_per_department():
    def rep(q):
        return {"as_of": f"2025-0{q + 1}-01", "tables": {
            "attendance": {"status": "ok", "rows_read": 100, "rows_passed": 100 - q * 5, "rows_quarantined": q * 5,
                           "rows_duplicate": 0, "reasons": {"INVALID_ID_CHECKSUM": q * 5}},
            "injury_visits": {"status": "missing"}}}

    deps = {n: t.department for n, t in CONTRACTS.items()}
    tr = quality_trends([rep(0), rep(1), rep(2)], deps, max_quarantine_share=0.08, max_increase=0.02)
    edu = tr[tr.department == "education"].reset_index(drop=True)
    assert list(edu.quarantine_share) == [0.0, 0.05, 0.10]
    assert edu.flag[2] == "quarantine_share,quarantine_rising" and edu.top_reason[2] == "INVALID_ID_CHECKSUM"
    assert tr[tr.department == "health"].flag.str.contains("tables_missing").all()
