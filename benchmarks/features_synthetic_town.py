"""Scale benchmark for build_features (not collected by pytest; run by hand).

    .venv/bin/python benchmarks/features_synthetic_town.py --children 200000 [--dir /tmp/hm_bench]

Writes a vectorized synthetic pseudonymized folder (interfaces §2 columns; volumes per child close
to the simulator's: 24 months of attendance per pupil, 24 months of social insurance per parent,
a few visits, incidents, checks) and times build_features / build_labels for one as-of date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

BASE = np.datetime64("2023-01-01")


def _dates(days: np.ndarray) -> pa.Array:
    return pa.array((BASE + days.astype("timedelta64[D]")).astype("datetime64[D]"), type=pa.date32())


def _months(idx: np.ndarray) -> np.ndarray:
    return (np.datetime64("2023-01") + idx.astype("timedelta64[M]")).astype("datetime64[D]")


def _write(folder: Path, name: str, cols: dict) -> None:
    n = len(next(iter(cols.values())))
    cols = {"source_file": pa.array(np.full(n, f"{name}.csv")), "source_row": pa.array(np.arange(2, n + 2)), **cols}
    pq.write_table(pa.table(cols), folder / f"{name}.parquet")


def generate(folder: Path, children: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n_hh = children * 2 // 3
    kid_hh = rng.integers(0, n_hh, children)
    kids = np.char.add("P_c", np.arange(children).astype(str))
    adults = np.char.add("P_a", np.arange(2 * n_hh).astype(str))
    hh_tokens = np.char.add("H_", np.arange(n_hh).astype(str))
    communities = np.char.add(np.array(["社区", "村"])[np.arange(2000) % 2], "")
    communities = np.char.add(np.char.add("C", np.arange(2000).astype(str)), communities)
    hh_comm = communities[rng.integers(0, 2000, n_hh)]
    migrant_hh = rng.random(n_hh) < 0.3
    kid_birth = rng.integers(-17 * 365, 2 * 365, children)
    adult_birth = rng.integers(-45 * 365, -22 * 365, 2 * n_hh)
    # id_attributes
    persons = np.concatenate([kids, adults])
    births = np.concatenate([kid_birth, adult_birth])
    pq.write_table(pa.table({
        "person_token": persons,
        "birth_month": pa.array((BASE + births.astype("timedelta64[D]")).astype("datetime64[M]").astype("datetime64[D]"),
                                type=pa.date32()),
        "sex": np.where(rng.random(len(persons)) < 0.52, "男", "女"),
        "id_area_code": np.full(len(persons), "330127"),
    }), folder / "id_attributes.parquet")
    # household registry: local households (adults + kids)
    local_kid = ~migrant_hh[kid_hh]
    adult_hh = np.repeat(np.arange(n_hh), 2)
    local_adult = ~migrant_hh[adult_hh]
    tok = np.concatenate([adults[local_adult], kids[local_kid]])
    hh = np.concatenate([adult_hh[local_adult], kid_hh[local_kid]])
    rel = np.concatenate([np.tile(["户主", "配偶"], n_hh)[local_adult], np.full(local_kid.sum(), "子")])
    reg = rng.integers(-3000, 600, len(tok))
    _write(folder, "household_registry", {
        "person_token": tok, "sex": np.full(len(tok), "男"), "birth_date": pa.nulls(len(tok), pa.date32()),
        "household_token": hh_tokens[hh], "relation_to_head": rel,
        "hukou_type": np.where(np.char.endswith(hh_comm[hh], "村"), "农业家庭户口", "非农业家庭户口"),
        "district": np.full(len(tok), "淳安县"), "township": np.full(len(tok), "某镇"), "community": hh_comm[hh],
        "registered_date": _dates(reg), "moved_out_date": pa.nulls(len(tok), pa.date32()),
        "deregistered_date": pa.nulls(len(tok), pa.date32()), "deregistration_reason": pa.nulls(len(tok), pa.string()),
        "knowledge_date": _dates(reg),
    })
    mtok = np.concatenate([adults[~local_adult], kids[~local_kid]])
    mhh = np.concatenate([adult_hh[~local_adult], kid_hh[~local_kid]])
    mreg = rng.integers(-2000, 600, len(mtok))
    _write(folder, "residence_permits", {
        "person_token": mtok, "district": np.full(len(mtok), "萧山区"), "township": np.full(len(mtok), "某街道"),
        "community": hh_comm[mhh], "hukou_origin": np.full(len(mtok), "安徽省"), "registered_date": _dates(mreg),
        "cancelled_date": pa.nulls(len(mtok), pa.date32()), "knowledge_date": _dates(mreg),
    })
    # social insurance: 24 months per adult
    months = np.tile(np.arange(24), len(adults))
    who = np.repeat(adults, 24)
    city = np.where(rng.random(len(adults)) < 0.2, "广州市", "杭州市")
    mdays = _months(months)
    _write(folder, "social_insurance", {
        "person_token": who, "insured_city": np.repeat(city, 24), "month": pa.array(mdays, type=pa.date32()),
        "employer": pa.nulls(len(who), pa.string()),
        "knowledge_date": pa.array(mdays + np.timedelta64(75, "D"), type=pa.date32()),
    })
    # schooling: pupils aged 6+ get a student token, enrollment and 24 months of attendance
    pupil = kid_birth < -6 * 365
    pk = kids[pupil]
    st = np.char.add("S_", pk)
    _write(folder, "student_enrollment", {
        "student_token": st, "child_token": pk, "school": np.full(len(pk), "某校"), "grade": np.full(len(pk), "三年级"),
        "boarding": rng.random(len(pk)) < 0.2, "status": np.where(rng.random(len(pk)) < 0.01, "辍学", "在读"),
        "status_date": _dates(rng.integers(-800, 600, len(pk))), "enrolled_date": _dates(np.full(len(pk), -800)),
        "knowledge_date": _dates(rng.integers(-800, 600, len(pk))),
    })
    am = np.tile(np.arange(24), len(pk))
    adays = _months(am)
    _write(folder, "attendance", {
        "student_token": np.repeat(st, 24), "month": pa.array(adays, type=pa.date32()),
        "days_absent": rng.poisson(1.0, len(am)), "school_days": np.full(len(am), 21),
        "knowledge_date": pa.array(adays + np.timedelta64(36, "D"), type=pa.date32()),
    })
    # visits (2 per child on average), incidents, checks, injuries, registry, disability
    nv = children * 2
    vd = rng.integers(0, 730, nv)
    _write(folder, "visit_records", {
        "visit_id": np.char.add("V", np.arange(nv).astype(str)), "visit_date": _dates(vd),
        "child_token": kids[rng.integers(0, children, nv)], "visit_mode": np.full(nv, "入户走访"),
        "guardianship_assessment": rng.choice(["良好", "一般", "监护不当", "监护缺失"], nv, p=[.7, .25, .03, .02]),
        "notes": rng.choice(["家中正常", "爷爷住院", "父母外出务工", "无人照看"], nv), "filed_date": _dates(vd + 5),
        "knowledge_date": _dates(vd + 5),
    })
    ni = children // 20
    idt = rng.integers(0, 730, ni)
    _write(folder, "incidents", {
        "incident_id": np.char.add("I", np.arange(ni).astype(str)),
        "reported_at": pa.array((BASE + idt.astype("timedelta64[D]")).astype("datetime64[us]")),
        "category": rng.choice(["家庭暴力", "儿童走失", "监护人失联", "其他"], ni),
        "person_token": np.where(rng.random(ni) < 0.5, kids[rng.integers(0, children, ni)],
                                 adults[rng.integers(0, len(adults), ni)]),
        "role": np.full(ni, "当事人"), "summary": np.full(ni, "x"),
        "district": np.full(ni, "淳安县"), "township": np.full(ni, "某镇"), "knowledge_date": _dates(idt + 1),
    })
    nc = children // 2
    cd = rng.integers(0, 730, nc)
    _write(folder, "child_health_checks", {
        "child_token": kids[rng.integers(0, children, nc)], "check_date": _dates(cd),
        "height_cm": np.full(nc, 100.0), "weight_kg": np.full(nc, 15.0), "on_schedule": rng.random(nc) < 0.9,
        "knowledge_date": _dates(cd + 7),
    })
    nr = children // 20
    rd = rng.integers(-300, 700, nr)
    _write(folder, "child_registry", {
        "record_id": np.char.add("R", np.arange(nr).astype(str)), "child_token": kids[rng.integers(0, children, nr)],
        "category": rng.choice(["留守儿童", "低保家庭儿童", "事实无人抚养儿童"], nr),
        "guardian_token": adults[rng.integers(0, len(adults), nr)], "guardian_relation": np.full(nr, "父亲"),
        "district": np.full(nr, "淳安县"), "township": np.full(nr, "某镇"), "community": communities[rng.integers(0, 2000, nr)],
        "registered_date": _dates(rd), "closed_date": pa.nulls(nr, pa.date32()), "remarks": pa.nulls(nr, pa.string()),
        "knowledge_date": _dates(rd),
    })
    for name, cols in {
        "injury_visits": lambda n, d: {"child_token": kids[rng.integers(0, children, n)], "visit_date": _dates(d),
                                       "injury_type": np.full(n, "跌倒"), "hospital": np.full(n, "医院"),
                                       "knowledge_date": _dates(d + 7)},
        "inpatient_admissions": lambda n, d: {"person_token": adults[rng.integers(0, len(adults), n)],
                                              "admission_date": _dates(d), "discharge_date": _dates(d + 10),
                                              "ward": np.full(n, "内科"), "knowledge_date": _dates(d + 3)},
        "disability_certificates": lambda n, d: {"person_token": persons[rng.integers(0, len(persons), n)],
                                                 "category": np.full(n, "肢体"), "grade": np.full(n, "二级"),
                                                 "issued_date": _dates(d - 1000), "knowledge_date": _dates(d - 1000)},
        "detention_records": lambda n, d: {"person_token": adults[rng.integers(0, len(adults), n)],
                                           "start_date": _dates(d), "expected_release_date": _dates(d + 700),
                                           "released_date": pa.nulls(n, pa.date32()), "knowledge_date": _dates(d + 14)},
        "subsistence_allowance": lambda n, d: {"head_token": adults[rng.integers(0, len(adults), n)],
                                               "household_size": np.full(n, 3), "allowance_type": np.full(n, "低保"),
                                               "monthly_amount": np.full(n, 1200.0), "start_date": _dates(d - 500),
                                               "end_date": pa.nulls(n, pa.date32()), "knowledge_date": _dates(d - 500)},
    }.items():
        n = children // 25
        _write(folder, name, cols(n, rng.integers(0, 730, n)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--children", type=int, default=200_000)
    ap.add_argument("--dir", default="/tmp/hm_bench")
    ap.add_argument("--skip-generate", action="store_true")
    args = ap.parse_args()
    folder = Path(args.dir)
    if not args.skip_generate:
        t0 = time.time()
        generate(folder, args.children)
        print(f"generated {args.children} children in {time.time() - t0:.1f}s")
    from features.build import build_features, build_labels

    as_of = dt.date(2024, 7, 1)
    t0 = time.time()
    df = build_features(folder, [as_of])
    print(f"build_features: {len(df)} rows x {df.shape[1]} cols in {time.time() - t0:.1f}s")
    t0 = time.time()
    lab = build_labels(folder, [as_of], 180)
    print(f"build_labels: {len(lab)} rows in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
