"""Jobs, schedules, the new-exports sensor and the data-freshness checks (issue 7 operations)."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest

from privacy.checks import fresh_enough


def test_jobs_and_schedules_are_defined():
    from pipelines.definitions import build_definitions

    defs = build_definitions()
    scoring = defs.resolve_job_def("monthly_scoring")
    keys = {k.to_user_string() for k in scoring.asset_layer.executable_asset_keys}
    assert "visit_lists" in keys and "risk_scores" in keys
    assert "model_guardianship_risk" not in keys  # monthly scoring never retrains: champion only
    retrain = {k.to_user_string() for k in defs.resolve_job_def("retraining").asset_layer.executable_asset_keys}
    assert {"model_guardianship_risk", "model_card_left_behind_risk"} <= retrain and "visit_lists" not in retrain
    assert defs.resolve_schedule_def("monthly_scoring_schedule").cron_schedule == "0 6 6 * *"
    head = {k.to_user_string() for k in defs.resolve_job_def("ingest_and_plan").asset_layer.executable_asset_keys}
    assert "cycle_plan" in head and "features" not in head  # the plan decides the partitions of the rest
    assert "cycle_plan" not in keys and "features" in keys


def test_new_exports_sensor_fires_once_per_content(tmp_path, monkeypatch):
    from pipelines.sensors import new_exports_sensor

    raw = tmp_path / "raw" / "education"
    raw.mkdir(parents=True)
    monkeypatch.setenv("HUMIAO_RAW_DIR", str(tmp_path / "raw"))
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance)
        assert isinstance(new_exports_sensor(ctx), dg.SkipReason)  # empty folder
        (raw / "attendance.csv").write_text("学籍号,月份,缺勤天数,应出勤天数\n", encoding="utf-8")
        first = new_exports_sensor(ctx)
        assert isinstance(first, dg.RunRequest)
        ctx2 = dg.build_sensor_context(instance=instance, cursor=first.run_key)
        assert isinstance(new_exports_sensor(ctx2), dg.SkipReason)  # same content: nothing new
        (raw / "attendance.csv").write_text("学籍号,月份,缺勤天数,应出勤天数\nG1,2025-01,1,20\n", encoding="utf-8")
        assert isinstance(new_exports_sensor(ctx2), dg.RunRequest)


def test_freshness():
    dates = pd.Series(pd.to_datetime(["2025-10-01", "2025-12-20"]))
    ok = fresh_enough(dates, "2026-01-01", 62)
    assert ok.passed and ok.metadata["age_days"] == 12
    stale = fresh_enough(dates, "2026-06-01", 62)
    assert not stale.passed and stale.metadata["age_days"] == 163
    assert not fresh_enough(pd.Series([], dtype="datetime64[ns]"), "2026-01-01", 62).passed


def test_retraining_sensor_follows_the_monitoring_suggestion():
    from pipelines.partitions import RANGE_END_TAG, RANGE_START_TAG
    from pipelines.sensors import retrain_request

    plan = {"scoring_as_of_date": "2026-01-01", "splits": [
        {"train_as_of_dates": ["2024-01-01", "2024-02-01"], "test_as_of_dates": ["2025-01-01"]}]}
    yes = {"retrain_suggested": dg.MetadataValue.bool(True)}
    assert isinstance(retrain_request({"retrain_suggested": dg.MetadataValue.bool(False)}, "r1", plan), dg.SkipReason)
    assert isinstance(retrain_request({}, "r1", plan), dg.SkipReason)
    assert isinstance(retrain_request(yes, "r1", None), dg.SkipReason)  # nothing planned yet
    req = retrain_request(yes, "r1", plan)
    assert isinstance(req, dg.RunRequest) and req.tags["trigger"] == "drift" and req.run_key == "retrain-r1"
    # the run covers the plan's as-of dates, from the first training date to the scoring date
    assert (req.tags[RANGE_START_TAG], req.tags[RANGE_END_TAG]) == ("2024-01-01", "2026-01-01")


def test_partition_keys_follow_the_plan():
    """Consumers read the as-of dates the plan names: features at training, test and scoring dates;
    labels at training and test dates only; a label window is closed only when it ends by the horizon."""
    from pipelines.partitions import AS_OF_PARTITIONS, label_window_closed, plan_partition_keys

    plan = {"scoring_as_of_date": "2026-01-01", "splits": [
        {"train_as_of_dates": ["2024-01-01", "2024-02-01"], "test_as_of_dates": ["2025-07-01"]}]}
    assert plan_partition_keys("features", plan) == ["2024-01-01", "2024-02-01", "2025-07-01", "2026-01-01"]
    assert plan_partition_keys("labels", plan) == ["2024-01-01", "2024-02-01", "2025-07-01"]
    assert label_window_closed("2025-07-01", plan, 180) and not label_window_closed("2025-08-01", plan, 180)
    # narrowed for the steps that need fewer dates (issue 8: a scoring step reads one date, not all)
    assert plan_partition_keys("features", plan, "scoring") == ["2026-01-01"]
    assert plan_partition_keys("features", plan, "monitoring") == ["2025-07-01", "2026-01-01"]
    assert plan_partition_keys("labels", plan, "monitoring") == ["2025-07-01"]
    with pytest.raises(KeyError):
        plan_partition_keys("labels", plan, "scoring")  # the scoring date has no labels yet
    keys = AS_OF_PARTITIONS.get_partition_keys()
    assert "2026-01-01" in keys and keys[0] == "2018-01-01"


def test_not_built_placeholders_are_refused_by_every_reader(tmp_path):
    """A month of a cycle's range that its plan does not use is stored as a placeholder without rows
    (issue 8: at 2,000,000 children 18 of the 25 months of a quarterly plan were built and never read).
    Every reader refuses it by name; a check of the range skips it; a stored partition is unaffected."""
    import pandas as pd

    from humiao.stages import (
        NOT_BUILT_PREFIX,
        _read_partition_frames,
        not_built_fingerprint,
        partition_built,
        require_built_partitions,
    )
    from pipelines.cache import stamp
    from pipelines.io_manager import (
        built_partition_keys,
        iter_partitions,
        partitions_fingerprint,
        read_partitions,
        stored_fingerprint,
        stored_partition,
    )

    folder = tmp_path / "features"
    built = stored_partition(stamp(pd.DataFrame({"child_token": ["P_a", "P_b"], "x": [1.0, 2.0]}), "fp1"),
                             folder / "2024-01-01.parquet")
    hole = stored_partition(stamp(pd.DataFrame(), not_built_fingerprint("fp2")), folder / "2024-02-01.parquet")
    assert built.rows == 2 and hole.rows == 0
    assert stored_fingerprint(folder / "2024-02-01.parquet") == NOT_BUILT_PREFIX + "fp2" != "fp2"
    assert partition_built(folder / "2024-01-01.parquet") and not partition_built(folder / "2024-02-01.parquet")
    keys = ["2024-01-01", "2024-02-01", "2024-03-01"]
    # a check of the range sees the built partition and the missing one (which then raises), not the hole
    assert built_partition_keys(folder, keys) == ["2024-01-01", "2024-03-01"]
    assert len(read_partitions(folder, ["2024-01-01"], "features")) == 2
    for read in (lambda k: read_partitions(folder, k, "features"),
                 lambda k: list(iter_partitions(folder, k, "features")),
                 lambda k: partitions_fingerprint(folder, k, "features"),
                 lambda k: _read_partition_frames(folder, k),
                 lambda k: require_built_partitions(folder, k, "features")):
        with pytest.raises(FileNotFoundError, match=r"\['2024-02-01'\] were not built"):
            read(keys[:2])
        with pytest.raises(FileNotFoundError, match=r"\['2024-03-01'\] are not materialized"):
            read(keys)
