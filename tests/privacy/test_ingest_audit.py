"""Issue 7 cases the messy corpus counted but did not assert (the audit of 2026-11-30): the encoding
is detected from the bytes, not the file name; full-width letters (Ｇ, Ｘ, ｘ) in IDs and student
numbers give the tokens of the ASCII forms; amounts written with 元, ￥ and thousands separators are
stored as numbers."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from _messy_harness import PZ, ingest_files

from privacy.readers import decode_bytes
from simulator.mess import write_messy

HAND = Path(__file__).resolve().parent / "messy" / "hand"
sys.path.insert(0, str(HAND.parent))
import make_hand_files as hand  # noqa: E402  (the IDs the hand files were made from)


def test_encoding_is_detected_from_the_bytes_not_the_name(tmp_path):
    path = HAND / "h25_居住证_UTF8.csv"
    raw = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # the name says UTF8; the bytes are GBK
    text, encoding = decode_bytes(raw, path.name)
    assert encoding == "gb18030"
    assert all(hand.NAMES[6 + i] in text for i in range(4)) and "西湖区文三路0号" in text
    rep = ingest_files(tmp_path, [path])
    f = rep.file(path.name)
    assert (f.status, f.table, f.rows_read, f.rows_passed) == ("ok", "residence_permits", 4, 4)
    rp = pd.read_parquet(tmp_path / "work" / "pseudonymized" / "residence_permits.parquet")
    assert rp["person_token"].tolist() == [PZ.token("P", hand.A[6 + i]) for i in range(4)]
    assert set(rp["community"]) == {"文新社区"} and set(rp["hukou_origin"]) == {"安徽省"}  # exact, no mojibake


def test_full_width_letters_give_the_tokens_of_the_ascii_forms(tmp_path):
    path = HAND / "h26_学籍_全角字母.csv"
    text = path.read_text(encoding="utf-8")
    assert "Ｘ" in text and "ｘ" in text and "Ｇ" in text and "ｇ" in text  # the case is really in the file
    rep = ingest_files(tmp_path, [path])
    f = rep.file(path.name)
    assert (f.rows_read, f.rows_passed, f.rows_quarantined) == (3, 3, 0)
    se = pd.read_parquet(tmp_path / "work" / "pseudonymized" / "student_enrollment.parquet")
    assert se["child_token"].tolist() == [PZ.token("P", k) for k in hand.KX]  # 18 ASCII characters, upper X
    assert se["student_token"].tolist() == [PZ.token("S", "G" + k) for k in hand.KX]


def test_amounts_with_yuan_and_thousands_separators_are_numbers(tmp_path):
    """低保名册_GB18030.csv writes 月保障金额(元) as 1,200.50元 / 980元 / ￥1,050 / 1200 (simulator.mess)."""
    gen = tmp_path / "gen"
    write_messy(gen, seed=7)
    path = gen / "低保名册_GB18030.csv"
    raw = pd.read_csv(path, dtype=str, encoding="gb18030")
    spelled = raw["月保障金额(元)"].tolist()
    assert {"1,200.50元", "980元", "￥1,050", "1200"} <= set(spelled)
    rep = ingest_files(tmp_path / "run", [path])
    assert rep.file(path.name).rows_quarantined == 0
    sub = pd.read_parquet(tmp_path / "run" / "work" / "pseudonymized" / "subsistence_allowance.parquet")
    want = {"1,200.50元": 1200.5, "980元": 980.0, "￥1,050": 1050.0, "1200": 1200.0}
    by_row = dict(zip(sub["source_row"], sub["monthly_amount"], strict=True))
    for i, s in enumerate(spelled):
        assert by_row[i + 2] == want[s], (i + 2, s)
