"""The mapping file (humiao_mapping.yaml) as documented: the example in the README's ingest section,
in docs/ingest.md and in `humiao ingest --help` parses with the real loader
(:func:`privacy.recognize.load_mapping`) and pins files and sheets as the text says."""

from __future__ import annotations

import csv
import re
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml
from openpyxl import Workbook
from typer.testing import CliRunner

from privacy.contracts import load_contracts
from privacy.recognize import MAPPING_FILE, MappingError, load_mapping, plan_folder

REPO = Path(__file__).resolve().parents[2]
HAND = Path(__file__).resolve().parent / "messy" / "hand"
CONTRACTS = load_contracts(REPO / "contracts")


def _yaml_blocks(text: str) -> list[str]:
    return [textwrap.dedent(b) for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S)]


def readme_example() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Pointing it at real departmental exports", 1)[1].split("\n## ", 1)[0]
    blocks = [b for b in _yaml_blocks(section) if "files:" in b]
    assert len(blocks) == 1, "the README's ingest section shows one mapping example"
    return blocks[0]


def docs_example() -> str:
    (block,) = [b for b in _yaml_blocks((REPO / "docs" / "ingest.md").read_text(encoding="utf-8")) if "files:" in b]
    return block


def _csv(path: Path, table: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    headers = [c.header for c in CONTRACTS[table].columns]
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([headers, ["1"] * len(headers)])


def _xlsx(path: Path, table: str) -> None:
    wb = Workbook()
    headers = [c.header for c in CONTRACTS[table].columns]
    wb.active.append(headers)
    wb.active.append(["1"] * len(headers))
    wb.save(path)


def _delivery(raw: Path) -> None:
    """A folder holding a file for every rule of the examples (names as written there)."""
    (raw / "民政").mkdir(parents=True)
    shutil.copy(HAND / "h12_台账_数据区合并单元格.xlsx", raw / "民政" / "民政导出0630.xlsx")  # a sub-folder
    _csv(raw / "教育局" / "学籍名单.csv", "student_enrollment")
    _csv(raw / "卫健" / "伤害就诊0630.csv", "injury_visits")
    shutil.copy(HAND / "h22_残联_说明页加数据页.xlsx", raw / "残联台账.xlsx")  # sheets 填表说明 + 残疾人证
    _xlsx(raw / "低保台账.xlsx", "subsistence_allowance")
    (raw / "说明.csv").write_text("事项,说明\n交付,六月\n", encoding="utf-8")


EXPECTED = {  # label -> table, as the comments of the example say
    "民政/民政导出0630.xlsx#Sheet": "child_registry",
    "教育局/学籍名单.csv": "student_enrollment",
    "卫健/伤害就诊0630.csv": "injury_visits",
    "残联台账.xlsx#残疾人证": "disability_certificates",
}


@pytest.mark.parametrize("example", [readme_example, docs_example], ids=["README", "docs"])
def test_documented_mapping_example_parses_and_pins(tmp_path, example):
    text = example()
    rules = load_mapping(yaml.safe_load(text), CONTRACTS)  # the real loader accepts it
    assert rules["残联台账.xlsx"] == {"残疾人证": "disability_certificates", "填表说明": "ignore"}
    assert rules["说明.csv"] == "ignore"
    raw = tmp_path / "in"
    _delivery(raw)
    (raw / MAPPING_FILE).write_text(text, encoding="utf-8")  # found in the folder without --mapping
    plan = plan_folder(raw, CONTRACTS)
    by = {p.label: p for p in plan.sources}
    want = dict(EXPECTED)
    if "低保台账.xlsx" in rules:  # the long form {table: …} (docs/ingest.md)
        want["低保台账.xlsx#Sheet"] = "subsistence_allowance"
    for label, table in want.items():
        assert (by[label].table, by[label].how) == (table, "mapping"), label
    assert {"file": "说明.csv", "reason": "MAPPING_IGNORE"} in plan.ignored
    assert {"file": "残联台账.xlsx#填表说明", "reason": "MAPPING_IGNORE"} in plan.ignored
    assert {"file": MAPPING_FILE, "reason": "CONTROL_FILE"} in plan.ignored  # not itself ingested
    assert plan.mapping_file == MAPPING_FILE
    assert plan.unused_mapping_rules == [] or plan.unused_mapping_rules == ["低保台账.xlsx"]


def test_precedence_path_then_bare_name_then_glob(tmp_path):
    """As documented: the exact relative path wins over the bare name, which wins over a glob."""
    raw = tmp_path / "in"
    for rel in ("a/名单.csv", "b/名单.csv", "b/其他.csv"):
        _csv(raw / rel, "detention_records")
    rules = {"b/*.csv": "injury_visits", "名单.csv": "incidents", "a/名单.csv": "detention_records"}
    by = {p.label: p.table for p in plan_folder(raw, CONTRACTS, rules).sources}
    assert by == {"a/名单.csv": "detention_records", "b/名单.csv": "incidents", "b/其他.csv": "injury_visits"}


def test_rules_may_stand_at_the_top_level_and_unknown_tables_are_refused():
    assert load_mapping({"x.csv": "attendance"}, CONTRACTS) == {"x.csv": "attendance"}
    with pytest.raises(MappingError, match="known tables"):
        load_mapping({"files": {"x.csv": "attendence"}}, CONTRACTS)


def test_cli_help_shows_the_readme_example_and_a_bad_mapping_exits_2(tmp_path, monkeypatch):
    from humiao.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["ingest", "--help"], terminal_width=120)
    assert res.exit_code == 0
    lines = res.output.splitlines()
    first = next(i for i, s in enumerate(lines) if s.strip() == "files:")
    last = next(i for i, s in enumerate(lines) if "说明.csv: ignore" in s)
    shown = textwrap.dedent("\n".join(s.rstrip() for s in lines[first:last + 1]))
    assert load_mapping(yaml.safe_load(shown), CONTRACTS) == load_mapping(yaml.safe_load(readme_example()), CONTRACTS)

    monkeypatch.setenv("HUMIAO__PATHS__WORK_DIR", str(tmp_path / "work"))
    raw = tmp_path / "in"
    _csv(raw / "名单.csv", "detention_records")
    (raw / MAPPING_FILE).write_text("files:\n  名单.csv: detention_record\n", encoding="utf-8")
    res = runner.invoke(app, ["ingest", str(raw)])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and "映射文件有误" in res.output and "invalid mapping file" in res.output
    assert "detention_record" in res.output and "known tables" in res.output
