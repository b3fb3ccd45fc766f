"""Score one cycle: calibrated probability, city-wide ventile, level, rank in community, reasons.

Output: the ``scores`` table of docs/interfaces.md §4, one row per child of the target's cohort::

    child_token, as_of_date, target, community, township, district, score (calibrated probability),
    ventile (1–20, city-wide), risk_level, rank_in_community (1 = visit first), capacity (K of the
    community), reasons (list of str, top 3, Chinese, with evidence), reason_features (list of str)

Order within a community: the model's raw score, highest first; equal raw scores are ordered by
``child_token`` (deterministic: the same data give the same list). Ventiles use the raw score as well
(the calibration map is monotone, so the order is the calibrated order without isotonic plateaus).
Exploration (DESIGN §6, selective labels): with ``exploration_share`` > 0, ``round(share × K)`` of each
community's K places (half up; e.g. 1 of 10 at share 0.1) go to children drawn at random (seeded)
among the community's **unvisited** children — no visit in the ``unvisited_days`` (default 365) before
the as-of date, or never — who are not already among the model's picks. The model keeps the first
``K − e`` places; the drawn children take places ``K − e + 1 … K``; everyone else follows in model order.
The table then carries a ``selection`` column: ``模型排序`` or ``随机抽选`` (lists show the latter as
randomly chosen, and their visits give labels about children the model would never rank). A community
with fewer unvisited candidates than ``e`` keeps the model's picks for the rest. With the default share 0
nothing changes and no ``selection`` column is added.
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
    exploration_share: float = 0.0,
    exploration_seed: int = 0,
    unvisited_days: int = 365,
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
    exploration_share : float in [0, 0.5]
        Share of each community's K places given to randomly drawn unvisited children (module
        docstring); 0 (default) = none. Configuration: ``capacity.exploration_share``.
    exploration_seed : int
        Seed of the draw (use the cycle's seed so a list can be reproduced).
    unvisited_days : int
        A child is unvisited when ``last_visit_date`` is missing or older than this many days.

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
    explored = None
    if exploration_share > 0:
        rank, explored = explore(
            rank, codes, k, features_df, exploration_share, exploration_seed, unvisited_days
        )
        order = np.lexsort((rank, codes))
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
    cols = list(SCORE_COLUMNS)
    if explored is not None:
        out["selection"] = np.where(explored, EXPLORATION_ZH, MODEL_SELECTION_ZH)
        cols.append("selection")
    return out.take(order).reset_index(drop=True)[cols]


EXPLORATION_ZH = "随机抽选"
MODEL_SELECTION_ZH = "模型排序"


def explore(
    rank: np.ndarray,
    codes: np.ndarray,
    k: np.ndarray,
    features_df: pd.DataFrame,
    share: float,
    seed: int,
    unvisited_days: int = 365,
) -> tuple[np.ndarray, np.ndarray]:
    """Give ``round(share × K_c)`` places of each community to random unvisited children.

    Parameters
    ----------
    rank : ndarray of int, shape (n,)
        Model rank within the community (1 = first).
    codes : ndarray of int, shape (n,)
        Community code per row.
    k : ndarray of int, shape (n,)
        The community's K per row.
    features_df : DataFrame
        ``as_of_date`` and (optional) ``last_visit_date``; without it every child counts as unvisited.
    share : float in [0, 0.5]
    seed : int
    unvisited_days : int

    Returns
    -------
    new_rank : ndarray of int, shape (n,)
        Ranks with the drawn children at ``K − e + 1 … K``.
    explored : ndarray of bool, shape (n,)
        True for the drawn children.
    """
    if not 0 <= share <= 0.5:
        raise ValueError("exploration_share must lie in [0, 0.5]")
    n = len(rank)
    e = np.floor(share * k + 0.5).astype(np.int64)
    if "last_visit_date" in features_df.columns:
        last = pd.to_datetime(features_df["last_visit_date"]).to_numpy()
        as_of = pd.to_datetime(features_df["as_of_date"]).to_numpy()
        unvisited = np.isnat(last) | (last < as_of - np.timedelta64(int(unvisited_days), "D"))
    else:
        unvisited = np.ones(n, dtype=bool)
    keep = rank <= k - e  # the model's places
    key = np.random.default_rng(seed).random(n)
    cand = unvisited & ~keep
    # among candidates: the e_c with the smallest random key per community
    cand_key = np.where(cand, key, np.inf)
    order = np.lexsort((cand_key, codes))
    g = codes[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if n else np.array([], dtype=int)
    pos = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    pick_sorted = (pos < e[order]) & np.isfinite(cand_key[order])
    explored = np.zeros(n, dtype=bool)
    explored[order[pick_sorted]] = True
    # new ranks: model places first, then the drawn children (random order), then the rest by model rank
    tier = np.where(keep, 0, np.where(explored, 1, 2))
    sub = np.where(explored, key, rank.astype("float64"))
    new_order = np.lexsort((sub, tier, codes))
    g2 = codes[new_order]
    starts2 = np.flatnonzero(np.r_[True, g2[1:] != g2[:-1]]) if n else np.array([], dtype=int)
    new_rank = np.empty(n, dtype=np.int64)
    new_rank[new_order] = np.arange(n) - np.repeat(starts2, np.diff(np.r_[starts2, n])) + 1
    return new_rank, explored


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
