"""The same spec gives the same features on DuckDB and on a second backend (Polars) — issue 4."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from features.build import GROUP_COLUMNS, build_features

D = dt.date
REPO = Path(__file__).resolve().parents[2]
SIMULATED_CITY = REPO / "data" / "work" / "pseudonymized"

#: Token columns through which each table reaches a person (for cutting a town out of the city).
PERSON_COLUMNS = {
    "child_registry": "child_token", "subsistence_allowance": "head_token", "visit_records": "child_token",
    "household_registry": "person_token", "incidents": "person_token", "residence_permits": "person_token",
    "student_enrollment": "child_token", "child_health_checks": "child_token", "injury_visits": "child_token",
    "inpatient_admissions": "person_token", "disability_certificates": "person_token",
    "social_insurance": "person_token", "detention_records": "person_token", "id_attributes": "person_token",
}


def assert_same_features(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    a = a.sort_values(["as_of_date", "child_token"]).reset_index(drop=True)
    b = b.sort_values(["as_of_date", "child_token"]).reset_index(drop=True)
    assert list(a["child_token"]) == list(b["child_token"])
    assert list(a["as_of_date"]) == list(b["as_of_date"])
    for c in GROUP_COLUMNS:
        pd.testing.assert_series_equal(a[c], b[c], check_dtype=False, obj=c)
    feats = [c for c in a.columns if c not in GROUP_COLUMNS]
    assert (b[feats].dtypes == np.float32).all()
    bad = []
    for c in feats:
        if not np.allclose(a[c].to_numpy(float), b[c].to_numpy(float), rtol=1e-5, atol=1e-6, equal_nan=True):
            bad.append(c)
    assert not bad, f"features differ between engines: {bad}"


def test_engine_argument_is_checked(town_dir):
    with pytest.raises(ValueError, match="engine"):
        build_features(town_dir, [D(2025, 1, 1)], engine="pandas")


def test_polars_equals_duckdb_on_hand_town(town_dir):
    dates = [D(2024, 7, 1), D(2025, 1, 1)]
    assert_same_features(build_features(town_dir, dates), build_features(town_dir, dates, engine="polars"))


def test_polars_equals_duckdb_on_random_town(random_dir):
    dates = [D(2022, 7, 1), D(2023, 1, 1), D(2024, 7, 1), D(2025, 6, 1)]
    duck = build_features(random_dir, dates)
    assert len(duck) > 100
    assert_same_features(duck, build_features(random_dir, dates, engine="polars"))


@pytest.fixture(scope="module")
def simulated_town(tmp_path_factory) -> Path:
    """A small simulated town: every 8th household (and migrant) of the simulated default city
    (``make run`` writes it), with all their records, cut consistently from every table."""
    out = tmp_path_factory.mktemp("sim_town")
    if not (SIMULATED_CITY / "household_registry.parquet").exists():
        # no default city here (a fresh clone, CI): simulate and pseudonymize a small town instead
        from cryptography.fernet import Fernet

        from privacy.ingest import ingest_folder
        from privacy.tokens import Pseudonymizer
        from simulator import simulate

        simulate(out / "raw", out / "truth", children=2000, months=36, seed=5, end_month="2025-12")
        ingest_folder(out / "raw", REPO / "contracts", pseudonymizer=Pseudonymizer(b"engines-test-key" * 2, 1),
                      vault_key=Fernet.generate_key(), out_dir=out / "work", quarantine_dir=out / "quarantine",
                      as_of=D(2026, 1, 1))
        return out / "work" / "pseudonymized"
    con = duckdb.connect()
    src = lambda t: f"read_parquet('{SIMULATED_CITY / t}.parquet')"  # noqa: E731
    con.execute(
        f"""CREATE TEMP TABLE keep AS
            WITH hh AS (SELECT person_token, arg_max(household_token, registered_date) AS h
                        FROM {src('household_registry')} GROUP BY ALL)
            SELECT a.person_token FROM {src('id_attributes')} a LEFT JOIN hh USING (person_token)
            WHERE hash(COALESCE(hh.h, a.person_token)) % 8 = 0"""
    )
    for table, col in PERSON_COLUMNS.items():
        con.execute(f"COPY (SELECT * FROM {src(table)} WHERE {col} IN (SELECT person_token FROM keep)) "
                    f"TO '{out / table}.parquet' (FORMAT parquet)")
    con.execute(
        f"""COPY (SELECT * FROM {src('attendance')} WHERE student_token IN (
                SELECT student_token FROM {src('student_enrollment')}
                WHERE child_token IN (SELECT person_token FROM keep)))
            TO '{out / 'attendance'}.parquet' (FORMAT parquet)"""
    )
    return out


def test_polars_equals_duckdb_on_simulated_town(simulated_town):
    dates = [D(2024, 1, 1), D(2025, 6, 1)]
    duck = build_features(simulated_town, dates)
    assert len(duck) > 1000
    assert_same_features(duck, build_features(simulated_town, dates, engine="polars"))
