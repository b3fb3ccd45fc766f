"""Read-time negative sampling on the town's stored partitions (issue 8): what the models asset reads with
``models.negative_sample_rate`` < 1 trains and evaluates exactly as the full matrix sampled at fit time — with
the real feature table (its identifier, group and checklist columns), the default one-feature baseline, the
plan's splits and the simulation's truth and oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd

TARGET = "guardianship_risk"
RATE = 0.2


def test_read_time_sampling_on_the_town_gives_the_fit_time_models_and_evaluation(town_run, town_config, monkeypatch):
    from features.dictionary import feature_dictionary
    from humiao.plan import plan_from_dict
    from humiao.stages import (
        capacity_for,
        load_truth_for,
        model_splits,
        read_training_inputs,
        simulation_evaluation_inputs,
        training_matrix,
    )
    from models.cycle import run_target_cycle
    from models.train import (
        SAMPLED_ATTR,
        FeatureArray,
        _dates,
        feature_columns,
        fit_only_as_of_dates,
        to_float32,
    )
    from pipelines.io_manager import read_output, read_partitions

    monkeypatch.setenv("HUMIAO_CONFIG", str(town_config))
    cfg, result = town_run
    assert result["success"], result["error"]
    assets = cfg.path("work_dir") / "assets"
    plan = plan_from_dict(read_output(assets / "cycle_plan.json"))
    keys = [d.isoformat() for d in plan.training_as_of_dates]
    splits = model_splits(plan)
    fit_only = fit_only_as_of_dates(splits)
    assert fit_only and set(fit_only) < set(plan.training_as_of_dates)
    dictionary = feature_dictionary()

    # before: every partition read, the negatives sampled at fit time
    features = read_partitions(assets / "features", keys, "features")
    full = training_matrix(features, read_partitions(assets / "labels", keys, "labels"), TARGET)
    capacity = capacity_for(cfg, features[["as_of_date", "community", "registry_category"]], TARGET)
    del features
    read = read_training_inputs(assets / "features", assets / "labels", keys, TARGET, fit_only_as_of_dates=fit_only,
                                negative_sample_rate=RATE, seed=cfg.models.seed, feature_names=dictionary["name"],
                                one_feature=cfg.models.one_feature.get(TARGET))  # fmt: skip
    assert not read.note and read.matrix.attrs[SAMPLED_ATTR]["rate"] == RATE
    assert len(read.matrix) < 0.8 * len(full) and read.rows_before_sampling == len(full)
    pd.testing.assert_frame_equal(read.matrix, full.loc[read.matrix.index, read.matrix.columns])
    np.testing.assert_array_equal(read.X, to_float32(full.loc[read.matrix.index], feature_columns(full, dictionary)))
    on_fit = _dates(read.matrix).isin(fit_only)
    assert (_dates(read.matrix)[~on_fit].value_counts().sort_index()
            == _dates(full)[~_dates(full).isin(fit_only)].value_counts().sort_index()).all()  # fmt: skip
    assert read.matrix.loc[on_fit.to_numpy(), TARGET].sum() == full.loc[_dates(full).isin(fit_only), TARGET].sum()
    pd.testing.assert_frame_equal(capacity_for(cfg, read.capacity_input, TARGET), capacity)

    truth = load_truth_for(cfg)
    kw = dict(label_timespan_days=cfg.time.label_timespan_days, grid=cfg.models.grid, seed=cfg.models.seed,
              track=False, n_boot=cfg.models.bootstrap_samples, one_feature=cfg.models.one_feature.get(TARGET),
              negative_sample_rate=RATE, simulation=True)  # fmt: skip
    a = run_target_cycle(full, TARGET, dictionary, capacity, splits, **kw,
                         **simulation_evaluation_inputs(cfg, truth, full, TARGET))
    b = run_target_cycle(read.matrix, TARGET, dictionary, capacity, splits, evaluation_rows=read.evaluation_rows,
                         features=FeatureArray(read.X, read.feature_names),
                         **kw, **simulation_evaluation_inputs(cfg, truth, read.evaluation_rows, TARGET))
    X = to_float32(full, feature_columns(full, dictionary))
    for fa, fb in [*zip(a.train.split_models.values(), b.train.split_models.values(), strict=True),
                   (a.train.final, b.train.final)]:  # fmt: skip
        np.testing.assert_allclose(fb.booster.predict(X), fa.booster.predict(X), rtol=0, atol=1e-12)
        assert fb.calibrator.to_dict() == fa.calibrator.to_dict() and fb.n_train == fa.n_train
    ea, eb = dict(a.evaluation), dict(b.evaluation)
    ea.pop("trained_at")
    eb.pop("trained_at")
    assert ea["oracle"] is not None and ea["truth_metrics"] is not None
    assert eb == ea


def test_truth_lookup_from_labels_gives_the_direct_truth_inputs(town_run, town_config, monkeypatch):
    """The models asset computes the simulation's truth inputs from the labels before reading any features
    (issue 8): for the evaluation rows of both targets they equal those computed from the matrix itself, and a
    row outside the labels' cohort is refused."""
    import pytest

    from features.dictionary import feature_dictionary
    from humiao.plan import plan_from_dict
    from humiao.stages import (
        TARGETS,
        load_truth_for,
        read_training_inputs,
        simulation_evaluation_inputs,
        simulation_inputs_for_rows,
        simulation_truth_lookup,
    )
    from pipelines.io_manager import read_output

    monkeypatch.setenv("HUMIAO_CONFIG", str(town_config))
    cfg, result = town_run
    assert result["success"], result["error"]
    assets = cfg.path("work_dir") / "assets"
    plan = plan_from_dict(read_output(assets / "cycle_plan.json"))
    keys = [d.isoformat() for d in plan.training_as_of_dates]
    lookup = simulation_truth_lookup(cfg, assets / "labels", keys, TARGETS)
    truth = load_truth_for(cfg)
    for target in TARGETS:
        read = read_training_inputs(assets / "features", assets / "labels", keys, target,
                                    negative_sample_rate=1.0, seed=cfg.models.seed,
                                    feature_names=feature_dictionary()["name"])  # fmt: skip
        rows = read.matrix.sample(frac=1.0, random_state=0)  # any order and index
        want = simulation_evaluation_inputs(cfg, truth, rows, target)
        got = simulation_inputs_for_rows(lookup[target], rows)
        assert want["truth"].sum() > 0 and want["oracle_score"].nunique() > 1
        pd.testing.assert_series_equal(got["truth"], want["truth"], check_names=False)
        pd.testing.assert_series_equal(got["oracle_score"], want["oracle_score"], check_names=False)
        stranger = rows.head(1).assign(child_token="not-a-token")
        with pytest.raises(KeyError, match="not in the simulation's truth lookup"):
            simulation_inputs_for_rows(lookup[target], pd.concat([rows.head(3), stranger]))
    assert simulation_inputs_for_rows(None, rows) == {}


