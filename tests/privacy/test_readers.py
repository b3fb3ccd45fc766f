"""privacy.readers: encodings, header detection, row numbers, blank/summary rows."""

import datetime as dt

import pytest
from openpyxl import Workbook

from privacy.contracts import HeaderError, table_from_dict
from privacy.readers import EncodingError, RawReadError, decode_bytes, read_table


def T(headers, required=()):
    cols = [
        {"name": f"c{i}", "header": h, "type": "string", "privacy": "attribute", "required": h in required}
        for i, h in enumerate(headers)
    ]
    return table_from_dict("t", {"file": "t.csv", "columns": cols}, "d")


def test_decode_strict_order():
    assert decode_bytes("\ufeff姓名".encode(), "f") == ("姓名", "utf-8-sig")
    assert decode_bytes("姓名".encode(), "f")[1] == "utf-8"
    assert decode_bytes("王䶮".encode("gb18030"), "f") == ("王䶮", "gb18030")
    assert decode_bytes("李玥".encode("gbk"), "f") == ("李玥", "gb18030")
    assert decode_bytes("姓名".encode("utf-16"), "f") == ("姓名", "utf-16")
    with pytest.raises(EncodingError, match=r"bad\.csv"):
        decode_bytes(b"\x81\x30\xff\xff", "bad.csv")  # neither UTF-8 nor GB18030


def test_csv_strings_line_numbers_blank_and_total(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text(
        "姓名,身份证号,金额\n张三,330106198501011231,1.50\n\n李四,0330106,2\n,,\n合计,,3.50\n",
        encoding="utf-8",
    )
    rf = read_table(p, T(["姓名", "身份证号", "金额"]))
    assert rf.data["c1"].tolist() == ["330106198501011231", "0330106"]  # strings, leading zero kept
    assert rf.source_row.tolist() == [2, 4] and rf.summary_rows_skipped == 1
    assert rf.encoding == "utf-8"


def test_csv_multiline_note_keeps_line_of_record(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text('编号,情况\nA,"第一行\n第二行"\nB,好\n', encoding="utf-8")
    rf = read_table(p, T(["编号", "情况"]))
    assert rf.data["c1"].tolist() == ["第一行\n第二行", "好"] and rf.source_row.tolist() == [2, 4]


def test_csv_ragged_row_flagged(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("编号,情况\nA,好\nB,好,多出来\n", encoding="utf-8")
    rf = read_table(p, T(["编号", "情况"]))
    assert rf.malformed.tolist() == [False, True]


def test_missing_required_header_names_file(tmp_path):
    p = tmp_path / "roster.csv"
    p.write_text("姓名,电话\n张三,1\n", encoding="utf-8")
    with pytest.raises(HeaderError, match=r"roster.csv.*身份证号"):
        read_table(p, T(["姓名", "身份证号"], required=("身份证号",)))


def test_xlsx_picks_matching_sheet_and_keeps_types(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.title = "说明"
    ws.append(["本表说明"])
    ws2 = wb.create_sheet("数据")
    ws2.append(["某区名册"])
    ws2.append([None])
    ws2.append(["姓 名", "公民身份号码", "登记日期"])
    ws2.append(["张三", "330106198501011231", dt.datetime(2025, 3, 1)])
    ws2.append([None, None, None])
    ws2.append(["李四", 3.30106198602021e17, 45717])
    ws2.append(["总计：2人", None, None])
    p = tmp_path / "r.xlsx"
    wb.save(p)
    rf = read_table(p, T(["姓名", "公民身份号码", "登记日期"]))
    assert rf.sheet == "数据" and rf.header_rows == (3,)
    assert rf.source_row.tolist() == [4, 6]
    assert rf.data["c1"].tolist()[0] == "330106198501011231"
    assert isinstance(rf.data["c1"].tolist()[1], float)  # the cell type survives
    assert rf.data["c2"].tolist() == [dt.datetime(2025, 3, 1), 45717]
    assert rf.blank_rows_skipped == 1 and rf.summary_rows_skipped == 1


def test_unsupported_type(tmp_path):
    p = tmp_path / "x.xls"
    p.write_bytes(b"\xd0\xcf")
    with pytest.raises(RawReadError):
        read_table(p, T(["a"]))
