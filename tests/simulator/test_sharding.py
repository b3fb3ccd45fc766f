"""Tests of the sharded simulator (issue 8): a city simulated as several sub-populations, one after the
other, appended to the same files, must still be one city — identifiers unique and valid across shards,
injected defects pointing at rows of the combined files, truth for every child, same seed → same bytes —
and the product must ingest it.

Cities are small (3 shards of 1,500 children) so the module runs in seconds.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from simulator import SimulatorConfig, simulate
from simulator.__main__ import main as cli_main
from simulator.contracts import load_contracts
from simulator.core import BURN_IN, _streams, shard_sizes
from simulator.dynamics import run_dynamics
from simulator.ids import IdLedger, id_body_keys, is_valid_id18, make_id_numbers, make_phones
from simulator.places import build_city
from simulator.population import NameMaker, build_population
from simulator.tables import Builder

CONTRACTS = load_contracts()
CHILDREN, SHARD = 4500, 1500
SEED = 7


def run(
    base: Path, children: int = CHILDREN, shard: int = SHARD, seed: int = SEED
) -> tuple[Path, Path, dict]:
    out, truth = base / "raw", base / "truth"
    manifest = simulate(out, truth, children=children, months=36, seed=seed, shard_children=shard)
    return out, truth, manifest


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    return run(tmp_path_factory.mktemp("sharded"))


@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    """Two shards drawn from the SAME random streams: without the ledger every ID, phone, household
    number and record number of the second shard would repeat the first's."""
    with pytest.MonkeyPatch.context() as mp:  # undone before any other test runs
        mp.setattr(
            "simulator.core._streams",
            lambda seed, shard=None: _streams(seed, 0 if shard is not None else None),
        )
        return run(tmp_path_factory.mktemp("twins"), children=2000, shard=1000)


def read(out: Path, table: str) -> pd.DataFrame:
    """A combined export with the contract's English column names, every cell as text."""
    c = CONTRACTS[table]
    path = out / c.relpath
    if c.file.endswith(".xlsx"):
        df = pd.read_excel(path, dtype=str).fillna("")
    else:
        df = pd.read_csv(
            path, dtype=str, encoding="gbk" if c.encoding == "gbk" else "utf-8", keep_default_na=False
        )
    assert tuple(df.columns) == c.headers, table
    df.columns = list(c.names)
    return df


def norm(v: str) -> str:
    return unicodedata.normalize("NFKC", str(v)).strip().upper().replace("-", "")


def body17(v: str) -> str | None:
    """The 17-digit body of an 18-digit or legacy 15-digit ID (None for anything else)."""
    s = norm(v)
    if len(s) == 18:
        return s[:17]
    if len(s) == 15 and s.isdigit():
        return s[:6] + "19" + s[6:]
    return None


def defects(truth: Path) -> pd.DataFrame:
    return pd.read_parquet(truth / "injected_defects.parquet")


def non_duplicate(df: pd.DataFrame, table: str, d: pd.DataFrame) -> pd.DataFrame:
    """Rows of a combined export without the injected DUPLICATE_ROW copies."""
    rows = d[(d["file"] == CONTRACTS[table].relpath) & (d["defect"] == "DUPLICATE_ROW")]["source_row"]
    keep = np.ones(len(df), bool)
    keep[rows.to_numpy() - 2] = False
    return df[keep]


# ------------------------------------------------------------------------------------------- sizes


def test_shard_sizes():
    assert shard_sizes(2_000_000, 250_000) == [250_000] * 8
    assert shard_sizes(4500, 1500) == [1500] * 3
    assert shard_sizes(4501, 1500) == [1126, 1125, 1125, 1125]
    assert shard_sizes(1200, 250_000) == [1200]
    with pytest.raises(ValueError, match="shard_children"):
        simulate(Path("/tmp/x_raw"), Path("/tmp/x_truth"), children=1000, shard_children=50)


def test_small_city_does_not_depend_on_shard_children(tmp_path):
    """A city that fits in one shard is simulated exactly as before, whatever the shard size."""
    _, t1, m1 = run(tmp_path / "a", children=1200, shard=1200, seed=3)
    _, t2, m2 = run(tmp_path / "b", children=1200, shard=10**6, seed=3)
    assert m1["files"] == m2["files"]
    for f in ("child_month_truth.parquet", "child_attributes.parquet", "injected_defects.parquet"):
        assert (t1 / f).read_bytes() == (t2 / f).read_bytes(), f
    # and it differs from the same city cut in two shards (the option is not ignored)
    _, _, m3 = run(tmp_path / "c", children=1200, shard=600, seed=3)
    assert m3["files"] != m1["files"]


