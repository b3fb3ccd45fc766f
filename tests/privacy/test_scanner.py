"""LeakScanner: finds planted identifiers and known identities everywhere, nothing in clean output."""

from __future__ import annotations

import json
import sqlite3
import time

import numpy as np
import pandas as pd
import pytest
from _pii_helpers import luhn_complete, make_ric, ric_that_passes_luhn

from privacy.identities import KnownIdentities
from privacy.scanner import Finding, LeakScanner, mask, scan_paths

RIC = "330106201501011236"
RIC15_18 = "110105198001011238"  # 15-digit form 110105800101123
PHONE = "13812345678"
LANDLINE = "057188880000"
CARD = luhn_complete("622202123456789")
ADDRESS = "西湖区文新街道学院路88号3幢2单元301室"


@pytest.fixture(scope="module")
def known():
    k = KnownIdentities()
    k.add("names", ["王小明", "李芳", "欧阳娜娜", "高兴"])  # 高兴 is a common word: never reported
    k.add("id_numbers", [RIC, RIC15_18, "330106201501011235"])  # the last: invalid check digit, seen raw
    k.add("phones", [PHONE, "0571-88880000"])
    k.add("addresses", [ADDRESS, "西湖区文新街道某社区"])
    return k


@pytest.fixture(scope="module")
def scanner(known):
    return LeakScanner(known, skip_words=["文新"])


def found(scanner, text, free_text=False):
    return [(e, text[s:t]) for e, s, t in scanner.scan_text(text, free_text=free_text)]


# -- validated identifier patterns (no known identities needed) -----------------------------------------

@pytest.mark.parametrize("text,entity,value", [
    (f"身份证号码{RIC}已登记", "CN_RIC", RIC),
    ("legacy 110105800101123 id", "CN_RIC", "110105800101123"),
    ("３３０１０６２０１５０１０１１２３６", "CN_RIC", "３３０１０６２０１５０１０１１２３６"),
    ("33010620150202109x", "CN_RIC", "33010620150202109x"),
    ("330106 20150101 1236", "CN_RIC", "330106 20150101 1236"),
    ("手机13800000000。", "PHONE_NUMBER", "13800000000"),
    ("+86 139 0000 0000", "PHONE_NUMBER", "+86 139 0000 0000"),
    ("138-0000-0000", "PHONE_NUMBER", "138-0000-0000"),
    ("座机0571-88880000", "PHONE_NUMBER", "0571-88880000"),
    (f"卡{CARD}", "CN_BANK_CARD", CARD),
    (f"{RIC}42", "CN_DISABILITY_CERT", f"{RIC}42"),
    (f"G{RIC}", "CN_STUDENT_NUMBER", f"G{RIC}"),
])
def test_patterns_without_known(text, entity, value):
    assert found(LeakScanner(), text) == [(entity, value)]


def test_ric_passing_luhn_is_ric():
    rid = ric_that_passes_luhn()
    assert found(LeakScanner(), rid) == [("CN_RIC", rid)]


@pytest.mark.parametrize("text", [
    "P_k1_3fa9012345678901abcd", "P_k1_13800000000123456789", "H_k2_33010620150101123612",
    "3fa9012345678901abcdef0123456789", "a1380000000013800000000b", "2025-03-01", "2025-03-01 12:00:00",
    "20250301", "1,234.56", "13800000000.0", "0.330106201501011236", "订单号A330106201501011236",
    "3301062015010112365", "400-800-0000", "1735689600123456", "文新街道某社区", "金额 12345678 元",
    "2025-03-01 - 2025-04-01", "近3个月缺勤12天", "v1.13800000000",
])
def test_no_false_positives(text):
    assert LeakScanner().scan_text(text, free_text=True) == []


# -- known identities ---------------------------------------------------------------------------------

def test_known_identities(scanner):
    assert found(scanner, "欧阳娜娜的作业") == [("PERSON", "欧阳娜娜")]
    assert found(scanner, "备注：王小明转学") == [("PERSON", "王小明")]
    assert found(scanner, "李芳来过") == []  # 2-character names only in free text
    assert found(scanner, "李芳来过", free_text=True) == [("PERSON", "李芳")]
    assert found(scanner, "他很高兴", free_text=True) == []  # common word
    assert found(scanner, "旧证110105800101123") == [("CN_RIC", "110105800101123")]
    assert found(scanner, "证件330106201501011235") == [("CN_RIC", "330106201501011235")]
    assert found(scanner, "座机057188880000") == [("PHONE_NUMBER", "057188880000")]
    assert found(scanner, "住学院路88号3幢2单元301室") == [("CN_ADDRESS", "学院路88号3幢2单元301室")]
    assert found(scanner, "文新街道某社区") == []  # community level is not a personal address


