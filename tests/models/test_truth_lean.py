"""The simulation-only evaluation inputs made lean (issue 8: at 2,000,000 children the truth's 58.7 M
rows and the join of every row with every event month took the models step to 18.5 GB). The new
``true_outcomes`` and ``true_risk_score`` must give exactly what the old ones gave, kept here as the
reference, on random truths with the edge cases: as-of dates on a month's last day, rows before the
truth's first month, children absent from the truth, unknown states, str or categorical tokens."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.labels import true_outcomes
from models.oracle import _month_index, true_risk_score


def _old_true_outcomes(truth, rows, target, label_timespan_days=180):
    if target == "guardianship_risk":
        flag = (truth["guardianship_state"] >= 2) | truth["guardianship_failure_event"].astype(bool)
    else:
        flag = truth["true_left_behind"].astype(bool)
    events = truth.loc[flag, ["child_token", "month"]].copy()
    events["child_token"] = events["child_token"].astype(str)
    events["month"] = pd.to_datetime(events["month"])
    r = rows[["child_token", "as_of_date"]].copy()
    r["_row"] = range(len(r))
    r["as_of_date"] = pd.to_datetime(r["as_of_date"])
    m = r.merge(events, on="child_token", how="inner")
    end = m["as_of_date"] + pd.Timedelta(days=label_timespan_days)
    month_end = m["month"] + pd.offsets.MonthEnd(0)
    hit = (month_end > m["as_of_date"]) & (m["month"] <= end)
    out = pd.Series(0, index=range(len(r)), dtype="int8")
    out.iloc[m.loc[hit, "_row"].unique()] = 1
    out.index = rows.index
    return out


def _old_true_risk_score(truth, rows, target):
    need = ["child_token", "month"] + (
        ["guardianship_state", "maltreated"] if target == "guardianship_risk" else ["true_left_behind"])
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
    as_of = pd.to_datetime(rows["as_of_date"]) - pd.Timedelta(days=1)
    now = _month_index(as_of) - m0
    ok = (r_child >= 0) & (now >= 0) & (now < n_months)
    rc, nw = r_child[ok], now[ok]

    def window_mean(k):
        vals = np.stack([a[rc, np.clip(nw - j, 0, None)] for j in range(k)], axis=1)
        vals[(nw[:, None] - np.arange(k)[None, :]) < 0] = np.nan
        with np.errstate(invalid="ignore"), _quiet():
            mean = np.nanmean(vals, axis=1) if vals.size else np.zeros(len(rc))
        return np.nan_to_num(mean)

    cur = np.nan_to_num(a[rc, nw])
    if target == "guardianship_risk":
        out[ok] = cur + 0.5 * b[rc, nw] + 0.25 * window_mean(6)
    else:
        out[ok] = cur + 0.5 * window_mean(12)
    return pd.Series(out, index=rows.index, name="oracle_score")


class _quiet:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)


def _random_case(seed: int, categorical: bool):
    rng = np.random.default_rng(seed)
    n_children, months = 60, pd.date_range("2023-01-01", periods=24, freq="MS")
    kids = [f"P_k1_{i:020x}" for i in range(n_children)]
    rows_t = []
    for k in kids:
        start = rng.integers(0, 12)  # born, or arrived, later for some
        for m in months[start:]:
            if rng.random() < 0.05:
                continue  # a month missing from the truth
            rows_t.append((k, m, int(rng.integers(0, 4)), bool(rng.random() < 0.2), bool(rng.random() < 0.1),
                           bool(rng.random() < 0.05)))
    truth = pd.DataFrame(rows_t, columns=["child_token", "month", "guardianship_state", "true_left_behind",
                                          "maltreated", "guardianship_failure_event"])
    truth.loc[rng.random(len(truth)) < 0.03, "guardianship_state"] = np.nan  # unknown state
    if categorical:
        truth["child_token"] = truth["child_token"].astype("category")
    as_of = [*pd.date_range("2022-11-01", "2025-03-01", freq="MS"), pd.Timestamp("2024-03-31"),
             pd.Timestamp("2024-02-29"), pd.Timestamp("2024-06-15")]
    n = 400
    rows = pd.DataFrame({
        "child_token": rng.choice([*kids, "P_k1_absent0000000000000"], n),
        "as_of_date": [as_of[i].date() for i in rng.integers(0, len(as_of), n)],
    }, index=rng.permutation(np.arange(1000, 1000 + n)))
    return truth, rows


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("categorical", [False, True])
@pytest.mark.parametrize("target", ["guardianship_risk", "left_behind_risk"])
def test_lean_truth_inputs_equal_the_old_ones(seed, categorical, target):
    truth, rows = _random_case(seed, categorical)
    for span in (30, 180, 365):
        new, old = true_outcomes(truth, rows, target, span), _old_true_outcomes(truth, rows, target, span)
        pd.testing.assert_series_equal(new, old, check_names=False)
        assert 0 < new.sum() < len(new)
    new, old = true_risk_score(truth, rows, target), _old_true_risk_score(truth, rows, target)
    pd.testing.assert_series_equal(new, old)
    assert (new > 0).any() and (new == 0).any()


def test_load_truth_gives_one_category_per_child(tmp_path):
    """Two written forms of one resident ID (18 digits, and the 15-digit form) are one child: one token,
    one category; the rows stay in file order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from privacy.identifiers import ric_check_char
    from privacy.tokens import Pseudonymizer
    from privacy.truth import TRUTH_FILE, load_truth

    body = "33010619990101001"
    long_id = body + ric_check_char(body)
    short_id = "330106990101001"  # the same person's 15-digit ID
    other = "33010620110202002"
    other += ric_check_char(other)
    pq.write_table(pa.table({"id_number": [long_id, short_id, other, "bad"],
                             "month": pd.to_datetime(["2024-01-01"] * 4).date,
                             "guardianship_state": [0, 1, 2, 3]}), tmp_path / TRUTH_FILE)
    pz = Pseudonymizer(b"k" * 32, 1)
    out = load_truth(tmp_path, pz)
    assert isinstance(out["child_token"].dtype, pd.CategoricalDtype)
    assert len(out["child_token"].cat.categories) == 2
    assert out["child_token"].astype(str).tolist() == [pz.token("P", long_id)] * 2 + [pz.token("P", other)]
    assert out["guardianship_state"].tolist() == [0, 1, 2] and out.attrs["dropped_invalid_ids"] == 1
