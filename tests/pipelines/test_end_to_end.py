"""The whole asset graph on a small simulated town, in-process, as `make run` runs it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from humiao.config import load_config
from pipelines.run import materialize_all


@pytest.fixture
def first_run(town_run, town_config, monkeypatch):
    monkeypatch.setenv("HUMIAO_CONFIG", str(town_config))
    return town_run


def _town_copy(town_config, make_config, root: Path, monkeypatch):
    """A fresh copy of the town's raw and truth folders under ``root`` with its own configuration (so a
    planted leak never touches the shared town run); ``HUMIAO_CONFIG`` points at it. Returns
    ``(root, config path, Config)``."""
    shutil.copytree(Path(town_config).parent / "raw", root / "raw")
    shutil.copytree(Path(town_config).parent / "truth", root / "truth")
    path = make_config(root)
    monkeypatch.setenv("HUMIAO_CONFIG", str(path))
    return root, path, load_config(path)


def test_run_succeeds_and_writes_outputs(first_run):
    cfg, result = first_run
    assert result["success"], result["error"]
    out = cfg.path("out_dir")
    cycle_dirs = list((out / "visit_lists").iterdir())
    assert len(cycle_dirs) == 1 and cycle_dirs[0].name == "2026-01"  # the month after simulation.end_month
    workbooks = [p for p in cycle_dirs[0].rglob("*.xlsx") if not p.name.startswith("乡镇汇总")]
    assert len(workbooks) >= 4
    lists = pd.read_parquet(cycle_dirs[0] / "visit_lists.parquet")
    assert set(lists["section"]) >= {"guardianship_risk", "left_behind_risk"}
    assert lists["child_token"].str.match(r"^P_k1_[0-9a-f]{20}$").all()
    for target in ("guardianship_risk", "left_behind_risk"):
        for suffix in (".html", ".en.html", ".md", ".json"):
            assert (out / "model_cards" / f"{target}{suffix}").exists()
        card = json.loads((out / "model_cards" / f"{target}.json").read_text(encoding="utf-8"))
        assert card["target"] == target


def test_features_are_monthly_partitions_of_the_cycle_range(first_run):
    """Issue 4: features and labels are partitioned by as-of date (Dagster monthly partitions); one run
    materializes the cycle's contiguous range, first training date … scoring date, one Parquet each.
    Issue 8: only the plan's dates are built; the other months of the range (here the open label
    windows between the last test date and the scoring date) are placeholders without rows."""
    cfg, result = first_run
    assert result["success"], result["error"]
    import dagster as dg

    from pipelines.partitions import cycle_range, plan_partition_keys

    assets = cfg.path("work_dir") / "assets"
    plan = json.loads((assets / "cycle_plan.json").read_text(encoding="utf-8"))
    first, last = cycle_range(plan)
    months = pd.date_range(first, last, freq="MS").strftime("%Y-%m-%d").tolist()
    assert sorted(p.stem for p in (assets / "features").glob("*.parquet")) == months
    assert sorted(p.stem for p in (assets / "labels").glob("*.parquet")) == months
    with dg.DagsterInstance.from_config(str(cfg.path("dagster_home"))) as instance:
        done = instance.get_materialized_partitions(dg.AssetKey("features"))
    assert set(months) <= done
    one = pd.read_parquet(assets / "features" / f"{plan['scoring_as_of_date']}.parquet")
    assert len(one) > 500 and (pd.to_datetime(one["as_of_date"]).dt.strftime("%Y-%m-%d")
                               == plan["scoring_as_of_date"]).all()
    assert plan["scoring_as_of_date"] in plan_partition_keys("features", plan)
    from humiao.stages import partition_built
    from pipelines.io_manager import read_partitions

    used = plan_partition_keys("features", plan)
    unused = sorted(set(months) - set(used))
    assert len(unused) >= 5 and len(used) >= 10  # the default plan: 15 of 25 months at this town
    for name in ("features", "labels"):
        assert [m for m in months if partition_built(assets / name / f"{m}.parquet")] == used
        assert all(pd.read_parquet(assets / name / f"{m}.parquet").empty for m in unused)
        with pytest.raises(FileNotFoundError, match="were not built"):
            read_partitions(assets / name, [used[-1], unused[0]], name)
    assert all(len(pd.read_parquet(assets / "labels" / f"{m}.parquet")) > 500
               for m in plan_partition_keys("labels", plan))


def test_models_registered_with_champion(first_run):
    cfg, result = first_run
    assert result["success"], result["error"]
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=cfg.mlflow_tracking_uri, registry_uri=cfg.mlflow_tracking_uri)
    for target in ("guardianship_risk", "left_behind_risk"):
        mv = client.get_model_version_by_alias(f"humiao_{target}", "champion")
        assert int(mv.version) >= 1


def test_outputs_hold_no_raw_personal_information(first_run):
    cfg, result = first_run
    assert result["success"], result["error"]
    from humiao.runner import build_scanner
    from humiao.stages import load_known_identities

    known = load_known_identities(cfg)
    assert len(known.names) > 100 and len(known.id_numbers) > 1000  # the scanner searches for all of them
    scanner = build_scanner(cfg)
    findings = scanner.scan_paths([cfg.path("out_dir"), cfg.path("work_dir") / "assets",
                                   cfg.pseudonymized_dir, cfg.path("dagster_home")])
    assert findings == []  # lists, cards, MLflow store, stage outputs and the Dagster event log


def test_dagster_instance_runs_without_telemetry(first_run):
    """A CI run failed its privacy audit on Dagster's telemetry log ($DAGSTER_HOME/logs/event.log): a
    test town's instance had no dagster.yaml, so telemetry was on. Every instance humiao starts has it off."""
    cfg, result = first_run
    assert result["success"], result["error"]
    import yaml

    home = cfg.path("dagster_home")
    settings = yaml.safe_load((home / "dagster.yaml").read_text(encoding="utf-8"))
    assert settings["telemetry"]["enabled"] is False
    assert not (home / "logs" / "event.log").exists()


