"""shared/cases public-reports 06, 08, 09, 10, 11 (INGEST, NORM-DATE): every expected value is an assertion.

The xlsx inputs are generated in tmp_path by running the cases' own make scripts (synthetic data).
"""

from __future__ import annotations

import datetime as dt
import runpy
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from cryptography.fernet import Fernet

from privacy.contracts import table_from_dict
from privacy.dates import DATE_AMBIGUOUS, DATE_INVALID, parse_date
from privacy.identifiers import normalize_phone
from privacy.ingest import ID_PRECISION_LOST, ingest_table
from privacy.readers import EncodingError, read_table
from privacy.tokens import Pseudonymizer
from privacy.vault import Vault

CASES = Path(__file__).resolve().parents[3] / "shared" / "cases" / "public-reports"
if not CASES.exists():
    pytest.skip(f"{CASES} not present", allow_module_level=True)

AS_OF = dt.date(2025, 6, 30)
PZ = Pseudonymizer(b"c" * 32, 1)


class _Anon:
    """Notes are not part of these cases; the real NoteAnonymizer is exercised in test_ingest."""

    def anonymize_many(self, texts, known=None, n_jobs=1):
        return list(texts)


def _components():
    from privacy.identities import KnownIdentities
    from privacy.scanner import LeakScanner

    return KnownIdentities, LeakScanner


def _table(cols, file="case.xlsx"):
    return table_from_dict("case", {"file": file, "columns": cols}, "dept")


def _make(tmp_path, n):
    script = tmp_path / f"case-{n}.make.py"
    shutil.copy(CASES / f"case-{n}.make.py", script)
    runpy.run_path(str(script), run_name="__main__")
    return tmp_path / f"case-{n}.xlsx"


def _ingest(tmp_path, path, table, **kw):
    known, scanner = _components()
    vault_key = Fernet.generate_key()
    rep = ingest_table(
        path,
        table,
        pseudonymizer=PZ,
        vault_key=vault_key,
        out_dir=tmp_path / "work",
        quarantine_dir=tmp_path / "q",
        as_of=AS_OF,
        anonymizer=_Anon(),
        scanner_factory=scanner,
        known_factory=known,
        raw_dir=path.parent,
        **kw,
    )
    out = pq.read_table(tmp_path / "work" / "pseudonymized" / f"{table.name}.parquet").to_pandas()
    return rep, out, vault_key


PERSON_COLS = [
    {
        "name": "name",
        "header": "姓名",
        "type": "person_name",
        "privacy": "direct_identifier",
        "identity_of": "person_token",
    },
    {
        "name": "id_number",
        "header": "公民身份号码",
        "type": "resident_id",
        "privacy": "direct_identifier",
        "pseudonym": "person_token",
        "required": True,
    },
]


# --------------------------------------------------------------------------------------- case-06


def test_case06_numeric_id_cells_quarantined_never_hashed(tmp_path, monkeypatch):
    path = _make(tmp_path, "06")
    table = _table(
        [
            *PERSON_COLS,
            {
                "name": "phone",
                "header": "联系电话",
                "type": "phone",
                "privacy": "direct_identifier",
                "identity_of": "person_token",
            },
            {"name": "remarks", "header": "备注", "type": "text", "privacy": "attribute"},
        ]
    )
    raw = read_table(path, table)
    cells = raw.data["id_number"].tolist()
    assert all(isinstance(c, (int, float)) for c in cells[1:3])  # numbers: decided by cell TYPE (case-06)
    assert isinstance(cells[3], str) and isinstance(cells[0], str)
    assert [normalize_phone(v).normalized for v in raw.data["phone"][:3]] == [
        "13800000000",
        "13900000000",
        "13700000000",
    ]

    hashed = []
    orig = Pseudonymizer.token
    monkeypatch.setattr(Pseudonymizer, "token", lambda self, k, v: hashed.append(v) or orig(self, k, v))
    rep, out, vault_key = _ingest(tmp_path, path, table)
    assert rep.rows_read == 5 and rep.rows_passed == 2 and rep.rows_quarantined == 3
    assert rep.reasons == {ID_PRECISION_LOST: 3}
    assert set(hashed) == {"330106201501011236", "33010620150202109X"}  # only 张三, 钱七
    assert out["source_row"].tolist() == [2, 6]
    q = pd.read_csv(tmp_path / "q" / "case.csv", dtype=str, encoding="utf-8-sig")
    assert q["source_row"].tolist() == ["3", "4", "5"] and set(q["reason_code"]) == {ID_PRECISION_LOST}
    assert q["联系电话"].tolist()[:2] == ["13900000000", "13700000000"]  # no ".0", no exponent
    v = Vault(tmp_path / "work" / "vault.bin", vault_key, tmp_path / "audit.log")
    assert len(v) == 2
    rec = v._load()[PZ.token("P", "330106201501011236")]
    assert rec["name"] == "张三" and rec["phone"] == "13800000000"


