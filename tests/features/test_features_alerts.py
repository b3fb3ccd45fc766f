"""Event alerts (features/alerts.py, DESIGN §8, issue 6).

Two parts:

1. Hand-built pseudonymized fixtures (features_testdata.Town): for every rule, one family whose event
   becomes known inside the cycle ``(SINCE, AS_OF]`` (must fire), one whose event was known before
   ``SINCE`` (alerted last cycle: must not fire) and one known only after ``AS_OF`` (must not fire);
   plus the household link (a parent's death alerts every child of the household), phrases, ids,
   one row per child × rule, unplaced children, rule validation.
2. A simulated town (simulator → privacy.ingest, as humiao.stages.run_ingest does): every rule fires
   on simulated data over the last month and reaches the visit list (Parquet and workbook).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from features_testdata import Town

from features.alerts import (
    ALERT_COLUMNS,
    LIST_COLUMNS,
    AlertRuleError,
    alert_id,
    event_alerts,
    for_visit_lists,
    load_rules,
)
from features.build import UNPLACED

D = dt.date
AS_OF = D(2026, 1, 1)
SINCE = D(2025, 12, 1)
RULES = load_rules()
CODES = [r.code for r in RULES]
REPO = Path(__file__).resolve().parents[2]

PLACES = [
    dict(district="淳安县", township="千岛湖镇", community="青溪村"),
    dict(district="上城区", township="湖滨街道", community="东坡路社区"),
    dict(district="萧山区", township="城厢街道", community="高桥社区"),
]

# When each case's event happens, so that it becomes known inside the cycle, before it, after it.
# (The contracts' knowledge lags: detention +14 days, inpatient +3, incidents +1, others +0.)
WHEN = {
    "in": {"default": D(2025, 12, 10), "guardian_detained": D(2025, 12, 5)},
    "before": {"default": D(2025, 11, 20), "guardian_detained": D(2025, 11, 10)},
    "after": {"default": D(2026, 1, 10), "guardian_detained": D(2025, 12, 25)},  # 12-25 + 14 = 2026-01-08
}


CHILD_BIRTH = D(2015, 5, 1)


def _family(t: Town, key: str, place: dict, *, child_birth=CHILD_BIRTH, grand=False) -> dict:
    """A local household: father (户主), mother (配偶), one child; with ``grand`` a grandmother-headed
    household where the child is 孙女 and the grandmother is the registry guardian."""
    f, m, c = f"P_{key}F", f"P_{key}M", f"P_{key}C"
    hh = f"H_{key}"
    if grand:
        g = f"P_{key}G"
        t.person(g, D(1955, 3, 1), "女", household=hh, relation="户主", registered=D(2000, 1, 1), **place)
        t.person(
            f,
            D(1985, 1, 1),
            "男",
            household=hh,
            relation="子",
            registered=D(2000, 1, 1),
            moved_out=D(2023, 5, 1),
            **place,
        )
        t.person(
            c,
            child_birth,
            "女",
            household=hh,
            relation="孙女",
            registered=child_birth + dt.timedelta(days=20),
            **place,
        )
        t.add(
            "child_registry",
            record_id=f"R{key}",
            child_token=c,
            category="留守儿童",
            guardian_token=g,
            guardian_relation="祖母",
            registered_date=D(2024, 3, 1),
            **place,
        )
        return {"father": f, "grandmother": g, "child": c, "household": hh}
    t.person(f, D(1985, 1, 1), "男", household=hh, relation="户主", registered=D(2010, 1, 1), **place)
    t.person(m, D(1987, 1, 1), "女", household=hh, relation="配偶", registered=D(2010, 1, 1), **place)
    t.person(
        c,
        child_birth,
        "男",
        household=hh,
        relation="子",
        registered=child_birth + dt.timedelta(days=20),
        **place,
    )
    return {"father": f, "mother": m, "child": c, "household": hh}


def _event(t: Town, code: str, key: str, when: dt.date, place: dict) -> set[str]:
    """Build one family with the event of rule ``code`` on ``when``; return the children it concerns."""
    ts = dt.datetime.combine(when, dt.time(20, 30))
    inc = dict(district=place["district"], township=place["township"], summary="<PERSON_1>报警")
    if code == "guardian_death":
        f, m, c = f"P_{key}F", f"P_{key}M", f"P_{key}C"
        hh = f"H_{key}"
        t.person(
            f,
            D(1984, 1, 1),
            "男",
            household=hh,
            relation="户主",
            registered=D(2010, 1, 1),
            deregistered=when,
            reason="死亡",
            **place,
        )
        t.person(m, D(1986, 1, 1), "女", household=hh, relation="配偶", registered=D(2010, 1, 1), **place)
        t.person(c, D(2014, 2, 1), "男", household=hh, relation="子", registered=D(2014, 3, 1), **place)
        c2 = t.person(
            f"P_{key}D", D(2018, 6, 1), "女", household=hh, relation="女", registered=D(2018, 7, 1), **place
        )
        return {c, c2}  # the household link: both children of the dead father
    if code == "guardian_detained":
        fam = _family(t, key, place)
        t.add(
            "detention_records",
            person_token=fam["father"],
            start_date=when,
            expected_release_date=D(2027, 6, 1),
            released_date=None,
        )
        return {fam["child"]}
    if code == "guardian_hospitalized":
        fam = _family(t, key, place, grand=True)  # the registry guardian (grandmother) is admitted
        t.add(
            "inpatient_admissions",
            person_token=fam["grandmother"],
            admission_date=when,
            discharge_date=None,
            ward="心血管内科",
        )
        return {fam["child"]}
    if code == "guardian_missing":
        fam = _family(t, key, place)
        t.add(
            "incidents",
            incident_id=f"J{key}",
            reported_at=ts,
            category="监护人失联",
            person_token=fam["child"],
            role="受害人",
            **inc,
        )
        t.add(
            "incidents",
            incident_id=f"J{key}",
            reported_at=ts,
            category="监护人失联",
            person_token=fam["mother"],
            role="监护人",
            **inc,
        )
        return {fam["child"]}
    if code == "family_violence":
        fam = _family(t, key, place)  # a domestic dispute between the parents: the child is not named
        t.add(
            "incidents",
            incident_id=f"J{key}",
            reported_at=ts,
            category="家庭暴力",
            person_token=fam["mother"],
            role="受害人",
            **inc,
        )
        t.add(
            "incidents",
            incident_id=f"J{key}",
            reported_at=ts,
            category="家庭暴力",
            person_token=fam["father"],
            role="当事人",
            **inc,
        )
        return {fam["child"]}
    if code == "child_missing":
        fam = _family(t, key, place, child_birth=D(2019, 9, 1))
        t.add(
            "incidents",
            incident_id=f"J{key}",
            reported_at=ts,
            category="儿童走失",
            person_token=fam["child"],
            role="受害人",
            **inc,
        )
        return {fam["child"]}
    if code == "school_leave":
        fam = _family(t, key, place, child_birth=D(2011, 4, 1))
        s = f"S_{key}"
        t.add(
            "student_enrollment",
            student_token=s,
            child_token=fam["child"],
            school="某中学",
            grade="七年级",
            boarding=False,
            status="在读",
            status_date=D(2023, 9, 1),
            enrolled_date=D(2023, 9, 1),
        )
        t.add(
            "student_enrollment",
            student_token=s,
            child_token=fam["child"],
            school="某中学",
            grade="八年级",
            boarding=False,
            status="辍学",
            status_date=when,
            enrolled_date=D(2023, 9, 1),
        )
        return {fam["child"]}
    if code == "newborn_subsistence":
        # a household on 低保 since 2024; the baby is known when its birth is registered (``when``)
        f, m, c = f"P_{key}F", f"P_{key}M", f"P_{key}C"
        hh = f"H_{key}"
        t.person(f, D(1990, 1, 1), "男", household=hh, relation="户主", registered=D(2012, 1, 1), **place)
        t.person(m, D(1992, 1, 1), "女", household=hh, relation="配偶", registered=D(2012, 1, 1), **place)
        older = t.person(
            f"P_{key}O", D(2020, 1, 1), "女", household=hh, relation="女", registered=D(2020, 2, 1), **place
        )
        birth = (
            D(when.year, when.month, 1) - dt.timedelta(days=1)
            if when.day < 5
            else D(when.year, when.month, 1)
        )
        t.person(c, birth, "男", household=hh, relation="子", registered=when, **place)
        t.add(
            "subsistence_allowance",
            head_token=f,
            household_size=4,
            allowance_type="低保",
            monthly_amount=1500.0,
            start_date=D(2024, 7, 1),
            end_date=None,
            **place,
        )
        del older  # a 5-year-old sibling: not a newborn, never alerted
        return {c}
    if code == "disability_certificate":
        fam = _family(t, key, place, child_birth=D(2017, 8, 1))
        t.add(
            "disability_certificates",
            person_token=fam["child"],
            category="听力",
            grade="三级",
            issued_date=when,
        )
        return {fam["child"]}
    raise AssertionError(f"no fixture for rule {code!r}: add one when adding a rule")


def alert_town() -> tuple[Town, dict[str, dict[str, set[str]]]]:
    t = Town()
    expected: dict[str, dict[str, set[str]]] = {}
    for i, code in enumerate(CODES):
        expected[code] = {}
        for j, case in enumerate(("in", "before", "after")):
            when = WHEN[case].get(code, WHEN[case]["default"])
            expected[code][case] = _event(t, code, f"{i:02d}{case[0]}", when, PLACES[(i + j) % len(PLACES)])
    return t, expected


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    t, expected = alert_town()
    # extras: one child with two rules and two family-violence incidents in the cycle; a newborn whose
    # household's allowance starts in the cycle; an unplaced child (known only to a school)
    place = PLACES[1]
    fam = _family(t, "X1", place, child_birth=D(2012, 1, 1))
    for n, day in enumerate((D(2025, 12, 3), D(2025, 12, 20))):
        t.add(
            "incidents",
            incident_id=f"JX1{n}",
            reported_at=dt.datetime.combine(day, dt.time(21)),
            category="家庭暴力",
            person_token=fam["child"],
            role="受害人",
            district=place["district"],
            township=place["township"],
        )
    t.add(
        "disability_certificates",
        person_token=fam["child"],
        category="肢体",
        grade="四级",
        issued_date=D(2025, 12, 15),
    )
    f, c = "P_X2F", "P_X2C"
    t.person(f, D(1991, 1, 1), "男", household="H_X2", relation="户主", registered=D(2015, 1, 1), **place)
    t.person(c, D(2025, 11, 1), "女", household="H_X2", relation="女", registered=D(2025, 11, 12), **place)
    t.add(
        "subsistence_allowance",
        head_token=f,
        household_size=2,
        allowance_type="低保边缘",
        monthly_amount=600.0,
        start_date=D(2025, 12, 12),
        end_date=None,
        **place,
    )
    t.person("P_X3C", D(2010, 6, 1), "男")
    t.add(
        "student_enrollment",
        student_token="S_X3",
        child_token="P_X3C",
        school="某中学",
        grade="九年级",
        boarding=False,
        status="休学",
        status_date=D(2025, 12, 8),
        enrolled_date=D(2022, 9, 1),
    )
    # a mother giving birth is not an upheaval (妇产科 is excluded)
    t.add(
        "inpatient_admissions",
        person_token=fam["mother"],
        admission_date=D(2025, 12, 12),
        discharge_date=D(2025, 12, 15),
        ward="妇产科",
    )
    folder = t.write(tmp_path_factory.mktemp("alert_town"))
    alerts = event_alerts(folder, AS_OF, since=SINCE)
    return {"dir": folder, "expected": expected, "alerts": alerts, "extra": fam}


def _children(alerts: pd.DataFrame, code: str) -> set[str]:
    return set(alerts.loc[alerts["event_code"] == code, "child_token"])


@pytest.mark.parametrize("code", CODES)
def test_rule_fires_in_cycle_only(hand, code):
    """Known in (since, as_of]: fires; known before since (last cycle) or after as_of: does not."""
    exp = hand["expected"][code]
    got = _children(hand["alerts"], code) - {"P_X1C", "P_X2C", "P_X3C"}
    assert exp["in"] <= got, f"{code}: did not fire on its event"
    assert not (got & exp["before"]), f"{code}: fired on an event known before `since`"
    assert not (got & exp["after"]), f"{code}: fired on an event known after `as_of_date`"
    assert got == exp["in"]


def test_every_configured_rule_has_a_fixture_and_fires(hand):
    assert set(hand["alerts"]["event_code"]) == set(CODES)
    assert len(CODES) >= 9


def test_parent_death_alerts_every_child_of_the_household(hand):
    exp = hand["expected"]["guardian_death"]["in"]
    assert len(exp) == 2
    rows = hand["alerts"][hand["alerts"]["child_token"].isin(exp)]
    assert set(rows["event"]) == {"父亲于2025年12月死亡（户籍注销）"}
    assert set(rows["event_date"]) == {WHEN["in"]["default"]}


def test_phrases_name_the_event_and_relation(hand):
    a = hand["alerts"].set_index(["child_token", "event_code"])["event"]
    e = hand["expected"]
    one = lambda code: next(iter(e[code]["in"]))  # noqa: E731
    assert a[(one("guardian_detained"), "guardian_detained")] == "父亲于2025年12月被羁押"
    assert (
        a[(one("guardian_hospitalized"), "guardian_hospitalized")] == "祖母于2025年12月10日住院（心血管内科）"
    )
    assert a[(one("guardian_missing"), "guardian_missing")] == "母亲于2025年12月被报失联（警情）"
    assert a[(one("family_violence"), "family_violence")] == "2025年12月接报家庭暴力警情，母亲为受害人"
    assert a[(one("child_missing"), "child_missing")] == "儿童于2025年12月10日被报走失（警情）"
    assert a[(one("school_leave"), "school_leave")] == "儿童于2025年12月辍学（学籍变动）"
    assert a[(one("newborn_subsistence"), "newborn_subsistence")] == "低保家庭新生儿（2025年12月出生）"
    assert (
        a[(one("disability_certificate"), "disability_certificate")]
        == "儿童于2025年12月新办残疾人证（听力三级）"
    )
    # the phrase never carries a token (a person) — only the event and a relation word
    assert not hand["alerts"]["event"].str.contains(r"[A-Z]_", regex=True).any()


def test_output_shape_and_places(hand):
    a = hand["alerts"]
    assert tuple(a.columns) == ALERT_COLUMNS
    assert not a.duplicated(["child_token", "event_code"]).any()
    assert a[["community", "township", "district"]].notna().all().all()
    assert set(a["as_of_date"]) == {AS_OF}
    assert ((a["known_date"] > SINCE) & (a["known_date"] <= AS_OF)).all()
    assert (a["event_date"] <= AS_OF).all()
    by_code = {r.code: r.source_department for r in RULES}
    assert (a["source_department"] == a["event_code"].map(by_code)).all()
    assert set(a["source_department"]) <= {"民政", "公安", "教育", "卫健", "残联", "司法", "人社"}
    # the death case of the first rule lives in PLACES[0]
    death = a[a["event_code"] == "guardian_death"]
    assert set(death["community"]) == {PLACES[0]["community"]}
    assert set(death["township"]) == {PLACES[0]["township"]}


def test_one_row_per_child_and_rule_latest_event_several_rules_per_child(hand):
    a = hand["alerts"]
    mine = a[a["child_token"] == "P_X1C"].set_index("event_code")
    assert set(mine.index) == {"family_violence", "disability_certificate"}
    assert mine.loc["family_violence", "event_date"] == D(2025, 12, 20)  # the later of the two incidents
    assert mine.loc["family_violence", "event"] == "2025年12月接报家庭暴力警情，儿童本人为受害人"
    # the mother's childbirth admission (妇产科) does not alert
    assert "guardian_hospitalized" not in mine.index


def test_newborn_becomes_new_when_the_later_fact_is_known(hand):
    """Born in November (registered then), 低保边缘 from 12-12: new in this cycle, dated 12-12."""
    row = hand["alerts"][(hand["alerts"]["child_token"] == "P_X2C")]
    assert list(row["event_code"]) == ["newborn_subsistence"]
    assert row["event"].iloc[0] == "低保边缘家庭新生儿（2025年11月出生）"
    assert row["event_date"].iloc[0] == D(2025, 12, 12)


def test_unplaced_child_is_kept(hand):
    row = hand["alerts"][hand["alerts"]["child_token"] == "P_X3C"]
    assert list(row["event_code"]) == ["school_leave"]
    assert row["community"].iloc[0] == UNPLACED == "（未定位）"
    assert row["event"].iloc[0] == "儿童于2025年12月休学（学籍变动）"


def test_alert_id_is_stable_and_matches_python(hand):
    a = hand["alerts"]
    assert a["alert_id"].is_unique
    assert all(re.fullmatch(r"AL_[0-9a-f]{20}", x) for x in a["alert_id"])
    for rec in a.head(5).to_dict("records"):
        assert rec["alert_id"] == alert_id(rec["child_token"], rec["event_code"], rec["event_date"])
    # the same event gets the same id in a later cycle that still sees it (e.g. a wider window)
    wider = event_alerts(hand["dir"], AS_OF, since=D(2025, 10, 1))
    same = a.merge(wider, on=["child_token", "event_code", "event_date"], suffixes=("", "_w"))
    assert len(same) > 0 and (same["alert_id"] == same["alert_id_w"]).all()


def test_since_moves_the_window(hand):
    """The previous cycle (as of 12-01, since 11-01) sees the 'before' events, not this cycle's."""
    prev = event_alerts(hand["dir"], SINCE, since=D(2025, 11, 1))
    for code in CODES:
        got = _children(prev, code)
        assert not (got & hand["expected"][code]["in"]), code
    fired = {c for c in CODES if _children(prev, c) & hand["expected"][c]["before"]}
    # the before-newborn was registered 11-20 (born 2025-11): new then; all others too
    assert fired == set(CODES)


