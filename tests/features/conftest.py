"""Fixtures for the features tests: hand-built households and a random small town, written as
pseudonymized Parquet in the interfaces §2 format (see features_testdata.py)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from features_testdata import Town, random_town

D = dt.date
AS_OF = D(2025, 1, 1)


def months(start: dt.date, end: dt.date):
    m = start
    while m <= end:
        yield m
        m = D(m.year + (m.month == 12), m.month % 12 + 1, 1)


def hand_town() -> Town:
    """Households whose features at 2025-01-01 are worked out by hand in test_features_build.py."""
    t = Town()
    rural = dict(district="淳安县", township="千岛湖镇", community="青溪村")
    rural2 = dict(district="淳安县", township="汾口镇", community="赋溪村")
    urban = dict(district="上城区", township="湖滨街道", community="东坡路社区")
    urban_hh = dict(urban, hukou="非农业家庭户口")
    # H1: nuclear rural household, both parents insured in 广州 during 2024
    t.person("P_F1", D(1988, 2, 1), "男", household="H_1", relation="户主", registered=D(2012, 1, 1), **rural)
    t.person("P_M1", D(1990, 7, 1), "女", household="H_1", relation="配偶", registered=D(2012, 1, 1), **rural)
    t.person("P_C1", D(2015, 5, 1), "男", household="H_1", relation="子", registered=D(2015, 6, 1), **rural)
    t.person("P_C2", D(2012, 2, 1), "女", household="H_1", relation="女", registered=D(2012, 3, 1), **rural)
    for m in months(D(2024, 1, 1), D(2024, 12, 1)):
        for p in ("P_F1", "P_M1"):
            t.add("social_insurance", person_token=p, insured_city="广州市", month=m, employer="某厂")
    t.add("disability_certificates", person_token="P_C2", category="智力", grade="二级", issued_date=D(2023, 5, 1))
    # H2: grandparents with a granddaughter; the father moved out and works in 上海
    t.person("P_G2", D(1950, 1, 1), "男", household="H_2", relation="户主", registered=D(2000, 1, 1), **rural2)
    t.person("P_W2", D(1952, 1, 1), "女", household="H_2", relation="配偶", registered=D(2000, 1, 1), **rural2)
    t.person("P_F3", D(1985, 1, 1), "男", household="H_2", relation="子", registered=D(2000, 1, 1),
             moved_out=D(2023, 5, 1), **rural2)
    t.person("P_C3", D(2016, 8, 1), "女", household="H_2", relation="孙女", registered=D(2016, 9, 1), **rural2)
    for m in months(D(2024, 1, 1), D(2024, 12, 1)):
        t.add("social_insurance", person_token="P_F3", insured_city="上海市", month=m)
    t.add("inpatient_admissions", person_token="P_G2", admission_date=D(2024, 12, 20), discharge_date=None, ward="内科")
    t.add("child_registry", record_id="R3", child_token="P_C3", category="留守儿童", guardian_token="P_G2",
          guardian_relation="祖父", registered_date=D(2025, 3, 10), **rural2)
    # H3: urban household; father died, mother in custody, boy dropped out
    t.person("P_F4", D(1980, 1, 1), "男", household="H_3", relation="户主", registered=D(2009, 1, 1),
             deregistered=D(2024, 6, 10), reason="死亡", **urban_hh)
    t.person("P_M4", D(1982, 1, 1), "女", household="H_3", relation="配偶", registered=D(2009, 1, 1), **urban_hh)
    t.person("P_C4", D(2010, 3, 1), "男", household="H_3", relation="子", registered=D(2010, 4, 1), **urban_hh)
    t.add("detention_records", person_token="P_M4", start_date=D(2024, 10, 1),
          expected_release_date=D(2026, 10, 1), released_date=None)
    t.add("subsistence_allowance", head_token="P_M4", household_size=2, allowance_type="低保",
          monthly_amount=1200.0, start_date=D(2024, 7, 1), end_date=None, **urban)
    t.add("student_enrollment", student_token="S_4", child_token="P_C4", school="某中学", grade="八年级",
          boarding=True, status="在读", status_date=D(2016, 9, 1), enrolled_date=D(2016, 9, 1))
    t.add("student_enrollment", student_token="S_4", child_token="P_C4", school="某中学", grade="九年级",
          boarding=True, status="辍学", status_date=D(2024, 11, 15), enrolled_date=D(2016, 9, 1))
    for m, absent, days in [(D(2024, 6, 1), 1, 20), (D(2024, 7, 1), 0, 0), (D(2024, 8, 1), 0, 0),
                            (D(2024, 9, 1), 2, 21), (D(2024, 10, 1), 5, 20), (D(2024, 11, 1), 10, 20),
                            (D(2024, 12, 1), 9, 20)]:
        t.add("attendance", student_token="S_4", month=m, days_absent=absent, school_days=days)
    t.add("incidents", incident_id="I1", reported_at=dt.datetime(2024, 9, 1, 21, 0), category="家庭暴力",
          person_token="P_C4", role="受害人", summary="<PERSON_1>报警", district="上城区", township="湖滨街道")
    t.add("visit_records", visit_id="V1", visit_date=D(2024, 12, 1), child_token="P_C4", visit_mode="入户走访",
          guardianship_assessment="一般", notes="母亲住院，孩子独自在家", filed_date=D(2024, 12, 3))
    t.add("visit_records", visit_id="V2", visit_date=D(2024, 12, 20), child_token="P_C4", visit_mode="电话回访",
          guardianship_assessment="监护缺失", notes="无人照看", filed_date=D(2025, 1, 5))
    # C5: migrant child known only through a residence permit
    t.person("P_C5", D(2019, 4, 1), "女")
    t.add("residence_permits", person_token="P_C5", district="萧山区", township="城厢街道", community="高桥社区",
          hukou_origin="安徽省", registered_date=D(2022, 1, 1))
    t.add("child_health_checks", child_token="P_C5", check_date=D(2023, 6, 15), on_schedule=True)
    # C6: registered only after the as-of date
    t.person("P_C6", D(2014, 1, 1), "男", household="H_6", relation="子", registered=D(2025, 2, 1), **urban_hh)
    return t


@pytest.fixture(scope="session")
def town_dir(tmp_path_factory) -> Path:
    return hand_town().write(tmp_path_factory.mktemp("hand_town"))


@pytest.fixture(scope="session")
def random_dir(tmp_path_factory) -> Path:
    return random_town().write(tmp_path_factory.mktemp("random_town"))
