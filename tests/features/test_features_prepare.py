"""The performance machinery changes no value (issues 4 and 8).

- the prepared folder (integer tokens, keyword flags, sorted high-volume tables) gives exactly the
  features of the plain pseudonymized tables;
- the matrix assembly (each family scattered into a float32 matrix) gives exactly the one-query
  reference compilation (:func:`features.collate.compile_features`, the former implementation);
- chunks of as-of dates (one date at a time, or all at once) give identical frames;
- a prepared folder is reused only for the files it was made from.
"""

from __future__ import annotations

import datetime as dt
import os

import duckdb
import numpy as np
import pandas as pd
import pytest
from test_features_engines import simulated_town  # noqa: F401  (module fixture)

from features.build import (
    GROUP_COLUMNS,
    UNKNOWN,
    UNPLACED,
    build_features,
    features_of_chunk,
    iter_features,
    write_features,
)
from features.cohorts import create_children_table
from features.collate import compile_features, feature_names, keyword_column, keyword_predicates
from features.prepare import PreparedMismatchError, check_prepared, connect, open_prepared, prepare_sources
from features.sources import fetch_df, open_sources, register_as_of_dates

D = dt.date
RANDOM_DATES = [D(2022, 7, 1), D(2023, 1, 1), D(2024, 7, 1), D(2025, 6, 1)]
HAND_DATES = [D(2024, 7, 1), D(2025, 1, 1)]


def reference_features(pseudo_dir, dates) -> pd.DataFrame:
    """The former ``build_features``: plain string tokens, every family joined in one query."""
    con = open_sources(pseudo_dir)
    register_as_of_dates(con, dates)
    create_children_table(con)
    df = fetch_df(con, compile_features(con), ("as_of_date", "last_visit_date"))
    df["has_disability"] = df["has_disability"].fillna(False).astype(bool)
    df["registry_category"] = df["registry_category"].astype(object).where(df["registry_category"].notna(), None)
    for col in ("district", "township", "community"):
        df[col] = df[col].fillna(UNPLACED)
    for col in ("hukou_type", "urban_rural", "sex"):
        df[col] = df[col].fillna(UNKNOWN)
    names = feature_names()
    df = df[GROUP_COLUMNS + names]
    df[names] = df[names].astype("float32")
    return df


def plain_features(pseudo_dir, dates) -> pd.DataFrame:
    """The new assembly on the plain (string-token) tables, all dates in one chunk."""
    con = open_sources(pseudo_dir)
    return features_of_chunk(con, sorted(dates))


def assert_identical(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_exact=True)


@pytest.fixture(scope="module")
def random_reference(random_dir):
    return reference_features(random_dir, RANDOM_DATES)


def test_matrix_assembly_equals_reference_query(random_dir, random_reference):
    assert_identical(plain_features(random_dir, RANDOM_DATES), random_reference)


def test_matrix_assembly_equals_reference_query_on_hand_town(town_dir):
    assert_identical(plain_features(town_dir, HAND_DATES), reference_features(town_dir, HAND_DATES))


@pytest.mark.parametrize("chunk_dates", [1, 3, 10])
def test_prepared_chunks_equal_reference(random_dir, random_reference, chunk_dates):
    got = build_features(random_dir, RANDOM_DATES, chunk_dates=chunk_dates)
    assert_identical(got, random_reference)


def test_prepared_equals_reference_on_simulated_town(simulated_town):  # noqa: F811
    dates = [D(2024, 1, 1), D(2025, 6, 1)]
    expected = reference_features(simulated_town, dates)
    assert len(expected) > 1000
    assert_identical(build_features(simulated_town, dates), expected)


def test_prepared_folder_is_reused_and_checked(random_dir, random_reference, tmp_path):
    pseudo = tmp_path / "pseudo"
    pseudo.mkdir()
    for f in random_dir.glob("*.parquet"):
        (pseudo / f.name).write_bytes(f.read_bytes())
    prep = prepare_sources(pseudo, tmp_path / "prepared")
    manifest = check_prepared(prep, pseudo)
    assert manifest["files"]["visit_records"][0] > 0
    assert_identical(build_features(pseudo, RANDOM_DATES, prepared_dir=prep), random_reference)
    # one date alone from the prepared folder = that date of the full run
    one = build_features(pseudo, [RANDOM_DATES[2]], prepared_dir=prep)
    assert_identical(one, random_reference[random_reference["as_of_date"] == RANDOM_DATES[2]])
    # the keyword flags were searched once, in the prepared visit records
    cols = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{prep / 'visit_records.parquet'}')").fetchall()
    assert {keyword_column(p) for p in keyword_predicates()["visit_records"]} <= {c[0] for c in cols}
    # a re-delivered file makes the folder stale
    f = pseudo / "visit_records.parquet"
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(PreparedMismatchError):
        build_features(pseudo, RANDOM_DATES, prepared_dir=prep)
    with pytest.raises(FileNotFoundError):
        build_features(pseudo, RANDOM_DATES, prepared_dir=tmp_path / "nothing")


def test_iter_and_write_features(random_dir, random_reference, tmp_path):
    frames = list(iter_features(random_dir, RANDOM_DATES, chunk_dates=3))
    assert [f["as_of_date"].nunique() for f in frames] == [3, 1]
    paths = write_features(random_dir, RANDOM_DATES, tmp_path / "out", chunk_dates=2)
    assert [p.name for p in paths] == [f"features_{d.isoformat()}.parquet" for d in RANDOM_DATES]
    back = pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)
    ref = random_reference
    assert list(back.columns) == list(ref.columns)
    assert list(back["child_token"]) == list(ref["child_token"])
    np.testing.assert_array_equal(back[feature_names()].to_numpy(), ref[feature_names()].to_numpy())