# -------------------------------------------------------------------------------- files, manifest


def test_manifest_rows_and_hashes_are_the_combined_files(sharded):
    out, _, manifest = sharded
    assert manifest["children"] == CHILDREN
    on_disk = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk == manifest
    assert set(manifest["files"]) == {c.relpath for c in CONTRACTS.values()}
    for table, c in CONTRACTS.items():
        df = read(out, table)  # one header: read() checks the header; a repeated one would be a data row
        assert len(df) == manifest["rows"][c.relpath] > 0, table
        assert not (df.to_numpy() == np.array(c.names, dtype=object)).all(1).any(), table
        assert not (df.to_numpy() == np.array(c.headers, dtype=object)).all(1).any(), table
        assert hashlib.sha256((out / c.relpath).read_bytes()).hexdigest() == manifest["files"][c.relpath]
    # appended, not overwritten: about 13 attendance rows per child of the whole city (≈ 20,000 per shard)
    assert manifest["rows"]["education/attendance.csv"] > 10 * CHILDREN


# ---------------------------------------------------------------------------------- identifiers


def check_identifiers(out: Path, truth: Path, children: int) -> None:
    d = defects(truth)
    invalid = d[d["defect"].str.contains("INVALID_ID_CHECKSUM")]
    # persons: every local person has one household-registry row, every migrant at most one permit
    hr = non_duplicate(read(out, "household_registry"), "household_registry", d)
    rp = non_duplicate(read(out, "residence_permits"), "residence_permits", d)
    bodies = pd.Series([body17(v) for v in pd.concat([hr["id_number"], rp["id_number"]])])
    assert bodies.notna().all()
    dup = bodies[bodies.duplicated()]
    assert dup.empty, f"{len(dup)} ID numbers used by two persons, e.g. {dup.head(3).tolist()}"
    # every 18-digit ID is checksum-valid unless logged as a wrong check character
    for table in ("household_registry", "residence_permits"):
        df = read(out, table)
        bad_rows = set(invalid[invalid["file"] == CONTRACTS[table].relpath]["source_row"])
        for i, v in enumerate(df["id_number"]):
            s = norm(v)
            if len(s) == 18:
                assert is_valid_id18(s) != (i + 2 in bad_rows), (table, i + 2, v)
    # truth: one row per child, IDs valid and unique
    attrs = pd.read_parquet(truth / "child_attributes.parquet")
    assert len(attrs) == children and attrs["id_number"].is_unique
    assert all(is_valid_id18(v) for v in attrs["id_number"])
    # household numbers: one household (one address) per number city-wide
    per_hh = hr.groupby("household_number")["address"].nunique()
    assert (per_hh == 1).all(), per_hh[per_hh > 1].head()
    # student numbers: one child per number; phones: one guardian per number
    se = read(out, "student_enrollment")
    se_b = se.assign(b=[body17(v) for v in se["id_number"]])
    per_sn = se_b.groupby("student_number")["b"].nunique()
    assert (per_sn == 1).all(), per_sn[per_sn > 1].head()
    ph = se[se["guardian_phone"] != ""].assign(p=lambda x: x["guardian_phone"].map(norm))
    per_phone = ph.groupby("p")["guardian_name"].nunique()
    assert (per_phone == 1).all(), per_phone[per_phone > 1].head()
    # record numbers (keyed columns): 登记编号 and 走访编号 unique, one incident per 警情编号
    cr = non_duplicate(read(out, "child_registry"), "child_registry", d)
    assert cr["record_id"].is_unique, cr["record_id"][cr["record_id"].duplicated()].head()
    vr = non_duplicate(read(out, "visit_records"), "visit_records", d)
    assert vr["visit_id"].is_unique, vr["visit_id"][vr["visit_id"].duplicated()].head()
    inc = read(out, "incidents")
    per_inc = inc.groupby("incident_id")[["category", "summary", "district"]].nunique()
    assert (per_inc == 1).all(axis=None), per_inc[(per_inc > 1).any(axis=1)].head()
    # communities: each name belongs to one township of one district
    places = pd.concat(
        [attrs[["community", "township", "district"]], hr[["community", "township", "district"]]]
    )
    per_c = places.groupby("community")[["township", "district"]].nunique()
    assert (per_c == 1).all(axis=None), per_c[(per_c > 1).any(axis=1)].head()