def test_every_input_row_is_accounted_for(first_run):
    cfg, result = first_run
    assert result["success"], result["error"]
    report = json.loads((cfg.path("work_dir") / "ingest_report.json").read_text(encoding="utf-8"))
    assert len(report["tables"]) == 14
    for name, t in report["tables"].items():
        assert t["status"] == "ok", name
        assert t["rows_passed"] + t["rows_quarantined"] + t["rows_duplicate"] == t["rows_read"], name
    # the simulator injects bad check characters and duplicate rows; they must show up
    assert sum(t["rows_duplicate"] for t in report["tables"].values()) > 0


def test_second_run_reuses_unchanged_stages(first_run):
    """DESIGN §3: a second run with the same code, configuration and inputs reuses every stage: no new
    MLflow model version, identical lists (DESIGN §11.7: equal table contents)."""
    cfg, result = first_run
    assert result["success"], result["error"]
    from mlflow import MlflowClient

    from humiao.stages import run_ingest

    lists = next((cfg.path("out_dir") / "visit_lists").iterdir()) / "visit_lists.parquet"
    before = pd.read_parquet(lists)
    again = materialize_all(cfg)
    assert again["success"], again["error"]
    assert run_ingest(cfg)["reused"] is True
    client = MlflowClient(tracking_uri=cfg.mlflow_tracking_uri, registry_uri=cfg.mlflow_tracking_uri)
    for target in ("guardianship_risk", "left_behind_risk"):
        versions = client.search_model_versions(f"name='humiao_{target}'")
        assert len(versions) == 1
    pd.testing.assert_frame_equal(before, pd.read_parquet(lists))


def test_planted_raw_identifier_stops_the_run(town_config, make_config, tmp_path, monkeypatch):
    """A raw resident ID planted into the features stops the run at the blocking check: no model,
    no list is produced."""
    from humiao import stages
    root, path, cfg = _town_copy(town_config, make_config, tmp_path / "planted", monkeypatch)
    raw = pd.read_csv(root / "raw" / "public_security" / "incidents.csv", dtype=str)
    raw_id = raw["涉及人员公民身份号码"].dropna().iloc[0]

    original = stages.iter_partition_frames

    def leaky(cfg_, dates):  # into the second partition: the check reads every partition, one at a time
        for i, (key, frame) in enumerate(original(cfg_, dates)):
            if i == 1:
                frame = frame.copy()
                frame["note"] = ""
                frame.loc[frame.index[0], "note"] = f"身份证{raw_id}"
            yield key, frame

    import pipelines.assets.features as fa

    monkeypatch.setattr(fa, "iter_partition_frames", leaky)
    result = materialize_all(cfg, config_file=str(path))
    assert not result["success"]
    assert "features:no_raw_personal_information" in result["error"]
    assert not (cfg.path("out_dir") / "visit_lists").exists()
    assert not (cfg.path("out_dir") / "model_cards").exists()


