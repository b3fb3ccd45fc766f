"""Simulation only: the oracle ranking — the simulator's TRUE risk at the as-of date (issue 5).

The honest ceiling of a list: what a director who could see each household's hidden state would
visit. It uses only the truth **at or before** the as-of date (the state the city is in when the list
is made), never the label window, so it is a ranking a perfect observer could have made, not a
label leak. It is evaluated with the same metrics as the model (observed labels and true outcomes)
by :func:`models.evaluate.evaluate_target`.

Definition (``month_now`` = the last complete month before the as-of date: as-of 2025-07-01 → June):

guardianship_risk
    ``state_now + 0.5 × maltreated_now + 0.25 × mean(state over the 6 months up to month_now)``,
    with the latent guardianship state 0 adequate … 3 absent (docs/interfaces.md §1). Higher = visit
    first; the recent history breaks ties between children in the same state (a household that has
    been strained for months is likelier to fail in the window than one that just became strained).
left_behind_risk
    ``true_left_behind_now + (months truly left behind in the 12 months up to month_now) / 12 × 0.5``.

Children absent from the truth get 0. The input is the tokenized truth of
:func:`privacy.truth.load_truth` (the only reader of the truth file); nothing here opens a file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ORACLE_DEFINITIONS: dict[str, str] = {
    "guardianship_risk": (
        "true latent guardianship state (0-3) in the last complete month before the as-of date "
        "+ 0.5 x maltreated that month + 0.25 x mean state over the 6 months up to it"
    ),
    "left_behind_risk": (
        "truly left behind in the last complete month before the as-of date (0/1) "
        "+ 0.5 x share of the 12 months up to it truly left behind"
    ),
}


def _month_index(ts) -> np.ndarray:
    t = pd.DatetimeIndex(pd.to_datetime(ts))
    return (t.year * 12 + t.month - 1).to_numpy(dtype=np.int64)


def true_risk_score(truth: pd.DataFrame, rows: pd.DataFrame, target: str) -> pd.Series:
    """The oracle's score of each row (higher = truly riskier at the as-of date).

    Parameters
    ----------
    truth : DataFrame
        Tokenized ground truth (:func:`privacy.truth.load_truth`): ``child_token, month,
        guardianship_state, true_left_behind, maltreated`` (one row per child and month).
    rows : DataFrame
        ``child_token, as_of_date`` (any index; the result keeps it).
    target : {"guardianship_risk", "left_behind_risk"}

    Returns
    -------
    Series of float64, index of ``rows``; see the module docstring for the formula.
    """
    if target not in ORACLE_DEFINITIONS:
        raise ValueError(f"unknown target {target!r}")
    need = ["child_token", "month"] + (
        ["guardianship_state", "maltreated"] if target == "guardianship_risk" else ["true_left_behind"]
    )
    missing = [c for c in need if c not in truth.columns]
    if missing:
        raise ValueError(f"truth lacks columns {missing}")
    tokens = pd.Index(rows["child_token"].astype(str).unique())
    t = truth.loc[truth["child_token"].astype(str).isin(tokens), need]
    out = np.zeros(len(rows), dtype="float64")
    if t.empty or len(rows) == 0:
        return pd.Series(out, index=rows.index, name="oracle_score")
    m_idx = _month_index(t["month"])
    m0 = int(m_idx.min())
    n_months = int(m_idx.max()) - m0 + 1
    child = tokens.get_indexer(t["child_token"].astype(str))
    if target == "guardianship_risk":
        a = np.full((len(tokens), n_months), np.nan)
        a[child, m_idx - m0] = t["guardianship_state"].to_numpy(dtype="float64")
        b = np.zeros((len(tokens), n_months))
        b[child, m_idx - m0] = t["maltreated"].astype(bool).to_numpy(dtype="float64")
    else:
        a = np.full((len(tokens), n_months), np.nan)
        a[child, m_idx - m0] = t["true_left_behind"].astype(bool).to_numpy(dtype="float64")
        b = None
    r_child = tokens.get_indexer(rows["child_token"].astype(str))
    as_of = pd.to_datetime(rows["as_of_date"]) - pd.Timedelta(days=1)  # last complete month
    now = _month_index(as_of) - m0
    ok = (r_child >= 0) & (now >= 0) & (now < n_months)
    rc, nw = r_child[ok], now[ok]

    def window_mean(k: int) -> np.ndarray:
        vals = np.stack([a[rc, np.clip(nw - j, 0, None)] for j in range(k)], axis=1)
        vals[(nw[:, None] - np.arange(k)[None, :]) < 0] = np.nan
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(vals, axis=1) if vals.size else np.zeros(len(rc))
        return np.nan_to_num(mean)

    cur = np.nan_to_num(a[rc, nw])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows (child not yet born) → 0
        if target == "guardianship_risk":
            out[ok] = cur + 0.5 * b[rc, nw] + 0.25 * window_mean(6)
        else:
            out[ok] = cur + 0.5 * window_mean(12)
    return pd.Series(out, index=rows.index, name="oracle_score")