def test_identifiers_unique_across_shards(sharded):
    out, truth, _ = sharded
    check_identifiers(out, truth, CHILDREN)


def test_identifiers_unique_even_when_shards_draw_the_same_numbers(twins):
    """Both shards start from the same random draws: only the ledger keeps the second one's ID numbers
    (same place, birth date and sex) from repeating the first's."""
    out, truth, _ = twins
    check_identifiers(out, truth, 2000)
    attrs = pd.read_parquet(truth / "child_attributes.parquet")
    # the two shards really are twins: each child's birth date and place occur twice
    twin = attrs.groupby(["birth_date", "sex", "community"]).size()
    assert (twin >= 2).mean() > 0.95


def test_ledger_redraws_every_collision():
    """Forced collisions: the same generator state drawn twice, the second time against the first."""
    n = 4000  # 20 birth dates × 2 sexes: 100 persons per 500 sequence numbers of a sex, twice
    area = np.array(["330106"] * n)
    birth = np.datetime64("2015-03-01") + (np.arange(n) % 20).astype("timedelta64[D]")
    male = (np.arange(n) // 20) % 2 == 0
    a = make_id_numbers(np.random.default_rng(1), area, birth, male)
    b0 = make_id_numbers(np.random.default_rng(1), area, birth, male)
    assert (a == b0).all()  # what a second shard would draw without the ledger
    b = make_id_numbers(np.random.default_rng(1), area, birth, male, taken=np.sort(id_body_keys(a)))
    assert not set(a) & set(b) and len(set(b)) == n
    assert all(is_valid_id18(v) for v in b)
    assert ((np.array([int(v[16]) for v in b]) % 2 == 1) == male).all()  # sex parity kept
    p1 = make_phones(np.random.default_rng(2), n)
    p2 = make_phones(np.random.default_rng(2), n, taken=np.sort(p1.astype(np.int64)))
    assert not set(p1) & set(p2) and len(set(p2)) == n
    assert all(len(v) == 11 and v.isdigit() for v in p2)


def test_builder_record_numbers_continue_across_shards():
    """Two shards with identical histories and table generators: with a shared ledger their record
    numbers (登记编号, 走访编号, 警情编号, L-student numbers) are disjoint; without, they coincide."""
    cfg = SimulatorConfig()
    end = np.datetime64("2025-12", "M")
    start = end - (36 + BURN_IN) + 1
    city = build_city(cfg, 1500, np.random.default_rng(0))
    names = NameMaker(np.random.default_rng(1))
    pop = build_population(cfg, city, 1500, end, start, np.random.default_rng(2), names)
    hist = run_dynamics(cfg, city, pop, 36, start, np.random.default_rng(3))
    contracts = load_contracts()

    def numbers(ledger):
        b = Builder(cfg, city, pop, hist, contracts, np.random.default_rng(4), names, end, ledger=ledger)
        se = b.table_student_enrollment()["student_number"]
        return {
            "record_id": set(b.table_child_registry()["record_id"]),
            "visit_id": set(b.table_visit_records()["visit_id"]),
            "incident_id": set(b.table_incidents()["incident_id"]),
            "student_L": set(se[se.str.startswith("L")]),
        }

    plain = [numbers(None), numbers(None)]
    ledger = IdLedger()
    shared = [numbers(ledger), numbers(ledger)]
    for k in plain[0]:
        assert plain[0][k] and plain[0][k] & plain[1][k], k  # the collision is real
        assert not shared[0][k] & shared[1][k], k
    assert ledger.registry_seq == 2 * len(plain[0]["record_id"])


# ---------------------------------------------------------------------------------------- defects


def test_injected_defects_point_at_rows_of_the_combined_files(sharded):
    out, truth, _ = sharded
    d = defects(truth)
    assert (d["source_row"] >= 2).all()
    beyond_first_shard = 0
    for table, c in CONTRACTS.items():
        dt_ = d[d["file"] == c.relpath]
        if dt_.empty:
            continue
        df = read(out, table)
        n = len(df)
        assert dt_["source_row"].max() <= n + 1, table
        beyond_first_shard += int((dt_["source_row"] > n / 3 + 2).sum())
        for r in dt_.itertuples(index=False):
            i = int(r.source_row) - 2
            if r.defect == "DUPLICATE_ROW":
                assert (df.iloc[i].to_numpy() == df.iloc[i - 1].to_numpy()).all(), (table, r.source_row)
                continue
            v = str(df.iloc[i][r.column])
            s = norm(v)
            if "INVALID_ID_CHECKSUM" in r.defect:
                assert len(s) == 18 and not is_valid_id18(s), (table, r.source_row, v)
            if r.defect == "LEGACY_ID15":
                assert len(s) == 15 and s.isdigit(), (table, r.source_row, v)
            if r.defect == "LOWERCASE_X":
                assert v.endswith("x") and is_valid_id18(s), (table, r.source_row, v)
            if "FULLWIDTH_DIGITS" in r.defect:
                assert any("０" <= ch <= "９" for ch in v), (table, r.source_row, v)
    assert beyond_first_shard > 20  # later shards' defects are really in the file's later rows


# ------------------------------------------------------------------------------------------ truth


def test_truth_covers_every_child_of_every_shard(sharded):
    out, truth, _ = sharded
    attrs = pd.read_parquet(truth / "child_attributes.parquet")
    t = pq.read_table(truth / "child_month_truth.parquet").to_pandas()
    assert pq.ParquetFile(truth / "child_month_truth.parquet").metadata.num_row_groups >= 3  # one per shard
    assert len(attrs) == CHILDREN and attrs["id_number"].is_unique
    assert set(t["id_number"]) == set(attrs["id_number"])
    assert not t.duplicated(["id_number", "month"]).any()
    months = pd.to_datetime(t["month"])
    assert months.min() == pd.Timestamp("2023-01-01") and months.max() == pd.Timestamp("2025-12-01")
    # every local child of the registry is a truth child
    hr = read(out, "household_registry")
    local_children = {
        norm(v) for v in hr["id_number"][hr["relation_to_head"].isin(["子", "女", "孙子", "孙女"])]
    }
    local_children = {v for v in local_children if len(v) == 18 and is_valid_id18(v) and v[6:10] >= "2008"}
    assert local_children and local_children <= set(attrs["id_number"])
    # the shards are random sub-populations of the whole city: every district in every third
    per_third = np.array_split(attrs["district"].to_numpy(), 3)
    assert all(len(set(x)) == 13 for x in per_third)


# ------------------------------------------------------------------------------------ determinism


def test_same_seed_same_bytes_when_sharded(sharded, tmp_path):
    """The command line with --shard-children writes the fixture's city again, byte for byte."""
    _, truth, manifest = sharded
    out2, truth2 = tmp_path / "raw", tmp_path / "truth"
    argv = [
        "--children",
        str(CHILDREN),
        "--months",
        "36",
        "--seed",
        str(SEED),
        "--shard-children",
        str(SHARD),
    ]
    assert cli_main([*argv, "--out", str(out2), "--truth", str(truth2)]) == 0
    again = json.loads((out2 / "manifest.json").read_text(encoding="utf-8"))
    assert again == manifest
    for f in ("child_month_truth.parquet", "child_attributes.parquet", "injected_defects.parquet"):
        assert (truth / f).read_bytes() == (truth2 / f).read_bytes(), f


# ------------------------------------------------------------------------------------------ ingest


def test_product_ingests_a_sharded_city(sharded, tmp_path):
    import datetime as dt

    from cryptography.fernet import Fernet

    from privacy.ingest import ingest_folder
    from privacy.tokens import Pseudonymizer

    out, truth, manifest = sharded
    repo = Path(__file__).resolve().parents[2]
    report = ingest_folder(
        out,
        repo / "contracts",
        pseudonymizer=Pseudonymizer(b"sharding-test-key" * 2, 1),
        vault_key=Fernet.generate_key(),
        out_dir=tmp_path / "work",
        quarantine_dir=tmp_path / "quarantine",
        as_of=dt.date(2026, 1, 1),
        anonymizer_jobs=1,
    )
    assert report.status == "ok", report.errors
    d = defects(truth)
    assert set(report.tables) == set(CONTRACTS)
    for table, c in CONTRACTS.items():
        tr = report.tables[table]
        assert tr.status == "ok", (table, tr.errors)
        assert tr.rows_read == manifest["rows"][c.relpath], table
        assert tr.rows_read == tr.rows_passed + tr.rows_quarantined + tr.rows_duplicate, table
        assert tr.rows_passed > 0, table
        # every wrong check character injected in any shard is quarantined
        bad = d[(d["file"] == c.relpath) & d["defect"].str.contains("INVALID_ID_CHECKSUM")]
        assert tr.rows_quarantined >= bad["source_row"].nunique(), table
    written = {p.stem for p in (tmp_path / "work" / "pseudonymized").glob("*.parquet")}
    assert set(CONTRACTS) <= written