def test_for_visit_lists_keeps_only_accepted_columns(hand):
    out = for_visit_lists(hand["alerts"])
    assert tuple(out.columns) == LIST_COLUMNS
    assert len(out) == len(hand["alerts"])


def test_rules_from_list_and_validation(hand, tmp_path):
    custom = [
        {
            "code": "abandonment",
            "label": "遗弃",
            "table": "incidents",
            "person": "person_token",
            "who": ["child"],
            "condition": "s.category = '遗弃'",
            "event_date": "CAST(s.reported_at AS DATE)",
            "template": "儿童于{month}被遗弃（警情）",
        }
    ]
    assert len(event_alerts(hand["dir"], AS_OF, since=SINCE, rules=custom)) == 0
    path = tmp_path / "rules.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "rules": [
                    r
                    for r in yaml.safe_load(
                        (REPO / "features" / "alert_rules.yaml").read_text(encoding="utf-8")
                    )["rules"]
                    if r["code"] == "guardian_detained"
                ]
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    only = event_alerts(hand["dir"], AS_OF, since=SINCE, rules=path)
    assert set(only["event_code"]) == {"guardian_detained"}
    bad = dict(custom[0])
    for key, value, msg in [
        ("who", ["neighbour"], "who must be"),
        ("table", "weather", "unknown table"),
        ("person", "category", "not a token column"),
        ("template", "{who}于{when}", "unknown template field"),
        ("code", "Bad-Code", "lower_snake_case"),
        ("colour", "red", "unknown key"),
    ]:
        with pytest.raises(AlertRuleError, match=msg):
            load_rules([{**bad, key: value}])
    with pytest.raises(AlertRuleError, match="duplicate"):
        load_rules([bad, bad])
    with pytest.raises(ValueError, match="since"):
        event_alerts(hand["dir"], AS_OF, since=AS_OF)


