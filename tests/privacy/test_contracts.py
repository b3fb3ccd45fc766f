"""privacy.contracts: loading, header resolution, generated pandera schema."""

from pathlib import Path

import pandas as pd
import pytest

from privacy.contracts import (
    ContractError,
    ContractViolation,
    HeaderError,
    load_contracts,
    normalize_header,
    resolve_headers,
    table_from_dict,
    validate_output,
)

REPO = Path(__file__).resolve().parents[2]
C = load_contracts(REPO / "contracts")


def test_all_contracts_load_with_knowledge_dates():
    assert len(C) == 14
    for t in C.values():
        assert t.knowledge_date is not None and t.output_columns[-1] == "knowledge_date"
        assert t.relative_path.startswith(t.department + "/")
    assert C["attendance"].knowledge_date.month_end and C["attendance"].knowledge_date.lag_days == 5
    assert C["child_registry"].column("child_id_number").token_kind == "P"
    assert C["household_registry"].column("household_number").token_kind == "H"


def test_header_normalization():
    assert normalize_header("\ufeff 姓名 ") == "姓名"
    assert normalize_header("区（县、市）") == normalize_header("区(县、市)")
    assert normalize_header("月保障\n金额（元）") == "月保障金额(元)"
    assert normalize_header("ＩＤ") == "ID"


def test_resolve_headers_synonyms_and_missing():
    t = C["child_registry"]
    hm = resolve_headers(
        [
            "登记编号",
            "姓名",
            "身份证号",
            "类别",
            "区（县、市）",
            "乡镇（街道）",
            "村（社区）",
            "登记日期",
            "多余列",
        ],
        t,
        "child_registry.xlsx",
    )
    assert hm.positions[1] == "child_name" and hm.positions[2] == "child_id_number"
    assert hm.positions[4] == "district" and hm.unmapped == ["多余列"]
    with pytest.raises(HeaderError) as e:
        resolve_headers(["登记编号", "姓名"], t, "child_registry.xlsx")
    msg = str(e.value)
    assert "child_registry.xlsx" in msg and "儿童公民身份号码" in msg and "登记日期" in msg
    assert "child_id_number" in e.value.missing
    with pytest.raises(HeaderError, match="both map"):
        resolve_headers(["身份证号", "公民身份号码", "登记编号"], t, "x.xlsx")


def test_bad_contracts_rejected():
    base = {
        "file": "x.csv",
        "columns": [{"name": "a", "header": "甲", "type": "string", "privacy": "attribute"}],
    }
    table_from_dict("t", base, "d")
    for bad in (
        {"name": "a", "header": "甲", "type": "nonsense", "privacy": "attribute"},
        {"name": "a", "header": "甲", "type": "string", "privacy": "secret"},
        {"name": "a", "header": "甲", "type": "category", "privacy": "attribute"},
        {
            "name": "a",
            "header": "甲",
            "type": "person_name",
            "privacy": "direct_identifier",
            "pseudonym": "x",
        },
    ):
        with pytest.raises(ContractError):
            table_from_dict("t", {"file": "x.csv", "columns": [bad]}, "d")
    two = {
        "file": "x.csv",
        "columns": [
            {
                "name": "a",
                "header": "甲",
                "type": "resident_id",
                "privacy": "direct_identifier",
                "pseudonym": "p",
            },
            {
                "name": "b",
                "header": "乙",
                "type": "resident_id",
                "privacy": "direct_identifier",
                "pseudonym": "p",
            },
        ],
    }
    with pytest.raises(ContractError, match="pseudonym"):
        table_from_dict("t", two, "d")


def _frame(**over):
    df = pd.DataFrame(
        {
            "source_file": ["civil_affairs/visit_records.csv"] * 2,
            "source_row": [2, 3],
            "visit_id": ["R_k1_" + "1" * 20, "R_k1_" + "2" * 20],
            "visit_date": pd.to_datetime(["2025-03-01", "2025-03-02"]),
            "child_token": ["P_k1_" + "a" * 20, "P_k1_" + "b" * 20],
            "visit_mode": ["入户走访", None],
            "guardianship_assessment": ["良好", "一般"],
            "notes": ["<PERSON_1>很好", None],
            "filed_date": pd.to_datetime(["2025-03-01", "2025-03-02"]),
            "knowledge_date": pd.to_datetime(["2025-03-01", "2025-03-02"]),
        }
    )
    for k, v in over.items():
        df[k] = v
    return df


def test_output_schema_accepts_and_rejects():
    t = C["visit_records"]
    validate_output(_frame(), t, "civil_affairs/visit_records.csv")
    with pytest.raises(ContractViolation, match=r"visit_records.csv.*row 3, column guardianship_assessment"):
        validate_output(
            _frame(guardianship_assessment=["良好", "很好"]), t, "civil_affairs/visit_records.csv"
        )
    with pytest.raises(ContractViolation, match="visit_id"):  # unique
        validate_output(_frame(visit_id=["R_k1_" + "1" * 20] * 2), t, "f")
    with pytest.raises(ContractViolation, match="visit_id"):  # a record number in clear (keyed: true)
        validate_output(_frame(visit_id=["ZF2025000123", "R_k1_" + "2" * 20]), t, "f")
    with pytest.raises(ContractViolation, match="child_token"):
        validate_output(_frame(child_token=["330106201501011236", "P_k1_" + "b" * 20]), t, "f")
    with pytest.raises(ContractViolation):  # a raw identifier column is not allowed (strict)
        validate_output(_frame(child_name=["王小明", "李小红"]), t, "f")