# --------------------------------------------------------------------------------------- case-08


def test_case08_title_merged_two_row_header_blank_row(tmp_path):
    path = _make(tmp_path, "08")
    names = [
        "监护人信息_姓名",
        "监护人信息_公民身份号码",
        "监护人信息_与儿童关系",
        "儿童姓名",
        "联系方式_手机",
        "联系方式_座机",
    ]
    table = _table(
        [
            {"name": f"c{i}", "header": h, "type": "string", "privacy": "attribute"}
            for i, h in enumerate(names)
        ]
    )
    rf = read_table(path, table)
    assert list(rf.headers.values()) == names
    assert rf.header_rows == (2, 3) and rf.source_row.tolist() == [5, 6] and rf.blank_rows_skipped == 1
    assert rf.data["c1"].tolist() == ["330106198501011231", "330106198602021244"]  # exact strings
    assert rf.data["c3"].tolist() == ["张小三", "王小五"]
    assert rf.data["c4"].tolist() == ["13800000000", "13900000000"] and rf.data["c5"].tolist() == [
        "0571-88880000",
        None,
    ]


# --------------------------------------------------------------------------------------- case-09


def test_case09_xlsx_every_row_is_2025_03_01(tmp_path):
    path = _make(tmp_path, "09")
    table = _table(
        [
            {"name": "seq", "header": "序号", "type": "int", "privacy": "attribute", "required": True},
            {
                "name": "registered_at",
                "header": "登记日期",
                "type": "datetime",
                "privacy": "attribute",
                "required": True,
            },
            {"name": "how", "header": "写法", "type": "text", "privacy": "attribute"},
        ]
    )
    rep, out, _ = _ingest(tmp_path, path, table)
    assert rep.rows_passed == 7 and rep.rows_quarantined == 0
    got = dict(zip(out["seq"], pd.to_datetime(out["registered_at"]), strict=True))
    for seq, ts in got.items():
        assert ts.normalize() == pd.Timestamp("2025-03-01"), seq
    assert got[2] == pd.Timestamp("2025-03-01 12:00") and got[5] == pd.Timestamp("2025-03-01 10:05")
    assert all(got[s].hour == 0 and got[s].minute == 0 for s in (1, 3, 4, 6, 7))
    # a serial in a column NOT declared as a date stays a number (serials only where known dates)
    assert out["seq"].tolist() == [1, 2, 3, 4, 5, 6, 7]


def test_case09_csv_text_variants():
    rows = pd.read_csv(CASES / "case-09.csv", dtype=str, keep_default_na=False)
    for raw, expected in zip(rows["raw"], rows["expected"], strict=True):
        d, reason = parse_date(raw)
        if expected == "REJECT_AMBIGUOUS":
            assert (d, reason) == (None, DATE_AMBIGUOUS), raw
        elif expected == "REJECT_INVALID":
            assert (d, reason) == (None, DATE_INVALID), raw
        else:
            assert d == pd.Timestamp(expected).to_pydatetime(), raw


