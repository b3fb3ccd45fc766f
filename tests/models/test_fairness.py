"""The audit flags an injected ×3 recall disparity and not a balanced one (DESIGN §11.11)."""

import numpy as np
import pandas as pd
import pytest

from models.fairness import AUDIT_COLUMNS, fairness_audit


def _population(tpr_a: float, tpr_b: float, n: int = 1500, prevalence: float = 0.2, seed: int = 0):
    rng = np.random.default_rng(seed)
    group = np.repeat(["A", "B"], n)
    y = np.zeros(2 * n)
    sel = np.zeros(2 * n, dtype=bool)
    for gi, tpr in enumerate((tpr_a, tpr_b)):
        idx = np.arange(gi * n, (gi + 1) * n)
        pos = rng.choice(idx, int(prevalence * n), replace=False)
        y[pos] = 1
        sel[rng.choice(pos, int(tpr * len(pos)), replace=False)] = True
        neg = np.setdiff1d(idx, pos)
        sel[rng.choice(neg, int(0.1 * len(neg)), replace=False)] = True
    attrs = pd.DataFrame({"sex": group, "district": np.where(rng.random(2 * n) < 0.5, "上城区", "淳安县")})
    return y, sel, attrs


def test_injected_three_fold_recall_disparity_is_flagged():
    y, sel, attrs = _population(0.6, 0.2)
    audit = fairness_audit(y, sel, attrs, reference_groups={"sex": "A"}, n_boot=200, seed=0)
    assert list(audit.columns) == AUDIT_COLUMNS
    b = audit[(audit["attribute"] == "sex") & (audit["group"] == "B")].iloc[0]
    assert b["tpr"] == 0.2 and b["reference_group"] == "A"
    assert abs(b["tpr_disparity"] - 1 / 3) < 1e-9
    lo, hi = b["tpr_disparity_ci95"]
    assert lo < 1 / 3 < hi < 0.8
    assert bool(b["flag"])
    assert b["n"] == 1500 and b["n_positive"] == 300 and abs(b["fnr"] - 0.8) < 1e-9
    assert abs(audit.loc[audit["attribute"] == "sex", "ppr"].sum() - 1) < 1e-9
    # district is unrelated to the injection: nothing flagged there
    assert not audit.loc[audit["attribute"] == "district", "flag"].any()


def test_balanced_recall_is_not_flagged():
    y, sel, attrs = _population(0.5, 0.5)
    audit = fairness_audit(y, sel, attrs, n_boot=200, seed=0)
    assert not audit["flag"].any()
    ref = audit[(audit["attribute"] == "sex") & (audit["group"] == audit["reference_group"])]
    assert (ref["tpr_disparity"] == 1).all()


def test_booleans_and_missing_groups_are_labelled():
    y = np.array([1, 0, 1, 0])
    audit = fairness_audit(
        y, [True, False, False, False], pd.DataFrame({"has_disability": [True, False, None, False]}), n_boot=0
    )
    assert set(audit["group"]) == {"是", "否", "未知"}
    assert audit["small_cell"].all()


def test_reference_is_the_largest_known_group_with_enough_positives():
    """A reference with a handful of positives (or a recall of 0) would make every disparity noise."""
    rng = np.random.default_rng(1)
    n_big, n_mid = 3000, 1500
    group = np.array(["大区"] * n_big + ["中区"] * n_mid + ["未知"] * 4000)
    y = np.zeros(len(group))
    y[rng.choice(np.arange(n_big), 4, replace=False)] = 1  # the largest district: 4 positives
    y[n_big + rng.choice(np.arange(n_mid), 60, replace=False)] = 1
    y[n_big + n_mid + rng.choice(np.arange(4000), 80, replace=False)] = 1
    sel = (rng.random(len(group)) < 0.3) | (y > 0) & (rng.random(len(group)) < 0.5)
    audit = fairness_audit(y, sel, pd.DataFrame({"district": group}), n_boot=50, seed=0)
    assert set(audit["reference_group"]) == {"中区"}  # never 未知, and not the 4-positive district
    assert not audit.loc[audit["group"] == "大区", "flag"].any()  # 4 positives: never flagged
    forced = fairness_audit(y, sel, pd.DataFrame({"district": group}), n_boot=0, reference_groups={"district": "大区"})
    assert set(forced["reference_group"]) == {"大区"}


def test_group_metrics_count_every_row_through_weighted_cells():
    """group_metrics hands fairlearn one weighted row per (group, label, selected) (issue 8); the confusion
    counts are those of counting every row, missing groups as 未知."""
    from models.fairness import UNKNOWN_ZH, group_metrics

    rng = np.random.default_rng(5)
    n = 5000
    y = (rng.random(n) < 0.1).astype(float)
    sel = rng.random(n) < 0.2 + 0.3 * y
    g = pd.Series(rng.choice(["甲", "乙", "丙", None], n), dtype="object")
    table = group_metrics(y, sel, g)
    labels = g.fillna(UNKNOWN_ZH).to_numpy()
    for group in ["甲", "乙", "丙", UNKNOWN_ZH]:
        m = labels == group
        tp, fp = int(((y[m] == 1) & sel[m]).sum()), int(((y[m] == 0) & sel[m]).sum())
        assert table.loc[group, "n"] == m.sum() and table.loc[group, "n_positive"] == (y[m] == 1).sum()
        assert table.loc[group, "n_selected"] == tp + fp
        assert table.loc[group, "tpr"] == pytest.approx(tp / (y[m] == 1).sum())
        assert table.loc[group, "fpr"] == pytest.approx(fp / (y[m] == 0).sum())
