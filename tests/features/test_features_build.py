"""build_features on hand-built households: interface shape and hand-computed feature values."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from features.build import GROUP_COLUMNS, active_registry_counts, build_features
from features.collate import feature_names
from features.dictionary import COLUMNS as DICT_COLUMNS
from features.dictionary import feature_dictionary

D = dt.date
AS_OF = D(2025, 1, 1)


@pytest.fixture(scope="module")
def feats(town_dir):
    return build_features(town_dir, [AS_OF])


@pytest.fixture(scope="module")
def by_child(feats):
    return feats.set_index("child_token")


def test_interface_columns_and_types(feats):
    assert list(feats.columns[: len(GROUP_COLUMNS)]) == GROUP_COLUMNS
    names = feature_names()
    assert list(feats.columns[len(GROUP_COLUMNS):]) == names
    assert all(feats[n].dtype == np.float32 for n in names)
    assert feats["has_disability"].dtype == bool
    assert all(isinstance(d, dt.date) for d in feats["as_of_date"])
    assert not feats.duplicated(["child_token", "as_of_date"]).any()


def test_rows_are_children_known_by_as_of(by_child):
    # adults are not rows; C6 is registered only after the as-of date
    assert set(by_child.index) == {"P_C1", "P_C2", "P_C3", "P_C4", "P_C5"}


def test_group_and_serving_columns(by_child):
    assert by_child.loc["P_C1", "hukou_type"] == "农业家庭户口"
    assert by_child.loc["P_C1", "urban_rural"] == "农村"
    assert by_child.loc["P_C4", "urban_rural"] == "城镇"
    assert by_child.loc["P_C5", "hukou_type"] == "非本地户籍"
    assert by_child.loc["P_C5", "community"] == "高桥社区"
    assert bool(by_child.loc["P_C2", "has_disability"]) and not bool(by_child.loc["P_C1", "has_disability"])
    # the 留守儿童 entry of C3 is registered after the as-of date: not visible yet
    assert pd.isna(by_child.loc["P_C3", "registry_category"])
    # V2 (2024-12-20) was filed on 2025-01-05: the last visit known is V1
    assert by_child.loc["P_C4", "last_visit_date"] == D(2024, 12, 1)
    assert by_child.loc["P_C1", "last_visit_date"] is None


def test_parents_away_both_and_one(by_child):
    c1 = by_child.loc["P_C1"]
    # insurance month m is known at month end + 45 days: at 2025-01-01 the latest known is 2024-10;
    # the 6-month window holds the reports known in (2024-07-01, 2025-01-01]: 2024-05 … 2024-10
    assert c1["parents_known"] == 2
    assert c1["parents_away_months_6m"] == 6
    assert c1["parents_away_months_12m"] == 10  # 2024-01 … 2024-10
    assert c1["parents_both_away_6m"] == 1 and c1["parents_one_away_6m"] == 0
    assert c1["parents_both_away_months_12m"] == 10
    c3 = by_child.loc["P_C3"]
    assert c3["parents_known"] == 1  # the head's adult son, although he moved out
    assert c3["parents_one_away_6m"] == 1 and c3["parents_both_away_6m"] == 0
    assert c3["parents_away_months_6m"] == 6
    assert by_child.loc["P_C4", "parents_away_months_12m"] == 0


def test_household_composition(by_child):
    c3 = by_child.loc["P_C3"]
    assert c3["household_grandparent_only"] == 1
    assert c3["household_child_is_grandchild"] == 1
    assert c3["household_adults"] == 2 and c3["household_parents_present"] == 0
    assert c3["household_elderly"] == 2
    c1 = by_child.loc["P_C1"]
    assert c1["household_siblings"] == 1 and c1["household_adults"] == 2 and c1["household_members"] == 4
    assert c1["household_grandparent_only"] == 0
    assert by_child.loc["P_C5", "household_members"] == 0
    assert by_child.loc["P_C5", "household_months_since_moved_in_missing"] == 1


def test_guardian_loss_detention_inpatient_subsistence(by_child):
    c4 = by_child.loc["P_C4"]
    assert c4["guardian_deceased_12m"] == 1 and c4["guardian_deceased_all"] == 1
    assert c4["guardian_months_since_death_all"] == 7
    assert c4["detention_active_count"] == 1  # start 2024-10-01, known 14 days later
    assert c4["subsistence_active"] == 1 and c4["subsistence_near_active"] == 0
    assert c4["subsistence_amount"] == 1200 and c4["subsistence_months_on_all"] == 6
    c3 = by_child.loc["P_C3"]
    assert c3["household_adults_inpatient_now"] == 1 and c3["household_adult_admissions_12m"] == 1
    assert c3["guardian_inpatient_now"] == 0  # the grandfather is not (yet) the registered guardian
    assert by_child.loc["P_C1", "subsistence_active"] == 0


def test_school_absence_windows_and_status(by_child):
    c4 = by_child.loc["P_C4"]
    # attendance month m is known at month end + 5 days: December 2024 is not known on 2025-01-01
    assert c4["school_days_absent_1m"] == 10  # 2024-11
    assert c4["school_days_absent_3m"] == 17  # 2024-09, -10, -11
    assert c4["school_days_absent_6m"] == 18  # 2024-06 … -11
    assert c4["school_absent_trend_3m"] == 16  # 17 - (18 - 17)
    assert c4["school_absence_rate_3m"] == pytest.approx(17 / 61)
    assert c4["school_months_high_absence_6m"] == 2
    assert c4["school_dropped_out"] == 1 and c4["school_enrolled"] == 0 and c4["school_boarding"] == 1
    assert by_child.loc["P_C1", "school_days_absent_3m"] == 0
    assert np.isnan(by_child.loc["P_C1", "school_absence_rate_3m"])


def test_police_visits_notes(by_child):
    c4 = by_child.loc["P_C4"]
    assert c4["police_child_domestic_violence_12m"] == 1
    assert c4["police_child_days_since_all"] == (AS_OF - D(2024, 9, 1)).days
    assert c4["police_household_domestic_violence_12m"] == 1
    assert c4["visit_count_all"] == 1  # V2 filed after the as-of date
    assert c4["visit_days_since_last_all"] == 31 and c4["visit_days_since_last_all_missing"] == 0
    assert c4["visit_last_assessment"] == 1  # 一般
    assert c4["visit_fair_12m"] == 1 and c4["visit_failures_all"] == 0
    assert c4["notes_hospital_12m"] == 1 and c4["notes_unattended_12m"] == 1 and c4["notes_beating_12m"] == 0
    c1 = by_child.loc["P_C1"]
    assert np.isnan(c1["visit_days_since_last_all"]) and c1["visit_days_since_last_all_missing"] == 1


def test_demographics_disability_health(by_child):
    assert by_child.loc["P_C4", "demo_age_months"] == 178  # 2010-03 → 2025-01: 14 years 10 months
    assert by_child.loc["P_C3", "demo_sex_male"] == 0
    assert by_child.loc["P_C5", "demo_hukou_nonlocal"] == 1
    c2 = by_child.loc["P_C2"]
    assert c2["disability_child_certificate_all"] == 1 and c2["disability_child_severity_all"] == 3
    assert c2["disability_child_intellectual_mental_all"] == 1
    c5 = by_child.loc["P_C5"]
    assert c5["health_months_since_check_all"] == 19
    assert c5["health_months_since_check_under7"] == 19 and c5["health_no_check_under7"] == 0
    assert np.isnan(by_child.loc["P_C4", "health_months_since_check_under7"])


def test_dictionary_covers_every_feature(feats):
    fd = feature_dictionary()
    assert list(fd.columns) == DICT_COLUMNS
    assert not fd["name"].duplicated().any()
    produced = [c for c in feats.columns if c not in GROUP_COLUMNS]
    assert set(produced) == set(fd["name"])
    assert fd["monotone"].isin([-1, 0, 1]).all()
    assert fd["source_department"].isin(["民政", "公安", "教育", "卫健", "残联", "人社", "司法"]).all()
    assert (fd["description_zh"].str.len() > 0).all()
    # reason phrases format with a value, and interval placeholders are filled
    for r in fd["reason_zh"]:
        assert "{interval_zh}" not in r
        r.format(value=3.0, label="一般")
    assert fd.set_index("name").loc["school_days_absent_3m", "reason_zh"].format(value=12) == "近3个月缺勤12天"
    sens = fd[fd["sensitive"]]
    assert (sens["sensitive_reason_zh"].str.len() > 0).all()
    for fam in ("disability", "subsistence", "police", "detention"):
        assert fd[fd["family"] == fam]["sensitive"].all(), fam


def test_active_registry_counts(town_dir, random_dir):
    assert active_registry_counts(town_dir, AS_OF).empty  # C3's entry starts 2025-03-10
    after = active_registry_counts(town_dir, D(2025, 4, 1))
    assert after.to_dict("records") == [
        {"community": "赋溪村", "township": "汾口镇", "district": "淳安县", "active_registry_children": 1}
    ]
    counts = active_registry_counts(random_dir, D(2024, 7, 1))
    assert list(counts.columns) == ["community", "township", "district", "active_registry_children"]
    assert counts["active_registry_children"].sum() > 0


def test_reasons_are_distinct_sentences():
    """Two features never share a reason sentence: a director's top three reasons once read
    "1. 曾1次评估为监护不当或缺失 2. 曾1次评估为监护不当或缺失" (the 12-month and the all-time count;
    new-user finding). The interval is part of the sentence now."""
    from features.dictionary import feature_dictionary

    d = feature_dictionary()
    assert not d["reason_zh"].duplicated().any(), d.loc[d["reason_zh"].duplicated(keep=False), ["name", "reason_zh"]]
    failures = d.set_index("name")["reason_zh"].filter(like="visit_failures").to_dict()
    assert failures == {"visit_failures_12m": "近12个月{value:.0f}次评估为监护不当或缺失",
                        "visit_failures_all": "累计{value:.0f}次评估为监护不当或缺失"}
