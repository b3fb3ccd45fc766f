"""K per community (DESIGN §11.8–11.9)."""

import pandas as pd

from models.capacity import (
    active_registry_counts,
    capacity_per_community,
    capacity_table,
    directors_per_community,
    total_capacity,
)


def test_directors_formula():
    d = directors_per_community({"A": 0, "B": 30, "C": 31, "D": 61})
    assert d.to_dict() == {"A": 1, "B": 1, "C": 2, "D": 3}


def test_capacity_per_target():
    counts = {"A": 0, "B": 30, "C": 31, "D": 61}
    k = capacity_per_community(counts, target="guardianship_risk")
    assert k.to_dict() == {"A": 10, "B": 10, "C": 20, "D": 30}
    assert capacity_per_community(counts, target="guardianship_risk", visits_per_director=4)["D"] == 12
    assert set(capacity_per_community(counts, target="left_behind_risk").tolist()) == {3}
    assert total_capacity(k) == 70


def test_counts_from_features_include_empty_communities():
    f = pd.DataFrame(
        {
            "as_of_date": ["2024-01-01"] * 4,
            "community": ["A", "A", "B", "B"],
            "registry_category": ["孤儿", None, None, None],
        }
    )
    assert active_registry_counts(f, communities=["C"]).to_dict() == {"A": 1, "B": 0, "C": 0}
    t = capacity_table(f, target="guardianship_risk")
    assert t["capacity"].tolist() == [10, 10]
