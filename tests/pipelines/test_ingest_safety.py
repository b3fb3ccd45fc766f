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

    after = {p.name: p.stat().st_size for p in (work / "pseudonymized").glob("*.parquet")}
    assert after == before and (work / "vault.bin").read_bytes() == vault
    assert run_ingest(cfg)["fingerprint"] == first["fingerprint"]
    assert len(pd.read_parquet(work / "pseudonymized" / "child_registry.parquet")) > 0
