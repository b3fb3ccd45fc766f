"""Setup mistakes an operator makes stop `humiao` before anything runs, with a short bilingual message
and exit code 2 — never a Python traceback (new-user findings)."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from humiao.cli import EXIT_CONFIG_ERROR, app

runner = CliRunner()
HEX_A, HEX_B = "ab" * 32, "cd" * 32

def _config(tmp_path, **extra):
    path = tmp_path / "humiao.yaml"
    cfg = {"paths": {"raw_dir": str(tmp_path / "raw"), "work_dir": str(tmp_path / "work"),
                     "out_dir": str(tmp_path / "out"), "secrets_dir": str(tmp_path / "secrets"),
                     "dagster_home": str(tmp_path / "dagster"), "quarantine_dir": str(tmp_path / "q")}, **extra}
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def _clean(output: str) -> str:
    return output.replace("\n", "")


def test_production_run_without_keys(tmp_path, monkeypatch):
    for k in ("HUMIAO_PSEUDONYM_KEY", "HUMIAO_PSEUDONYM_KEY_FILE", "HUMIAO_VAULT_KEY", "HUMIAO_VAULT_KEY_FILE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("HUMIAO_ENV", "production")
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.csv").write_text("x\n1\n", encoding="utf-8")
    res = runner.invoke(app, ["run", "--config", str(_config(tmp_path)), "--no-simulate-if-missing"])
    assert res.exit_code == EXIT_CONFIG_ERROR, res.output
    out = _clean(res.output)
    assert "密钥配置错误" in out and "HUMIAO_PSEUDONYM_KEY" in out and "Traceback" not in out
    assert not (tmp_path / "work").exists() and not (tmp_path / "dagster").exists()  # nothing ran


def test_the_same_key_twice_is_refused_before_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv("HUMIAO_PSEUDONYM_KEY", HEX_A)
    monkeypatch.setenv("HUMIAO_VAULT_KEY", HEX_A)
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.csv").write_text("x\n1\n", encoding="utf-8")
    res = runner.invoke(app, ["run", "--config", str(_config(tmp_path)), "--no-simulate-if-missing"])
    assert res.exit_code == EXIT_CONFIG_ERROR, res.output
    assert "不能与假名化密钥相同" in _clean(res.output)


def test_missing_input_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HUMIAO_PSEUDONYM_KEY", HEX_A)
    monkeypatch.setenv("HUMIAO_VAULT_KEY", HEX_B)
    res = runner.invoke(app, ["run", "--config", str(_config(tmp_path)), "--no-simulate-if-missing"])
    assert res.exit_code == EXIT_CONFIG_ERROR, res.output
    out = _clean(res.output)
    assert "输入文件夹不存在" in out and str(tmp_path / "raw") in out


def test_contracts_folder_without_contracts(tmp_path, monkeypatch):
    monkeypatch.setenv("HUMIAO__PATHS__WORK_DIR", str(tmp_path / "work"))
    (tmp_path / "contracts").mkdir()
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("x\n1\n", encoding="utf-8")
    path = tmp_path / "humiao.yaml"
    path.write_text(yaml.safe_dump({"paths": {"contracts_dir": str(tmp_path / "contracts")}}), encoding="utf-8")
    res = runner.invoke(app, ["ingest", str(tmp_path / "in"), "--config", str(path)])
    assert res.exit_code == EXIT_CONFIG_ERROR, res.output
    out = _clean(res.output)
    assert "数据合同错误" in out and "paths.contracts_dir" in out and "Traceback" not in out


def test_run_with_a_contracts_folder_without_contracts_stops_before_simulating(tmp_path):
    """A contracts folder without contracts: `humiao run` used to simulate a whole city first and fail
    afterwards (new-user finding)."""
    (tmp_path / "contracts").mkdir()
    path = _config(tmp_path)
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg["paths"]["contracts_dir"] = str(tmp_path / "contracts")
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    res = runner.invoke(app, ["run", "--config", str(path)])
    assert res.exit_code == EXIT_CONFIG_ERROR, res.output
    assert "数据合同错误" in _clean(res.output)
    assert not (tmp_path / "raw").exists() and not (tmp_path / "secrets").exists()


def test_a_copy_of_the_configuration_elsewhere_finds_the_shipped_contracts(tmp_path):
    """New-user finding: HUMIAO_CONFIG pointing at a copy of humiao.yaml in another folder looked for
    contracts/ beside the copy."""
    from humiao.config import REPO_ROOT, load_config

    path = tmp_path / "elsewhere" / "humiao.yaml"
    path.parent.mkdir()
    path.write_text((REPO_ROOT / "humiao.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    cfg = load_config(path)
    assert cfg.path("contracts_dir") == REPO_ROOT / "contracts"
    assert cfg.path("work_dir") == path.parent / "data" / "work"  # other paths: beside the configuration
