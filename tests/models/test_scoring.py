"""score_cycle: the scores table of docs/interfaces.md §4; reasons only on the shortlist; speed."""

import time

import numpy as np
import pandas as pd

from models.capacity import capacity_for_date
from models.scoring import SCORE_COLUMNS, score_cycle


def test_scores_table(trained, matrix, dictionary, capacity, tmp_path):
    as_of = max(matrix["as_of_date"])
    rows = matrix[matrix["as_of_date"] == as_of]
    cap = capacity_for_date(capacity, as_of)
    s = score_cycle(trained.final, None, rows, cap, dictionary, target="guardianship_risk")
    assert list(s.columns) == SCORE_COLUMNS
    assert len(s) == len(rows) and s["child_token"].is_unique
    assert s["ventile"].between(1, 20).all() and s["score"].between(0, 1).all()
    for comm, g in s.groupby("community"):
        assert g["rank_in_community"].tolist() == list(range(1, len(g) + 1))
        k = cap[comm]
        assert (g.loc[g["rank_in_community"] <= 3 * k, "reasons"].map(len) > 0).all()
        assert (g.loc[g["rank_in_community"] > 3 * k, "reasons"].map(len) == 0).all()
    top = s[s["ventile"] >= 19]
    assert set(top["risk_level"]) == {"极危"}
    # same input, same list
    again = score_cycle(
        trained.final.booster,
        trained.final.calibrator.to_dict(),
        rows,
        cap,
        dictionary,
        target="guardianship_risk",
    )
    pd.testing.assert_frame_equal(s, again)
    assert isinstance(s["reasons"].iloc[0], list) and s["reasons"].iloc[-1] == []
    s.to_parquet(tmp_path / "scores.parquet")
    back = pd.read_parquet(tmp_path / "scores.parquet")
    assert list(back["reasons"].iloc[0]) == s["reasons"].iloc[0]


def test_scoring_is_vectorized(trained, matrix, dictionary):
    rows = matrix[matrix["as_of_date"] == max(matrix["as_of_date"])]
    big = rows.sample(100_000, replace=True, random_state=0).reset_index(drop=True)
    big["child_token"] = [f"P_k1_{i:020x}" for i in range(len(big))]
    cap = pd.Series(1, index=big["community"].unique())
    t = time.perf_counter()
    s = score_cycle(trained.final, None, big, cap, dictionary, target="guardianship_risk", shortlist_factor=1)
    elapsed = time.perf_counter() - t
    assert len(s) == 100_000
    assert elapsed < 10, f"scoring 100k rows took {elapsed:.1f}s"
    assert np.isfinite(s["score"]).all()
