"""Issue 7: a run killed midway (SIGKILL of the running process, not an exception) and started again
ends in the same state as an uninterrupted run (DESIGN §11.7: equal table contents)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from humiao.config import load_config


def _lists(cfg) -> pd.DataFrame:
    files = sorted((cfg.path("out_dir") / "visit_lists").rglob("visit_lists.parquet"))
    assert len(files) == 1
    return pd.read_parquet(files[0]).sort_values(["community", "section", "rank"]).reset_index(drop=True)


def test_sigkill_midway_then_rerun_matches_uninterrupted(town_run, town_config, make_config, tmp_path):
    ref_cfg, ref = town_run
    assert ref["success"], ref["error"]
    root = tmp_path / "killed"
    shutil.copytree(Path(town_config).parent / "raw", root / "raw")
    shutil.copytree(Path(town_config).parent / "truth", root / "truth")
    path = make_config(root)
    cfg = load_config(path)
    env = {**os.environ, "HUMIAO_CONFIG": str(path)}
    cmd = [sys.executable, "-m", "humiao.cli", "run", "--config", str(path)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    labels = cfg.path("work_dir") / "assets" / "labels"  # killed during training, after the partitions

    def written() -> bool:
        return labels.exists() and any(labels.glob("*.parquet"))

    deadline = time.monotonic() + 300
    while not written() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not (cfg.path("out_dir") / "visit_lists").exists()  # it really stopped midway

    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    pd.testing.assert_frame_equal(_lists(cfg), _lists(ref_cfg))
    for target in ("guardianship_risk", "left_behind_risk"):
        a = (cfg.path("out_dir") / "model_cards" / f"{target}.md").read_text(encoding="utf-8")
        assert "precision@capacity_abs" in a
