"""No feature of a row uses anything known after its as-of date (DESIGN §6)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features.build import GROUP_COLUMNS, build_features

D = dt.date
AS_OFS = [D(2023, 1, 1), D(2024, 7, 1)]

#: Columns holding the *end* of a period: a value after the as-of date is a future fact.
END_COLUMNS = {
    "child_registry": ["closed_date"],
    "subsistence_allowance": ["end_date"],
    "household_registry": ["moved_out_date", "deregistered_date", "deregistration_reason"],
    "residence_permits": ["cancelled_date"],
    "inpatient_admissions": ["discharge_date"],
    "detention_records": ["released_date"],
}


def snapshot_as_of(src: Path, dst: Path, as_of: dt.date) -> Path:
    """What the bureau held on ``as_of``: rows known by then, with period ends after it blanked."""
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.glob("*.parquet"):
        table = pq.read_table(f)
        df = table.to_pandas()
        if "knowledge_date" in df.columns:
            df = df[df["knowledge_date"] <= as_of].copy()
            for col in END_COLUMNS.get(f.stem, []):
                date_col = "deregistered_date" if col == "deregistration_reason" else col
                future = df[date_col].notna() & (df[date_col] > as_of)
                df[col] = df[col].astype(object).where(~future, None)
        pq.write_table(pa.Table.from_pandas(df, schema=table.schema, preserve_index=False), dst / f.name)
    return dst


def assert_frames_equal(a: pd.DataFrame, b: pd.DataFrame):
    a = a.sort_values(["as_of_date", "child_token"]).reset_index(drop=True)
    b = b.sort_values(["as_of_date", "child_token"]).reset_index(drop=True)
    assert list(a["child_token"]) == list(b["child_token"])
    pd.testing.assert_frame_equal(a, b, check_dtype=True)


@pytest.fixture(scope="module")
def full(random_dir):
    return build_features(random_dir, AS_OFS)


def test_town_is_not_trivial(full):
    assert len(full) > 60
    feats = [c for c in full.columns if c not in GROUP_COLUMNS]
    nonzero = (full[feats].fillna(0) != 0).any()
    # most features take a non-zero value somewhere in the random town
    assert nonzero.mean() > 0.8, list(nonzero[~nonzero].index)


@pytest.mark.parametrize("as_of", AS_OFS)
def test_features_recomputed_from_known_records_are_equal(full, random_dir, tmp_path, as_of):
    snap = snapshot_as_of(random_dir, tmp_path / "snap", as_of)
    expected = build_features(snap, [as_of])
    got = full[full["as_of_date"] == as_of]
    assert_frames_equal(got, expected)


def test_many_as_of_dates_in_one_query_equal_one_at_a_time(full, random_dir):
    one = build_features(random_dir, [AS_OFS[1]])
    assert_frames_equal(full[full["as_of_date"] == AS_OFS[1]], one)


def test_moving_a_record_past_the_as_of_date_changes_features(random_dir, tmp_path):
    as_of = AS_OFS[1]
    visits = pq.read_table(random_dir / "visit_records.parquet").to_pandas()
    before = build_features(random_dir, [as_of]).set_index("child_token")
    known = visits[(visits["knowledge_date"] <= as_of) & visits["child_token"].isin(before.index)]
    i = known.index[0]
    child = visits.loc[i, "child_token"]
    visits.loc[i, "knowledge_date"] = as_of + dt.timedelta(days=1)
    moved = tmp_path / "moved"
    moved.mkdir()
    for f in random_dir.glob("*.parquet"):
        if f.name != "visit_records.parquet":
            (moved / f.name).write_bytes(f.read_bytes())
    schema = pq.read_schema(random_dir / "visit_records.parquet")
    pq.write_table(pa.Table.from_pandas(visits, schema=schema, preserve_index=False), moved / "visit_records.parquet")
    after = build_features(moved, [as_of]).set_index("child_token")
    assert after.loc[child, "visit_count_all"] == before.loc[child, "visit_count_all"] - 1
    others = after.index != child
    cols = [c for c in after.columns if c not in GROUP_COLUMNS]
    np.testing.assert_array_equal(after.loc[others, cols].to_numpy(), before.loc[others, cols].to_numpy())
