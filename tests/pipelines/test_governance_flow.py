"""The governance gate on real exports, as a data team meets it (DESIGN.md §8; new-user findings):

1. the first cycle trains, registers and renders the pending cards, publishes no list and says why
   (`humiao run` exits 3 with the approval steps, no stack trace);
2. the review app's database appearing (no outcome recorded yet) does not retrain;
3. after a reviewer approves, the next run reuses the models, scores with the approved version,
   publishes the lists, and the top-level card is the approved version's card.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from humiao.cli import EXIT_AWAITING_APPROVAL, app
from humiao.config import load_config

TARGETS = ("guardianship_risk", "left_behind_risk")


@pytest.fixture
def real_town(town_config, make_config, tmp_path, use_config):
    """The town's departmental files without the simulator's manifest: humiao treats them as real
    exports (no automatic approval, no ground truth)."""
    src = Path(town_config).parent / "raw"
    raw = tmp_path / "raw"
    shutil.copytree(src, raw, ignore=shutil.ignore_patterns("manifest.json"))
    path = use_config(make_config(tmp_path))
    return load_config(path), path


def _versions(cfg, target):
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(cfg.mlflow_tracking_uri)
    mlflow.set_registry_uri(cfg.mlflow_tracking_uri)
    return sorted(int(v.version) for v in MlflowClient().search_model_versions(f"name='humiao_{target}'"))


def test_real_exports_wait_for_approval_then_publish(real_town, monkeypatch):
    cfg, path = real_town
    out = cfg.path("out_dir")
    runner = CliRunner()

    first = runner.invoke(app, ["run", "--config", str(path), "--no-simulate-if-missing"])
    assert first.exit_code == EXIT_AWAITING_APPROVAL, first.output
    assert "等待治理审查" in first.output and "humiao serve" in first.output
    assert "Traceback" not in first.output
    assert not list((out / "visit_lists").rglob("*.xlsx")), "no list before a reviewer approved"
    for t in TARGETS:
        assert _versions(cfg, t) == [1]
        pending = out / "model_cards" / "versions" / t / "v1"
        card = json.loads((pending / f"{t}.json").read_text(encoding="utf-8"))
        assert card["approval"]["status"] == "pending"
        assert not (out / "model_cards" / f"{t}.html").exists(), "the top-level card is the serving model's"

    # the review app's database appears (a reviewer account is added); nobody recorded an outcome yet
    monkeypatch.setenv("HUMIAO_APP_PASSWORD", "a-long-test-password-1")
    added = runner.invoke(app, ["users", "add", "--username", "reviewer_wang", "--role", "reviewer",
                                "--config", str(path)])
    assert added.exit_code == 0, added.output

    # the reviewer approves version 1 of both targets (what the app's 治理审查 page does)
    from models import tracking

    tracking.configure(cfg.mlflow_tracking_uri, cfg.mlflow_dir / "artifacts", cfg.mlflow_experiment)
    for t in TARGETS:
        tracking.approve(tracking.model_name(t), "1", by="reviewer_wang", note="已审阅模型卡")

    second = runner.invoke(app, ["run", "--config", str(path), "--no-simulate-if-missing"])
    assert second.exit_code == 0, second.output
    for t in TARGETS:
        assert _versions(cfg, t) == [1], "the same cycle with no new outcome must not retrain"
        served = json.loads((out / "model_cards" / f"{t}.json").read_text(encoding="utf-8"))
        assert served["approval"]["status"] == "approved" and served["approval"]["by"] == "reviewer_wang"
    workbooks = list((out / "visit_lists").rglob("*.xlsx"))
    assert workbooks, "the approved models publish the lists"
    import pandas as pd

    lists = pd.read_parquet(next((out / "visit_lists").rglob("*.parquet")))
    assert len(lists) > 0 and lists["child_token"].str.startswith("P_").all()