def test_case09_csv_ingest_flags_never_silent_null(tmp_path):
    dept = tmp_path / "raw" / "dept"
    dept.mkdir(parents=True)
    shutil.copy(CASES / "case-09.csv", dept / "case.csv")
    table = _table(
        [
            {"name": "raw", "header": "raw", "type": "date", "privacy": "attribute", "required": True},
            {"name": "expected", "header": "expected", "type": "string", "privacy": "attribute"},
            {"name": "note", "header": "note", "type": "text", "privacy": "attribute"},
        ],
        file="case.csv",
    )
    rep, out, _ = _ingest(tmp_path, dept / "case.csv", table)
    assert rep.rows_read == 9 and rep.rows_passed == 6
    assert rep.reasons == {DATE_AMBIGUOUS: 2, DATE_INVALID: 1}
    assert out["raw"].notna().all() and (pd.to_datetime(out["raw"]) == pd.Timestamp("2025-03-01")).all()
    q = pd.read_csv(tmp_path / "q" / "case.csv", dtype=str, encoding="utf-8-sig")
    assert dict(zip(q["raw"], q["reason_code"], strict=True)) == {
        "2025111": DATE_AMBIGUOUS,
        "202531": DATE_AMBIGUOUS,
        "2025年2月30日": DATE_INVALID,
    }
    assert q["source_row"].tolist() == ["8", "9", "10"]


# --------------------------------------------------------------------------------------- case-10


def test_case10_bom_never_reaches_headers_or_tokens(tmp_path):
    assert (CASES / "case-10.csv").read_bytes()[:3] == b"\xef\xbb\xbf"
    dept = tmp_path / "raw" / "dept"
    dept.mkdir(parents=True)
    shutil.copy(CASES / "case-10.csv", dept / "case.csv")
    table = _table(
        [
            *PERSON_COLS,
            {
                "name": "phone",
                "header": "联系电话",
                "type": "phone",
                "privacy": "direct_identifier",
                "identity_of": "person_token",
            },
        ],
        file="case.csv",
    )
    rf = read_table(dept / "case.csv", table)
    assert rf.encoding == "utf-8-sig" and rf.headers["name"] == "姓名"  # exactly, schema check passed
    assert rf.data["name"].tolist() == ["张三", "李四"]
    rep, out, vault_key = _ingest(tmp_path, dept / "case.csv", table)
    assert rep.rows_passed == 2 and all("\ufeff" not in c for c in out.columns)
    assert out["person_token"].tolist() == [
        PZ.token("P", "330106201501011236"),
        PZ.token("P", "330106201602021249"),
    ]
    recs = Vault(tmp_path / "work" / "vault.bin", vault_key, tmp_path / "a.log")._load()
    assert sorted(r["name"] for r in recs.values()) == ["张三", "李四"]


# --------------------------------------------------------------------------------------- case-11


def test_case11_gb18030_names_exact_and_lossy_decoding_refused(tmp_path):
    dept = tmp_path / "raw" / "dept"
    dept.mkdir(parents=True)
    shutil.copy(CASES / "case-11.csv", dept / "case.csv")
    table = _table(
        [*PERSON_COLS, {"name": "remarks", "header": "备注", "type": "text", "privacy": "attribute"}],
        file="case.csv",
    )
    rf = read_table(dept / "case.csv", table)
    assert rf.encoding == "gb18030"
    assert rf.data["name"].tolist() == ["王䶮", "李玥", "张喆"]
    _, out, vault_key = _ingest(tmp_path, dept / "case.csv", table)
    recs = Vault(tmp_path / "work" / "vault.bin", vault_key, tmp_path / "a.log")._load()
    assert sorted(r["name"] for r in recs.values()) == sorted(["王䶮", "李玥", "张喆"])
    assert len(set(out["person_token"])) == 3
    broken = dept / "broken.csv"
    broken.write_bytes((CASES / "case-11.csv").read_bytes() + b"\xff\xff\xff")
    with pytest.raises(EncodingError, match=r"broken\.csv"):
        read_table(broken, table)
