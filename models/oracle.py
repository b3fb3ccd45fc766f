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
    from features.labels import truth_child_codes

    out = np.zeros(len(rows), dtype="float64")
    t_codes, r_codes, n_children = truth_child_codes(truth["child_token"], rows["child_token"])
    used = np.zeros(n_children + 1, dtype=bool)
    used[r_codes] = True  # (a row child absent from the truth marks the spare last slot)
    keep = (t_codes >= 0) & used[t_codes]
    if not keep.any() or len(rows) == 0:
        return pd.Series(out, index=rows.index, name="oracle_score")
    t = truth.loc[keep, need]
    m_idx = _month_index(t["month"])
    m0 = int(m_idx.min())
    n_months = int(m_idx.max()) - m0 + 1
    # only the rows' children, renumbered: the matrices are (their children × months)
    slot = np.full(n_children, -1, dtype=np.int64)
    kids = np.flatnonzero(used[:n_children])
    slot[kids] = np.arange(len(kids))
    child = slot[t_codes[keep]]
    if target == "guardianship_risk":
        a = np.full((len(kids), n_months), np.nan)
        a[child, m_idx - m0] = t["guardianship_state"].to_numpy(dtype="float64")
        b = np.zeros((len(kids), n_months))
        b[child, m_idx - m0] = t["maltreated"].astype(bool).to_numpy(dtype="float64")
    else:
        a = np.full((len(kids), n_months), np.nan)
        a[child, m_idx - m0] = t["true_left_behind"].astype(bool).to_numpy(dtype="float64")
        b = None
    del t
    r_child = np.where(r_codes >= 0, slot[np.maximum(r_codes, 0)], -1)
    as_of = pd.to_datetime(rows["as_of_date"]) - pd.Timedelta(days=1)  # last complete month
    now = _month_index(as_of) - m0
    ok = (r_child >= 0) & (now >= 0) & (now < n_months)
    rc, nw = r_child[ok], now[ok]
    # a month's sum and count of known values, cumulated over months: the mean of the last k months
    # (those before the first month, and unknown ones, left out; none known → 0) is two lookups per row
    # instead of a (rows × k) block (issue 8: 1 GB at 2,000,000 children)
    known = ~np.isnan(a)
    csum = np.zeros((len(kids), n_months + 1))
    np.cumsum(np.where(known, a, 0.0), axis=1, out=csum[:, 1:])
    ccount = np.zeros((len(kids), n_months + 1), dtype=np.int32)
    np.cumsum(known, axis=1, out=ccount[:, 1:])
    del known

    def window_mean(k: int) -> np.ndarray:
        first = np.maximum(nw - k + 1, 0)
        total = csum[rc, nw + 1] - csum[rc, first]
        count = ccount[rc, nw + 1] - ccount[rc, first]
        return np.divide(total, count, out=np.zeros(len(rc)), where=count > 0)

    cur = np.nan_to_num(a[rc, nw])
    if target == "guardianship_risk":
        out[ok] = cur + 0.5 * b[rc, nw] + 0.25 * window_mean(6)
    else:
        out[ok] = cur + 0.5 * window_mean(12)
    return pd.Series(out, index=rows.index, name="oracle_score")
