"""Labels and cohorts (DESIGN §6) on hand-built households, including the window edges."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from features_testdata import Town

from features.build import build_labels
from features.cohorts import cohort
from features.labels import label_coverage

D = dt.date
AS_OF = D(2025, 1, 1)  # window (2025-01-01, 2025-06-30] with 180 days
LATE = D(2026, 1, 1)  # a cutoff after every window


def family(**child_kw) -> Town:
    t = Town()
    place = dict(district="淳安县", township="千岛湖镇", community="青溪村")
    t.person("P_F", D(1985, 1, 1), "男", household="H_1", relation="户主", registered=D(2010, 1, 1), **place)
    t.person("P_M", D(1987, 1, 1), "女", household="H_1", relation="配偶", registered=D(2010, 1, 1), **place)
    kw = dict(birth=D(2014, 5, 1), sex="男", household="H_1", relation="子", registered=D(2014, 6, 1), **place)
    kw.update(child_kw)
    t.person("P_K", **kw)
    return t


def label_of(tmp_path, t: Town, target="guardianship_risk", as_of=AS_OF, cutoff=LATE, **kw):
    out = build_labels(t.write(tmp_path / "p"), [as_of], 180, cutoff, **kw)
    row = out[out["child_token"] == "P_K"]
    if row.empty:
        return "absent"
    v = row.iloc[0][target]
    return None if pd.isna(v) else int(v)


@pytest.mark.parametrize(
    ("visit_date", "expected"),
    [(D(2025, 1, 1), 0), (D(2025, 1, 2), 1), (D(2025, 6, 30), 1), (D(2025, 7, 1), 0)],
    ids=["on-as-of-excluded", "day-after-included", "last-day-included", "day-after-end-excluded"],
)
def test_guardianship_window_edges(tmp_path, visit_date, expected):
    t = family()
    t.add("visit_records", visit_id="V1", visit_date=visit_date, child_token="P_K", visit_mode="入户走访",
          guardianship_assessment="监护缺失", filed_date=visit_date)
    assert label_of(tmp_path, t) == expected


@pytest.mark.parametrize(
    ("category", "who", "expected"),
    [("家庭暴力", "P_K", 1), ("家庭暴力", "P_F", 0), ("监护人失联", "P_F", 1), ("儿童走失", "P_K", 1),
     ("打架斗殴", "P_K", 0)],
)
def test_guardianship_incidents(tmp_path, category, who, expected):
    t = family()
    t.add("incidents", incident_id="I1", reported_at=dt.datetime(2025, 3, 1, 10), category=category,
          person_token=who, role="当事人")
    assert label_of(tmp_path, t) == expected


@pytest.mark.parametrize(("assessment", "expected"), [("监护不当", 1), ("监护缺失", 1), ("一般", 0), ("良好", 0)])
def test_guardianship_assessments(tmp_path, assessment, expected):
    t = family()
    t.add("visit_records", visit_id="V1", visit_date=D(2025, 2, 1), child_token="P_K",
          guardianship_assessment=assessment, filed_date=D(2025, 2, 1))
    assert label_of(tmp_path, t) == expected


def test_knowledge_cutoff_and_missing_label_policy(tmp_path):
    t = family()
    # a failure on 2025-03-01, filed only on 2025-08-01
    t.add("visit_records", visit_id="V1", visit_date=D(2025, 3, 1), child_token="P_K",
          guardianship_assessment="监护不当", filed_date=D(2025, 8, 1))
    p = t.write(tmp_path / "p")

    def lab(cutoff):
        out = build_labels(p, [AS_OF], 180, cutoff)
        return out.set_index("child_token").loc["P_K"]

    row = lab(D(2025, 8, 1))
    assert row["guardianship_risk"] == 1 and row["label_knowledge_date"] == D(2025, 8, 1)
    row = lab(D(2025, 7, 31))  # window complete, the event not yet known: 0
    assert row["guardianship_risk"] == 0 and row["label_knowledge_date"] == D(2025, 6, 30)
    row = lab(D(2025, 5, 1))  # window still open and nothing known: NA, not 0
    assert pd.isna(row["guardianship_risk"]) and pd.isna(row["left_behind_risk"])
    assert row["label_knowledge_date"] is None
    # default cutoff = data horizon (latest knowledge_date of the label sources) = 2025-08-01
    assert lab(None)["guardianship_risk"] == 1


def test_labels_frame_shape(tmp_path):
    t = family()
    out = build_labels(t.write(tmp_path / "p"), [AS_OF, D(2025, 2, 1)], 180, LATE)
    assert list(out.columns) == ["child_token", "as_of_date", "in_cohort_guardianship", "guardianship_risk",
                                 "in_cohort_left_behind", "left_behind_risk", "label_knowledge_date"]
    assert str(out["guardianship_risk"].dtype) == "Int8" and str(out["left_behind_risk"].dtype) == "Int8"
    assert not out.duplicated(["child_token", "as_of_date"]).any()
    assert set(out["child_token"]) == {"P_K"}  # parents are not rows


@pytest.mark.parametrize(
    ("registered", "as_of", "expected"),
    [(D(2025, 6, 30), AS_OF, 1), (D(2025, 7, 1), AS_OF, 0), (D(2025, 1, 1), AS_OF, None),
     (D(2025, 1, 1), D(2024, 12, 1), 1)],
    ids=["in-window", "after-window", "registered-on-as-of-out-of-cohort", "earlier-as-of"],
)
def test_left_behind_label(tmp_path, registered, as_of, expected):
    t = family()
    t.add("child_registry", record_id="R1", child_token="P_K", category="留守儿童", guardian_token="P_F",
          guardian_relation="父亲", district="淳安县", township="千岛湖镇", community="青溪村",
          registered_date=registered)
    assert label_of(tmp_path, t, "left_behind_risk", as_of=as_of) == expected


def test_left_behind_other_categories_do_not_count(tmp_path):
    t = family()
    t.add("child_registry", record_id="R1", child_token="P_K", category="低保家庭儿童", district="淳安县",
          township="千岛湖镇", community="青溪村", registered_date=D(2025, 2, 1))
    assert label_of(tmp_path, t, "left_behind_risk") == 0


def test_left_behind_cohort_hukou(tmp_path):
    # non-local child (residence permit only): not in the left-behind cohort
    t = Town()
    t.person("P_K", D(2014, 5, 1), "男")
    t.add("residence_permits", person_token="P_K", district="萧山区", township="城厢街道", community="高桥社区",
          registered_date=D(2020, 1, 1))
    assert label_of(tmp_path / "a", t, "left_behind_risk") is None
    assert label_of(tmp_path / "a2", t, "guardianship_risk") == 0
    # urban local hukou: in the cohort by default, out with the national rural-only definition
    t = family(hukou="非农业家庭户口")
    assert label_of(tmp_path / "b", t, "left_behind_risk") == 0
    assert label_of(tmp_path / "c", t, "left_behind_risk", rural_hukou_only=True) is None
    assert label_of(tmp_path / "d", family(), "left_behind_risk", rural_hukou_only=True) == 0


def test_cohort_ages_turning_18_and_16(tmp_path):
    t = family()
    t.person("P_A", D(2007, 3, 1), "女", household="H_1", relation="女", registered=D(2007, 4, 1),
             community="青溪村")
    t.person("P_B", D(2009, 6, 1), "男", household="H_1", relation="子", registered=D(2009, 7, 1),
             community="青溪村")
    p = t.write(tmp_path / "p")
    dates = [D(2025, 2, 1), D(2025, 3, 1), D(2025, 5, 1), D(2025, 6, 1)]
    g = cohort(p, dates, "guardianship_risk")
    lb = cohort(p, dates, "left_behind_risk")
    in_g = set(zip(g["child_token"], g["as_of_date"], strict=True))
    in_lb = set(zip(lb["child_token"], lb["as_of_date"], strict=True))
    # turns 18 in March 2025: in on 2025-02-01 (215 months), out from 2025-03-01 (216 months)
    assert ("P_A", D(2025, 2, 1)) in in_g and ("P_A", D(2025, 3, 1)) not in in_g
    # turns 16 in June 2025: left-behind cohort until 2025-05-01, guardianship cohort still after
    assert ("P_B", D(2025, 5, 1)) in in_lb and ("P_B", D(2025, 6, 1)) not in in_lb
    assert ("P_B", D(2025, 6, 1)) in in_g
    assert g.set_index(["child_token", "as_of_date"]).loc[("P_B", D(2025, 5, 1)), "age_months"] == 191
    assert not {tok for tok, _ in in_g} & {"P_F", "P_M"}  # adults never


def test_cohort_excludes_unknown_dead_and_departed(tmp_path):
    t = family()
    place = dict(district="淳安县", township="千岛湖镇", community="青溪村")
    # known only from 2025-02-01 on
    t.person("P_late", D(2015, 1, 1), household="H_1", relation="子", registered=D(2025, 2, 1), **place)
    # died in 2024
    t.person("P_dead", D(2016, 1, 1), household="H_1", relation="女", registered=D(2016, 2, 1),
             deregistered=D(2024, 5, 1), reason="死亡", **place)
    # moved out of the city in 2024, nothing else known
    t.person("P_gone", D(2013, 1, 1), household="H_1", relation="子", registered=D(2013, 2, 1),
             moved_out=D(2024, 3, 1), **place)
    g = cohort(t.write(tmp_path / "p"), [AS_OF, D(2025, 3, 1)], "guardianship_risk")
    got = set(zip(g["child_token"], g["as_of_date"], strict=True))
    assert ("P_late", AS_OF) not in got and ("P_late", D(2025, 3, 1)) in got
    assert not any(tok in ("P_dead", "P_gone") for tok, _ in got)
    assert ("P_K", AS_OF) in got


def test_label_coverage(tmp_path):
    t = family()
    t.person("P_U", D(2012, 1, 1), "女", household="H_9", relation="女", registered=D(2012, 2, 1),
             hukou="非农业家庭户口", district="上城区", township="湖滨街道", community="东坡路社区")
    t.add("visit_records", visit_id="V1", visit_date=D(2025, 2, 1), child_token="P_K",
          guardianship_assessment="良好", filed_date=D(2025, 2, 1))
    t.add("visit_records", visit_id="V2", visit_date=D(2024, 12, 1), child_token="P_U",
          guardianship_assessment="良好", filed_date=D(2024, 12, 1))  # before the window
    cov = label_coverage(t.write(tmp_path / "p"), [AS_OF], 180, by=("urban_rural", "district"),
                         label_knowledge_cutoff=LATE)
    row = cov[cov["group"] == "all"].iloc[0]
    assert (row["cohort_children"], row["visited_children"], row["coverage"]) == (2, 1, 0.5)
    ur = cov[cov["group"] == "urban_rural"].set_index("value")["coverage"]
    assert ur["农村"] == 1.0 and ur["城镇"] == 0.0
    # without a cutoff: the data horizon (the pipeline's call) gives the same coverage
    horizon = label_coverage(tmp_path / "p", [AS_OF], 180, by=("urban_rural", "district"))
    assert horizon[horizon["group"] == "all"].iloc[0]["visited_children"] == 1
    with pytest.raises(ValueError, match="cannot group"):
        label_coverage(tmp_path / "p", [AS_OF], by=("child_token",))


def test_label_coverage_per_date_queries_equal_one_query_of_every_date(tmp_path):
    """Label coverage queries one as-of date at a time (issue 8: bounded memory at city scale); the rows
    are those of one query over every date: each date's own cohort and visits, the dates in order."""
    from features.labels import _coverage_query, _coverage_rows
    from features.prepare import connect
    from features.sources import open_sources

    t = family()
    t.add("visit_records", visit_id="V1", visit_date=D(2025, 2, 1), child_token="P_K",
          guardianship_assessment="良好", filed_date=D(2025, 2, 1))
    t.add("visit_records", visit_id="V2", visit_date=D(2025, 8, 1), child_token="P_K",
          guardianship_assessment="良好", filed_date=D(2025, 8, 1))
    t.add("visit_records", visit_id="V3", visit_date=D(2026, 3, 1), child_token="P_K",
          guardianship_assessment="良好", filed_date=D(2026, 3, 1))
    dates = [D(2025, 7, 1), AS_OF, D(2025, 10, 1), AS_OF]  # unordered, repeated
    by = ("urban_rural", "district")
    pseudo = t.write(tmp_path / "p")
    cov = label_coverage(pseudo, dates, 180, by=by, label_knowledge_cutoff=LATE)
    con = open_sources(pseudo, connect())
    whole = _coverage_query(con, sorted(set(dates)), 180, ["guardianship_risk"], by, LATE, False)
    pd.testing.assert_frame_equal(cov, _coverage_rows(whole["guardianship_risk"], by))
    visited = cov[cov["group"] == "all"].set_index("as_of_date")["visited_children"]
    assert visited.to_dict() == {AS_OF: 1, D(2025, 7, 1): 1, D(2025, 10, 1): 0}


def test_label_coverage_of_both_targets_at_once_is_each_target_alone(tmp_path):
    """label_coverage_by_target builds each date's children once for both targets; each frame is the one
    label_coverage gives for that target alone (the left-behind cohort differs: a rural-hukou child whose
    parents are away)."""
    from features.labels import label_coverage_by_target

    t = family()
    t.add("visit_records", visit_id="V1", visit_date=D(2025, 2, 1), child_token="P_K",
          guardianship_assessment="良好", filed_date=D(2025, 2, 1))
    pseudo = t.write(tmp_path / "p")
    dates = [AS_OF, D(2025, 4, 1)]
    both = label_coverage_by_target(pseudo, dates, 180, label_knowledge_cutoff=LATE)
    assert set(both) == {"guardianship_risk", "left_behind_risk"}
    for target, frame in both.items():
        pd.testing.assert_frame_equal(frame, label_coverage(pseudo, dates, 180, target=target,
                                                            label_knowledge_cutoff=LATE))
    assert both["guardianship_risk"]["cohort_children"].sum() > 0
    with pytest.raises(ValueError, match="unknown target"):
        label_coverage_by_target(pseudo, dates, targets=("both",))
