"""Baselines: the checklist on a hand-built row, the registry rule, prior and one-feature rank."""

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from models.baselines import ExpertChecklist, OneFeatureRank, PriorRate, RegistryCategoryRule, load_checklist


def test_packaged_checklist_has_three_groups_and_four_levels():
    spec = load_checklist()
    assert len(spec["indicators"]) >= 30  # district checklists: 3 groups x ~30 indicators
    assert set(spec["groups"]) == {"child", "family_guardianship", "environment_support"}
    assert [lv["level"] for lv in spec["levels"]] == ["极危", "高危", "中危", "低危"]
    assert set(spec["indicators"]["group"]) == set(spec["groups"])


def test_checklist_points_on_a_hand_built_row():
    row = pd.DataFrame(
        {
            "school_days_absent_3m": [12.0],  # C01 (>=5: 4) + C02 (>=10: 4)
            "registry_active_orphan": [1.0],  # F01: 15
            "parents_away_months_12m": [3.0],  # F03 needs >= 6: 0
            "subsistence_active": [np.nan],  # missing never scores
            "household_grandparent_only": [1.0],  # F05: 6
        }
    )
    chk = ExpertChecklist()
    pts = chk.points(row)
    assert pts.loc[0, "child"] == 8
    assert pts.loc[0, "family_guardianship"] == 21
    assert pts.loc[0, "environment_support"] == 0
    assert pts.loc[0, "total"] == 29
    assert pts.loc[0, "level"] == "高危"  # 25 <= 29 < 40
    # indicators whose feature is absent are reported, not silently dropped
    assert "police_child_domestic_violence_12m" in chk.missing_features_
    assert "school_days_absent_3m" not in chk.missing_features_
    assert chk.describe()["missing_features"] == chk.missing_features_


def test_checklist_never_changes_ranking_when_fitted():
    X = pd.DataFrame(
        {"school_days_absent_3m": [0.0, 5.0, 12.0, 20.0], "registry_active_orphan": [0, 0, 0, 1.0]}
    )
    chk = ExpertChecklist()
    before = chk.rank_score(X)
    chk.fit(X, [0, 0, 1, 1])
    np.testing.assert_array_equal(before, chk.rank_score(X))
    p = chk.predict_proba(X)
    assert p.shape == (4, 2) and np.allclose(p.sum(axis=1), 1)


def test_registry_rule_order():
    X = pd.DataFrame(
        {
            "registry_category": [
                None,
                "其他困境儿童",
                "低保家庭儿童",
                "留守儿童",
                "重病重残儿童",
                "事实无人抚养儿童",
                "孤儿",
            ]
        }
    )
    s = RegistryCategoryRule().rank_score(X)
    assert list(np.argsort(-s)) == [6, 5, 4, 3, 2, 1, 0]
    with pytest.raises(NotFittedError):
        RegistryCategoryRule().predict_proba(X)


def test_prior_and_one_feature():
    X = pd.DataFrame({"f": [1.0, 2.0, np.nan, 4.0]})
    prior = PriorRate().fit(X, [0, 1, 0, 1])
    assert np.allclose(prior.predict_proba(X)[:, 1], 0.5)
    assert len(set(prior.rank_score(X))) == 1
    one = OneFeatureRank("f").fit(X, [0, 0, 1, 1])
    assert np.isnan(one.rank_score(X)[2])
    assert one.predict_proba(X)[3, 1] >= one.predict_proba(X)[0, 1]
    with pytest.raises(TypeError):
        PriorRate().fit(np.zeros((2, 1)), [0, 1])


def test_checklist_features_exist_in_the_feature_dictionary():
    fd = pytest.importorskip("features.dictionary")
    names = set(fd.feature_dictionary()["name"])
    assert set(load_checklist()["indicators"]["feature"]) <= names