def test_mask_never_shows_the_value():
    assert mask("CN_RIC", RIC) == "3301**********1236"
    assert mask("PERSON", "王小明") == "王*明"
    assert mask("PERSON", "李芳") == "李*"
    assert mask("PHONE_NUMBER", "13800000000") == "138****0000"
    assert mask("PHONE_NUMBER", "+86 138 0000 0000") == "138****0000"
    assert mask("CN_ADDRESS", ADDRESS).startswith("西湖区") and ADDRESS not in mask("CN_ADDRESS", ADDRESS)


# -- tables and files ---------------------------------------------------------------------------------

def _planted() -> pd.DataFrame:
    return pd.DataFrame({
        "child_token": ["P_k1_3fa9012345678901abcd", "P_k1_0000000000000000beef", "P_k1_aaaa012345678901abcd"],
        "remarks": ["无", f"监护人电话{PHONE}", "王小明已转学"],
        "notes": ["李芳说孩子很好", "正常", "无"],
        "amount": [1234.5, 13800000000.0, 0.0],
        "guardian_phone_int": pd.array([1, 2, int(PHONE)], dtype="Int64"),
    })


def test_scan_dataframe_finds_and_masks(scanner):
    out = scanner.scan_dataframe(_planted(), "visits", free_text_columns=["notes"])
    got = {(f.column, f.row, f.entity_type, f.masked) for f in out}
    assert got == {
        ("remarks", 1, "PHONE_NUMBER", "138****5678"),
        ("remarks", 2, "PERSON", "王*明"),
        ("notes", 0, "PERSON", "李*"),
        ("amount", 1, "PHONE_NUMBER", "138****0000"),
        ("guardian_phone_int", 2, "PHONE_NUMBER", "138****5678"),
    }
    assert all(isinstance(f, Finding) and f.location == "visits" for f in out)
    assert not any(PHONE in f.masked or "王小明" in f.masked for f in out)


def test_scan_dataframe_column_names(scanner):
    out = scanner.scan_dataframe(pd.DataFrame({"王小明": [1]}), "pivot")
    assert [(f.column, f.row, f.entity_type) for f in out] == [("王小明", None, "PERSON")]


