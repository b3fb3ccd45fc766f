"""Training on a synthetic set with known signal: LightGBM beats the prior; splits; calibration; levels."""

from datetime import date, timedelta

import numpy as np
import pytest

from models import metrics as M
from models.baselines import PriorRate
from models.capacity import capacity_for_date
from models.train import (
    DEFAULT_LEVELS,
    fit_calibrator,
    fit_model,
    make_splits,
    monotone_vector,
    risk_level,
    rows_of_date,
    ventiles,
)

#: the synthetic matrix's as-of dates are quarterly month starts (tests/models/conftest.py)
QUARTERLY = {"training_frequency_months": 3, "max_training_history_months": 24}


def test_splits_never_train_on_open_label_windows(matrix):
    splits = make_splits(sorted(set(matrix["as_of_date"])), label_timespan_days=180, n_splits=3, **QUARTERLY)
    assert len(splits) == 3
    for sp in splits:
        assert all(d + timedelta(days=180) <= sp.test_as_of_date for d in sp.train_as_of_dates)
    with pytest.raises(ValueError, match="no temporal split"):
        make_splits([date(2024, 1, 1), date(2024, 2, 1)], label_timespan_days=180)


def test_lightgbm_beats_the_prior(trained, matrix, capacity):
    split = trained.splits[-1]
    test = rows_of_date(matrix, "guardianship_risk", split.test_as_of_date)
    y = test["guardianship_risk"].astype(float).to_numpy()
    cap = capacity_for_date(capacity, split.test_as_of_date)
    model = trained.split_models[len(trained.splits) - 1]
    raw = model.raw_score(test)
    p_model = M.precision_at_k_per_community(y, raw, test["community"], cap)
    prior = PriorRate().fit(test, y)
    p_prior = M.precision_at_k_per_community(y, prior.rank_score(test), test["community"], cap)
    assert p_model > 2 * p_prior
    assert M.roc_auc(y, raw) > 0.72
    assert trained.selection["regret"] >= 0
    assert trained.selection["selected_config"] in trained.grid
    assert len(trained.split_metrics) == len(trained.grid) * len(trained.splits)


def test_refit_holds_out_the_latest_date_for_calibration(trained):
    final = trained.final
    assert max(final.train_as_of_dates) < min(final.calibration_as_of_dates)
    assert final.calibrator.method in {"isotonic", "platt"}
    assert final.params["num_threads"] == 2 and final.params["deterministic"] is True


def test_monotone_constraints_from_dictionary(dictionary):
    assert monotone_vector(["school_days_absent_3m", "noise_a"], dictionary) == [1, 0]


def test_training_is_deterministic(matrix, dictionary):
    feats = ["school_days_absent_3m", "parents_away_months_12m", "noise_a"]
    dates = sorted(set(matrix["as_of_date"]))[:3]
    cfg = {"num_leaves": 7, "learning_rate": 0.1, "num_boost_round": 20, "min_data_in_leaf": 20}
    a = fit_model(matrix, "guardianship_risk", dates, feats, cfg, seed=5)
    b = fit_model(matrix, "guardianship_risk", dates, feats, cfg, seed=5)
    rows = matrix.head(50)
    np.testing.assert_array_equal(a.raw_score(rows), b.raw_score(rows))


def test_calibrators_isotonic_and_platt():
    rng = np.random.default_rng(0)
    raw = rng.random(3000)
    y = (rng.random(3000) < raw**2).astype(float)
    iso = fit_calibrator(raw, y, min_positives_isotonic=50)
    assert iso.method == "isotonic"
    assert M.expected_calibration_error(y, iso.transform(raw)) < 0.03
    platt = fit_calibrator(raw[:60], y[:60], min_positives_isotonic=50)
    assert platt.method == "platt"
    assert np.all(np.diff(platt.transform(np.sort(raw))) >= 0)
    assert type(iso).from_dict(iso.to_dict()).transform([0.5]) == pytest.approx(iso.transform([0.5]))


