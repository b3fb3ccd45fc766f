"""The `humiao` command line: scan exits 1 with masked findings; anonymize keeps order."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from humiao.cli import app

runner = CliRunner()
RAW_ID = "330106201501011236"  # checksum-valid synthetic ID (shared/cases case-12)


def test_scan_finds_planted_identifier_and_masks_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HUMIAO__PATHS__WORK_DIR", str(tmp_path / "no-work"))  # no scanner index: patterns only
    clean = tmp_path / "clean"
    clean.mkdir()
    pd.DataFrame({"child_token": ["P_k1_0123456789abcdef0123"], "score": [0.12]}).to_parquet(clean / "a.parquet")
    (clean / "note.md").write_text("# 名单\n儿童编号 P_k1_0123456789abcdef0123，风险等级 高危。\n", encoding="utf-8")
    ok = runner.invoke(app, ["scan", str(clean)])
    assert ok.exit_code == 0, ok.output

    leaky = tmp_path / "leaky"
    leaky.mkdir()
    pd.DataFrame({"child_token": ["P_k1_0123456789abcdef0123"], "remark": [f"监护人电话13800000000 身份证{RAW_ID}"]}
                 ).to_csv(leaky / "list.csv", index=False)
    bad = runner.invoke(app, ["scan", str(leaky)])
    assert bad.exit_code == 1
    assert "CN_RIC" in bad.output and "PHONE_NUMBER" in bad.output
    assert RAW_ID not in bad.output and "13800000000" not in bad.output  # masked, never the full value


def test_anonymize_jsonl_in_order():
    lines = [
        {"text": "奶奶王秀英说孩子父亲在外务工，电话13800000000。", "known": {"names": ["王秀英"]}},
        {"text": f"儿童身份证号码{RAW_ID}已登记。"},
    ]
    res = runner.invoke(app, ["anonymize"], input="\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    assert res.exit_code == 0, res.output
    out = [json.loads(x) for x in res.stdout.strip().splitlines()]
    assert len(out) == 2
    assert "王秀英" not in out[0]["text"] and "13800000000" not in out[0]["text"]
    assert "<PERSON_1>" in out[0]["text"] and "<PHONE_NUMBER>" in out[0]["text"]
    assert RAW_ID not in out[1]["text"] and "<CN_RIC>" in out[1]["text"]


def test_scan_refuses_a_missing_path(tmp_path):
    res = runner.invoke(app, ["scan", str(tmp_path / "does_not_exist")])
    assert res.exit_code == 2  # not "0 findings": the scanner fails closed


def test_simulate_zero_children_is_refused_not_replaced_by_the_default(tmp_path):
    res = runner.invoke(app, ["simulate", "--children", "0", "--months", "12", "--out", str(tmp_path / "raw"),
                              "--truth", str(tmp_path / "truth")])
    assert res.exit_code != 0
    assert not (tmp_path / "raw" / "manifest.json").exists()


# ------------------------------------------------------------------------------ configuration errors
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import typer  # noqa: E402

BAD_CONFIGS = {  # case -> (humiao.yaml text, setting named, words of what was expected)
    "unknown key": ("capacity:\n  visits_per_director_per_cyle: 5\n", "capacity.visits_per_director_per_cyle",
                    ("visits_per_director_per_cycle", "已知的设置项", "known settings")),
    "wrong type": ("simulation:\n  children: lots\n", "simulation.children", ("整数", "whole number", "'lots'")),
    "bad value": ("env: staging\n", "env", ("demo", "production", "'staging'")),
    "out of range": ("capacity:\n  exploration_share: 0.9\n", "capacity.exploration_share", ("0.5",)),
    "yaml syntax": ("capacity:\n  visits: [1,\n  x: 2\n", None, ("YAML", "第 4 行", "line 4")),
    "missing file": (None, None, ("--config", "not found")),
}


def _bad_config(tmp_path, case: str) -> Path:
    text = BAD_CONFIGS[case][0]
    path = tmp_path / "humiao_bad.yaml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    return path


def _assert_config_message(res, path: Path, case: str) -> None:
    _, setting, words = BAD_CONFIGS[case]
    assert res.exit_code == 2, res.output
    assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit), res.exception
    assert "Traceback" not in res.output and "ValidationError" not in res.output
    assert "配置错误" in res.output and "configuration error" in res.output  # Chinese and English
    assert str(path) in res.output  # the file
    if setting:
        assert f"设置项 {setting}" in res.output and f"setting {setting}" in res.output  # dotted path
    for w in words:
        assert w in res.output, (w, res.output)


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_a_bad_configuration_is_a_short_bilingual_message(tmp_path, monkeypatch, case):
    """A bad humiao.yaml printed a pydantic traceback: now the file, the setting and what was expected,
    in Chinese and English, exit code 2."""
    monkeypatch.delenv("HUMIAO_CONFIG", raising=False)
    path = _bad_config(tmp_path, case)
    inbox = tmp_path / "exports"
    inbox.mkdir()
    res = runner.invoke(app, ["ingest", str(inbox), "--config", str(path)])
    _assert_config_message(res, path, case)
    assert "HUMIAO_CONFIG" not in os.environ  # a bad file is not exported to later loads


def _commands_with_config(group, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    out = set()
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):  # a sub-group (typer vendors its own click)
            out |= _commands_with_config(cmd, (*prefix, name))
        elif any(p.name == "config" for p in cmd.params):
            out.add((*prefix, name))
    return out


def _argv_for(command: tuple[str, ...], tmp_path: Path) -> list[str]:
    extra = {
        ("ingest",): [str(tmp_path)],
        ("scan",): [str(tmp_path)],
        ("rotate-key",): ["--new-key-file", str(tmp_path / "new.key")],
        ("users", "add"): ["--username", "u1", "--role", "reviewer"],
        ("users", "disable"): ["u1"],
        ("users", "password"): ["u1"],
    }
    return [*command, *extra.get(command, [])]


EVERY_CONFIG_COMMAND = [("simulate",), ("run",), ("ingest",), ("scan",), ("serve",), ("rotate-key",), ("purge",),
                        ("users", "add"), ("users", "list"), ("users", "disable"), ("users", "password")]


def test_every_command_with_a_config_option_is_covered():
    assert _commands_with_config(typer.main.get_command(app)) == set(EVERY_CONFIG_COMMAND)


@pytest.mark.parametrize("command", EVERY_CONFIG_COMMAND, ids=" ".join)
def test_every_command_reports_a_bad_configuration_without_a_traceback(tmp_path, monkeypatch, command):
    monkeypatch.delenv("HUMIAO_CONFIG", raising=False)
    monkeypatch.setenv("HUMIAO_APP_PASSWORD", "a-long-enough-password-1")
    path = _bad_config(tmp_path, "wrong type")
    res = runner.invoke(app, [*_argv_for(command, tmp_path), "--config", str(path)])
    _assert_config_message(res, path, "wrong type")


def test_a_bad_configuration_named_by_the_environment(tmp_path, monkeypatch):
    path = _bad_config(tmp_path, "unknown key")
    monkeypatch.setenv("HUMIAO_CONFIG", str(path))
    res = runner.invoke(app, ["purge"])
    _assert_config_message(res, path, "unknown key")
    assert "第 2 行" in res.output and "line 2" in res.output  # where in the file

    monkeypatch.delenv("HUMIAO_CONFIG")
    monkeypatch.setenv("HUMIAO__CAPACITY__VISITS_PER_DIRECTOR_PER_CYCLE", "lots")
    res = runner.invoke(app, ["purge"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "HUMIAO__CAPACITY__VISITS_PER_DIRECTOR_PER_CYCLE" in res.output  # the override, not the file, is at fault
    assert "setting capacity.visits_per_director_per_cycle" in res.output


def test_the_library_raises_a_config_error_with_the_cause_kept(tmp_path):
    """The library does not print or exit: it raises ConfigError (the pydantic error as its cause)."""
    from pydantic import ValidationError

    from humiao.config import ConfigError, ConfigFileNotFoundError, load_config

    with pytest.raises(ConfigError) as info:
        load_config(_bad_config(tmp_path, "wrong type"))
    assert isinstance(info.value.__cause__, ValidationError)
    assert [p.setting for p in info.value.problems] == ["simulation.children"]
    with pytest.raises(FileNotFoundError):  # still a FileNotFoundError for callers that catch that
        load_config(tmp_path / "nowhere.yaml")
    assert issubclass(ConfigFileNotFoundError, ConfigError)


@pytest.mark.parametrize("entry", ["humiao.cli", "pipelines.definitions"])
def test_cli_output_has_no_pyspark_pandas_future_warning(tmp_path, entry):
    """pandera imports pyspark.pandas (ingest's validation) and mlflow pyspark.sql.connect (signature
    inference); both warn about pandas >= 3 on every ingest and run. Both entry points (the CLI and the
    Dagster definitions `make ui` loads) silence exactly that warning; other FutureWarnings still show."""
    pytest.importorskip("pyspark")
    script = tmp_path / "probe.py"  # a file, not `python -c`: pyspark exits early under -c (doctest guard)
    script.write_text(
        "import warnings\n"
        f"import {entry}  # noqa: F401\n"
        "import pandera.pandas  # noqa: F401\n"
        "from mlflow.types.utils import _is_spark_df\n"
        "assert _is_spark_df(object()) is False\n"
        "warnings.warn('an unrelated future change', FutureWarning)\n",
        encoding="utf-8",
    )
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).resolve().parents[2])
    assert res.returncode == 0, res.stderr
    assert "PySpark does not yet fully support pandas" not in res.stderr
    assert "an unrelated future change" in res.stderr  # not a blanket ignore

    control = tmp_path / "control.py"  # without humiao.cli the warning is there: the test tests something
    control.write_text(script.read_text(encoding="utf-8").replace(f"import {entry}  # noqa: F401\n", ""),
                       encoding="utf-8")
    res = subprocess.run([sys.executable, str(control)], capture_output=True, text=True, timeout=300)
    assert "PySpark does not yet fully support pandas" in res.stderr


def test_ingest_of_a_folder_with_no_recognizable_file_explains_and_changes_nothing(tmp_path, monkeypatch):
    """A folder whose files match no contract: the report names each unrecognized file, the message says
    what to do (headers, humiao_mapping.yaml), exit 1, no traceback, nothing stored."""
    monkeypatch.setenv("HUMIAO__PATHS__WORK_DIR", str(tmp_path / "work"))
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "会议纪要.csv").write_text("议题,负责人\n年度计划,办公室\n", encoding="utf-8")
    report = tmp_path / "report.json"
    res = runner.invoke(app, ["ingest", str(folder), "--report", str(report), "--apply"])
    assert res.exit_code == 1, res.output
    out = res.output.replace("\n", "")  # the console wraps long lines
    assert "Traceback" not in out and isinstance(res.exception, SystemExit)
    assert "没有一个文件被识别为数据表" in out and "humiao_mapping.yaml" in out
    rep = json.loads(report.read_text(encoding="utf-8"))
    assert any("会议纪要.csv" in json.dumps(f, ensure_ascii=False) for f in rep.get("files", []))
    assert not (tmp_path / "work" / "pseudonymized").exists()


# ------------------------------------------------------------------------------ ingest console (new-user findings)
def _ingest_rid(i: int) -> str:
    from privacy.identifiers import ric_check_char

    body = f"330106201501{i:02d}{i:03d}"[:17]
    return body + ric_check_char(body)


def _ingest_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "exports"
    folder.mkdir()
    rows = [[_ingest_rid(i), "2025-03-01", "跌倒", "市一医院"] for i in range(1, 31)]
    rows[0][1] = "2025年2月30日"  # one quarantined row
    head = ["公民身份号码", "就诊日期", "伤害类型", "就诊医院"]
    pd.DataFrame(rows, columns=head).to_csv(folder / "伤害就诊.csv", index=False)
    pd.DataFrame(rows[20:], columns=head).to_csv(folder / "伤害就诊_补报.csv", index=False)  # merged
    (folder / "会议纪要.csv").write_text("议题,负责人\n年度计划,办公室\n", encoding="utf-8")  # unrecognized
    return folder


def test_ingest_prints_a_short_bilingual_summary_not_the_json(tmp_path, monkeypatch):
    """`humiao ingest FOLDER` printed the whole JSON report (or, with --report, one line hiding the
    unrecognized files and the tables with no file): now a short summary; JSON only with --json."""
    monkeypatch.setenv("HUMIAO__PATHS__WORK_DIR", str(tmp_path / "work"))
    folder = _ingest_folder(tmp_path)
    res = runner.invoke(app, ["ingest", str(folder)])
    assert res.exit_code == 0, res.output
    assert '"tables"' not in res.output and "{" not in res.stdout  # no JSON without --json
    out = res.output
    assert "已收到 1 张表的文件" in out and "tables delivered: 1 (of 14 contract tables)" in out
    assert "无法识别的文件 / files not recognized (1): 会议纪要.csv" in out
    assert "没有收到文件的表 / tables with no file (13):" in out and "child_registry" in out
    assert "files merged into table injury_visits: 伤害就诊.csv + 伤害就诊_补报.csv" in out
    assert "各表隔离行数 / quarantined rows per table: injury_visits 1" in out
    assert "nothing was stored" in out

    res = runner.invoke(app, ["ingest", str(folder), "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    assert rep["tables"]["injury_visits"]["rows_quarantined"] == 1 and rep["mode"] == "check"
    report = tmp_path / "r.json"
    res = runner.invoke(app, ["ingest", str(folder), "--report", str(report)])
    assert res.exit_code == 0 and "会议纪要.csv" in res.output and "tables with no file (13)" in res.output
    assert json.loads(report.read_text(encoding="utf-8"))["tables"]["injury_visits"]["rows_passed"] == 29
    assert "--json" in runner.invoke(app, ["ingest", "--help"]).output


def test_ingest_refuses_a_report_in_a_missing_folder_before_ingesting(tmp_path, monkeypatch):
    monkeypatch.setenv("HUMIAO__PATHS__WORK_DIR", str(tmp_path / "work"))
    folder = _ingest_folder(tmp_path)
    res = runner.invoke(app, ["ingest", str(folder), "--report", str(tmp_path / "nowhere" / "r.json"), "--apply"])
    assert res.exit_code == 2, res.output
    assert isinstance(res.exception, SystemExit) and "Traceback" not in res.output
    assert "报告所在的文件夹不存在" in res.output and "does not exist" in res.output
    assert not (tmp_path / "work").exists() and not (tmp_path / "nowhere").exists()  # nothing ingested


def test_ingest_of_a_file_says_it_is_a_file_not_a_folder(tmp_path):
    f = tmp_path / "伤害就诊.csv"
    f.write_text("公民身份号码,就诊日期\n", encoding="utf-8")
    res = runner.invoke(app, ["ingest", str(f)])
    assert res.exit_code == 2
    assert "输入路径是文件而不是文件夹" in res.output and "is a file, not a folder" in res.output
    assert "not found" not in res.output
    res = runner.invoke(app, ["ingest", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "input folder not found" in res.output
