"""Synthetic training set with known signal for the models tests (the real features come later).

600 children × 8 quarterly as-of dates (first days of months, as timechop plans them) in 12 communities of 3 districts. The outcome depends on
``school_days_absent_3m``, ``parents_away_months_12m``, ``registry_active_orphan`` and a hidden state, so a
model can learn it and the prior cannot; ``noise_*`` carry nothing.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before lightgbm loads (see models/__init__.py)

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

AS_OF_DATES = [date(2023 + (3 * i) // 12, (3 * i) % 12 + 1, 1) for i in range(8)]  # quarterly month starts
QUARTERLY = {"training_frequency_months": 3, "max_training_history_months": 24}
DISTRICTS = {"上城区": "城镇", "萧山区": "城镇", "淳安县": "农村"}


def feature_dictionary() -> pd.DataFrame:
    rows = [
        (
            "school_days_absent_3m",
            "school",
            "近3个月缺勤天数",
            "近3个月缺勤{value}天",
            "education",
            "天",
            False,
            "",
            1,
        ),
        (
            "parents_away_months_12m",
            "parents",
            "近12个月父母外出月数",
            "近12个月父母外出{value}个月",
            "human_resources",
            "月",
            False,
            "",
            1,
        ),
        (
            "registry_active_orphan",
            "registry",
            "登记为孤儿",
            "已登记为孤儿",
            "civil_affairs",
            "",
            False,
            "",
            1,
        ),
        (
            "subsistence_months_on_all",
            "subsistence",
            "享受低保月数",
            "享受低保已{value}个月",
            "civil_affairs",
            "月",
            True,
            "经济困难是需要帮扶的需求，不是过错；用于及早提供救助",
            0,
        ),
        (
            "disability_child_certificate_all",
            "disability",
            "持有残疾人证",
            "持有残疾人证",
            "disability_federation",
            "",
            True,
            "残疾是需要康复与照料支持的需求，不是过错",
            0,
        ),
        (
            "guardian_age_years",
            "guardian",
            "监护人年龄",
            "监护人{value}岁",
            "public_security",
            "岁",
            False,
            "",
            0,
        ),
        ("noise_a", "noise", "噪声A", "噪声A为{value}", "education", "", False, "", 0),
        ("noise_b", "noise", "噪声B", "噪声B为{value}", "health", "", False, "", 0),
    ]
    cols = [
        "name",
        "family",
        "description_zh",
        "reason_zh",
        "source_department",
        "unit",
        "sensitive",
        "sensitive_reason_zh",
        "monotone",
    ]
    return pd.DataFrame(rows, columns=cols)


def make_matrix(n_children: int = 600, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    districts = list(DISTRICTS)
    communities = [f"{d}-社区{j}" for d in districts for j in range(4)]
    comm = rng.choice(communities, n_children)
    district = np.array([c.split("-")[0] for c in comm])
    township = np.array([c[:-1] for c in comm])
    child = pd.DataFrame(
        {
            "child_token": [f"P_k1_{i:020x}" for i in range(n_children)],
            "community": comm,
            "township": township,
            "district": district,
            "hukou_type": rng.choice(
                ["农业家庭户口", "非农业家庭户口", "非本地户籍"], n_children, p=[0.5, 0.35, 0.15]
            ),
            "urban_rural": [DISTRICTS[d] for d in district],
            "sex": rng.choice(["男", "女"], n_children),
            "has_disability": rng.random(n_children) < 0.06,
            "orphan": (rng.random(n_children) < 0.05).astype(float),
            "u": rng.normal(size=n_children),
            "guardian_age": rng.integers(25, 80, n_children).astype(float),
        }
    )
    cats = np.where(
        child["orphan"] == 1,
        "孤儿",
        rng.choice(
            [None, "留守儿童", "低保家庭儿童", "重病重残儿童"], n_children, p=[0.85, 0.07, 0.05, 0.03]
        ),
    )
    child["registry_category"] = cats
    parts = []
    for t, d in enumerate(AS_OF_DATES):
        u = child["u"].to_numpy() + 0.3 * rng.normal(size=n_children)
        absent = rng.poisson(np.exp(0.6 + 0.7 * u)).clip(0, 40).astype(float)
        away = np.clip(np.round(6 + 3 * u + rng.normal(0, 2, n_children)), 0, 12)
        logit = -4.2 + 0.18 * absent + 0.15 * away + 1.8 * child["orphan"].to_numpy() + 0.4 * u
        y = (rng.random(n_children) < 1 / (1 + np.exp(-logit))).astype("int8")
        f = pd.DataFrame(
            {
                "child_token": child["child_token"],
                "as_of_date": d,
                "community": child["community"],
                "township": child["township"],
                "district": child["district"],
                "hukou_type": child["hukou_type"],
                "urban_rural": child["urban_rural"],
                "sex": child["sex"],
                "has_disability": child["has_disability"],
                "registry_category": child["registry_category"],
                "last_visit_date": pd.NaT,
                "school_days_absent_3m": absent.astype("float32"),
                "parents_away_months_12m": away.astype("float32"),
                "registry_active_orphan": child["orphan"].astype("float32"),
                "subsistence_months_on_all": (rng.random(n_children) < 0.1).astype("float32") * 12,
                "disability_child_certificate_all": child["has_disability"].astype("float32"),
                "guardian_age_years": (child["guardian_age"] + t / 4).astype("float32"),
                "noise_a": rng.normal(size=n_children).astype("float32"),
                "noise_b": rng.normal(size=n_children).astype("float32"),
                "guardianship_risk": pd.array(y, dtype="Int8"),
                "label_knowledge_date": [
                    d + timedelta(days=int(k)) if yy else None
                    for yy, k in zip(y, rng.integers(10, 170, n_children), strict=True)
                ],
            }
        )
        f.loc[rng.random(n_children) < 0.03, "school_days_absent_3m"] = np.nan
        parts.append(f)
    m = pd.concat(parts, ignore_index=True)
    m["as_of_date"] = pd.to_datetime(m["as_of_date"]).dt.date
    return m


@pytest.fixture(scope="session")
def dictionary() -> pd.DataFrame:
    return feature_dictionary()


@pytest.fixture(scope="session")
def matrix() -> pd.DataFrame:
    return make_matrix()


@pytest.fixture(scope="session")
def capacity(matrix) -> pd.DataFrame:
    from models.capacity import capacity_table

    return capacity_table(matrix, target="guardianship_risk", visits_per_director=5)


@pytest.fixture(scope="session")
def trained(matrix, dictionary, capacity):
    from models.train import make_splits, train_target

    splits = make_splits(sorted(set(matrix["as_of_date"])), label_timespan_days=180, n_splits=2, **QUARTERLY)
    grid = [
        {"num_leaves": 7, "learning_rate": 0.1, "num_boost_round": 60, "min_data_in_leaf": 20},
        {"num_leaves": 15, "learning_rate": 0.05, "num_boost_round": 80, "min_data_in_leaf": 40},
    ]
    return train_target(matrix, "guardianship_risk", dictionary, splits, capacity, grid=grid, seed=0)
