"""Hand-built pseudonymized data in the interfaces §2 format, for the features tests.

Columns come from ``contracts/*.yaml`` (every non-direct-identifier column under its English name,
token columns for pseudonymized identifiers, ``knowledge_date`` per the contract's rule,
``source_file``/``source_row``), so a fixture cannot drift from the contracts.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

REPO = Path(__file__).resolve().parents[2]
D = dt.date
DEFAULT_REGISTERED = D(2015, 1, 1)

_ARROW = {
    "date": pa.date32(),
    "month": pa.date32(),
    "datetime": pa.timestamp("us"),
    "int": pa.int64(),
    "float": pa.float64(),
    "amount": pa.float64(),
    "bool": pa.bool_(),
}


def load_contracts() -> dict[str, dict]:
    """table → {'columns': [(name, arrow type)], 'knowledge': {...}, 'file': ..., 'department': ...}."""
    out = {}
    for path in sorted((REPO / "contracts").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for table, spec in doc["tables"].items():
            cols = []
            for c in spec["columns"]:
                if c["privacy"] == "direct_identifier":
                    if c.get("pseudonym"):
                        cols.append((c["pseudonym"], pa.string()))
                    continue
                if c.get("generalize") == "month":
                    cols.append((c["name"], pa.date32()))
                else:
                    cols.append((c["name"], _ARROW.get(c["type"], pa.string())))
            out[table] = {
                "columns": cols,
                "knowledge": spec["knowledge_date"],
                "file": f"{doc['department']}/{spec['file']}",
            }
    out["id_attributes"] = {
        "columns": [("person_token", pa.string()), ("birth_month", pa.date32()), ("sex", pa.string()),
                    ("id_area_code", pa.string())],
        "knowledge": None,
        "file": None,
    }
    return out


CONTRACTS = load_contracts()


def month_end(d: dt.date) -> dt.date:
    return D(d.year, d.month, calendar.monthrange(d.year, d.month)[1])


def knowledge_date(table: str, row: dict) -> dt.date:
    """The contract's knowledge date of a row: ``column + lag_days`` (month columns: month end + lag)."""
    rule = CONTRACTS[table]["knowledge"]
    v = row[rule["column"]]
    if isinstance(v, dt.datetime):
        v = v.date()
    if rule.get("month_end"):
        v = month_end(v)
    return v + dt.timedelta(days=rule.get("lag_days", 0))


