"""Baselines the model must beat, reported beside it (DESIGN §7).

Each baseline is a small scikit-learn-like object:

- ``fit(X, y) -> self``: ``X`` a DataFrame (feature and serving columns), ``y`` 0/1 of shape (n,);
- ``rank_score(X) -> ndarray (n,)``: the order of the list (higher = visit first; NaN = last);
- ``predict_proba(X) -> ndarray (n, 2)``: columns P(y=0), P(y=1), for Brier/ECE.

``fit`` never changes a baseline's *ranking* except for :class:`OneFeatureRank`'s choice of a feature
when none is named; it only records observed rates so that a probability can be read off the baseline's
own levels (a bureau that uses the registry rule knows "about x% of orphans had a failure last year").

References
----------
dssg/triage ``catwalk/baselines`` (``PercentileRankOneFeature``, ``SimpleThresholder``): baselines as
estimators with the model's interface, scored with the same metrics.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.exceptions import NotFittedError
from sklearn.isotonic import IsotonicRegression

#: Registry categories in the bureau's current order of attention (DESIGN §7): most severe first.
REGISTRY_SEVERITY: tuple[str, ...] = ("孤儿", "事实无人抚养儿童", "重病重残儿童", "留守儿童", "低保家庭儿童")
OTHER_REGISTERED_SCORE = 1  # any other registered category (其他困境儿童 …)

_OPS = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


def _check_X(X, columns: Sequence[str] = ()) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"X must be a pandas DataFrame with named columns, got {type(X).__name__}")
    missing = [c for c in columns if c not in X.columns]
    if missing:
        raise ValueError(f"X lacks columns {missing}")
    return X


def _check_y(y, n: int) -> np.ndarray:
    arr = pd.Series(y).to_numpy(dtype="float64", na_value=np.nan)
    if len(arr) != n:
        raise ValueError(f"y has {len(arr)} rows, X has {n}")
    if np.isnan(arr).any() or not np.isin(arr, (0.0, 1.0)).all():
        raise ValueError("y must be 0/1 without missing values")
    return arr


def _proba2(p1: np.ndarray) -> np.ndarray:
    p1 = np.clip(np.asarray(p1, dtype="float64"), 0.0, 1.0)
    return np.column_stack([1.0 - p1, p1])


class _LevelRates:
    """Observed positive rate per discrete level (smoothed toward the prior with 1 pseudo-case)."""

    def fit(self, levels: np.ndarray, y: np.ndarray) -> _LevelRates:
        self.prior_ = float(y.mean()) if len(y) else 0.0
        df = pd.DataFrame({"level": levels, "y": y})
        g = df.groupby("level", dropna=False)["y"].agg(["sum", "count"])
        self.rates_ = ((g["sum"] + self.prior_) / (g["count"] + 1.0)).to_dict()
        return self

    def transform(self, levels: np.ndarray) -> np.ndarray:
        return pd.Series(levels).map(self.rates_).fillna(self.prior_).to_numpy(dtype="float64")


class Baseline:
    """Common interface; subclasses define :meth:`rank_score` and the fitted probability map."""

    name: str = "baseline"

    def fit(self, X: pd.DataFrame, y) -> Baseline:  # pragma: no cover - overridden
        raise NotImplementedError

    def rank_score(self, X: pd.DataFrame) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def _require_fitted(self, attr: str) -> None:
        if not hasattr(self, attr):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit(X, y) first")

    def describe(self) -> dict:
        """JSON-serializable parameters of the baseline (logged to MLflow)."""
        return {"name": self.name}


class PriorRate(Baseline):
    """Everyone gets the training prevalence; the list order among the ties is random.

    ``rank_score`` is constant, so list metrics depend only on the tie order: with ``ties="stochastic"``
    this is a random list, the floor every other ranking must clear.
    """

    name = "prior"

    def fit(self, X: pd.DataFrame, y) -> PriorRate:
        X = _check_X(X)
        self.prevalence_ = float(_check_y(y, len(X)).mean())
        return self

    def rank_score(self, X: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(_check_X(X)))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        self._require_fitted("prevalence_")
        return _proba2(np.full(len(_check_X(X)), self.prevalence_))

    def describe(self) -> dict:
        return {"name": self.name, "prevalence": getattr(self, "prevalence_", None)}


class OneFeatureRank(Baseline):
    """Rank by one named feature (e.g. months since both parents left).

    Parameters
    ----------
    feature : str
        Column of X. Missing values rank last.
    direction : {+1, -1}
        +1: higher value = earlier on the list.

    Notes
    -----
    ``predict_proba`` is an isotonic map of the feature fitted on the training rows (rows with a missing
    value get the training rate among missing rows); the ranking is the feature itself.
    """

    name = "one_feature_rank"

    def __init__(self, feature: str, direction: int = 1):
        if direction not in (1, -1):
            raise ValueError("direction must be +1 or -1")
        self.feature = feature
        self.direction = direction

    def rank_score(self, X: pd.DataFrame) -> np.ndarray:
        X = _check_X(X, [self.feature])
        return self.direction * X[self.feature].to_numpy(dtype="float64", na_value=np.nan)

    def fit(self, X: pd.DataFrame, y) -> OneFeatureRank:
        X = _check_X(X, [self.feature])
        y = _check_y(y, len(X))
        v = self.rank_score(X)
        ok = ~np.isnan(v)
        self.prior_ = float(y.mean()) if len(y) else 0.0
        self.missing_rate_ = float(y[~ok].mean()) if (~ok).any() else self.prior_
        self.iso_ = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        if ok.sum() >= 2:
            self.iso_.fit(v[ok], y[ok])
        else:
            self.iso_ = None
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        self._require_fitted("prior_")
        v = self.rank_score(X)
        p = np.full(len(v), self.missing_rate_)
        ok = ~np.isnan(v)
        if self.iso_ is not None and ok.any():
            p[ok] = self.iso_.predict(v[ok])
        elif ok.any():
            p[ok] = self.prior_
        return _proba2(p)

    def describe(self) -> dict:
        return {"name": self.name, "feature": self.feature, "direction": self.direction}


def best_single_feature(X: pd.DataFrame, y, candidates: Sequence[str]) -> tuple[str, int]:
    """Feature (and direction) with the highest training ROC AUC, for when the named one is absent.

    Returns
    -------
    (feature, direction)
    """
    from models.metrics import roc_auc

    y = _check_y(y, len(X))
    best, best_auc, best_dir = None, -1.0, 1
    for c in candidates:
        v = X[c].to_numpy(dtype="float64", na_value=np.nan)
        if np.all(np.isnan(v)):
            continue
        auc = roc_auc(y, v)
        if math.isnan(auc):
            continue
        d = 1 if auc >= 0.5 else -1
        a = max(auc, 1 - auc)
        if a > best_auc:
            best, best_auc, best_dir = c, a, d
    if best is None:
        raise ValueError("no candidate feature has a defined AUC")
    return best, best_dir


class RegistryCategoryRule(Baseline):
    """The bureau's current rule: registered children first, by category severity.

    Order: 孤儿 > 事实无人抚养儿童 > 重病重残儿童 > 留守儿童 > 低保家庭儿童 > 其他 (any other registered
    category) > not registered. Within a category the order is a tie (reported best/worst/stochastic).

    Parameters
    ----------
    column : str
        Column holding the active registry category at the as-of date (None/NaN = not registered).
    severity : sequence of str
        Categories, most severe first.
    """

    name = "registry_rule"

    def __init__(self, column: str = "registry_category", severity: Sequence[str] = REGISTRY_SEVERITY):
        self.column = column
        self.severity = tuple(severity)

    def rank_score(self, X: pd.DataFrame) -> np.ndarray:
        X = _check_X(X, [self.column])
        cat = X[self.column].astype("string")
        n_levels = len(self.severity)
        score_of = {c: OTHER_REGISTERED_SCORE + n_levels - i for i, c in enumerate(self.severity)}
        registered = cat.notna() & (cat.str.strip() != "")
        s = cat.map(score_of).astype("float64")
        s = s.where(s.notna(), np.where(registered.fillna(False), OTHER_REGISTERED_SCORE, 0.0))
        return s.to_numpy(dtype="float64")

    def fit(self, X: pd.DataFrame, y) -> RegistryCategoryRule:
        X = _check_X(X, [self.column])
        self.rates_ = _LevelRates().fit(self.rank_score(X), _check_y(y, len(X)))
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        self._require_fitted("rates_")
        return _proba2(self.rates_.transform(self.rank_score(X)))

    def describe(self) -> dict:
        return {"name": self.name, "column": self.column, "severity": list(self.severity)}


@dataclass(frozen=True)
class Indicator:
    """One checklist row: ``points`` when ``feature operator threshold`` holds."""

    id: str
    group: str
    indicator_zh: str
    feature: str
    operator: str
    threshold: float
    points: float


def load_checklist(path: str | Path | None = None) -> dict:
    """Read the expert checklist (default: ``models/checklist.yaml``) and validate it.

    Returns
    -------
    dict
        The YAML content with ``indicators`` as a DataFrame (columns of :class:`Indicator`).

    Raises
    ------
    ValueError
        Unknown operator or group, duplicate id, non-positive points, levels not descending.
    """
    if path is None:
        text = resources.files("models").joinpath("checklist.yaml").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    spec = yaml.safe_load(text)
    ind = pd.DataFrame(spec["indicators"])
    need = {"id", "group", "indicator_zh", "feature", "operator", "threshold", "points"}
    if need - set(ind.columns):
        raise ValueError(f"checklist indicators lack fields {sorted(need - set(ind.columns))}")
    bad_ops = set(ind["operator"]) - set(_OPS)
    if bad_ops:
        raise ValueError(f"checklist uses unknown operators {sorted(bad_ops)}; allowed {sorted(_OPS)}")
    bad_groups = set(ind["group"]) - set(spec["groups"])
    if bad_groups:
        raise ValueError(f"checklist uses undeclared groups {sorted(bad_groups)}")
    if ind["id"].duplicated().any():
        raise ValueError(f"duplicate checklist ids {sorted(ind.loc[ind['id'].duplicated(), 'id'])}")
    if (ind["points"] <= 0).any():
        raise ValueError("checklist points must be positive")
    mins = [lv["min_points"] for lv in spec["levels"]]
    if mins != sorted(mins, reverse=True) or mins[-1] != 0:
        raise ValueError("checklist levels must be ordered by descending min_points, ending at 0")
    spec["indicators"] = ind
    return spec


class ExpertChecklist(Baseline):
    """The expert points checklist: indicators in three groups, points summed, graded into four levels.

    District child-protection systems score children this way, e.g. 宁波市鄞州区's 困境儿童风险评估
    uses 3 groups (儿童自身 / 家庭监护 / 环境与支持) × about 30 indicators whose points are summed and
    cut into 极危/高危/中危/低危. The indicators, points and cut-offs of ``models/checklist.yaml`` were
    written down before training and are never fitted (DESIGN §7): ``fit`` only records the observed
    rate per level for ``predict_proba``; the ranking is the total of points.

    Parameters
    ----------
    spec : dict, optional
        Output of :func:`load_checklist` (default: the packaged checklist).

    Attributes
    ----------
    missing_features_ : list of str
        Features named by the checklist that were absent from the last X scored (those indicators
        scored 0). Reported in the evaluation, never silently dropped.
    """

    name = "checklist"

    def __init__(self, spec: dict | None = None):
        self.spec = spec if spec is not None else load_checklist()
        self.indicators: pd.DataFrame = self.spec["indicators"]
        self.missing_features_: list[str] = []

    def missing_features(self, X: pd.DataFrame) -> list[str]:
        """Checklist features absent from ``X`` (sorted, unique)."""
        return sorted(set(self.indicators["feature"]) - set(_check_X(X).columns))

    def points(self, X: pd.DataFrame) -> pd.DataFrame:
        """Points per group, total and level of every row.

        Parameters
        ----------
        X : DataFrame, shape (n, ·)

        Returns
        -------
        DataFrame, shape (n, n_groups + 2)
            One column per group (points), ``total`` and ``level`` (极危/高危/中危/低危), index of X.
        """
        X = _check_X(X)
        self.missing_features_ = self.missing_features(X)
        out = pd.DataFrame(0.0, index=X.index, columns=list(self.spec["groups"]))
        for row in self.indicators.itertuples(index=False):
            if row.feature not in X.columns:
                continue
            v = X[row.feature].to_numpy(dtype="float64", na_value=np.nan)
            with np.errstate(invalid="ignore"):
                hit = _OPS[row.operator](v, float(row.threshold)) & ~np.isnan(v)
            out[row.group] += hit * float(row.points)
        out["total"] = out[list(self.spec["groups"])].sum(axis=1)
        out["level"] = self.level(out["total"].to_numpy())
        return out

    def level(self, total: np.ndarray) -> np.ndarray:
        """Grade totals into the checklist's levels (first level whose ``min_points`` is reached)."""
        total = np.asarray(total, dtype="float64")
        levels = np.full(len(total), self.spec["levels"][-1]["level"], dtype=object)
        for lv in reversed(self.spec["levels"][:-1]):
            levels[total >= lv["min_points"]] = lv["level"]
        return levels

    def rank_score(self, X: pd.DataFrame) -> np.ndarray:
        return self.points(X)["total"].to_numpy(dtype="float64")

    def fit(self, X: pd.DataFrame, y) -> ExpertChecklist:
        X = _check_X(X)
        self.rates_ = _LevelRates().fit(self.rank_score(X), _check_y(y, len(X)))
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        self._require_fitted("rates_")
        return _proba2(self.rates_.transform(self.rank_score(X)))

    def describe(self) -> dict:
        return {
            "name": self.name,
            "version": self.spec.get("version"),
            "written": self.spec.get("written"),
            "n_indicators": len(self.indicators),
            "missing_features": list(self.missing_features_),
        }
