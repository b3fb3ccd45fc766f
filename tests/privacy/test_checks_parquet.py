"""The leak-scan check of a pseudonymized table reads the Parquet file in batches (issue 8: 55 M rows of
social insurance at 2,000,000 children did not fit beside the rest). It must report what the scan of the
whole table reports: the same count, the same rows, a column name once."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from privacy.checks import latest_value, no_raw_personal_information, parquet_has_no_raw_personal_information
from privacy.identities import KnownIdentities
from privacy.scanner import LeakScanner


@pytest.fixture(scope="module")
def scanner():
    return LeakScanner(KnownIdentities().add("names", ["欧阳娜娜", "王小明"]))


def _table(n: int, plant: bool = True) -> pd.DataFrame:
    df = pd.DataFrame({
        "child_token": [f"P_k1_{i:020x}" for i in range(n)],
        "note": ["走访，家中正常"] * n,
        "amount": [100.0 + i for i in range(n)],
        "knowledge_date": pd.date_range("2025-01-01", periods=n, freq="h").astype("datetime64[us]"),
    })
    if not plant:
        return df
    df.loc[2100, "note"] = "联系电话13812345678"  # a third batch of 1,000 rows
    df.loc[37, "note"] = "王小明说家里没人"  # a known name in a note
    df.loc[2999, "amount"] = 13912345678.0  # a phone stored as a number
    return df


def test_batches_report_what_the_whole_table_reports(tmp_path, scanner):
    df = _table(3000)
    path = tmp_path / "t.parquet"
    df.to_parquet(path)
    whole = no_raw_personal_information(scanner, pd.read_parquet(path), "t", ["note"])
    batched = parquet_has_no_raw_personal_information(scanner, path, "t", ["note"], batch_rows=1000)
    assert not batched.passed and batched.metadata["findings"] == whole.metadata["findings"] == 3
    assert batched.metadata["rows"] == 3000 and batched.metadata["columns"] == 4 == whole.metadata["columns"]
    assert sorted(batched.metadata["examples"]) == sorted(whole.metadata["examples"])
    assert any(" row 2100 " in e for e in batched.metadata["examples"])
    assert any(" row 2999 " in e for e in batched.metadata["examples"])


def test_a_leak_in_every_batch_is_found_in_every_batch(tmp_path, scanner):
    """The batches share the memo of values scanned clean; a value with a finding is never in it, so a
    phone written in rows of three batches is three findings, and a clean token repeated in every batch
    changes nothing."""
    df = _table(3000, plant=False)
    df["child_token"] = [f"P_k1_{i % 700:020x}" for i in range(3000)]  # the same children every batch
    for r in (5, 1500, 2995):
        df.loc[r, "note"] = "联系电话13812345678"
    df.to_parquet(tmp_path / "t.parquet")
    out = parquet_has_no_raw_personal_information(scanner, tmp_path / "t.parquet", "t", batch_rows=1000)
    rows = sorted(int(e.split(" row ")[1].split()[0]) for e in out.metadata["examples"])
    assert out.metadata["findings"] == 3 and rows == [5, 1500, 2995]
    df.loc[[5, 1500, 2995], "child_token"] = "13812345678"  # now in a column the memo covers
    df.to_parquet(tmp_path / "t.parquet")
    out = parquet_has_no_raw_personal_information(scanner, tmp_path / "t.parquet", "t", batch_rows=1000)
    assert out.metadata["findings"] == 6


def test_a_column_name_is_one_finding(tmp_path, scanner):
    df = pd.DataFrame({"欧阳娜娜": ["a"] * 2500})
    df.to_parquet(tmp_path / "t.parquet")
    out = parquet_has_no_raw_personal_information(scanner, tmp_path / "t.parquet", "t", batch_rows=1000)
    assert out.metadata["findings"] == 1 and " row None " in out.metadata["examples"][0]


def test_clean_and_missing_files_pass(tmp_path, scanner):
    df = _table(1500, plant=False)
    df.to_parquet(tmp_path / "t.parquet")
    out = parquet_has_no_raw_personal_information(scanner, tmp_path / "t.parquet", "t", ["note"], batch_rows=400)
    assert out.passed and out.metadata == {"rows": 1500, "columns": 4, "findings": 0, "examples": []}
    missing = parquet_has_no_raw_personal_information(scanner, tmp_path / "none.parquet", "t")
    assert missing.passed and missing.metadata["rows"] == 0


def test_latest_value(tmp_path):
    df = _table(50, plant=False)
    df.loc[10, "knowledge_date"] = pd.NaT
    df.to_parquet(tmp_path / "t.parquet")
    assert latest_value(tmp_path / "t.parquet", "knowledge_date").tolist() == [pd.Timestamp("2025-01-03 01:00")]
    assert latest_value(tmp_path / "none.parquet", "knowledge_date").empty
    pd.DataFrame({"knowledge_date": pd.Series([pd.NaT], dtype="datetime64[us]")}).to_parquet(tmp_path / "e.parquet")
    assert latest_value(tmp_path / "e.parquet", "knowledge_date").empty
    assert dt.date(2025, 1, 3) == latest_value(tmp_path / "t.parquet", "knowledge_date")[0].date()
