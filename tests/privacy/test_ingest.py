"""Ingest end to end on a small hand-made raw folder built from the contracts' own headers.

Synthetic people only (checksum-valid IDs made here). Uses privacy-text's KnownIdentities, LeakScanner
and NoteAnonymizer (the real ones: the fail-closed check is only as good as the scanner it runs).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import stat
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from cryptography.fernet import Fernet
from openpyxl import Workbook

from privacy import identifiers as ids
from privacy.contracts import load_contracts
from privacy.ingest import (
    REDACTION_MARKER,
    UndeclaredPersonalInformation,
    ingest_folder,
)
from privacy.tokens import Pseudonymizer
from privacy.vault import Vault, VaultError, read_encrypted, verify_audit_log

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = load_contracts(REPO / "contracts")
AS_OF = dt.date(2025, 6, 30)

# ------------------------------------------------------------------- privacy-text's components (real)


def _components():
    from privacy.anonymizer import NoteAnonymizer
    from privacy.identities import KnownIdentities
    from privacy.scanner import LeakScanner

    return KnownIdentities, LeakScanner, NoteAnonymizer()


@pytest.fixture(scope="module")
def components():
    return _components()


# ------------------------------------------------------------------------------------ synthetic city


def make_id(area: str, birth: str, seq: str) -> str:
    body = area + birth + seq
    return body + ids.ric_check_char(body)


CHILDREN = [
    ("王小明", make_id("330106", "20150101", "123")),
    ("李小红", make_id("330110", "20160315", "246")),
    ("赵家乐", make_id("330127", "20121111", "017")),
    ("孙悦然", make_id("330113", "20180202", "038")),
]
# guardians born before 2000; guardian 0 also appears in a 15-digit legacy form (case-05)
GUARDIANS = [
    ("王建国", make_id("330106", "19750312", "451")),
    ("李秀英", make_id("330110", "19800101", "122")),
    ("赵德胜", make_id("330127", "19701010", "333")),
    ("孙丽华", make_id("330113", "19850505", "444")),
]
LEGACY_15 = GUARDIANS[0][1][:6] + GUARDIANS[0][1][8:17]
PHONES = ["13812345678", "13987654321", "19212345678", "0571-88880000"]
ADDRESSES = [f"杭州市西湖区文三路{100 + i}号{i + 1}0{i + 1}室" for i in range(4)]

GUARDIAN_COLS = {"guardian_name", "guardian_id_number", "guardian_phone", "head_name", "head_id_number"}
PARENT_TABLES = {"social_insurance", "detention_records", "inpatient_admissions", "subsistence_allowance"}


def _value(table, col, i):
    t = col.type
    guardian = col.name in GUARDIAN_COLS or table.name in PARENT_TABLES
    name, rid = (GUARDIANS if guardian else CHILDREN)[i]
    if t == "resident_id":
        return LEGACY_15 if (guardian and i == 0 and table.name == "detention_records") else rid
    if t == "person_name":
        return "周老师" if col.identity_of == "staff" else name
    if t == "phone":
        return PHONES[i]
    if t == "address":
        return ADDRESSES[i]
    if t == "household_number":
        return f"3301060{i:04d}"
    if t == "student_number":
        return "G" + CHILDREN[i][1]
    if t == "certificate_number":
        return CHILDREN[i][1] + "24"
    if t == "date":
        return ["2025年3月1日", "2025/3/2", "20250303", "2025-03-04"][i]
    if t == "datetime":
        return "2025-03-01 10:05"
    if t == "month":
        return ["2025-03", "2025年3月", "202503", "2025/03"][i]
    if t == "int":
        return str(i + 1)
    if t in ("float", "amount"):
        return "1,200.50" if t == "amount" else "123.4"
    if t == "bool":
        return ["是", "否", "是", "否"][i]
    if t == "category":
        return col.values[i % len(col.values)]
    if col.privacy == "free_text":
        return f"{CHILDREN[i][0]}由奶奶照看，奶奶电话{PHONES[(i + 1) % 4 if i < 3 else 0]}，已入户。"
    if col.name == "district":
        return "西湖区"
    if col.name == "township":
        return ["文新街道", "文新街道", "三墩镇", "三墩镇"][i]
    if col.name == "community":
        return ["文新社区", "文新社区", "绿洲社区", "绿洲社区"][i]
    if t == "text":
        return "无"
    return f"{table.name[:3].upper()}{i:04d}"


def write_table(raw_dir: Path, table, rows: list[list[str]], headers: list[str] | None = None) -> Path:
    path = raw_dir / table.department / table.file
    path.parent.mkdir(parents=True, exist_ok=True)
    headers = headers or [c.header for c in table.columns]
    if path.suffix == ".xlsx":
        wb = Workbook()
        ws = wb.active
        ws.append([f"{table.title_zh}（测试）"])
        ws.append([])
        ws.append(headers)
        for r in rows:
            ws.append(r)
        ws.append(["合计", len(rows)])
        wb.save(path)
    else:
        enc = "gb18030" if table.encoding == "gbk" else "utf-8"
        with path.open("w", encoding=enc, newline="") as f:
            w = csv.writer(f)
            w.writerow(headers)
            w.writerows(rows)
    return path


def build_raw(raw_dir: Path, tables=CONTRACTS) -> dict[str, list[list[str]]]:
    all_rows = {}
    for table in tables.values():
        rows = [[_value(table, c, i) for c in table.columns] for i in range(4)]
        if table.name == "child_registry":
            rows.append(list(rows[0]))  # exact duplicate → DUPLICATE_ROW
            bad = list(rows[1])
            bad[1 + 1] = bad[2][:-1] + ("0" if bad[2][-1] != "0" else "1")  # checksum broken
            rows.append(bad)
        if table.name == "social_insurance":
            bad = list(rows[2])
            bad[2] = "2025111"  # ambiguous month/day (case-09)
            rows.append(bad)
        if table.name == "household_registry":
            bad = list(rows[3])
            bad[table.columns.index(table.column("hukou_type"))] = "城镇户口"  # not in values
            rows.append(bad)
        write_table(raw_dir, table, rows)
        all_rows[table.name] = rows
    return all_rows


@pytest.fixture(scope="module")
def ingested(tmp_path_factory, components):
    known_cls, scanner_cls, anonymizer = components
    root = tmp_path_factory.mktemp("city")
    raw, out, quarantine = root / "raw", root / "work", root / "quarantine"
    rows = build_raw(raw)
    pz = Pseudonymizer(b"k" * 32, 1)
    vault_key = Fernet.generate_key()
    report = ingest_folder(
        raw,
        CONTRACTS,
        pseudonymizer=pz,
        vault_key=vault_key,
        out_dir=out,
        quarantine_dir=quarantine,
        as_of=AS_OF,
        anonymizer=anonymizer,
        scanner_factory=scanner_cls,
        known_factory=known_cls,
    )
    return {
        "root": root,
        "raw": raw,
        "out": out,
        "quarantine": quarantine,
        "report": report,
        "pz": pz,
        "vault_key": vault_key,
        "rows": rows,
    }


# ------------------------------------------------------------------------------------------- tests


def test_outputs_follow_interfaces(ingested):
    out = ingested["out"] / "pseudonymized"
    for name, table in CONTRACTS.items():
        t = pq.read_table(out / f"{name}.parquet")
        assert t.column_names == table.output_columns, name
        for c in table.columns:
            if c.privacy == "direct_identifier":
                assert c.name not in t.column_names
        sch = t.schema
        assert str(sch.field("knowledge_date").type) == "date32[day]"
        for c in table.columns:
            if c.type in ("date", "month") and c.privacy != "direct_identifier":
                assert str(sch.field(c.name).type) == "date32[day]", (name, c.name)
            if c.type == "datetime":
                assert str(sch.field(c.name).type) == "timestamp[us]"
            if c.type == "int":
                assert str(sch.field(c.name).type) == "int64"
    attrs = pq.read_table(out / "id_attributes.parquet").to_pandas()
    assert list(attrs.columns) == ["person_token", "birth_month", "sex", "id_area_code"]
    assert attrs["person_token"].is_unique
    tok = ingested["pz"].token("P", CHILDREN[0][1])
    row = attrs.set_index("person_token").loc[tok]
    assert pd.Timestamp(row["birth_month"]) == pd.Timestamp("2015-01-01")
    assert row["sex"] == "男" and row["id_area_code"] == "330106"  # seq 123: 17th digit 3, odd → 男


def test_reconciliation_adds_up(ingested):
    rep = json.loads((ingested["out"] / "ingest_report.json").read_text(encoding="utf-8"))
    for name, t in rep["tables"].items():
        assert t["rows_passed"] + t["rows_quarantined"] + t["rows_duplicate"] == t["rows_read"], name
        assert sum(t["reasons"].values()) == t["rows_quarantined"] + t["rows_duplicate"], name
    cr = rep["tables"]["child_registry"]
    assert cr["rows_read"] == 6 and cr["rows_passed"] == 4 and cr["rows_duplicate"] == 1
    assert cr["reasons"] == {"DUPLICATE_ROW": 1, "INVALID_ID_CHECKSUM": 1}
    assert cr["summary_rows_skipped"] == 1 and cr["header_rows"] == [3]
    assert rep["tables"]["social_insurance"]["reasons"] == {"DATE_AMBIGUOUS": 1}
    assert rep["tables"]["household_registry"]["reasons_by_column"] == {"INVALID_CATEGORY": {"hukou_type": 1}}
    q = ingested["quarantine"] / "child_registry.csv"
    assert stat.S_IMODE(q.stat().st_mode) == 0o600
    qdf = pd.read_csv(q, dtype=str, encoding="utf-8-sig")
    assert list(qdf["reason_code"]) == ["INVALID_ID_CHECKSUM"]
    assert list(qdf["source_row"]) == ["9"]  # title, blank, header, 4 rows, duplicate → row 9
    assert "儿童公民身份号码" in qdf.columns  # raw headers as the clerk knows them
    # the report carries no raw values
    blob = (ingested["out"] / "ingest_report.json").read_text(encoding="utf-8")
    for name, rid in CHILDREN + GUARDIANS:
        assert name not in blob and rid not in blob


def _raw_strings():
    vals = [n for n, _ in CHILDREN + GUARDIANS] + [r for _, r in CHILDREN + GUARDIANS]
    vals += [LEGACY_15, "13812345678", "13987654321", "19212345678", "057188880000", "0571-88880000"]
    vals += ADDRESSES + ["G" + r for _, r in CHILDREN]
    return vals


def test_no_raw_identifier_in_any_output(ingested):
    out = ingested["out"]
    raw = _raw_strings()
    for p in out.rglob("*"):
        if not p.is_file():
            continue
        data = p.read_bytes()
        for s in raw:
            assert s.encode() not in data, (p.name, "raw bytes")
        if p.suffix == ".parquet":
            df = pq.read_table(p).to_pandas()
            text = "\n".join(df.astype(str).fillna("").to_numpy().ravel().tolist())
            for s in raw:
                assert s not in text, (p.name, s[:2])


def test_one_person_one_token_across_15_and_18_digit_forms(ingested):
    out = ingested["out"] / "pseudonymized"
    det = pq.read_table(out / "detention_records.parquet").to_pandas()
    sub = pq.read_table(out / "subsistence_allowance.parquet").to_pandas()
    tok = ingested["pz"].token("P", GUARDIANS[0][1])
    assert det.loc[det["source_row"] == 2, "person_token"].item() == tok  # 15-digit in this file
    assert sub.loc[sub["source_row"] == 2, "head_token"].item() == tok  # 18-digit here


def test_values_typed_and_knowledge_dates(ingested):
    out = ingested["out"] / "pseudonymized"
    att = pq.read_table(out / "attendance.parquet").to_pandas()
    assert (pd.to_datetime(att["month"]) == pd.Timestamp("2025-03-01")).all()  # four month spellings
    assert (pd.to_datetime(att["knowledge_date"]) == pd.Timestamp("2025-04-05")).all()  # month end + 5
    sub = pq.read_table(out / "subsistence_allowance.parquet").to_pandas()
    assert sub["monthly_amount"].iloc[0] == 1200.5
    hh = pq.read_table(out / "household_registry.parquet").to_pandas()
    assert (pd.to_datetime(hh["birth_date"]).dt.day == 1).all()  # generalized to month
    assert hh["household_token"].str.match(r"^H_k1_[0-9a-f]{20}$").all()
    se = pq.read_table(out / "student_enrollment.parquet").to_pandas()
    assert se["student_token"].str.startswith("S_k1_").all()
    assert se["boarding"].tolist() == [True, False, True, False]
    hc = pq.read_table(out / "child_health_checks.parquet").to_pandas()
    assert pd.to_datetime(hc["knowledge_date"]).iloc[0] == pd.Timestamp("2025-03-08")  # + 7 days


def test_free_text_anonymized(ingested):
    vr = pq.read_table(ingested["out"] / "pseudonymized" / "visit_records.parquet").to_pandas()
    for note in vr["notes"]:
        assert "王小明" not in note and "138" not in note
        assert "<" in note or note == REDACTION_MARKER


def test_vault_and_index_encrypted_and_scoped(ingested):
    out = ingested["out"]
    assert stat.S_IMODE((out / "vault.bin").stat().st_mode) == 0o600
    with pytest.raises(VaultError):
        read_encrypted(out / "vault.bin", Fernet.generate_key())
    v = Vault(out / "vault.bin", ingested["vault_key"], out / "audit.log")
    tok = ingested["pz"].token("P", CHILDREN[0][1])
    rec = v.reidentify("director_wx", {"community": "文新社区"}, "走访", tok)
    assert rec["name"] == "王小明" and rec["id_number"] == CHILDREN[0][1]
    assert rec["community"] == "文新社区" and rec["address"] == ADDRESSES[0]
    g = v.reidentify(
        "director_wx", {"community": "文新社区"}, "走访", ingested["pz"].token("P", GUARDIANS[0][1])
    )
    assert g["phone"] == "13812345678"
    with pytest.raises(PermissionError):
        v.reidentify(
            "director_wx", {"community": "文新社区"}, "走访", ingested["pz"].token("P", CHILDREN[2][1])
        )
    assert verify_audit_log(out / "audit.log").lines == 3
    assert (out / "identity_index.bin").stat().st_size > 0


def test_phone_in_remarks_fails_the_file(tmp_path, components):
    known_cls, scanner_cls, anonymizer = components
    raw = tmp_path / "raw"
    table = CONTRACTS["child_registry"]
    rows = [[_value(table, c, i) for c in table.columns] for i in range(4)]
    rows[2][-1] = "监护人电话13912340000，周末在家"  # 备注 is an attribute: undeclared PI
    write_table(raw, table, rows)
    out = tmp_path / "work"
    (out / "pseudonymized").mkdir(parents=True)
    stale = out / "pseudonymized" / "child_registry.parquet"
    stale.write_bytes(b"stale")
    with pytest.raises(UndeclaredPersonalInformation) as e:
        ingest_folder(
            raw,
            {"child_registry": table},
            pseudonymizer=Pseudonymizer(b"k" * 32, 1),
            vault_key=Fernet.generate_key(),
            out_dir=out,
            quarantine_dir=tmp_path / "q",
            as_of=AS_OF,
            anonymizer=anonymizer,
            scanner_factory=scanner_cls,
            known_factory=known_cls,
        )
    msg = str(e.value)
    assert "civil_affairs/child_registry.xlsx" in msg and "remarks" in msg
    assert "PHONE" in msg.upper()
    assert "13912340000" not in msg
    assert not stale.exists()  # nothing (and nothing stale) written for the failed table
    rep = json.loads((out / "ingest_report.json").read_text(encoding="utf-8"))
    assert rep["tables"]["child_registry"]["status"] == "failed"
    assert rep["tables"]["child_registry"]["undeclared"][0]["row"] == 6  # xlsx row: title, blank, header
