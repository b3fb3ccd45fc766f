"""`humiao rotate-key` and `humiao purge` on a copy of the test town after a full run (issue 3: rotation
re-tokenizes every store that holds tokens; retention purges are logged, PIPL art. 47)."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from humiao.cli import app
from humiao.config import load_config


@pytest.fixture
def town_copy(town_run, town_config, make_config, tmp_path):
    """A private copy of the town after its full run (so the shared town stays untouched)."""
    _, result = town_run
    assert result["success"], result["error"]
    src = Path(town_config).parent
    root = tmp_path / "copy"
    for name in ("raw", "truth", "work", "out/visit_lists", "out/model_cards"):
        shutil.copytree(src / name, root / name)  # not the MLflow store: its artifact root names the town
    path = make_config(root)
    return load_config(path), path


def _vault(cfg):
    from humiao.stages import vault_key_from_config
    from privacy.vault import read_encrypted

    return read_encrypted(cfg.path("work_dir") / "vault.bin", vault_key_from_config(cfg))["records"]


def test_rotate_key_retokenizes_and_the_next_run_uses_the_new_key(town_copy, tmp_path, monkeypatch):
    from pipelines.run import materialize_all
    from privacy.tokens import Pseudonymizer
    from privacy.vault import append_audit_event, verify_audit_log

    cfg, path = town_copy
    audit = cfg.path("work_dir") / "app" / "audit.log"
    audit.parent.mkdir(parents=True, exist_ok=True)
    append_audit_event(audit, "test_event", actor="tester")
    audit_before = audit.read_bytes()
    lists = next((cfg.path("out_dir") / "visit_lists").iterdir()) / "visit_lists.parquet"
    before = pd.read_parquet(lists)
    old_vault = _vault(cfg)
    new_key = "33" * 32
    key_file = tmp_path / "new.key"
    key_file.write_text(new_key, encoding="ascii")

    res = CliRunner().invoke(app, ["rotate-key", "--new-key-file", str(key_file), "--config", str(path)])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout[res.stdout.index("{"):res.stdout.rindex("}") + 1])
    assert report["old_version"] == 1 and report["new_version"] == 2 and report["unmapped_tokens"] == 0
    assert new_key not in res.output and "11" * 32 not in res.output  # never a key in the output

    new = Pseudonymizer(bytes.fromhex(new_key), 2)
    vault = _vault(cfg)
    assert len(vault) == len(old_vault) and all(t.startswith("P_k2_") for t in vault)
    for tok, rec in list(vault.items())[:50]:
        assert new.token("P", rec["id_number"]) == tok
    # the issued lists' Parquet holds the same children under their new tokens, nothing else changed
    old_to_new = {o: new.token("P", r["id_number"]) for o, r in old_vault.items()}
    after = pd.read_parquet(lists)
    assert after["child_token"].tolist() == before["child_token"].map(old_to_new).tolist()
    pd.testing.assert_frame_equal(after.drop(columns="child_token"), before.drop(columns="child_token"))
    assert audit.read_bytes() == audit_before and verify_audit_log(audit)  # never rewritten
    assert not cfg.pseudonymized_dir.exists() and not (cfg.path("work_dir") / "assets").exists()

    # a stale configuration (still the old key) is refused: the vault no longer matches it
    stale = CliRunner().invoke(app, ["rotate-key", "--new-key-file", str(key_file), "--config", str(path)])
    assert stale.exit_code == 1 and "old key" in stale.output

    # the next run, under the new key, rebuilds every store with version-2 tokens only
    monkeypatch.setenv("HUMIAO_PSEUDONYM_KEY", new_key)
    monkeypatch.setenv("HUMIAO_PSEUDONYM_KEY_VERSION", "2")
    monkeypatch.setenv("HUMIAO_CONFIG", str(path))
    # a rotation that does not raise the version is refused and changes nothing
    res2 = CliRunner().invoke(app, ["rotate-key", "--new-key-file", str(key_file), "--new-version", "2",
                                    "--config", str(path)])
    assert res2.exit_code == 1 and "version" in res2.output
    result = materialize_all(load_config(path), config_file=str(path))
    assert result["success"], result["error"]
    for f in [*(cfg.path("work_dir") / "assets").rglob("*.parquet"), lists]:
        schema = pq.read_schema(f)
        for col in (c for c in schema.names if c.endswith("_token")):
            values = pd.read_parquet(f, columns=[col])[col].dropna()
            assert not values.str.startswith("P_k1_").any(), (f, col)


def test_purge_deletes_children_out_of_scope_and_logs_it(town_copy):
    from privacy.vault import verify_audit_log

    cfg, path = town_copy
    registry = pd.read_parquet(cfg.pseudonymized_dir / "child_registry.parquet")
    children = set(registry["child_token"]) & set(_vault(cfg))
    lists = next((cfg.path("out_dir") / "visit_lists").iterdir()) / "visit_lists.parquet"
    assert len(pd.read_parquet(lists)) > 0

    res = CliRunner().invoke(app, ["purge", "--as-of", "2026-01-01", "--config", str(path)])
    assert res.exit_code == 0, res.output
    first = json.loads(res.stdout[res.stdout.index("{"):res.stdout.rindex("}") + 1])
    assert first["retention_days"] == 180

    # by 2050 every registry child of the town has turned 18: all purged, lists emptied of them
    res = CliRunner().invoke(app, ["purge", "--as-of", "2050-01-01", "--config", str(path)])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout[res.stdout.index("{"):res.stdout.rindex("}") + 1])
    assert first["purged"] + report["purged"] == len(children)
    assert not children & set(_vault(cfg))
    assert not set(pd.read_parquet(lists)["child_token"]) & children
    audit = cfg.path("work_dir") / "app" / "audit.log"
    assert verify_audit_log(audit)
    entries = [json.loads(line) for line in audit.read_text(encoding="utf-8").splitlines() if line.strip()]
    events = [e for e in entries if e.get("event") == "retention_purge"]
    assert [e["count"] for e in events] == [first["purged"], report["purged"]]
    assert all(e["law"] == "PIPL art. 47" for e in events)
    assert date.fromisoformat(events[-1]["as_of"]) == date(2050, 1, 1)