def test_label_coverage_from_the_stored_partitions_equals_the_rebuilt_one(town_run, town_config, monkeypatch, tmp_path):
    """The models asset reads label coverage from the stored features and labels partitions (issue 8): the same
    counts as building each date's children again, except that a child with no registered place or hukou type
    is counted under the features' （未定位）/未知 instead of a missing value; a labels partition that does not
    match its features partition is refused."""
    import pytest

    from features.build import UNKNOWN, UNPLACED
    from features.labels import label_coverage_from_partitions
    from humiao.plan import plan_from_dict
    from humiao.stages import TARGETS, coverage_by_target, stored_coverage_by_target
    from pipelines.io_manager import read_output

    monkeypatch.setenv("HUMIAO_CONFIG", str(town_config))
    cfg, result = town_run
    assert result["success"], result["error"]
    assets = cfg.path("work_dir") / "assets"
    plan = plan_from_dict(read_output(assets / "cycle_plan.json"))
    rebuilt = coverage_by_target(cfg, plan, TARGETS)
    stored = stored_coverage_by_target(cfg, plan, assets, TARGETS)
    fill = {"district": UNPLACED, "township": UNPLACED, "community": UNPLACED,
            "hukou_type": UNKNOWN, "urban_rural": UNKNOWN, "sex": UNKNOWN}
    for target in TARGETS:
        want = rebuilt[target].copy()
        want["value"] = [fill.get(g, v) if pd.isna(v) else v for g, v in zip(want["group"], want["value"], strict=True)]
        want = want.sort_values(["as_of_date", "group", "value"]).reset_index(drop=True)
        assert len(want) > 10 and want["visited_children"].sum() > 0
        assert set(want["as_of_date"]) == set(plan.training_as_of_dates)
        pd.testing.assert_frame_equal(stored[target], want)

    keys = [d.isoformat() for d in plan.training_as_of_dates]
    labels = pd.read_parquet(assets / "labels" / f"{keys[0]}.parquet")
    labels.loc[labels.index[0], "child_token"] = "not-a-token"
    labels.loc[labels.index[0], "in_cohort_guardianship"] = True
    labels.to_parquet(tmp_path / "labels.parquet")
    with pytest.raises(ValueError, match="1 cohort rows have no row in"):
        label_coverage_from_partitions(cfg.pseudonymized_dir,
                                       [(assets / "features" / f"{keys[0]}.parquet", tmp_path / "labels.parquet")])