def test_planted_raw_name_in_a_pseudonymized_table_stops_the_run(town_config, make_config, tmp_path, monkeypatch):
    """The 14 tables' leak scans run in one step (one scanner, issue 8) but stay 14 blocking checks: a raw
    name planted into one pseudonymized table fails that table's check, the others pass, and nothing
    downstream is built."""
    import dagster as dg

    import pipelines.assets.ingest as ingest_asset

    root, path, cfg = _town_copy(town_config, make_config, tmp_path / "planted_table", monkeypatch)
    raw = pd.read_csv(root / "raw" / "civil_affairs" / "visit_records.csv", dtype=str)
    raw_name = raw["儿童姓名"].dropna().loc[lambda s: s.str.len() == 3].iloc[0]
    real = ingest_asset.run_ingest

    def leaky(cfg_):
        report = real(cfg_)
        table = cfg_.pseudonymized_dir / "incidents.parquet"
        frame = pd.read_parquet(table)
        frame["role"] = frame["role"].astype(object)
        frame.loc[frame.index[0], "role"] = raw_name
        frame.to_parquet(table)
        return report

    monkeypatch.setattr(ingest_asset, "run_ingest", leaky)
    result = materialize_all(cfg, config_file=str(path))
    assert not result["success"]
    assert "pseudonymized_incidents:no_raw_personal_information" in result["error"]
    assert not (cfg.path("work_dir") / "assets" / "person_spine.parquet").exists()
    with dg.DagsterInstance.from_config(str(cfg.path("dagster_home"))) as instance:
        events = instance.all_logs(result["run_id"], of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    verdicts = {(e.dagster_event.asset_check_evaluation_data.asset_key.path[-1],
                 e.dagster_event.asset_check_evaluation_data.check_name): e.dagster_event.asset_check_evaluation_data.passed
                for e in events}
    pii = {a: ok for (a, c), ok in verdicts.items() if c == "no_raw_personal_information"}
    assert len(pii) == 14 and [a for a, ok in pii.items() if not ok] == ["pseudonymized_incidents"]


def test_label_prevalence_check_adds_up_the_closed_partitions(first_run):
    """The prevalence check reads the labels one partition at a time (issue 8); what it reports is the
    prevalence of every built partition with a closed label window, read here at once from the files
    (the range's not-built placeholders hold no rows and are not judged)."""
    cfg, result = first_run
    assert result["success"], result["error"]
    import dagster as dg

    from humiao.stages import partition_built
    from pipelines.partitions import label_window_closed

    assets = cfg.path("work_dir") / "assets"
    plan = json.loads((assets / "cycle_plan.json").read_text(encoding="utf-8"))
    files = [p for p in sorted((assets / "labels").glob("*.parquet")) if partition_built(p)]
    closed = [p for p in files if label_window_closed(p.stem, plan, cfg.time.label_timespan_days)]
    assert 0 < len(closed) < len(files)  # the latest dates' windows are still open
    labels = pd.concat([pd.read_parquet(p) for p in closed], ignore_index=True)
    with dg.DagsterInstance.from_config(str(cfg.path("dagster_home"))) as instance:
        events = instance.all_logs(result["run_id"], of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    evaluations = [e.dagster_event.asset_check_evaluation_data for e in events
                   if e.dagster_event.asset_check_evaluation_data.check_name == "prevalence_within_bounds"]
    assert len(evaluations) == 1 and evaluations[0].passed
    meta = {k: v.value for k, v in evaluations[0].metadata.items()}
    assert meta["as_of_dates_judged"] == len(closed)
    assert meta["as_of_dates_open_window"] == len(files) - len(closed)
    for target in ("guardianship_risk", "left_behind_risk"):
        y = labels[target].dropna().astype(float)
        assert meta[target]["labelled_rows"] == len(y)
        assert meta[target]["prevalence"] == pytest.approx(y.mean(), rel=1e-12)


def test_multiprocess_executor_runs_each_step_in_its_own_process(first_run, tmp_path):
    """``pipeline.executor: multiprocess`` (city scale, issue 8): the same graph, each step in a process
    of its own. Run here over the town's finished run (every stage reused, so it is quick); the lists
    stay the same and no step runs in this process."""
    cfg, result = first_run
    assert result["success"], result["error"]
    import dagster as dg
    import yaml

    settings = yaml.safe_load(Path(cfg.root / "humiao.yaml").read_text(encoding="utf-8"))
    settings["pipeline"] = {"executor": "multiprocess"}
    path = tmp_path / "humiao.yaml"
    path.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    mp_cfg = load_config(path)
    assert mp_cfg.pipeline.executor == "multiprocess" and mp_cfg.path("work_dir") == cfg.path("work_dir")
    lists = next((cfg.path("out_dir") / "visit_lists").iterdir()) / "visit_lists.parquet"
    before = pd.read_parquet(lists)
    again = materialize_all(mp_cfg, config_file=str(path))
    assert again["success"], again["error"]
    with dg.DagsterInstance.from_config(str(cfg.path("dagster_home"))) as instance:
        starts = instance.all_logs(again["run_id"], of_type=dg.DagsterEventType.STEP_START)
    pids = {e.dagster_event.step_key: e.dagster_event.pid for e in starts}
    assert {"models", "visit_lists", "privacy_audit"} <= set(pids)
    assert len(set(pids.values())) == len(pids) and os.getpid() not in pids.values()
    pd.testing.assert_frame_equal(before, pd.read_parquet(lists))


def test_the_scanner_index_of_the_ingest_is_in_the_work_folder(first_run):
    """The ingest's scanner index travels with the identity index from the staging folder (issue 8)."""
    cfg, result = first_run
    assert result["success"], result["error"]
    from humiao.stages import vault_key_from_config
    from privacy.identities import scanner_cache_path
    from privacy.scanner import ScannerIndex, file_digest

    index_path = cfg.path("work_dir") / "identity_index.bin"
    _, source = ScannerIndex.load(scanner_cache_path(index_path), vault_key_from_config(cfg))
    assert source == file_digest(index_path)
    assert not list(cfg.path("work_dir").glob("_staging*"))