# ------------------------------------------------------------------------------------------------
# simulated town: every rule fires on simulated data and reaches the list
# ------------------------------------------------------------------------------------------------

#: Rare hazards raised so that a 3,000-child town shows every rule within ONE month (the default city
#: has ~0.1 detentions, guardian disappearances or 低保 newborns a month per 3,000 children). Only
#: existing SimulatorConfig knobs are changed; the causal process is the simulator's.
TOWN_RATES = dict(
    father_prison_per_month=0.004,
    mother_prison_per_month=0.0005,
    parent_missing_per_month=0.002,
    police_guardian_lost=1.0,
    parent_death_per_month=0.002,
    poverty_onset_per_month=0.012,
    disabled_children_per_1000=120.0,  # more certificates and 休学 (the simulator's 休学 is for disabled children)
    dropout_per_year=0.03,
    police_missing_child=(0.0008, 0.002, 0.01, 0.035),
)


#: The tables ingested for the simulated town: those the rules read, plus those the person spine and
#: cohort use to place and link children. visit_records (free-text notes: most of the ingest time),
#: attendance and social_insurance are read by no rule and left out to keep the test fast (~10 s).
SIM_TABLES = sorted(
    {r.table for r in RULES}
    | {
        "household_registry",
        "residence_permits",
        "child_registry",
        "student_enrollment",
        "child_health_checks",
        "injury_visits",
    }
)


