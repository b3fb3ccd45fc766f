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

    Returns
    -------
    DataFrame, shape (n, 13)
        Columns :data:`SCORE_COLUMNS`, sorted by community and rank.

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
    raw = booster.predict(X, num_threads=2) if len(X) else np.zeros(0)
    score = calibrator.transform(raw)

    community = features_df["community"].astype(str).to_numpy()
    cap = pd.Series(capacity_by_community)
    k = cap.reindex(pd.Index(community)).to_numpy(dtype="float64", na_value=np.nan)
    if np.isnan(k).any():
        lacking = sorted(set(community[np.isnan(k)]))
        raise ValueError(f"no capacity for communities {lacking[:10]}")
    codes, _ = pd.factorize(community)
    token_order = pd.factorize(features_df["child_token"].astype(str), sort=True)[0]
    _, rank = list_order(raw, codes, token_order)
    vent = ventiles(raw)

    out = pd.DataFrame(
        {
            "child_token": features_df["child_token"].to_numpy(),
            "as_of_date": features_df["as_of_date"].to_numpy(),
            "target": target,
            "community": community,
            "township": features_df["township"].to_numpy(),
            "district": features_df["district"].to_numpy(),
            "score": score.astype("float64"),
            "ventile": vent.astype("int64"),
            "risk_level": risk_level(vent, levels) if len(vent) else np.array([], dtype=object),
            "rank_in_community": rank.astype("int64"),
            "capacity": k.astype("int64"),
        }
    )
    reasons = [[] for _ in range(len(out))]
    reason_features = [[] for _ in range(len(out))]
    short = np.flatnonzero(rank <= shortlist_factor * k)
    if len(short):
        ex = explain_rows(
            booster,
            features_df.iloc[short],
            feature_dictionary,
            top_n=top_n_reasons,
            need_prefix_zh=need_prefix_zh,
        )
        for pos, r, f in zip(short, ex["reasons"], ex["reason_features"], strict=True):
            reasons[pos] = r
            reason_features[pos] = f
    out["reasons"] = reasons
    out["reason_features"] = reason_features
    return out.sort_values(["community", "rank_in_community"], ignore_index=True)[SCORE_COLUMNS]
