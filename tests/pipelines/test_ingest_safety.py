"""A missing, empty or failing input never destroys the previous pseudonymized state (new-user finding)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from humiao.config import load_config
from humiao.stages import run_ingest
from privacy.ingest import IngestFailed


def test_bad_inputs_leave_the_previous_ingest_intact(town_config, make_config, tmp_path):
    root = tmp_path / "safe"
    shutil.copytree(Path(town_config).parent / "raw", root / "raw")
    cfg = load_config(make_config(root))
    first = run_ingest(cfg)
    work = cfg.path("work_dir")
    before = {p.name: p.stat().st_size for p in (work / "pseudonymized").glob("*.parquet")}
    vault = (work / "vault.bin").read_bytes()
    assert len(before) == 15

    with pytest.raises(FileNotFoundError):
        run_ingest(cfg, tmp_path / "does_not_exist", force=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError):
        run_ingest(cfg, tmp_path / "empty", force=True)
    broken = tmp_path / "broken"
    shutil.copytree(root / "raw", broken)
    p = broken / "health" / "injury_visits.csv"
    p.write_text(p.read_text(encoding="utf-8").replace("公民身份号码", "公民身分号码", 1), encoding="utf-8")
    with pytest.raises(IngestFailed):
        run_ingest(cfg, broken, force=True)
    # a partial delivery (one department only) would replace 14 tables and their identities by nothing
    partial = tmp_path / "partial"
    shutil.copytree(root / "raw" / "civil_affairs", partial / "civil_affairs")
    with pytest.raises(IngestFailed) as err:
        run_ingest(cfg, partial, force=True)
    codes = {e["code"] for e in err.value.errors}
    assert codes == {"DELIVERY_INCOMPLETE"}
    departments = {d.name for d in (root / "raw").iterdir() if d.is_dir()} - {"civil_affairs"}
    assert {e["file"].split("/")[0] for e in err.value.errors} == departments  # every undelivered department
    assert any("attendance" in e["message_en"] and "没有收到" in e["message_zh"] for e in err.value.errors)
    assert not (work / "_staging").exists()

    after = {p.name: p.stat().st_size for p in (work / "pseudonymized").glob("*.parquet")}
    assert after == before and (work / "vault.bin").read_bytes() == vault
    assert run_ingest(cfg)["fingerprint"] == first["fingerprint"]
    assert len(pd.read_parquet(work / "pseudonymized" / "child_registry.parquet")) > 0


def test_cli_ingest_checks_without_storing_unless_applied(town_config, make_config, tmp_path):
    """`humiao ingest FOLDER --report R` is the README's "check it first": it must not replace the
    pipeline's stored tables, vault or identity index (new-user finding); `--apply` stores them."""
    import json

    from typer.testing import CliRunner

    from humiao.cli import app

    root = tmp_path / "cli"
    shutil.copytree(Path(town_config).parent / "raw", root / "raw")
    path = make_config(root)
    cfg = load_config(path)
    work = cfg.path("work_dir")
    report = tmp_path / "report.json"
    res = CliRunner().invoke(app, ["ingest", str(root / "raw"), "--report", str(report), "--config", str(path)])
    assert res.exit_code == 0, res.output
    rep = json.loads(report.read_text(encoding="utf-8"))
    assert rep["mode"] == "check" and sum(t["rows_passed"] for t in rep["tables"].values()) > 1000
    assert "nothing was stored" in res.output
    assert not (work / "pseudonymized").exists() and not (work / "vault.bin").exists()
    assert not cfg.path("quarantine_dir").exists() or not any(cfg.path("quarantine_dir").iterdir())

    res = CliRunner().invoke(app, ["ingest", str(root / "raw"), "--report", str(report), "--apply",
                                   "--config", str(path)])
    assert res.exit_code == 0, res.output
    assert json.loads(report.read_text(encoding="utf-8"))["mode"] == "apply"
    assert len(list((work / "pseudonymized").glob("*.parquet"))) == 15 and (work / "vault.bin").exists()

    # the check refuses what --apply would refuse: a delivery lacking a stored table (new-user finding)
    partial = tmp_path / "partial"
    shutil.copytree(root / "raw", partial, ignore=shutil.ignore_patterns("attendance*"))
    before = {p.name: p.stat().st_mtime_ns for p in (work / "pseudonymized").glob("*.parquet")}
    for extra in ([], ["--apply"]):
        res = CliRunner().invoke(app, ["ingest", str(partial), "--config", str(path), *extra])
        out = res.output.replace("\n", "")
        assert res.exit_code == 1, res.output
        assert "DELIVERY_INCOMPLETE" in json.dumps(res.output) or "没有收到" in out
        assert "stored in" not in out and "nothing was stored" in out
    assert {p.name: p.stat().st_mtime_ns for p in (work / "pseudonymized").glob("*.parquet")} == before