@pytest.fixture(scope="module")
def sim_town(tmp_path_factory):
    from cryptography.fernet import Fernet

    from privacy.ingest import ingest_folder
    from privacy.tokens import Pseudonymizer
    from simulator import SimulatorConfig, simulate

    root = tmp_path_factory.mktemp("alert_sim")
    t0 = time.perf_counter()
    config = dataclasses.replace(SimulatorConfig(), **TOWN_RATES)
    simulate(
        root / "raw", root / "truth", children=3000, months=12, seed=2, end_month="2025-12", config=config
    )
    # as humiao.stages.run_ingest: the real ingest (validation, pseudonymization, anonymized free text),
    # as of the month after the simulated end month
    ingest_folder(
        root / "raw",
        REPO / "contracts",
        pseudonymizer=Pseudonymizer(b"alerts-test-key-" * 2, 1),
        vault_key=Fernet.generate_key(),
        out_dir=root / "work",
        quarantine_dir=root / "quarantine",
        as_of=AS_OF,
        tables=SIM_TABLES,
    )
    alerts = event_alerts(root / "work" / "pseudonymized", AS_OF, since=SINCE)
    return {"root": root, "alerts": alerts, "seconds": time.perf_counter() - t0}


def test_every_rule_fires_on_simulated_town(sim_town):
    a = sim_town["alerts"]
    counts = a["event_code"].value_counts()
    missing = [c for c in CODES if counts.get(c, 0) == 0]
    assert not missing, f"rules that never fired on simulated data: {missing}; counts {counts.to_dict()}"
    assert tuple(a.columns) == ALERT_COLUMNS
    assert a["child_token"].str.fullmatch(r"P_k1_[0-9a-f]{20}").all()
    assert ((a["known_date"] > SINCE) & (a["known_date"] <= AS_OF)).all()
    assert not a.duplicated(["child_token", "event_code"]).any()