def test_ventiles_and_levels():
    v = ventiles(np.arange(100))
    assert v.min() == 1 and v.max() == 20 and (np.bincount(v)[1:] == 5).all()
    assert (ventiles(np.ones(10)) == 10).all()
    assert list(risk_level(np.array([20, 19, 18, 16, 15, 11, 10, 1]))) == [
        "极危",
        "极危",
        "高危",
        "高危",
        "中危",
        "中危",
        "低危",
        "低危",
    ]
    assert risk_level(17) == "高危"
    custom = {"高": (15, 20), "低": (1, 14)}
    assert list(risk_level([15, 14], custom)) == ["高", "低"]
    with pytest.raises(ValueError, match="cover"):
        risk_level([1], {"高": (15, 20)})
    assert DEFAULT_LEVELS["极危"] == (19, 20)


def test_splits_come_from_timechop(matrix):
    """One temporal-split implementation: models/ trains on features.timechop's splits."""
    from features.timechop import chop
    from models.train import Split, splits_from_timechop

    dates = sorted(set(matrix["as_of_date"]))
    ours = make_splits(dates, label_timespan_days=180, n_splits=2, **QUARTERLY)
    tc = chop(dates[0], dates[-1], 180, model_update_frequency="3 months",
              training_as_of_date_frequencies=("3 months",), max_training_histories=("24 months",),
              label_end_time=dates[-1] + timedelta(days=180))  # fmt: skip
    assert ours == splits_from_timechop(tc)[-2:]
    multi = chop(dates[0], dates[-1], 180, test_durations=("3 months",), test_as_of_date_frequency="3 months",
                 training_as_of_date_frequencies=("3 months",), max_training_histories=("24 months",),
                 label_end_time=dates[-1] + timedelta(days=180))[-1]  # fmt: skip
    expanded = splits_from_timechop([multi])
    assert [s.test_as_of_date for s in expanded] == list(multi.test_as_of_dates)
    assert {s.label_cutoff for s in expanded} == {multi.test_as_of_dates[0]}  # DESIGN §11.6: the first test date
    assert splits_from_timechop(expanded) == expanded
    with pytest.raises(ValueError, match="first days of months"):
        make_splits([date(2024, 1, 15)])
    assert Split((date(2024, 1, 1),), date(2024, 7, 1)).label_cutoff == date(2024, 7, 1)


def test_negative_subsampling_keeps_positives_and_weights_back(matrix, dictionary):
    """City-scale training on a sample of the negatives: every positive kept, about ``rate`` of the
    negatives, the same rows on every call; the model still ranks as well as on every row."""
    from models.train import negative_sample_mask

    dates = sorted(set(matrix["as_of_date"]))
    y = matrix["guardianship_risk"].fillna(0).astype(int).to_numpy()
    keep = negative_sample_mask(matrix["child_token"], matrix["as_of_date"], y, 0.25, seed=3)
    assert keep[y == 1].all()
    share = keep[y == 0].mean()
    assert 0.22 < share < 0.28, share
    np.testing.assert_array_equal(keep, negative_sample_mask(matrix["child_token"], matrix["as_of_date"], y, 0.25, 3))
    assert not np.array_equal(keep, negative_sample_mask(matrix["child_token"], matrix["as_of_date"], y, 0.25, 4))
    assert negative_sample_mask(matrix["child_token"], matrix["as_of_date"], y, 1.0).all()
    with pytest.raises(ValueError, match="negative_sample_rate"):
        negative_sample_mask(matrix["child_token"], matrix["as_of_date"], y, 0.0)

    feats = ["school_days_absent_3m", "parents_away_months_12m", "registry_active_orphan", "noise_a"]
    cfg = {"num_leaves": 7, "learning_rate": 0.1, "num_boost_round": 60, "min_data_in_leaf": 20}
    full = fit_model(matrix, "guardianship_risk", dates[:6], feats, cfg, seed=5)
    sub = fit_model(matrix, "guardianship_risk", dates[:6], feats, cfg, seed=5, negative_sample_rate=0.25)
    assert sub.n_positive_train == full.n_positive_train
    assert sub.n_train < 0.5 * full.n_train
    assert sub.params["negative_sample_rate"] == 0.25 and "negative_sample_rate" not in full.params
    test = rows_of_date(matrix, "guardianship_risk", dates[-1])
    yt = test["guardianship_risk"].astype(float).to_numpy()
    assert M.roc_auc(yt, sub.raw_score(test)) > M.roc_auc(yt, full.raw_score(test)) - 0.03
    # weighted back: the raw scores stay on the full data's scale (log-odds of a rare event)
    assert abs(np.mean(sub.raw_score(test)) - np.mean(full.raw_score(test))) < 0.5
