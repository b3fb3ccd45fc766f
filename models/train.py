"""Training: LightGBM per target over temporal splits, model selection, calibration, ventiles.

The flow for one target (DESIGN §6–7, §11.10)::

    splits = splits_from_timechop(plan.splits)   # features.timechop plans them (one per test date)
    result = train_target(matrix, "guardianship_risk", feature_dictionary, splits, capacity)
    result.final            # selected config refit on the latest window, with its calibrator

Temporal validation (triage ``timechop``)
    The splits are planned by :mod:`features.timechop` (the one place time windows are computed): a
    split trains on as-of dates whose label windows end on or before its first test as-of date
    (``d + label_timespan <= test``). Here each test date is one :class:`Split`. A training label counts
    only if its ``label_knowledge_date`` ≤ the split's label knowledge cutoff (the first test as-of
    date, DESIGN §11.6): later-known positives are 0.

Calibration (exactly)
    Within a split's training dates, the **latest** ``calibration_holdout_dates`` as-of dates (default 1)
    are held out: LightGBM is trained on the earlier dates, then the calibrator is fitted on the
    model's raw probabilities for the held-out dates. Isotonic regression (monotone step map,
    Zadrozny & Elkan 2002) when the held-out rows hold at least ``min_positives_isotonic`` positives
    (default 50), otherwise Platt scaling (a logistic regression on the logit of the raw probability,
    Platt 1999). If a split has only one training date, its children are divided by an (unkeyed) hash
    of the child token: 80% train, 20% calibration. The list is ordered by the raw score (the
    calibration map is monotone; isotonic plateaus would only add ties).

Model selection (triage ``audition``)
    Every grid config is trained and tested on every split; the selected config maximizes
    ``mean_s(precision@capacity_abs) − variance_penalty × std_s(precision@capacity_abs)`` (default
    penalty 0.5, population std). Regret is the mean over splits of the best config's value on that
    split minus the selected config's value (0 = the selected config was best on every split).

LightGBM
    float32 matrices; ``num_threads=2``, ``deterministic=True``, ``force_row_wise=True`` and a seed,
    so the same data and seed give the same model; monotone constraints from the feature dictionary's
    ``monotone`` column (−1/0/+1).

References
----------
- Ke et al. (2017), "LightGBM: A highly efficient gradient boosting decision tree", NeurIPS.
- dssg/triage: ``timechop`` (temporal splits), ``audition`` (selection over time, regret).
- Zadrozny & Elkan (2002), "Transforming classifier scores into accurate multiclass probability
  estimates", KDD; Platt (1999), "Probabilistic outputs for support vector machines".
- Niculescu-Mizil & Caruana (2005), "Predicting good probabilities with supervised learning", ICML.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from models import metrics as M
from models.capacity import capacity_for_date

#: Default risk levels over city-wide ventiles (DESIGN §7); configuration may pass others.
DEFAULT_LEVELS: dict[str, tuple[int, int]] = {
    "极危": (19, 20),
    "高危": (16, 18),
    "中危": (11, 15),
    "低危": (1, 10),
}

#: Columns of a training matrix that are never features.
ID_COLUMNS = ("child_token", "as_of_date", "community", "township", "district")
GROUP_COLUMNS = ("hukou_type", "urban_rural", "sex", "has_disability")
SERVING_COLUMNS = ("registry_category", "last_visit_date")

#: A small grid (triage "model groups"): shallow to moderate trees, few rounds, strong leaf minimums.
DEFAULT_GRID: tuple[dict, ...] = (
    {"num_leaves": 15, "learning_rate": 0.05, "num_boost_round": 200, "min_data_in_leaf": 50},
    {"num_leaves": 31, "learning_rate": 0.05, "num_boost_round": 300, "min_data_in_leaf": 100},
    {"num_leaves": 7, "learning_rate": 0.1, "num_boost_round": 150, "min_data_in_leaf": 20},
)
BASE_PARAMS: dict = {
    "objective": "binary",
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "num_threads": 2,
    "deterministic": True,
    "force_row_wise": True,
    "verbosity": -1,
}
DEFAULT_VARIANCE_PENALTY = 0.5
DEFAULT_MIN_POSITIVES_ISOTONIC = 50
SELECTION_CRITERION = "max mean(precision@capacity_abs) - {penalty} * std(precision@capacity_abs) over splits"


# ---------------------------------------------------------------------------------------------------
# ventiles and levels


def ventiles(scores) -> np.ndarray:
    """City-wide ventile 1–20 of each score (20 = the highest 5%).

    ``ventile = ceil(20 × (average rank − 0.5) / n)`` with rank 1 the lowest score: each ventile holds
    n/20 children, equal scores share a ventile, and a constant score gives everyone 10.

    Parameters
    ----------
    scores : array-like of float, shape (n,)
        One target's scores of one cycle (all communities); NaN gets ventile 1.

    Returns
    -------
    ndarray of int8, shape (n,), values in 1..20
    """
    s = pd.Series(np.asarray(scores, dtype="float64")).fillna(-np.inf)
    if len(s) == 0:
        return np.array([], dtype=np.int8)
    pct = (s.rank(method="average").to_numpy() - 0.5) / len(s)
    return np.clip(np.ceil(pct * 20 - 1e-9), 1, 20).astype(np.int8)


def risk_level(ventile, levels: Mapping[str, Sequence[int]] = DEFAULT_LEVELS) -> np.ndarray:
    """Risk level name of each ventile.

    Parameters
    ----------
    ventile : int or array-like of int, shape (n,)
    levels : mapping, level name -> (lowest ventile, highest ventile), inclusive
        Must cover 1..20 without overlap (default 极危 19–20, 高危 16–18, 中危 11–15, 低危 1–10).

    Returns
    -------
    ndarray of str, shape (n,) (or a str for a scalar input)
    """
    table = np.empty(21, dtype=object)
    for name, (lo, hi) in levels.items():
        if not (1 <= lo <= hi <= 20):
            raise ValueError(f"level {name}: ventiles must satisfy 1 <= lo <= hi <= 20")
        if any(table[v] is not None for v in range(lo, hi + 1)):
            raise ValueError(f"level {name} overlaps another level")
        table[lo : hi + 1] = name
    if any(table[v] is None for v in range(1, 21)):
        raise ValueError("levels must cover ventiles 1..20")
    v = np.asarray(ventile)
    if v.size and ((v < 1).any() or (v > 20).any()):
        raise ValueError("ventiles must lie in 1..20")
    out = table[v.astype(np.int64)]
    return out if v.ndim else str(out)


# ---------------------------------------------------------------------------------------------------
# splits


@dataclass(frozen=True)
class Split:
    """One test as-of date of a temporal split: train on ``train_as_of_dates``, test on ``test_as_of_date``.

    The splits themselves are planned in one place, :mod:`features.timechop` (triage's ``timechop``);
    this is the unit models/ trains and evaluates (:func:`splits_from_timechop` makes one per test date).

    Attributes
    ----------
    train_as_of_dates : tuple of date
    test_as_of_date : date
    label_knowledge_cutoff : date, optional
        Training positives known after it count as 0 (DESIGN §11.6); default: the test as-of date.
        From timechop: the split's first test as-of date.
    """

    train_as_of_dates: tuple[date, ...]
    test_as_of_date: date
    label_knowledge_cutoff: date | None = None

    @property
    def label_cutoff(self) -> date:
        """The training labels' knowledge cutoff (the test as-of date unless set)."""
        return self.label_knowledge_cutoff or self.test_as_of_date

    def to_dict(self) -> dict:
        return {
            "train_as_of_dates": [d.isoformat() for d in self.train_as_of_dates],
            "test_as_of_date": self.test_as_of_date.isoformat(),
            "label_knowledge_cutoff": self.label_cutoff.isoformat(),
        }


def _to_date(d) -> date:
    return pd.Timestamp(d).date()


def splits_from_timechop(splits: Sequence) -> list[Split]:
    """models/ splits from :class:`features.timechop.Split` objects: one per test as-of date.

    Parameters
    ----------
    splits : sequence of features.timechop.Split or Split
        From :meth:`features.timechop.Timechop.chop` (e.g. a cycle plan's ``splits``); a
        :class:`Split` is passed through unchanged.

    Returns
    -------
    list of Split
        In the order given, each timechop split's test dates in order; training dates and the label
        knowledge cutoff (the timechop split's first test date) are the timechop split's.

    Raises
    ------
    ValueError
        A split without training dates, or with a training label window that ends after its test date.
    """
    out: list[Split] = []
    for s in splits:
        if isinstance(s, Split):
            parts = [s]
        else:
            train = tuple(_to_date(d) for d in s.train_as_of_dates)
            cutoff = _to_date(s.label_knowledge_cutoff)
            parts = [Split(train, _to_date(t), cutoff) for t in s.test_as_of_dates]
            span = timedelta(days=int(s.label_timespan_days))
            if train and max(train) + span > cutoff:
                raise ValueError(f"split trains on {max(train)} whose label window ends after {cutoff}")
        for p in parts:
            if not p.train_as_of_dates:
                raise ValueError(f"split testing {p.test_as_of_date} has no training as-of date")
        out.extend(parts)
    return out


def make_splits(
    as_of_dates: Sequence,
    *,
    label_timespan_days: int = 180,
    n_splits: int = 3,
    training_frequency_months: int = 1,
    max_training_history_months: int = 12,
) -> list[Split]:
    """The last ``n_splits`` temporal splits over monthly as-of dates, planned by :mod:`features.timechop`.

    A convenience for callers that hold only a matrix's as-of dates (tests, benchmarks): it calls
    :class:`features.timechop.Timechop` with ``feature_start_time`` = the earliest date, one test date
    per split (``model_update_frequency`` = ``training_as_of_date_frequency``) and labels observable
    ``label_timespan_days`` after the latest date, then :func:`splits_from_timechop`. Each test date
    ``t`` trains on the month starts ``d`` with ``d + label_timespan_days <= t``, stepping back by the
    training frequency for up to ``max_training_history_months``.

    Parameters
    ----------
    as_of_dates : sequence of date-like
        First days of months (timechop works in months), e.g. the matrix's labelled as-of dates.
    label_timespan_days : int
        Label window length (default 180).
    n_splits : int
        Number of test dates, the latest (default 3).
    training_frequency_months : int
        Spacing of training (and test) as-of dates (default 1; 3 for quarterly dates).
    max_training_history_months : int
        How far back training dates go from the latest one (default 12).

    Returns
    -------
    list of Split, oldest test date first.

    Raises
    ------
    ValueError
        When no split can be built, or a date is not the first of a month.
    """
    from features.timechop import Timechop

    dates = sorted({_to_date(d) for d in as_of_dates})
    if not dates:
        raise ValueError("no as-of dates")
    if any(d.day != 1 for d in dates):
        raise ValueError(f"as-of dates must be first days of months (timechop): {[d for d in dates if d.day != 1][:3]}")
    step = f"{int(training_frequency_months)} months"
    try:
        chopped = Timechop(
            feature_start_time=dates[0], feature_end_time=dates[-1], label_timespan_days=label_timespan_days,
            model_update_frequency=step, training_as_of_date_frequencies=(step,),
            max_training_histories=(f"{int(max_training_history_months)} months",),
            label_end_time=dates[-1] + timedelta(days=int(label_timespan_days)),
        ).chop()  # fmt: skip
    except ValueError as e:
        raise ValueError(f"no temporal split: {e}") from e
    known = set(dates)
    chopped = [s for s in chopped if set(s.test_as_of_dates) <= known]
    out = splits_from_timechop(chopped)[-n_splits:]
    out = [Split(tuple(d for d in s.train_as_of_dates if d in known), s.test_as_of_date, s.label_knowledge_cutoff)
           for s in out]  # fmt: skip
    out = [s for s in out if s.train_as_of_dates]
    if not out:
        raise ValueError(
            f"no temporal split: need as-of dates at least {label_timespan_days} days before a test date; got {dates}"
        )
    return out


# ---------------------------------------------------------------------------------------------------
# features and matrices


def feature_columns(matrix: pd.DataFrame, feature_dictionary: pd.DataFrame) -> list[str]:
    """Feature columns of a matrix: the dictionary's names present in it, in dictionary order.

    Raises
    ------
    ValueError
        When no dictionary feature is in the matrix.
    """
    names = [n for n in feature_dictionary["name"] if n in matrix.columns]
    if not names:
        raise ValueError("the matrix holds none of the feature dictionary's features")
    return names


def monotone_vector(feature_names: Sequence[str], feature_dictionary: pd.DataFrame) -> list[int]:
    """LightGBM ``monotone_constraints`` (−1/0/+1 per feature) from the dictionary's ``monotone`` column."""
    if "monotone" not in feature_dictionary.columns:
        return [0] * len(feature_names)
    m = feature_dictionary.set_index("name")["monotone"].reindex(list(feature_names)).fillna(0)
    vals = [int(v) for v in m]
    if any(v not in (-1, 0, 1) for v in vals):
        raise ValueError("feature dictionary 'monotone' must be -1, 0 or +1")
    return vals


def to_float32(frame: pd.DataFrame, feature_names: Sequence[str]) -> np.ndarray:
    """Feature matrix as C-contiguous float32, shape (n, p); NaN kept (LightGBM treats it as missing).

    Raises
    ------
    ValueError
        When a feature column is missing.
    """
    missing = [c for c in feature_names if c not in frame.columns]
    if missing:
        raise ValueError(f"features missing from the frame: {missing[:10]}")
    return np.ascontiguousarray(frame[list(feature_names)].to_numpy(dtype=np.float32, na_value=np.nan))


@dataclass
class FeatureArray:
    """The features of a training matrix's rows, held once (issue 8), handed to
    :func:`models.cycle.run_target_cycle`, which drops the array (``X = None``) once the model is trained
    and logged, so that the evaluation does not also hold it: keep no other reference to ``X``.

    Attributes
    ----------
    X : ndarray or None
        float32, C-contiguous, shape (rows, len(names)), row-aligned with the matrix (see
        :func:`train_target`'s ``X``); None once released.
    names : list of str
        Its columns (feature names).
    """

    X: np.ndarray | None
    names: list[str]

    def release(self) -> None:
        """Drop the array (its memory is freed when nothing else holds it)."""
        self.X = None


def check_feature_array(X: np.ndarray, feature_names: Sequence[str] | None, n_rows: int) -> list[str]:
    """The feature names of a feature array handed over with a matrix, after checking that they fit.

    Raises
    ------
    ValueError
        ``X`` not a C-contiguous float32 array of shape ``(n_rows, len(feature_names))``, or no names.
    """
    if feature_names is None:
        raise ValueError("a feature array X needs its feature_names")
    names = list(feature_names)
    if not isinstance(X, np.ndarray) or X.dtype != np.float32 or X.ndim != 2 or not X.flags.c_contiguous:
        raise ValueError("X must be a C-contiguous float32 array of shape (rows, features)")
    if X.shape != (n_rows, len(names)):
        raise ValueError(f"X has shape {X.shape}; the matrix has {n_rows} rows and {len(names)} feature names")
    return names


def take_rows(X: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` (strictly increasing positions) of a feature array: a view when they are one contiguous
    run (a whole as-of date of a matrix ordered by date: a test or calibration date), else a copy.

    At 2,000,000 children a test date's rows are ~0.9 GB of float32 features; taking them by fancy
    indexing copied them for each split while the whole array was held (issue 8).
    """
    idx = np.asarray(idx)
    if len(idx) and idx[-1] - idx[0] + 1 == len(idx):  # strictly increasing: spanning len(idx) = contiguous
        return X[int(idx[0]):int(idx[-1]) + 1]
    return X[idx]


def _dates(frame: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(frame["as_of_date"]).dt.date


def training_labels(rows: pd.DataFrame, target: str, label_cutoff: date | None) -> np.ndarray:
    """0/1 labels of training rows; positives known only after ``label_cutoff`` count as 0 (§11.6)."""
    y = rows[target].astype("float64").to_numpy()
    if label_cutoff is not None and "label_knowledge_date" in rows.columns:
        known = pd.to_datetime(rows["label_knowledge_date"])
        late = known.notna().to_numpy() & (known > pd.Timestamp(label_cutoff)).to_numpy()
        y = np.where(late, 0.0, y)
    return y


# ---------------------------------------------------------------------------------------------------
# calibration


@dataclass
class Calibrator:
    """Monotone map from the model's raw probability to a calibrated probability.

    Attributes
    ----------
    method : {"isotonic", "platt", "identity"}
    x, y : list of float
        Isotonic knots (raw → calibrated), interpolated linearly, clipped at the ends.
    coef, intercept : float
        Platt: ``p = sigmoid(coef × logit(raw) + intercept)``.
    n_fit, n_positive_fit : int
        Rows and positives the map was fitted on.
    fit_as_of_dates : list of str
        As-of dates of those rows (ISO).
    """

    method: str
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    coef: float = 1.0
    intercept: float = 0.0
    n_fit: int = 0
    n_positive_fit: int = 0
    fit_as_of_dates: list[str] = field(default_factory=list)

    def transform(self, raw) -> np.ndarray:
        """Calibrated probability, shape (n,), of raw probabilities, shape (n,)."""
        r = np.asarray(raw, dtype="float64")
        if self.method == "isotonic":
            return np.interp(r, self.x, self.y)
        if self.method == "platt":
            z = self.coef * _logit(r) + self.intercept
            return 1.0 / (1.0 + np.exp(-z))
        if self.method == "identity":
            return r
        raise ValueError(f"unknown calibration method {self.method!r}")

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: Mapping) -> Calibrator:
        return cls(**dict(d))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def fit_calibrator(
    raw, y, *, min_positives_isotonic: int = DEFAULT_MIN_POSITIVES_ISOTONIC, fit_as_of_dates: Sequence = ()
) -> Calibrator:
    """Fit isotonic (≥ ``min_positives_isotonic`` positives) or Platt scaling on held-out rows.

    Parameters
    ----------
    raw : array-like of float, shape (n,)
        The model's uncalibrated probability on held-out rows.
    y : array-like of 0/1, shape (n,)
    min_positives_isotonic : int
        Fewer positives → Platt (isotonic overfits small samples; Niculescu-Mizil & Caruana 2005).
    fit_as_of_dates : sequence
        Recorded for the card.

    Returns
    -------
    Calibrator
        ``identity`` when the held-out rows hold a single class.
    """
    r = np.asarray(raw, dtype="float64")
    yy = np.asarray(y, dtype="float64")
    n_pos = int(yy.sum())
    dates = [str(_to_date(d)) for d in fit_as_of_dates]
    if n_pos == 0 or n_pos == len(yy):
        return Calibrator("identity", n_fit=len(yy), n_positive_fit=n_pos, fit_as_of_dates=dates)
    if n_pos >= min_positives_isotonic:
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(r, yy)
        return Calibrator(
            "isotonic",
            x=[float(v) for v in iso.X_thresholds_],
            y=[float(v) for v in iso.y_thresholds_],
            n_fit=len(yy),
            n_positive_fit=n_pos,
            fit_as_of_dates=dates,
        )
    lr = LogisticRegression(C=1e4).fit(_logit(r).reshape(-1, 1), yy)
    return Calibrator(
        "platt",
        coef=float(lr.coef_[0, 0]),
        intercept=float(lr.intercept_[0]),
        n_fit=len(yy),
        n_positive_fit=n_pos,
        fit_as_of_dates=dates,
    )


# ---------------------------------------------------------------------------------------------------
# one fitted model


@dataclass
class FittedModel:
    """A trained LightGBM booster with its calibrator and the facts of its training.

    Attributes
    ----------
    booster : lightgbm.Booster
    calibrator : Calibrator
    feature_names : list of str
    target : str
    config : dict
        The grid config (``num_leaves``, ``learning_rate``, ``num_boost_round``, ``min_data_in_leaf``).
    params : dict
        Full LightGBM parameters used.
    train_as_of_dates, calibration_as_of_dates : list of date
    n_train, n_positive_train : int
        Rows (positives) the booster was fitted on: after negative sampling (positives plus the kept
        negatives) and without the calibration rows. The same whether the negatives were sampled at fit
        time or at read time (:func:`read_time_keep`); the evaluation document's ``n_train``
        counts the split's labelled training rows before sampling.
    """

    booster: lgb.Booster
    calibrator: Calibrator
    feature_names: list[str]
    target: str
    config: dict
    params: dict
    train_as_of_dates: list[date]
    calibration_as_of_dates: list[date]
    n_train: int
    n_positive_train: int

    def raw_score(self, frame: pd.DataFrame) -> np.ndarray:
        """Uncalibrated probability, shape (n,), of a frame holding the feature columns."""
        return self.booster.predict(to_float32(frame, self.feature_names), num_threads=2)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities, shape (n, 2): columns P(y=0), P(y=1)."""
        p = self.calibrator.transform(self.raw_score(frame))
        return np.column_stack([1 - p, p])


def lgb_params(config: Mapping, monotone: Sequence[int], seed: int) -> dict:
    """LightGBM parameters of one grid config (``num_boost_round`` is kept out: it is not a param)."""
    p = dict(BASE_PARAMS)
    p.update({k: v for k, v in config.items() if k != "num_boost_round"})
    p["seed"] = int(seed)
    if any(monotone):
        p["monotone_constraints"] = [int(v) for v in monotone]
        p["monotone_constraints_method"] = "basic"
    return p


def _hash_fold(tokens: pd.Series, n_folds: int = 5) -> np.ndarray:
    return (pd.util.hash_pandas_object(tokens.astype(str), index=False).to_numpy() % n_folds).astype(int)


def negative_sample_mask(tokens: pd.Series, dates: pd.Series, y: np.ndarray, rate: float, seed: int = 0) -> np.ndarray:
    """Rows kept when training on a sample of the negatives: every positive, and each negative with
    probability ``rate``, decided by a hash of (child token, as-of date, seed) — the same rows on every
    run, config and split.

    Case-control subsampling of the majority class, weighted back by ``1 / rate`` in :func:`fit_model`
    so that the booster fits the full-data log-odds (King & Zeng 2001, "Logistic regression in rare
    events data"; the calibrator is fitted on unsampled later rows in any case).

    Parameters
    ----------
    tokens, dates : Series
        Row-aligned child tokens and as-of dates (dates, datetimes or Arrow dates: the hash reads the
        date at nanosecond resolution, so every representation gives the same rows).
    y : ndarray of 0/1
    rate : float in (0, 1]

    Returns
    -------
    ndarray of bool, one per row
    """
    if not 0 < rate <= 1:
        raise ValueError(f"negative_sample_rate must be in (0, 1], got {rate}")
    if rate == 1:
        return np.ones(len(y), dtype=bool)
    key = f"humiao{seed:010d}"[-16:]
    # nanoseconds whatever the input (dates, Arrow date32 or datetime64[us]): the hash reads the integers
    d = np.asarray(pd.to_datetime(dates)).astype("datetime64[ns]")
    frame = pd.DataFrame({"t": np.asarray(tokens.astype(str)), "d": d})
    h = pd.util.hash_pandas_object(frame, index=False, hash_key=key).to_numpy()
    u = (h >> np.uint64(11)).astype(np.float64) / float(2**53)
    return (np.asarray(y) == 1) | (u < rate)


#: ``matrix.attrs`` key of a matrix whose negatives were sampled when read (:func:`read_time_keep`):
#: ``{"rate": float, "seed": int, "sampled_as_of_dates": [ISO date, ...]}``.
SAMPLED_ATTR = "negative_sample"


def _calibration_dates(train_as_of_dates: Sequence, calibration_holdout_dates: int) -> list[date]:
    """The dates :func:`fit_model` calibrates on: the latest ``calibration_holdout_dates`` training dates,
    or every date when there are no more (the single-date case holds out 20% of children by hash)."""
    dates = sorted({_to_date(d) for d in train_as_of_dates})
    return dates[-calibration_holdout_dates:] if len(dates) > calibration_holdout_dates else dates


def full_as_of_dates(
    splits: Sequence, *, calibration_holdout_dates: int = 1, refit_as_of_dates: Sequence | None = None
) -> list[date]:
    """As-of dates of which some step of :func:`train_target` / :func:`models.evaluate.evaluate_target`
    reads every row's features: each split's test date (scored, evaluated, bootstrapped, audited for
    fairness) and the calibration hold-out dates of each split and of the refit (:func:`fit_model`
    calibrates on every row of them).

    Parameters
    ----------
    splits : sequence of features.timechop.Split or Split
        As :func:`train_target` takes them.
    calibration_holdout_dates : int
        As :func:`train_target` (default 1).
    refit_as_of_dates : sequence, optional
        As :func:`train_target` (default: the last split's training dates plus its test date).

    Returns
    -------
    list of date, sorted.
    """
    splits = splits_from_timechop(splits)
    out: set[date] = set()
    for s in splits:
        out.add(_to_date(s.test_as_of_date))
        out.update(_calibration_dates(s.train_as_of_dates, calibration_holdout_dates))
    if splits:
        refit = refit_as_of_dates
        if refit is None:
            refit = [*splits[-1].train_as_of_dates, splits[-1].test_as_of_date]
        out.update(_calibration_dates(refit, calibration_holdout_dates))
    return sorted(out)


def fit_only_as_of_dates(
    splits: Sequence, *, calibration_holdout_dates: int = 1, refit_as_of_dates: Sequence | None = None
) -> list[date]:
    """Training as-of dates whose feature rows only ever enter a LightGBM fit (never a test, a calibration
    or a prediction): the dates whose unsampled negatives no model step reads, so they may be dropped when
    the partitions are read (:func:`read_time_keep`, issue 8).

    The baselines, the oracle and the card's training counts of :func:`models.evaluate.evaluate_target`
    do read every labelled row of every training date, but only a few columns: a read-time sampled
    matrix comes with those columns of every row (:func:`humiao.stages.read_training_inputs`).

    Parameters
    ----------
    splits, calibration_holdout_dates, refit_as_of_dates
        See :func:`full_as_of_dates`.

    Returns
    -------
    list of date, sorted: every split's (and the refit's) training dates minus :func:`full_as_of_dates`.
    """
    splits = splits_from_timechop(splits)
    train: set[date] = {_to_date(d) for s in splits for d in s.train_as_of_dates}
    if refit_as_of_dates is not None:
        train.update(_to_date(d) for d in refit_as_of_dates)
    full = set(full_as_of_dates(splits, calibration_holdout_dates=calibration_holdout_dates,
                                refit_as_of_dates=refit_as_of_dates))
    return sorted(train - full)


def read_time_keep(
    tokens: pd.Series, dates: pd.Series, y, fit_only: Sequence, rate: float, seed: int = 0
) -> np.ndarray:
    """Rows of a training matrix that read-time negative sampling keeps (issue 8): every row of a date not
    in ``fit_only``; on the fit-only dates the rows :func:`negative_sample_mask` keeps (every positive,
    each negative with probability ``rate`` by the hash of (token, date, seed)).

    ``y`` is the label as stored (1 = positive). :func:`fit_model` samples on the label after the split's
    knowledge cutoff (a positive known late counts 0), which can only turn positives into negatives; the
    mask is a function of the row, so the rows :func:`fit_model` keeps from the read-time sample are
    exactly those it keeps from the full matrix — ``{cutoff label = 1 or u < rate}`` — in the same order
    (case-control sampling weighted ``1 / rate``, King & Zeng 2001).

    Parameters
    ----------
    tokens, dates : Series, shape (n,)
        Row-aligned child tokens and as-of dates.
    y : array-like, shape (n,)
        Stored 0/1 label; missing counts as negative (such rows are never fitted).
    fit_only : sequence of date-like
        :func:`fit_only_as_of_dates`.
    rate : float in (0, 1]
    seed : int
        The models' seed (:func:`train_target`'s ``seed``).

    Returns
    -------
    ndarray of bool, shape (n,)
    """
    if not 0 < rate <= 1:
        raise ValueError(f"negative_sample_rate must be in (0, 1], got {rate}")
    keep = np.ones(len(tokens), dtype=bool)
    if rate == 1 or not len(fit_only):
        return keep
    wanted = np.asarray(pd.to_datetime(pd.Series(list(fit_only), dtype="object"))).astype("datetime64[ns]")
    on_fit = np.isin(np.asarray(pd.to_datetime(pd.Series(np.asarray(dates)))).astype("datetime64[ns]"), wanted)
    if on_fit.any():
        yy = pd.to_numeric(pd.Series(np.asarray(y)), errors="coerce").fillna(0.0).to_numpy()[on_fit]
        keep[on_fit] = negative_sample_mask(pd.Series(np.asarray(tokens)[on_fit]),
                                            pd.Series(np.asarray(dates)[on_fit]), yy, rate, seed)
    return keep


def _check_read_time_sample(matrix: pd.DataFrame, splits, rate: float, seed: int, calibration_holdout_dates: int,
                            refit_as_of_dates) -> None:
    """Raise unless a matrix sampled at read time was sampled as this training samples (same rate, seed)
    and only on dates no step needs in full."""
    info = matrix.attrs.get(SAMPLED_ATTR)
    if not info:
        return
    if float(info["rate"]) != float(rate) or int(info["seed"]) != int(seed):
        raise ValueError(f"the matrix was sampled at read time with rate {info['rate']}, seed {info['seed']}; "
                         f"training asks for rate {rate}, seed {seed}")
    sampled = {_to_date(d) for d in info["sampled_as_of_dates"]}
    full = set(full_as_of_dates(splits, calibration_holdout_dates=calibration_holdout_dates,
                                refit_as_of_dates=refit_as_of_dates))
    if sampled & full:
        raise ValueError(f"as-of dates {sorted(sampled & full)} are needed in full (test or calibration) but "
                         "were sampled at read time")


def fit_model(
    matrix: pd.DataFrame,
    target: str,
    train_as_of_dates: Sequence,
    feature_names: Sequence[str],
    config: Mapping,
    *,
    monotone: Sequence[int] | None = None,
    seed: int = 0,
    label_cutoff=None,
    calibration_holdout_dates: int = 1,
    min_positives_isotonic: int = DEFAULT_MIN_POSITIVES_ISOTONIC,
    X: np.ndarray | None = None,
    dataset_cache: dict | None = None,
    negative_sample_rate: float = 1.0,
) -> FittedModel:
    """Train LightGBM on the earlier training dates and calibrate on the latest ones.

    Parameters
    ----------
    matrix : DataFrame
        Training matrix of the target's cohort: ``child_token, as_of_date``, feature columns and the
        0/1 column ``target`` (rows with a missing label are dropped); optional ``label_knowledge_date``.
    target : str
        Label column.
    train_as_of_dates : sequence of date-like
        All training dates of the split (the latest ``calibration_holdout_dates`` calibrate).
    feature_names : sequence of str
    config : mapping
        One grid config.
    monotone : sequence of int, optional
        Monotone constraint per feature.
    seed : int
    label_cutoff : date-like, optional
        Positives known after it count as 0 (the split's test as-of date).
    calibration_holdout_dates : int
    min_positives_isotonic : int
    X : ndarray, optional
        ``to_float32(matrix, feature_names)`` computed once by the caller (row-aligned with ``matrix``);
        saves converting the same columns for every config and split.
    dataset_cache : dict, optional
        Shared by the configs of one split: the binned ``lightgbm.Dataset`` of the fit rows is built
        once (``feature_pre_filter=False``, so configs may differ in ``min_data_in_leaf``) and reused,
        with the calibration rows' matrix. Same data and seed give the same model as without it.
    negative_sample_rate : float in (0, 1]
        Share of the negative fit rows kept (:func:`negative_sample_mask`; kept negatives weigh
        ``1 / rate``); 1 (default) trains on every row. For city-scale training (issue 8); the
        calibration rows are never sampled. The matrix may already hold only the rows this keeps on its
        fit-only dates (read-time sampling: :func:`fit_only_as_of_dates`, :func:`read_time_keep`): the
        mask is a function of (token, date, seed, label), so applying it again keeps the same rows in the
        same order and the booster is the one fitted on the full matrix.

    Returns
    -------
    FittedModel

    Raises
    ------
    ValueError
        No training rows, or a single class in the training rows (before or after negative sampling).
    """
    dates = sorted({_to_date(d) for d in train_as_of_dates})
    key = (tuple(dates), None if label_cutoff is None else _to_date(label_cutoff), calibration_holdout_dates,
           negative_sample_rate)
    cached = dataset_cache.get(key) if dataset_cache is not None else None
    if cached is None:
        all_dates = _dates(matrix)
        in_rows = (all_dates.isin(dates) & matrix[target].notna()).to_numpy()
        # only the columns read here (labels, their knowledge date, the child token); the features come
        # from X when given — copying every column of a 200,000-child matrix costs gigabytes
        keep = [c for c in (target, "label_knowledge_date", "child_token") if c in matrix.columns]
        rows = matrix.loc[in_rows, keep if X is not None else [*keep, *feature_names]]
        if rows.empty:
            raise ValueError(f"no labelled rows for {target} on {dates}")
        row_dates = all_dates[in_rows]
        if len(dates) > calibration_holdout_dates:
            cal_dates = dates[-calibration_holdout_dates:]
            is_cal = row_dates.isin(cal_dates).to_numpy()
        else:  # a single training date: hold out 20% of children by token hash
            cal_dates = dates
            is_cal = _hash_fold(rows["child_token"]) == 0
        fit_rows, cal_rows = rows[~is_cal], rows[is_cal]
        fit_dates = sorted(set(row_dates[~is_cal]))
        y_fit = training_labels(fit_rows, target, label_cutoff)
        y_cal = training_labels(cal_rows, target, label_cutoff)
        if y_fit.min() == y_fit.max():
            raise ValueError(f"training rows of {target} on {fit_dates} hold a single class")
        keep = negative_sample_mask(fit_rows["child_token"], row_dates[~is_cal], y_fit, negative_sample_rate, seed)
        if X is not None:
            idx = np.flatnonzero(in_rows)
            X_fit, X_cal = take_rows(X, idx[~is_cal][keep]), take_rows(X, idx[is_cal])
        else:
            X_fit, X_cal = to_float32(fit_rows[keep], feature_names), to_float32(cal_rows, feature_names)
        y_fit = y_fit[keep]
        if y_fit.min() == y_fit.max():  # every negative sampled away (tiny data): the same error on both paths
            raise ValueError(f"sampled training rows of {target} on {fit_dates} hold a single class; raise "
                             f"negative_sample_rate ({negative_sample_rate})")
        weight = None if negative_sample_rate == 1 else np.where(y_fit == 1, 1.0, 1.0 / negative_sample_rate)
        ds = lgb.Dataset(
            X_fit, label=y_fit, weight=weight, feature_name=list(feature_names), free_raw_data=True,
            params={"feature_pre_filter": False, "verbosity": -1},
        )  # fmt: skip
        cached = {
            "ds": ds, "X_cal": X_cal, "y_cal": y_cal, "cal_dates": cal_dates, "fit_dates": fit_dates,
            "n_fit": len(y_fit), "n_pos_fit": int(y_fit.sum()),
        }  # fmt: skip
        if dataset_cache is not None:
            dataset_cache[key] = cached
    mono = list(monotone) if monotone is not None else [0] * len(feature_names)
    params = lgb_params(config, mono, seed)
    params["feature_pre_filter"] = False
    booster = lgb.train(params, cached["ds"], num_boost_round=int(config.get("num_boost_round", 200)))
    raw_cal = booster.predict(cached["X_cal"], num_threads=2)
    cal = fit_calibrator(
        raw_cal, cached["y_cal"], min_positives_isotonic=min_positives_isotonic,
        fit_as_of_dates=cached["cal_dates"],
    )  # fmt: skip
    return FittedModel(
        booster=booster,
        calibrator=cal,
        feature_names=list(feature_names),
        target=target,
        config=dict(config),
        params={**params, "num_boost_round": int(config.get("num_boost_round", 200)),
                **({"negative_sample_rate": negative_sample_rate} if negative_sample_rate != 1 else {})},
        train_as_of_dates=cached["fit_dates"],
        calibration_as_of_dates=list(cached["cal_dates"]),
        n_train=cached["n_fit"],
        n_positive_train=cached["n_pos_fit"],
    )


# ---------------------------------------------------------------------------------------------------
# the search over configs and splits


@dataclass
class TrainResult:
    """Everything :func:`train_target` learned; :mod:`models.evaluate` reads it.

    Attributes
    ----------
    target : str
    feature_names : list of str
    splits : list of Split
    grid : list of dict
    split_metrics : DataFrame
        One row per (config_index, split_index): ``test_as_of_date`` and every metric (point values).
    selected_index : int
    selection : dict
        ``{"criterion", "selected_config", "regret", "scores"}``.
    split_models : dict[int, FittedModel]
        The selected config's model per split index (for evaluation on the split's test date).
    final : FittedModel
        The selected config refit on the latest window (registered as ``challenger``).
    seed : int
    split_test_raw : dict[int, ndarray]
        The selected config's raw scores on each split's test rows (:func:`rows_of_date` order), so
        evaluation does not predict them again.
    """

    target: str
    feature_names: list[str]
    splits: list[Split]
    grid: list[dict]
    split_metrics: pd.DataFrame
    selected_index: int
    selection: dict
    split_models: dict[int, FittedModel]
    final: FittedModel
    seed: int
    split_test_raw: dict[int, np.ndarray] = field(default_factory=dict)


def rows_of_date(matrix: pd.DataFrame, target: str, as_of) -> pd.DataFrame:
    """Labelled rows of one test as-of date."""
    return matrix[(_dates(matrix) == _to_date(as_of)) & matrix[target].notna()]


def train_target(
    matrix: pd.DataFrame,
    target: str,
    feature_dictionary: pd.DataFrame,
    splits: Sequence[Split],
    capacity: pd.DataFrame,
    *,
    grid: Sequence[Mapping] = DEFAULT_GRID,
    seed: int = 0,
    variance_penalty: float = DEFAULT_VARIANCE_PENALTY,
    calibration_holdout_dates: int = 1,
    min_positives_isotonic: int = DEFAULT_MIN_POSITIVES_ISOTONIC,
    refit_as_of_dates: Sequence | None = None,
    refit_label_cutoff=None,
    negative_sample_rate: float = 1.0,
    X: np.ndarray | None = None,
    feature_names: Sequence[str] | None = None,
) -> TrainResult:
    """Train every grid config on every split, select one, refit it on the latest window.

    Parameters
    ----------
    matrix : DataFrame
        Features ⨝ labels of the target's cohort (docs/interfaces.md §4): ``child_token, as_of_date,
        community`` …, feature columns (float32), the 0/1 label column ``target``.
    target : str
    feature_dictionary : DataFrame
        ``name, family, …, monotone`` (docs/interfaces.md §3).
    splits : sequence of features.timechop.Split or Split
        Planned by :mod:`features.timechop` (e.g. the cycle plan's splits); expanded to one
        :class:`Split` per test date by :func:`splits_from_timechop`.
    capacity : DataFrame
        ``as_of_date, community, capacity`` (:func:`models.capacity.capacity_table`) covering every
        test date.
    grid : sequence of dict
        LightGBM configs (default :data:`DEFAULT_GRID`).
    seed : int
    variance_penalty : float
        λ of the selection criterion.
    calibration_holdout_dates, min_positives_isotonic
        See :func:`fit_model`.
    refit_as_of_dates : sequence, optional
        Window of the final refit (default: the last split's training dates plus its test date).
    refit_label_cutoff : date-like, optional
        Label knowledge cutoff of the refit (default: none, every known label counts).
    negative_sample_rate : float in (0, 1]
        See :func:`fit_model` (every fit, the refit included; test rows are never sampled). The matrix
        may hold only the sampled rows of the fit-only dates (:func:`read_time_keep`, recorded in
        ``matrix.attrs[SAMPLED_ATTR]``): the fitted models and every metric are then those of the full
        matrix. A matrix sampled with another rate or seed, or on a date needed in full, is refused.
    X : ndarray, shape (len(matrix), p), float32, optional
        The features of ``matrix``'s rows, row-aligned, columns ``feature_names``
        (:func:`humiao.stages.read_training_inputs` builds it from the partitions). With it ``matrix``
        needs only ``child_token, as_of_date, community``, the label and ``label_knowledge_date``: the
        features are held once, as float32, not also as DataFrame columns (issue 8). Default:
        ``to_float32(matrix, feature_columns(matrix, feature_dictionary))``.
    feature_names : sequence of str, optional
        The columns of ``X`` (required with ``X``).

    Returns
    -------
    TrainResult

    Raises
    ------
    ValueError
        No label column, no splits, an ``X`` that does not fit ``matrix`` and ``feature_names``, a
        refused read-time sample, or an error of :func:`fit_model`.
    """
    if target not in matrix.columns:
        raise ValueError(f"matrix has no label column {target!r}")
    if not splits:
        raise ValueError("no splits")
    splits = splits_from_timechop(splits)
    _check_read_time_sample(matrix, splits, negative_sample_rate, seed, calibration_holdout_dates, refit_as_of_dates)
    if X is None:
        features = feature_columns(matrix, feature_dictionary)
        X = to_float32(matrix, features)  # once for every config, split and the refit
    else:
        features = check_feature_array(X, feature_names, len(matrix))
    mono = monotone_vector(features, feature_dictionary)
    all_dates = _dates(matrix)
    labelled = matrix[target].notna().to_numpy()
    rows = []
    models: dict[tuple[int, int], FittedModel] = {}
    test_raw: dict[tuple[int, int], np.ndarray] = {}
    for si, split in enumerate(splits):
        test_mask = labelled & (all_dates == _to_date(split.test_as_of_date)).to_numpy()
        test = matrix[test_mask]
        if test.empty:
            raise ValueError(f"no labelled test rows on {split.test_as_of_date}")
        X_test = take_rows(X, np.flatnonzero(test_mask))
        cap = capacity_for_date(capacity, split.test_as_of_date)
        y_test = test[target].astype("float64").to_numpy()
        cache: dict = {}  # one binned Dataset per split, shared by the configs
        for ci, config in enumerate(grid):
            fm = fit_model(
                matrix,
                target,
                split.train_as_of_dates,
                features,
                config,
                monotone=mono,
                seed=seed,
                label_cutoff=split.label_cutoff,
                calibration_holdout_dates=calibration_holdout_dates,
                min_positives_isotonic=min_positives_isotonic,
                X=X,
                dataset_cache=cache,
                negative_sample_rate=negative_sample_rate,
            )
            raw = fm.booster.predict(X_test, num_threads=2)
            block = M.evaluate_scores(
                y_test,
                fm.calibrator.transform(raw),
                test["community"],
                cap,
                rank_score=raw,
                n_boot=0,
                seed=seed,
            )
            rows.append(
                {"config_index": ci, "split_index": si, "test_as_of_date": split.test_as_of_date}
                | M.metric_values(block)
            )
            models[(ci, si)] = fm
            test_raw[(ci, si)] = raw
        del cache
    split_metrics = pd.DataFrame(rows)
    sel, selection = select_config(split_metrics, grid, variance_penalty=variance_penalty)
    if refit_as_of_dates is None:
        last = splits[-1]
        refit_as_of_dates = [*last.train_as_of_dates, last.test_as_of_date]
    final = fit_model(
        matrix,
        target,
        refit_as_of_dates,
        features,
        grid[sel],
        monotone=mono,
        seed=seed,
        label_cutoff=refit_label_cutoff,
        calibration_holdout_dates=calibration_holdout_dates,
        min_positives_isotonic=min_positives_isotonic,
        X=X,
        negative_sample_rate=negative_sample_rate,
    )
    return TrainResult(
        target=target,
        feature_names=features,
        splits=list(splits),
        grid=[dict(g) for g in grid],
        split_metrics=split_metrics,
        selected_index=sel,
        selection=selection,
        split_models={si: models[(sel, si)] for si in range(len(splits))},
        final=final,
        seed=seed,
        split_test_raw={si: test_raw[(sel, si)] for si in range(len(splits))},
    )


def select_config(
    split_metrics: pd.DataFrame,
    grid: Sequence[Mapping],
    *,
    metric: str = M.PRECISION_AT_CAPACITY,
    variance_penalty: float = DEFAULT_VARIANCE_PENALTY,
) -> tuple[int, dict]:
    """Pick the config with the best penalized mean over splits; report regret (triage audition).

    Parameters
    ----------
    split_metrics : DataFrame
        ``config_index, split_index`` and the ``metric`` column.
    grid : sequence of dict
    metric : str
    variance_penalty : float

    Returns
    -------
    index : int
    selection : dict
        ``{"criterion": str, "selected_config": dict, "regret": float, "scores": {index: value}}``.
    """
    wide = split_metrics.pivot(index="config_index", columns="split_index", values=metric)
    mean = wide.mean(axis=1)
    std = wide.std(axis=1, ddof=0).fillna(0.0)
    score = (mean - variance_penalty * std).fillna(-np.inf)
    sel = int(score.idxmax())
    regret = float((wide.max(axis=0) - wide.loc[sel]).mean())
    return sel, {
        "criterion": SELECTION_CRITERION.format(penalty=variance_penalty),
        "selected_config": dict(grid[sel]),
        "regret": 0.0 if math.isnan(regret) else regret,
        "scores": {int(i): float(v) for i, v in score.items()},
    }