def write_pseudo(folder: Path, tables: dict[str, list[dict]]) -> Path:
    """Write ``tables`` (table → list of row dicts) as ``<folder>/<table>.parquet`` (interfaces §2).

    Missing contract columns are NULL; ``knowledge_date`` is computed from the contract unless the row
    gives one; ``source_file``/``source_row`` are filled. Tables not given are not written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for table, rows in tables.items():
        spec = CONTRACTS[table]
        fields = list(spec["columns"])
        if spec["knowledge"] is not None:
            fields = [("source_file", pa.string()), ("source_row", pa.int64()), *fields,
                      ("knowledge_date", pa.date32())]
        data = {name: [] for name, _ in fields}
        for i, row in enumerate(rows):
            unknown = set(row) - set(data)
            if unknown:
                raise KeyError(f"{table}: unknown columns {sorted(unknown)}")
            full = {name: row.get(name) for name, _ in fields}
            if spec["knowledge"] is not None:
                full["source_file"] = spec["file"]
                full["source_row"] = i + 2
                if full["knowledge_date"] is None:
                    full["knowledge_date"] = knowledge_date(table, full)
            for name in data:
                data[name].append(full[name])
        schema = pa.schema([pa.field(n, t) for n, t in fields])
        pq.write_table(pa.table(data, schema=schema), folder / f"{table}.parquet")
    return folder


class Town:
    """A tiny builder of hand-made households: call methods, then :meth:`write`."""

    def __init__(self):
        self.tables: dict[str, list[dict]] = {t: [] for t in CONTRACTS}

    def person(self, token, birth: dt.date, sex="男", *, household=None, relation="户主",
               hukou="农业家庭户口", district="淳安县", township="千岛湖镇", community="青溪村",
               registered=DEFAULT_REGISTERED, moved_out=None, deregistered=None, reason=None, knowledge=None):
        self.tables["id_attributes"].append(
            {"person_token": token, "birth_month": D(birth.year, birth.month, 1), "sex": sex, "id_area_code": "330127"})
        if household is not None:
            row = {"person_token": token, "sex": sex, "birth_date": D(birth.year, birth.month, 1),
                   "household_token": household, "relation_to_head": relation, "hukou_type": hukou,
                   "district": district, "township": township, "community": community,
                   "registered_date": registered, "moved_out_date": moved_out,
                   "deregistered_date": deregistered, "deregistration_reason": reason}
            if knowledge:
                row["knowledge_date"] = knowledge
            self.tables["household_registry"].append(row)
        return token

    def add(self, table, **row):
        self.tables[table].append(row)
        return row

    def write(self, folder: Path) -> Path:
        return write_pseudo(folder, {t: r for t, r in self.tables.items() if r or t == "id_attributes"})


# ------------------------------------------------------------------------------------------------
# A random small town touching every table, for leakage / uniqueness / dictionary tests
# ------------------------------------------------------------------------------------------------

COMMUNITIES = [("淳安县", "千岛湖镇", "青溪村"), ("淳安县", "汾口镇", "赋溪村"),
               ("上城区", "湖滨街道", "东坡路社区"), ("萧山区", "城厢街道", "高桥社区")]
CITIES = ["杭州市", "杭州市", "广州市", "上海市", "宁波市"]
NOTES = ["家中一切正常", "爷爷住院，孩子由邻居照看", "父母在外务工，孩子与奶奶同住", "孩子独自在家，无人照看",
         "邻居反映有打骂现象", "<PERSON_1>说孩子最近不愿上学", "父亲酗酒，夫妻经常吵架", "生活困难"]


def _rand_date(rng: random.Random, a: dt.date, b: dt.date) -> dt.date:
    return a + dt.timedelta(days=rng.randrange((b - a).days + 1))


def random_town(seed: int = 7, households: int = 36) -> Town:
    """A seeded random town: local households (some three-generation), migrant families, and records in
    every departmental table between 2021 and 2025, with delays between events and knowledge."""
    rng = random.Random(seed)
    t = Town()
    start, end = D(2021, 1, 1), D(2025, 11, 30)
    kid_n = 0
    for h in range(households):
        district, township, community = COMMUNITIES[h % len(COMMUNITIES)]
        rural = community.endswith("村")
        hukou = "农业家庭户口" if rural else "非农业家庭户口"
        migrant = h % 6 == 5
        hh = f"H_{h:03d}"
        reg = _rand_date(rng, D(2012, 1, 1), D(2024, 6, 1))
        three_gen = rural and rng.random() < 0.5
        place = dict(district=district, township=township, community=community)
        adults = []
        if migrant:
            for k, sex in enumerate(("男", "女")):
                p = t.person(f"P_a{h:03d}{k}", _rand_date(rng, D(1980, 1, 1), D(1992, 1, 1)), sex)
                t.add("residence_permits", person_token=p, hukou_origin="安徽省", registered_date=reg,
                      cancelled_date=None, **place)
                adults.append(p)
        else:
            if three_gen:
                g1 = t.person(f"P_g{h:03d}0", _rand_date(rng, D(1948, 1, 1), D(1962, 1, 1)), "男", household=hh,
                              relation="户主", hukou=hukou, registered=reg, **place)
                g2 = t.person(f"P_g{h:03d}1", _rand_date(rng, D(1950, 1, 1), D(1964, 1, 1)), "女", household=hh,
                              relation="配偶", hukou=hukou, registered=reg, **place)
                adults += [g1, g2]
                f = t.person(f"P_a{h:03d}0", _rand_date(rng, D(1980, 1, 1), D(1992, 1, 1)), "男", household=hh,
                             relation="子", hukou=hukou, registered=reg, **place)
                m = t.person(f"P_a{h:03d}1", _rand_date(rng, D(1982, 1, 1), D(1994, 1, 1)), "女", household=hh,
                             relation="其他", hukou=hukou, registered=reg, **place)
            else:
                dead = rng.random() < 0.1
                f = t.person(f"P_a{h:03d}0", _rand_date(rng, D(1978, 1, 1), D(1992, 1, 1)), "男", household=hh,
                             relation="户主", hukou=hukou, registered=reg,
                             deregistered=_rand_date(rng, D(2022, 1, 1), D(2025, 6, 1)) if dead else None,
                             reason="死亡" if dead else None, **place)
                m = t.person(f"P_a{h:03d}1", _rand_date(rng, D(1980, 1, 1), D(1994, 1, 1)), "女", household=hh,
                             relation="配偶", hukou=hukou, registered=reg, **place)
            adults += [f, m]
        parents = adults[-2:]
        # parents' social insurance, hospital stays, custody
        for p in parents:
            city = rng.choice(CITIES)
            mo = D(2021, 1, 1)
            while mo <= D(2025, 10, 1):
                if rng.random() < 0.8:
                    t.add("social_insurance", person_token=p, insured_city=city, month=mo, employer="某公司")
                if rng.random() < 0.05:
                    city = rng.choice(CITIES)
                mo = D(mo.year + (mo.month == 12), mo.month % 12 + 1, 1)
            if rng.random() < 0.2:
                a = _rand_date(rng, start, end)
                t.add("inpatient_admissions", person_token=p, admission_date=a,
                      discharge_date=a + dt.timedelta(days=rng.randrange(2, 40)) if rng.random() < 0.8 else None,
                      ward="内科")
            if rng.random() < 0.06:
                s = _rand_date(rng, start, end)
                t.add("detention_records", person_token=p, start_date=s,
                      expected_release_date=s + dt.timedelta(days=700),
                      released_date=s + dt.timedelta(days=300) if rng.random() < 0.5 else None)
            if rng.random() < 0.08:
                t.add("disability_certificates", person_token=p, category=rng.choice(["肢体", "精神", "视力"]),
                      grade=rng.choice(["一级", "二级", "三级", "四级"]), issued_date=_rand_date(rng, D(2015, 1, 1), end))
        if rng.random() < 0.25:
            s = _rand_date(rng, D(2020, 1, 1), end)
            t.add("subsistence_allowance", head_token=adults[0], household_size=4,
                  allowance_type=rng.choice(["低保", "低保边缘"]), monthly_amount=float(rng.choice([900, 1200, 1500])),
                  start_date=s, end_date=s + dt.timedelta(days=500) if rng.random() < 0.5 else None, **place)
        for k in range(rng.randint(1, 3)):
            kid_n += 1
            c = f"P_c{h:03d}{k}"
            birth = _rand_date(rng, D(2006, 6, 1), D(2024, 6, 1))
            sex = rng.choice(["男", "女"])
            if migrant:
                t.person(c, birth, sex)
                t.add("residence_permits", person_token=c, hukou_origin="安徽省",
                      registered_date=max(reg, birth), cancelled_date=None, **place)
            else:
                rel = ("孙子" if sex == "男" else "孙女") if three_gen else ("子" if sex == "男" else "女")
                t.person(c, birth, sex, household=hh, relation=rel, hukou=hukou, registered=max(reg, birth), **place)
            if rng.random() < 0.35:
                cat = rng.choice(["留守儿童", "留守儿童", "事实无人抚养儿童", "低保家庭儿童", "孤儿", "重病重残儿童"])
                r = _rand_date(rng, max(birth, D(2021, 6, 1)), end)
                t.add("child_registry", record_id=f"R{kid_n}", child_token=c, category=cat,
                      guardian_token=adults[0], guardian_relation="祖父" if three_gen else "父亲",
                      registered_date=r, closed_date=r + dt.timedelta(days=400) if rng.random() < 0.3 else None,
                      **place)
            for _ in range(rng.randint(0, 6)):
                v = _rand_date(rng, max(birth, start), end)
                t.add("visit_records", visit_id=f"V{len(t.tables['visit_records'])}", visit_date=v, child_token=c,
                      visit_mode=rng.choice(["入户走访", "电话回访", "学校见面"]),
                      guardianship_assessment=rng.choice(["良好", "良好", "一般", "监护不当", "监护缺失"]),
                      notes=rng.choice(NOTES), filed_date=v + dt.timedelta(days=rng.randrange(0, 30)))
            age_2021 = (start - birth).days / 365.25
            if age_2021 > 3:
                s = f"S_{c}"
                t.add("student_enrollment", student_token=s, child_token=c, school="某小学", grade="三年级",
                      boarding=rng.random() < 0.3, status="在读", status_date=D(2020, 9, 1), enrolled_date=D(2020, 9, 1))
                if rng.random() < 0.3:
                    t.add("student_enrollment", student_token=s, child_token=c, school="某中学", grade="七年级",
                          boarding=rng.random() < 0.5, status=rng.choice(["转学", "辍学", "休学"]),
                          status_date=_rand_date(rng, start, end), enrolled_date=D(2020, 9, 1))
                mo = D(2021, 1, 1)
                while mo <= D(2025, 10, 1):
                    t.add("attendance", student_token=s, month=mo, days_absent=min(22, int(rng.expovariate(0.5))),
                          school_days=21)
                    mo = D(mo.year + (mo.month == 12), mo.month % 12 + 1, 1)
            if birth > D(2018, 1, 1):
                for _ in range(rng.randint(0, 4)):
                    t.add("child_health_checks", child_token=c, check_date=_rand_date(rng, birth, end),
                          height_cm=100.0, weight_kg=15.0, on_schedule=rng.random() < 0.8)
            if rng.random() < 0.3:
                t.add("injury_visits", child_token=c, visit_date=_rand_date(rng, max(birth, start), end),
                      injury_type=rng.choice(["跌倒", "烧烫伤", "钝器伤"]), hospital="县医院")
            if rng.random() < 0.05:
                t.add("disability_certificates", person_token=c, category="智力", grade="二级",
                      issued_date=_rand_date(rng, birth, end))
            if rng.random() < 0.25:
                when = dt.datetime.combine(_rand_date(rng, start, end), dt.time(20, 30))
                who = rng.choice([c, *parents])
                t.add("incidents", incident_id=f"I{len(t.tables['incidents'])}", reported_at=when,
                      category=rng.choice(["家庭暴力", "儿童走失", "监护人失联", "打架斗殴", "其他"]),
                      person_token=who, role="当事人", summary="<PERSON_1>报警", district=district, township=township)
    return t