def _scores(alerts: pd.DataFrame, target: str) -> pd.DataFrame:
    """A minimal scores table (docs/interfaces.md §4): the alerted children, one community each."""
    kids = alerts.drop_duplicates("child_token")
    n = len(kids)
    return pd.DataFrame(
        {
            "child_token": kids["child_token"].to_numpy(),
            "as_of_date": [AS_OF] * n,
            "target": [target] * n,
            "community": kids["community"].to_numpy(),
            "township": kids["township"].to_numpy(),
            "district": kids["district"].to_numpy(),
            "score": [0.1] * n,
            "ventile": [10] * n,
            "risk_level": ["低危"] * n,
            "rank_in_community": kids.groupby(["district", "township", "community"]).cumcount().to_numpy()
            + 1,
            "capacity": [1] * n,
            "reasons": [["近3个月缺勤0天"]] * n,
            "reason_features": [["school_days_absent_3m"]] * n,
        }
    )


def test_alerts_reach_the_visit_list(sim_town, tmp_path):
    from openpyxl import load_workbook

    from serving.visit_lists import write_visit_lists

    a = sim_town["alerts"]
    res = write_visit_lists(
        _scores(a, "guardianship_risk"),
        _scores(a, "left_behind_risk"),
        tmp_path / "lists",
        "2026-01",
        data_as_of=D(2025, 12, 31),
        alerts=for_visit_lists(a),
    )
    assert res["counts"]["alerts"] == len(a)
    table = pd.read_parquet(res["parquet"])
    listed = table[table["section"] == "event_alert"]
    got = set(zip(listed["child_token"], listed["event"], strict=True))
    assert got == set(zip(a["child_token"], a["event"], strict=True))
    # every rule's phrase is on the list (the Parquet has no event_code: match through the phrase)
    by_code = a.groupby("event_code")["event"].apply(set)
    assert all(by_code[c] & set(listed["event"]) for c in CODES)
    # … and in the community workbook, under 紧急核查, ahead of the ranked list
    paths = {(p["district"], p["township"], p["community"]): p["path"] for p in res["per_community"]}
    for place, rows in a.groupby(["district", "township", "community"]):
        ws = load_workbook(paths[place], read_only=True)["走访名单"]
        cells = [str(v) for row in ws.iter_rows(values_only=True) for v in row if v is not None]
        text = "\n".join(cells)
        first_alert = next(i for i, v in enumerate(cells) if v.startswith("一、紧急核查"))
        first_ranked = next(i for i, v in enumerate(cells) if v.startswith("二、监护风险走访名单"))
        assert first_alert < first_ranked
        for event in rows["event"]:
            assert f"事件：{event}" in text, (place, event)