def _clean_frame(n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    hexes = ["".join(rng.choice(list("0123456789abcdef"), 20)) for _ in range(n)]
    sentences = ["孩子情绪稳定，学习成绩一般。", "近3个月缺勤12天，需持续关注。", "奶奶腿脚不便，家庭收入主要靠低保。",
                 "监护情况良好，已告知村干部。", "父母外出务工超过12个月。", "文新街道某社区儿童主任电话回访。"]
    return pd.DataFrame({
        "child_token": [f"P_k1_{h}" for h in hexes],
        "household_token": [f"H_k1_{h[::-1]}" for h in hexes],
        "as_of_date": pd.to_datetime("2025-03-01"),
        "as_of_str": ["2025-03-01"] * n,
        "community": rng.choice(["文新街道某社区", "仁和街道某村", "米市巷街道某社区"], n),
        "amount": rng.uniform(0, 2000, n).round(2),
        "monthly_amount_str": [f"{x:.2f}" for x in rng.uniform(0, 2000, n)],
        "score": rng.random(n),
        "ventile": rng.integers(1, 21, n),
        "reasons": rng.choice(sentences, n),
        "notes": rng.choice(sentences, n),
        "run_id": ["".join(rng.choice(list("0123456789abcdef"), 32)) for _ in range(n)],
    })


def test_clean_pseudonymized_frame_has_no_findings(scanner):
    assert scanner.scan_dataframe(_clean_frame(), "features", free_text_columns=["notes", "reasons"]) == []


def test_scan_dataframe_is_fast_on_unique_values(scanner):
    df = pd.concat([_clean_frame(5000)] * 40, ignore_index=True)  # 200,000 rows × 12 columns
    t = time.perf_counter()
    assert scanner.scan_dataframe(df, "big") == []
    assert time.perf_counter() - t < 20


def test_scan_path_tree(scanner, tmp_path):
    tree = tmp_path / "out"
    (tree / "lists").mkdir(parents=True)
    (tree / "mlruns").mkdir()
    df = _planted()
    df.to_csv(tree / "lists" / "a.csv", index=False)
    df.to_csv(tree / "lists" / "b_gbk.csv", index=False, encoding="gb18030")
    df.to_excel(tree / "lists" / "c.xlsx", index=False)
    df.to_parquet(tree / "lists" / "d.parquet")
    (tree / "card.json").write_text(json.dumps({"summary": {"contact": f"电话{PHONE}"}, "rows": [["李芳", 1]]}),
                                    encoding="utf-8")  # ensure_ascii: \\u escapes
    (tree / "card.md").write_text(f"# 模型卡\n\n个案：身份证 {RIC}\n", encoding="utf-8")
    (tree / "card.html").write_text("<p>&#29579;&#23567;&#26126;</p>", encoding="utf-8")
    (tree / "conf.yaml").write_text(f"guardian:\n  phone: {PHONE}\n", encoding="utf-8")
    (tree / "run.log").write_text("ok\nok\n" + f"debug {make_ric('33010620150101123')}\n", encoding="utf-8")
    (tree / "model.pkl").write_bytes(b"\x80\x04\x95" + PHONE.encode() + b"\x00")
    con = sqlite3.connect(tree / "mlruns" / "mlflow.db")
    con.execute("CREATE TABLE params (key TEXT, value TEXT, run_uuid TEXT)")
    con.executemany("INSERT INTO params VALUES (?,?,?)", [("k", "5", "abc"), ("note", f"王小明 {PHONE}", "abc")])
    con.commit()
    con.close()

    out = scanner.scan_path(tree)
    by_file = {}
    for f in out:
        by_file.setdefault(f.location.replace(str(tree) + "/", ""), set()).add((f.column, f.row, f.entity_type))
    for name in ("lists/a.csv", "lists/b_gbk.csv", "lists/c.xlsx#Sheet1", "lists/d.parquet"):
        assert ("remarks", 1, "PHONE_NUMBER") in by_file[name], name
        assert ("remarks", 2, "PERSON") in by_file[name], name
    assert ("$.summary.contact", None, "PHONE_NUMBER") in by_file["card.json"]
    assert ("$.rows[0][0]", None, "PERSON") in by_file["card.json"]  # prose: 2-character names
    assert by_file["card.md"] == {(None, 2, "CN_RIC")}
    assert by_file["card.html"] == {(None, 0, "PERSON")}
    assert by_file["conf.yaml"] == {("$.guardian.phone", None, "PHONE_NUMBER")}
    assert by_file["run.log"] == {(None, 2, "CN_RIC")}
    assert by_file["mlruns/mlflow.db::params"] == {("value", 1, "PERSON"), ("value", 1, "PHONE_NUMBER")}
    assert scanner.skipped == [str(tree / "model.pkl")]
    assert all(PHONE not in f.masked and RIC not in f.masked for f in out)
    assert len(scan_paths([tree / "card.md"])) == 1


def test_workbooks_every_sheet_and_cell(scanner, tmp_path):
    """Workbooks are read with the calamine engine (issue 8: 8,000 visit lists at 2M): a hidden sheet, a
    phone written as a number cell and a workbook inside a zip are all scanned, with the same findings
    as openpyxl's reading of the same cells; a file that is not a workbook is skipped and named."""
    import zipfile

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "走访名单"
    ws.append(["序号", "备注", "分数"])
    ws.append([1, "按时走访", 0.873])
    ws.append([2, int(PHONE), 0.5])  # a number cell: Excel's own type for a typed-in phone
    hidden = wb.create_sheet("隐藏")
    hidden.sheet_state = "hidden"
    hidden.append(["说明"])
    hidden.append([f"身份证{RIC}"])
    book = tmp_path / "list.xlsx"
    wb.save(book)
    with zipfile.ZipFile(tmp_path / "lists.zip", "w") as z:
        z.write(book, "town/list.xlsx")
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")

    got = {(f.location.replace(str(tmp_path) + "/", ""), f.column, f.row, f.entity_type) for f in scanner.scan_path(tmp_path)}
    assert got == {
        ("list.xlsx#走访名单", "备注", 1, "PHONE_NUMBER"),
        ("list.xlsx#隐藏", "说明", 0, "CN_RIC"),
        ("lists.zip!town/list.xlsx#走访名单", "备注", 1, "PHONE_NUMBER"),
        ("lists.zip!town/list.xlsx#隐藏", "说明", 0, "CN_RIC"),
    }
    assert [s.split(" (")[0] for s in scanner.skipped] == [str(tmp_path / "broken.xlsx")]
    by_openpyxl = {
        (f"list.xlsx#{sheet}", f.column, f.row, f.entity_type)
        for sheet, df in pd.read_excel(book, sheet_name=None, dtype=str, engine="openpyxl").items()
        for f in scanner.scan_dataframe(df, "x")
    }
    assert by_openpyxl == {g for g in got if g[0].startswith("list.xlsx")}


def test_scan_path_clean_tree(scanner, tmp_path):
    _clean_frame(200).to_parquet(tmp_path / "features.parquet")
    _clean_frame(200).to_csv(tmp_path / "features.csv", index=False)
    (tmp_path / "README.md").write_text("近3个月缺勤12天。token P_k1_3fa9012345678901abcd，2025-03-01。\n",
                                        encoding="utf-8")
    assert scanner.scan_path(tmp_path) == []


def test_known_identifier_inside_a_longer_code_is_not_a_finding():
    """DESIGN §11.1: digit runs are bounded by [0-9A-Za-z._]; a police incident number J<ID-like digits>
    (which failed a 200,000-child ingest closed when its digits equalled a known resident ID) is not a leak,
    while the same ID standing alone is."""
    from privacy.identifiers import ric_check_char
    from privacy.identities import KnownIdentities
    from privacy.scanner import LeakScanner

    rid = "33010620240101000" + ric_check_char("33010620240101000")
    known = KnownIdentities()
    known.add("id_numbers", [rid])
    scanner = LeakScanner(known=known)
    assert scanner.scan_text("J" + rid) == []
    assert scanner.scan_text("P_" + rid) == []
    assert [e for e, _, _ in scanner.scan_text(f"身份证{rid}。")] == ["CN_RIC"]


def test_uuid_groups_are_not_phone_numbers(scanner):
    """A Dagster telemetry/event-log line failed the privacy audit of a CI run: the UUID
    04d7b7a3-0424-4629-9308-e473ced52b6c has three all-digit middle groups shaped like a 4-4-4 phone.
    A run that is one link of a hyphenated letters-and-digits chain is not an identifier; the same
    groups standing alone, and a real landline after Chinese text, still are."""
    line = '{"event_id": "04d7b7a3-0424-4629-9308-e473ced52b6c", "t": "2026-11-29 22:29:31.751560"}'
    assert scanner.scan_text(line) == []
    assert [e for e, _, _ in scanner.scan_text("电话0424-4629-9308。")] == ["PHONE_NUMBER"]
    assert [e for e, _, _ in scanner.scan_text("联系电话：0571-87654321")] == ["PHONE_NUMBER"]


def test_whole_tokens_are_not_scanned_anything_else_is(scanner):
    """A cell that is exactly a pseudonymous token is a keyed hash, not a value, and is not scanned
    (issue 8: tokens were most of the distinct values of every pseudonymized table): not even one whose
    hex digits end in 86 + a known phone, which the country-code rule would otherwise report. A raw
    value in a token column, and a cell that only looks like a token, are scanned as before."""
    from privacy.tokens import Pseudonymizer

    pz = Pseudonymizer(b"k" * 32, 1)
    tokens = [pz.token("P", f"33010620150101{i:04d}") for i in range(2000)]
    shaped = "P_k1_0000000" + "86" + PHONE[:11]
    assert len(shaped) == 25
    near = [shaped.upper(), shaped + "\n", f"{tokens[0]} {PHONE}", "P_k1_" + PHONE + "abcdefghi"]
    df = pd.DataFrame({"person_token": [*tokens, shaped, RIC, PHONE, *near]})
    found = {(f.row, f.entity_type) for f in scanner.scan_dataframe(df, "t")}
    n = len(tokens)
    assert (n + 1, "CN_RIC") in found and (n + 2, "PHONE_NUMBER") in found
    assert (n + 5, "PHONE_NUMBER") in found  # a token and a phone in one cell
    assert all(r >= n + 1 for r, _ in found)  # no token, not even the shaped one
    assert not any(r == n for r, _ in found)
    assert scanner.scan_text(shaped)  # as text (a log line), the country-code rule still applies
