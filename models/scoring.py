"""Score one cycle: calibrated probability, city-wide ventile, level, rank in community, reasons.

Output: the ``scores`` table of docs/interfaces.md §4, one row per child of the target's cohort::

    child_token, as_of_date, target, community, township, district, score (calibrated probability),
    ventile (1–20, city-wide), risk_level, rank_in_community (1 = visit first), capacity (K of the
    community), reasons (list of str, top 3, Chinese, with evidence), reason_features (list of str)

Order within a community: the model's raw score, highest first; equal raw scores are ordered by
``child_token`` (deterministic: the same data give the same list). Ventiles use the raw score as well
(the calibration map is monotone, so the order is the calibrated order without isotonic plateaus).
Reasons are computed only for each community's shortlist (``rank_in_community <= shortlist_factor × K``,
default 3 × K); other rows get empty lists. Everything else is vectorized: 2 million rows score in
seconds on 2 cores (prediction dominates).
"""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence

import lightgbm as lgb
import numpy as np
import pandas as pd

from models.explain import DEFAULT_NEED_PREFIX_ZH, explain_rows
from models.metrics import list_order
from models.train import DEFAULT_LEVELS, Calibrator, FittedModel, risk_level, to_float32, ventiles

SCORE_COLUMNS: list[str] = [
    "child_token", "as_of_date", "target", "community", "township", "district", "score", "ventile",
    "risk_level", "rank_in_community", "capacity", "reasons", "reason_features",
]  # fmt: skip
REQUIRED_COLUMNS = ("child_token", "as_of_date", "community", "township", "district")


def score_cycle(
    model: lgb.Booster | FittedModel,
    calibrator: Calibrator | Mapping | None,
    features_df: pd.DataFrame,
    capacity_by_community: Mapping[str, int] | pd.Series,
    feature_dictionary: pd.DataFrame,
    levels: Mapping[str, Sequence[int]] = DEFAULT_LEVELS,
    *,
    target: str,
    shortlist_factor: float = 3.0,
    top_n_reasons: int = 3,
    need_prefix_zh: str = DEFAULT_NEED_PREFIX_ZH,
    num_threads: int = 2,
) -> pd.DataFrame:
    """Scores of one target for one cycle (one as-of date).

    Parameters
    ----------
    model : lightgbm.Booster or FittedModel
        The champion; its ``feature_name()`` columns are read from ``features_df``.
    calibrator : Calibrator or dict or None
        Raw → calibrated probability (``FittedModel.calibrator``; a dict from ``Calibrator.to_dict``);
        None uses the model's own calibrator when ``model`` is a FittedModel.
    features_df : DataFrame, shape (n, ·)
        The cohort's features at one as-of date (docs/interfaces.md §3).
    capacity_by_community : mapping or Series, community -> K
        From :func:`models.capacity.capacity_per_community`; every community of ``features_df`` needs one.
    feature_dictionary : DataFrame
        For the reason phrases.
    levels : mapping, level -> (lo, hi) ventiles
        Default 极危 19–20, 高危 16–18, 中危 11–15, 低危 1–10.
    target : str
        Written to the ``target`` column.
    shortlist_factor : float
        Reasons for ``rank_in_community <= shortlist_factor × K``.
    top_n_reasons : int
    need_prefix_zh : str
    num_threads : int
        LightGBM prediction threads (default 2).

    Returns
    -------
    DataFrame, shape (n, 13)
        Columns :data:`SCORE_COLUMNS`, sorted by community and rank; ``reasons`` and
        ``reason_features`` hold Python lists of str (Parquet ``list<string>``).

    Raises
    ------
    ValueError
        Missing columns or features, several as-of dates, a community without capacity.
    """
    booster = model.booster if isinstance(model, FittedModel) else model
    if calibrator is None:
        if not isinstance(model, FittedModel):
            raise ValueError("calibrator is required when model is a bare Booster")
        calibrator = model.calibrator
    if isinstance(calibrator, Mapping):
        calibrator = Calibrator.from_dict(calibrator)
    missing = [c for c in REQUIRED_COLUMNS if c not in features_df.columns]
    if missing:
        raise ValueError(f"features_df lacks columns {missing}")
    if features_df["as_of_date"].nunique(dropna=False) > 1:
        raise ValueError("score_cycle scores one as-of date; split features_df by as_of_date first")

    names = list(booster.feature_name())
    X = to_float32(features_df, names)
    raw = booster.predict(X, num_threads=num_threads) if len(X) else np.zeros(0)
    del X
    score = calibrator.transform(raw)

    # communities sorted by name: one lexsort yields the output order (community, rank)
    codes, communities = pd.factorize(features_df["community"].astype(str), sort=True)
    k_by_code = (
        pd.Series(capacity_by_community).reindex(communities).to_numpy(dtype="float64", na_value=np.nan)
    )
    if np.isnan(k_by_code).any():
        lacking = sorted(communities[np.isnan(k_by_code)])
        raise ValueError(f"no capacity for communities {lacking[:10]}")
    k = k_by_code[codes].astype("int64")
    token_order = pd.factorize(features_df["child_token"], sort=True)[0]
    order, rank = list_order(raw, codes, token_order)
    vent = ventiles(raw)

    short = np.flatnonzero(rank <= shortlist_factor * k)
    reasons, reason_features = _reason_columns(
        booster, features_df, short, len(raw), feature_dictionary, top_n_reasons, need_prefix_zh, num_threads
    )
    out = pd.DataFrame(
        {
            "child_token": features_df["child_token"].array,
            "as_of_date": features_df["as_of_date"].array,
            "target": target,
            "community": features_df["community"].array,
            "township": features_df["township"].array,
            "district": features_df["district"].array,
            "score": score.astype("float64"),
            "ventile": vent.astype("int64"),
            "risk_level": risk_level(vent, levels) if len(vent) else np.array([], dtype=object),
            "rank_in_community": rank.astype("int64"),
            "capacity": k,
            "reasons": reasons,
            "reason_features": reason_features,
        }
    )
    return out.take(order).reset_index(drop=True)[SCORE_COLUMNS]


def _list_column(lists: list[list[str]], rows: np.ndarray, n: int) -> np.ndarray:
    """Object column of length n holding Python lists: ``lists[i]`` at ``rows[i]``, ``[]`` elsewhere.

    Millions of small lists trigger the cyclic garbage collector over and over; it is paused while
    they are built (they hold only strings, so no cycles are missed).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        col = np.empty(n, dtype=object)
        col[:] = [[] for _ in range(n)]
        for pos, items in zip(rows, lists, strict=True):
            col[pos] = list(items)
    finally:
        if was_enabled:
            gc.enable()
    return col


def _reason_columns(booster, features_df, short, n, feature_dictionary, top_n, need_prefix_zh, num_threads):
    if len(short):
        ex = explain_rows(
            booster,
            features_df.iloc[short],
            feature_dictionary,
            top_n=top_n,
            need_prefix_zh=need_prefix_zh,
            num_threads=num_threads,
        )
        r, f = ex["reasons"].tolist(), ex["reason_features"].tolist()
    else:
        r, f = [], []
    return _list_column(r, short, n), _list_column(f, short, n)
