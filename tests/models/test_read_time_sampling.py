"""Read-time negative sampling (issue 8): the matrix read with only the positives and the sampled negatives of
the fit-only dates trains the same boosters and gives the same evaluation as the full matrix sampled at fit
time, while holding fewer rows.

The town of conftest.py is written as features and labels partitions (one Parquet file per as-of date, as
the pipeline stores them); some children are outside the cohort and some positives become known only after
the next test date, so the label knowledge cutoff turns them into negatives within a split."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.models.conftest import QUARTERLY

TARGET = "guardianship_risk"
RATE = 0.3
SEED = 4
GRID = [{"num_leaves": 7, "learning_rate": 0.1, "num_boost_round": 40, "min_data_in_leaf": 20},
        {"num_leaves": 15, "learning_rate": 0.05, "num_boost_round": 30, "min_data_in_leaf": 40}]
LABEL_COLUMNS = [TARGET, "label_knowledge_date"]


@pytest.fixture(scope="module")
def partitions(matrix, tmp_path_factory):
    """(features folder, labels folder, keys) of the conftest town."""
    root = tmp_path_factory.mktemp("partitions")
    (root / "features").mkdir()
    (root / "labels").mkdir()
    rng = np.random.default_rng(1)
    keys = []
    for d, g in matrix.groupby("as_of_date", sort=True):
        k = d.isoformat()
        keys.append(k)
        g = g.reset_index(drop=True)
        feats = g.drop(columns=LABEL_COLUMNS)
        pq.write_table(pa.Table.from_pandas(feats, preserve_index=False), root / "features" / f"{k}.parquet")
        y = g[TARGET].astype("int8").to_numpy()
        known = pd.Series(pd.to_datetime(g["label_knowledge_date"]))
        late = (y == 1) & (rng.random(len(g)) < 0.3)  # known only after the next test date
        known[late] = pd.Timestamp(d + timedelta(days=400))
        labels = pd.DataFrame({
            "child_token": g["child_token"], "as_of_date": d,
            "in_cohort_guardianship": rng.random(len(g)) > 0.05,  # 5% outside the cohort
            TARGET: y, "in_cohort_left_behind": True, "left_behind_risk": np.zeros(len(g), dtype="int8"),
            "label_knowledge_date": known.dt.date,
        })  # fmt: skip
        pq.write_table(pa.Table.from_pandas(labels, preserve_index=False), root / "labels" / f"{k}.parquet")
    return root / "features", root / "labels", keys


@pytest.fixture(scope="module")
def splits(matrix):
    from models.train import make_splits

    return make_splits(sorted(set(matrix["as_of_date"])), label_timespan_days=180, n_splits=2, **QUARTERLY)


@pytest.fixture(scope="module")
def full(partitions):
    """The matrix as the models asset built it before read-time sampling: every partition, then training_matrix."""
    from humiao.stages import training_matrix
    from pipelines.io_manager import read_partitions

    fdir, ldir, keys = partitions
    features = read_partitions(fdir, keys, "features")
    labels = read_partitions(ldir, keys, "labels")
    return training_matrix(features, labels, TARGET), features[["as_of_date", "community", "registry_category"]]


@pytest.fixture(scope="module")
def sampled(partitions, splits, dictionary):
    from humiao.stages import read_training_inputs
    from models.train import fit_only_as_of_dates

    fdir, ldir, keys = partitions
    return read_training_inputs(fdir, ldir, keys, TARGET, fit_only_as_of_dates=fit_only_as_of_dates(splits),
                                negative_sample_rate=RATE, seed=SEED, feature_names=dictionary["name"],
                                one_feature="school_days_absent_3m")  # fmt: skip


def test_fit_only_dates_exclude_test_and_calibration_dates(splits):
    """Full: each split's test date, its latest training date (calibration) and the refit's calibration date
    (the last test date); fit-only: the other training dates."""
    from models.train import fit_only_as_of_dates, full_as_of_dates

    full = set(full_as_of_dates(splits))
    fit_only = set(fit_only_as_of_dates(splits))
    expected_full = {s.test_as_of_date for s in splits} | {max(s.train_as_of_dates) for s in splits}
    assert full == expected_full
    train = {d for s in splits for d in s.train_as_of_dates}
    assert fit_only == train - expected_full and fit_only
    assert len(fit_only) >= 3
    # two calibration dates: the two latest training dates of each split are needed whole
    two = set(full_as_of_dates(splits, calibration_holdout_dates=2))
    assert two == expected_full | {sorted(s.train_as_of_dates)[-2] for s in splits}
    # a split with a single training date calibrates on a hash fold of that date: needed whole
    from models.train import Split

    one = [Split((splits[0].train_as_of_dates[0],), splits[0].test_as_of_date)]
    assert fit_only_as_of_dates(one, refit_as_of_dates=[splits[0].train_as_of_dates[0]]) == []


def test_sampled_matrix_holds_positives_and_sampled_negatives_of_fit_only_dates(full, sampled, splits, dictionary):
    """Fit-only dates: every positive and exactly the negatives negative_sample_mask keeps; other dates:
    every row; each kept row equal to the full matrix's row of the same index — the features in the
    float32 array, the columns training reads in the frame."""
    from models.train import (
        SAMPLED_ATTR,
        _dates,
        feature_columns,
        fit_only_as_of_dates,
        negative_sample_mask,
        to_float32,
    )

    matrix_full, _ = full
    m, rows = sampled.matrix, sampled.evaluation_rows
    fit_only = set(fit_only_as_of_dates(splits))
    assert len(m) < 0.75 * len(matrix_full)
    assert sampled.rows_before_sampling == len(matrix_full) == len(rows)
    assert list(m.columns) == ["child_token", "as_of_date", "community", TARGET, "label_knowledge_date"]
    pd.testing.assert_frame_equal(m, matrix_full.loc[m.index, m.columns])
    assert sampled.feature_names == feature_columns(matrix_full, dictionary)
    assert sampled.X.dtype == np.float32 and sampled.X.flags.c_contiguous and np.isnan(sampled.X).any()
    np.testing.assert_array_equal(sampled.X, to_float32(matrix_full.loc[m.index], sampled.feature_names))
    on_fit = _dates(matrix_full).isin(fit_only).to_numpy()
    y = matrix_full[TARGET].astype(int).to_numpy()
    expected = ~on_fit | negative_sample_mask(matrix_full["child_token"], matrix_full["as_of_date"], y, RATE, SEED)
    np.testing.assert_array_equal(np.sort(m.index.to_numpy()), np.flatnonzero(expected))
    kept = matrix_full.loc[m.index]
    assert (y[on_fit] == 1).sum() == (kept[_dates(kept).isin(fit_only)][TARGET] == 1).sum()  # every positive
    neg_share = (kept[_dates(kept).isin(fit_only)][TARGET] == 0).sum() / ((y == 0) & on_fit).sum()
    assert 0.2 < neg_share < 0.4, neg_share
    for d in set(_dates(matrix_full)) - fit_only:  # whole
        assert (_dates(m) == d).sum() == (_dates(matrix_full) == d).sum()
    assert m.attrs[SAMPLED_ATTR]["sampled_as_of_dates"] == sorted(x.isoformat() for x in fit_only)
    # every labelled row, with the columns evaluation reads, aligned with the full matrix
    pd.testing.assert_frame_equal(rows, matrix_full[rows.columns])
    assert "noise_a" not in rows.columns and "school_days_absent_3m" in rows.columns


def test_read_time_sampling_trains_and_evaluates_as_fit_time_sampling(full, sampled, splits, dictionary):
    """Same boosters (predictions to 1e-12), calibrators, split metrics, and the same evaluation document
    (baselines, fairness, bootstrap, oracle, training counts) as sampling the full matrix at fit time."""
    from humiao.config import Config
    from humiao.stages import capacity_for
    from models.cycle import run_target_cycle
    from models.train import FeatureArray, feature_columns, to_float32

    matrix_full, cap_full = full
    cfg = Config()
    capacity = capacity_for(cfg, cap_full, TARGET)
    pd.testing.assert_frame_equal(capacity_for(cfg, sampled.capacity_input, TARGET), capacity)
    rng = np.random.default_rng(0)
    truth = pd.Series((rng.random(len(matrix_full)) < 0.1).astype("int8"), index=matrix_full.index)
    oracle = pd.Series(rng.random(len(matrix_full)), index=matrix_full.index)
    kw = dict(label_timespan_days=180, grid=GRID, seed=SEED, track=False, n_boot=20, one_feature="school_days_absent_3m",
              truth=truth, oracle_score=oracle, negative_sample_rate=RATE)  # fmt: skip
    a = run_target_cycle(matrix_full, TARGET, dictionary, capacity, splits, **kw)
    b = run_target_cycle(sampled.matrix, TARGET, dictionary, capacity, splits, evaluation_rows=sampled.evaluation_rows,
                         features=(fa := FeatureArray(sampled.X.copy(), sampled.feature_names)), **kw)  # fmt: skip
    assert fa.X is None  # released before the evaluation
    X = to_float32(matrix_full, feature_columns(matrix_full, dictionary))
    for si in a.train.split_models:
        fa, fb = a.train.split_models[si], b.train.split_models[si]
        np.testing.assert_allclose(fb.booster.predict(X), fa.booster.predict(X), rtol=0, atol=1e-12)
        assert fb.calibrator.to_dict() == fa.calibrator.to_dict()
        assert (fb.n_train, fb.n_positive_train) == (fa.n_train, fa.n_positive_train)
    np.testing.assert_allclose(b.train.final.booster.predict(X), a.train.final.booster.predict(X), rtol=0, atol=1e-12)
    assert b.train.final.calibrator.to_dict() == a.train.final.calibrator.to_dict()
    assert b.train.final.n_train == a.train.final.n_train < len(matrix_full)
    pd.testing.assert_frame_equal(b.train.split_metrics, a.train.split_metrics, rtol=0, atol=1e-12)
    ea, eb = dict(a.evaluation), dict(b.evaluation)
    ea.pop("trained_at")
    eb.pop("trained_at")
    assert eb == ea
    # the document counts the last split's training rows before sampling; the refit counts the rows fitted
    train_dates = set(splits[-1].train_as_of_dates)
    assert ea["n_train"] == int(pd.to_datetime(matrix_full["as_of_date"]).dt.date.isin(train_dates).sum())
    refit_fit = pd.to_datetime(matrix_full["as_of_date"]).dt.date.isin(set(a.train.final.train_as_of_dates))
    assert ea["refit"]["n_train"] < int(refit_fit.sum())


def test_rate_one_reads_the_same_matrix_as_before(full, partitions, splits, dictionary):
    """negative_sample_rate 1.0: every row of read_partitions + training_matrix (values, dtypes, index), the
    features as the float32 array and the columns evaluation reads as the frame; no evaluation frame."""
    from humiao.stages import evaluation_columns, read_training_inputs
    from models.train import SAMPLED_ATTR, feature_columns, fit_only_as_of_dates, to_float32

    fdir, ldir, keys = partitions
    got = read_training_inputs(fdir, ldir, keys, TARGET, fit_only_as_of_dates=fit_only_as_of_dates(splits),
                               negative_sample_rate=1.0, seed=SEED, feature_names=dictionary["name"],
                               one_feature="school_days_absent_3m")  # fmt: skip
    cols = evaluation_columns(pq.read_schema(fdir / f"{keys[0]}.parquet").names, dictionary["name"], TARGET,
                              "school_days_absent_3m")
    assert "noise_a" not in got.matrix.columns and "school_days_absent_3m" in got.matrix.columns
    pd.testing.assert_frame_equal(got.matrix, full[0][[*cols, TARGET, "label_knowledge_date"]])
    assert got.feature_names == feature_columns(full[0], dictionary)
    np.testing.assert_array_equal(got.X, to_float32(full[0], got.feature_names))
    pd.testing.assert_frame_equal(got.capacity_input, full[1])
    assert got.evaluation_rows is None and SAMPLED_ATTR not in got.matrix.attrs and not got.note
    # the one-feature baseline's feature absent: evaluation searches every feature, so nothing is dropped
    fallback = read_training_inputs(fdir, ldir, keys, TARGET, fit_only_as_of_dates=fit_only_as_of_dates(splits),
                                    negative_sample_rate=RATE, seed=SEED, feature_names=dictionary["name"])
    pd.testing.assert_frame_equal(fallback.matrix, full[0])
    assert fallback.evaluation_rows is None and "fit time only" in fallback.note and fallback.X is None


def test_a_sampled_matrix_is_refused_when_it_cannot_give_the_same_models(sampled, splits, dictionary, capacity):
    """Another rate or seed, a sampled date needed whole, or no evaluation frame: an error, not other models."""
    from models.cycle import run_target_cycle
    from models.train import FeatureArray, Split, train_target

    m = sampled.matrix
    xs = dict(X=sampled.X, feature_names=sampled.feature_names)
    with pytest.raises(ValueError, match=r"rate 0\.3, seed 4"):
        train_target(m, TARGET, dictionary, splits, capacity, grid=GRID[:1], seed=SEED, negative_sample_rate=0.5, **xs)
    with pytest.raises(ValueError, match=r"rate 0\.3, seed 4"):
        train_target(m, TARGET, dictionary, splits, capacity, grid=GRID[:1], seed=SEED + 1, negative_sample_rate=RATE,
                     **xs)
    fit_only = sorted(m.attrs["negative_sample"]["sampled_as_of_dates"])
    bad = [Split(tuple(d for d in splits[-1].train_as_of_dates if d.isoformat() < fit_only[0]) or
                 splits[0].train_as_of_dates[:1], pd.Timestamp(fit_only[0]).date())]  # fmt: skip
    with pytest.raises(ValueError, match="needed in full"):
        train_target(m, TARGET, dictionary, bad, capacity, grid=GRID[:1], seed=SEED, negative_sample_rate=RATE, **xs)
    with pytest.raises(ValueError, match="evaluation_rows"):
        run_target_cycle(m, TARGET, dictionary, capacity, splits, label_timespan_days=180, grid=GRID[:1], seed=SEED,
                         track=False, n_boot=0, negative_sample_rate=RATE,
                         features=FeatureArray(sampled.X, sampled.feature_names))  # fmt: skip
    # a feature array that does not fit the matrix or its names
    kw = dict(grid=GRID[:1], seed=SEED, negative_sample_rate=RATE)
    with pytest.raises(ValueError, match="needs its feature_names"):
        train_target(m, TARGET, dictionary, splits, capacity, X=sampled.X, **kw)
    with pytest.raises(ValueError, match="shape"):
        train_target(m.iloc[:-1], TARGET, dictionary, splits, capacity, **xs, **kw)
    with pytest.raises(ValueError, match="float32"):
        train_target(m, TARGET, dictionary, splits, capacity, X=sampled.X.astype("float64"),
                     feature_names=sampled.feature_names, **kw)


def test_the_feature_array_refuses_rows_it_cannot_line_up(partitions, sampled):
    """A row not in its partition, or rows out of the partitions' order: an error, not a shifted array."""
    from datetime import date

    from humiao.stages import read_feature_array

    fdir, _, keys = partitions
    rows = sampled.evaluation_rows
    key_dates = {k: date.fromisoformat(k) for k in keys}
    keep = np.ones(len(rows), dtype=bool)
    names = sampled.feature_names[:3]
    X = read_feature_array(fdir, key_dates, rows, keep, names)
    assert X.shape == (len(rows), 3)
    with pytest.raises(RuntimeError, match="order"):
        read_feature_array(fdir, dict(reversed(key_dates.items())), rows, keep, names)
    moved = rows.assign(child_token=rows["child_token"].where(rows.index != 5, "c_not_a_child"))
    with pytest.raises(RuntimeError, match="not found by child_token"):
        read_feature_array(fdir, key_dates, moved, keep, names)


def test_take_rows_is_a_view_only_for_one_contiguous_run():
    """A whole as-of date (one contiguous run of rows) is taken as a view, anything else as a copy; the
    values are those of fancy indexing either way."""
    from models.train import take_rows

    X = np.arange(40, dtype=np.float32).reshape(10, 4)
    run = take_rows(X, np.arange(3, 7))
    assert np.shares_memory(run, X) and run.flags.c_contiguous
    np.testing.assert_array_equal(run, X[3:7])
    gap = take_rows(X, np.array([3, 4, 6]))
    assert not np.shares_memory(gap, X)
    np.testing.assert_array_equal(gap, X[[3, 4, 6]])
    np.testing.assert_array_equal(take_rows(X, np.array([9])), X[[9]])
    assert take_rows(X, np.array([], dtype=int)).shape == (0, 4)