def test_prepared_then_plain_sources_on_one_connection(random_dir, tmp_path):
    """A connection used on a prepared folder can open the plain tables again (and vice versa)."""
    prep = prepare_sources(random_dir, tmp_path / "prepared")
    con = connect(None)
    open_prepared(prep, con)
    a = features_of_chunk(con, [RANDOM_DATES[-1]])
    open_sources(random_dir, con)
    b = features_of_chunk(con, [RANDOM_DATES[-1]])
    assert_identical(a, b)
    open_prepared(prep, con)
    assert_identical(features_of_chunk(con, [RANDOM_DATES[-1]]), a)


def test_bad_arguments(random_dir):
    with pytest.raises(ValueError, match="chunk_dates"):
        build_features(random_dir, RANDOM_DATES, chunk_dates=0)
    with pytest.raises(ValueError, match="empty"):
        build_features(random_dir, [])


def reference_labels(pseudo_dir, dates) -> pd.DataFrame:
    """The former ``build_labels``: plain string tokens, every date in one query."""
    from features.labels import create_label_table

    con = open_sources(pseudo_dir)
    register_as_of_dates(con, dates)
    create_children_table(con)
    create_label_table(con, 180, None)
    df = fetch_df(con, "SELECT * FROM hm_labels ORDER BY as_of_date, child_token", ("as_of_date", "label_knowledge_date"))
    for c in ("guardianship_risk", "left_behind_risk"):
        df[c] = df[c].astype("Int8")
    for c in ("in_cohort_guardianship", "in_cohort_left_behind"):
        df[c] = df[c].astype(bool)
    return df


@pytest.mark.parametrize("chunk_dates", [None, 1])
def test_labels_prepared_and_chunked_equal_reference(random_dir, tmp_path, chunk_dates):
    from features.build import build_labels

    expected = reference_labels(random_dir, RANDOM_DATES)
    assert expected["guardianship_risk"].notna().sum() > 0
    assert_identical(build_labels(random_dir, RANDOM_DATES, 180, chunk_dates=chunk_dates), expected)
    prep = prepare_sources(random_dir, tmp_path / "prepared")
    assert_identical(build_labels(random_dir, RANDOM_DATES, 180, prepared_dir=prep, chunk_dates=chunk_dates), expected)


def test_unclustered_delivery_is_sorted_and_changes_nothing(random_dir, random_reference, tmp_path, monkeypatch):
    """Attendance delivered in random order: the prepared copy is sorted by knowledge_date (so a
    date's scan can skip row groups) and the features are the same."""
    import pyarrow.parquet as pq

    import features.prepare as prepare

    pseudo = tmp_path / "pseudo"
    pseudo.mkdir()
    for f in random_dir.glob("*.parquet"):
        (pseudo / f.name).write_bytes(f.read_bytes())
    att = pq.read_table(random_dir / "attendance.parquet").to_pandas().sample(frac=1.0, random_state=3)
    att.to_parquet(pseudo / "attendance.parquet", index=False)
    monkeypatch.setattr(prepare, "ROW_GROUP_SIZE", 64)
    prep = prepare_sources(pseudo, tmp_path / "prepared")
    k = pq.read_table(prep / "attendance.parquet", columns=["knowledge_date"]).column(0).to_pylist()
    assert k == sorted(k) and pq.ParquetFile(prep / "attendance.parquet").num_row_groups > 1
    si = pq.read_table(prep / "social_insurance.parquet", columns=["knowledge_date"]).column(0).to_pylist()
    assert len(si) == pq.read_metadata(random_dir / "social_insurance.parquet").num_rows
    assert_identical(build_features(pseudo, RANDOM_DATES, prepared_dir=prep), random_reference)


def test_token_id_collision_picks_another_salt(random_dir, random_reference, tmp_path, monkeypatch):
    """Token ids are hashes checked for collisions over the delivery; a collision (simulated here)
    makes prepare_sources salt the hash, and the features do not change."""
    import json

    import features.prepare as prepare

    real = prepare._token_collisions
    calls = []

    def first_collides(con):
        calls.append(1)
        return 1 if len(calls) == 1 else real(con)

    monkeypatch.setattr(prepare, "_token_collisions", first_collides)
    prep = prepare_sources(random_dir, tmp_path / "prepared")
    assert json.loads((prep / "manifest.json").read_text())["token_salt"] == 1
    ids = duckdb.sql(f"SELECT COUNT(*), COUNT(DISTINCT id) FROM read_parquet('{prep / 'tokens.parquet'}')").fetchall()
    assert ids[0][0] == ids[0][1]
    assert_identical(build_features(random_dir, RANDOM_DATES, prepared_dir=prep), random_reference)


def test_ensure_prepared_prepares_only_when_stale(random_dir, tmp_path):
    from features.prepare import ensure_prepared

    pseudo = tmp_path / "pseudo"
    pseudo.mkdir()
    for f in random_dir.glob("*.parquet"):
        (pseudo / f.name).write_bytes(f.read_bytes())
    out = tmp_path / "work" / "features_prepared"
    assert ensure_prepared(pseudo, out) == out
    first = (out / "manifest.json").stat().st_mtime_ns
    ensure_prepared(pseudo, out)
    assert (out / "manifest.json").stat().st_mtime_ns == first  # fresh: reused
    f = pseudo / "incidents.parquet"
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    ensure_prepared(pseudo, out)
    check_prepared(out, pseudo)  # re-prepared for the new file
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no leftovers
