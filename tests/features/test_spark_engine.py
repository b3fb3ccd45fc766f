"""The same feature spec gives the same features on Spark (PySpark, local mode) as on DuckDB — issue 8.

The town is the pipeline tests' town (tests/pipelines/conftest.py: 1,500 children, 36 months, seed 11),
simulated and pseudonymized here with the real ingest; the random town of ``conftest.py`` adds edge
cases (NULLs, ties, rows on the windows' edges) with the spec extended by every metric function,
predicate and window unit the spec itself does not use.

Each call runs all its dates as one chunk: Spark's cost on a town this small is a fixed cost per run
(~100 stages), not the data. (``chunk_dates`` only changes how many dates one Spark job holds; it
does not change a value.)

Needs Java 17+ (``make system-deps``); skipped, with the reason, only when no Java runtime is found.
One SparkSession serves the whole test session (fixture ``spark``).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.build import GROUP_COLUMNS, build_features
from features.spec import AS_OF, SPEC, Aggregation, Metric, Predicate

D = dt.date
REPO = Path(__file__).resolve().parents[2]
#: As-of dates on the simulated town (its 36 months end 2025-12): early, middle, late.
TOWN_DATES = [D(2024, 1, 1), D(2024, 10, 1), D(2025, 6, 1)]


def _has_java() -> bool:
    home = os.environ.get("JAVA_HOME")
    return bool((home and (Path(home) / "bin" / "java").exists()) or shutil.which("java"))


pytestmark = pytest.mark.skipif(
    not _has_java(), reason="no Java runtime (JAVA_HOME or java on PATH): Spark cannot start; `make system-deps`"
)


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """One local Spark (2 threads, 1 GB heap, client JIT for a quick warm-up) for the whole test session."""
    from features.collate_spark import local_spark

    session = local_spark(driver_memory="1g", scratch_dir=tmp_path_factory.mktemp("spark"),
                          java_options="-XX:TieredStopAtLevel=1")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def test_town(tmp_path_factory) -> Path:
    """The pipeline tests' town (1,500 children, 36 months, seed 11), simulated and pseudonymized."""
    from cryptography.fernet import Fernet

    from privacy.ingest import ingest_folder
    from privacy.tokens import Pseudonymizer
    from simulator import simulate

    out = tmp_path_factory.mktemp("spark_town")
    simulate(out / "raw", out / "truth", children=1500, months=36, seed=11, end_month="2025-12")
    ingest_folder(out / "raw", REPO / "contracts", pseudonymizer=Pseudonymizer(b"spark-engine-key" * 2, 1),
                  vault_key=Fernet.generate_key(), out_dir=out / "work", quarantine_dir=out / "quarantine",
                  as_of=D(2026, 1, 1))
    return out / "work" / "pseudonymized"


def assert_same_features(duck: pd.DataFrame, spark_df: pd.DataFrame) -> None:
    """Same columns in the same order, same rows in the same order, equal group columns, float32
    features equal within float32 rounding (rtol 1e-5, atol 1e-6; NaN equals NaN).

    Why a tolerance at all: the DuckDB engine computes the derived ratio in float32 (numpy), Spark in
    double then casts to float, which may differ in the last bit. On the towns here every value has
    come out bit-for-bit identical so far.
    """
    assert list(spark_df.columns) == list(duck.columns)
    assert len(spark_df) == len(duck)
    # both engines return rows ordered by (as_of_date, child_token): no re-sorting needed, but be explicit
    a = duck.sort_values(["as_of_date", "child_token"], kind="stable").reset_index(drop=True)
    b = spark_df.sort_values(["as_of_date", "child_token"], kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(b, spark_df.reset_index(drop=True))  # already in that order
    assert list(a["child_token"]) == list(b["child_token"])
    assert list(a["as_of_date"]) == list(b["as_of_date"])
    for c in GROUP_COLUMNS:
        pd.testing.assert_series_equal(a[c], b[c], check_dtype=False, obj=c)
    feats = [c for c in a.columns if c not in GROUP_COLUMNS]
    assert (b[feats].dtypes == np.float32).all()
    bad = {}
    for c in feats:
        x, y = a[c].to_numpy(float), b[c].to_numpy(float)
        close = np.isclose(x, y, rtol=1e-5, atol=1e-6, equal_nan=True)
        if not close.all():
            i = int(np.flatnonzero(~close)[0])
            bad[c] = f"{int((~close).sum())} rows, e.g. {a['child_token'][i]} {a['as_of_date'][i]}: {x[i]} vs {y[i]}"
    assert not bad, f"features differ between DuckDB and Spark: {bad}"


def test_spark_equals_duckdb_on_test_town(test_town, spark):
    from features.collate_spark import build_features_spark

    duck = build_features(test_town, TOWN_DATES)
    assert len(duck) > 3000 and duck["as_of_date"].nunique() == len(TOWN_DATES)
    jobs_before = len(spark.sparkContext.statusTracker().getJobIdsForGroup(None))
    got = build_features_spark(test_town, TOWN_DATES, spark=spark, chunk_dates=len(TOWN_DATES))
    assert len(spark.sparkContext.statusTracker().getJobIdsForGroup(None)) > jobs_before  # Spark did the work
    assert_same_features(duck, got)
    # the comparison is not vacuous: the town has the signals the features look for
    for c in ("visit_count_all", "school_days_absent_3m", "parents_away_months_6m", "registry_active_any",
              "police_household_any_12m", "household_members"):
        assert (got[c] > 0).any(), c


def test_pipeline_stage_runs_the_configured_engine(test_town, spark):
    """``features.engine: spark`` in humiao.yaml: the pipeline's feature stage runs on Spark (the active
    session) and gives the partitions DuckDB gives."""
    from humiao.config import FeaturesSettings, load_config
    from humiao.stages import build_partition_frames

    cfg = load_config()
    cfg = cfg.model_copy(update={"paths": cfg.paths.model_copy(update={"work_dir": str(test_town.parent)})})
    assert cfg.features.engine == "duckdb" and cfg.pseudonymized_dir == test_town
    dates = TOWN_DATES[:2]
    duck, duck_labels = build_partition_frames(cfg, dates)
    jobs_before = len(spark.sparkContext.statusTracker().getJobIdsForGroup(None))
    got, labels = build_partition_frames(cfg.model_copy(update={"features": FeaturesSettings(engine="spark")}), dates)
    assert len(spark.sparkContext.statusTracker().getJobIdsForGroup(None)) > jobs_before
    assert sorted(got) == sorted(duck) == [d.isoformat() for d in dates]
    for key in duck:
        assert_same_features(duck[key], got[key])
        pd.testing.assert_frame_equal(labels[key], duck_labels[key])


def _every_operator(title: str) -> dict:
    return {"description_zh": title, "reason_zh": title, "unit": "次"}


#: Aggregations using what SPEC does not (max / min / avg; ne, not_in, lt, gt, is_null, not_null, is_true,
#: not_startswith, contains_any on raw text; day / week / year windows), added to SPEC for the random town.
EXTRA = (
    Aggregation(
        family="zz", source="attendance", entity="student", key="student_token", date_column="month",
        intervals=("90 days", "1 year"),
        metrics=(
            Metric("absent_max", "max", column="days_absent", **_every_operator("max")),
            Metric("absent_min", "min", column="days_absent", where=(Predicate("school_days", "gt", 0),),
                   **_every_operator("min")),
            Metric("absent_avg", "avg", column="days_absent", where=(Predicate("days_absent", "lt", 3),),
                   **_every_operator("avg")),
        ),
    ),
    Aggregation(
        family="zz", source="visit_records", entity="child", key="child_token", date_column="visit_date",
        intervals=("all", "8 weeks"),
        metrics=(
            Metric("not_home", "count", where=(Predicate("visit_mode", "ne", "入户走访"),), **_every_operator("ne")),
            Metric("not_failed", "count", where=(Predicate("guardianship_assessment", "not_in", ("监护不当", "监护缺失")),),
                   **_every_operator("not_in")),
            Metric("filed_before", "count", where=(Predicate("filed_date", "not_null"), Predicate("filed_date", "lt", AS_OF)),
                   **_every_operator("lt")),
            Metric("not_in_person", "count", where=(Predicate("visit_mode", "not_startswith", "入户"),),
                   **_every_operator("not_startswith")),
            Metric("words", "count", where=(Predicate("notes", "contains_any", ("孩子", "在家", "学校")),),
                   **_every_operator("contains_any")),
            Metric("modes", "count_distinct", column="visit_mode", **_every_operator("count_distinct")),
        ),
    ),
    Aggregation(
        family="zz", source="child_registry", entity="child", key="child_token", date_column="registered_date",
        metrics=(Metric("open", "count", where=(Predicate("closed_date", "is_null"),), **_every_operator("is_null")),),
    ),
    Aggregation(
        family="zz", source="child_health_checks", entity="child", key="child_token", date_column="check_date",
        metrics=(Metric("on_time", "count", where=(Predicate("on_schedule", "is_true"),), **_every_operator("is_true")),),
    ),
)


def test_spark_equals_duckdb_on_random_town_every_operator(random_dir, spark, tmp_path):
    """Edge cases (a random town with NULLs, ties and rows on the windows' edges), SPEC plus :data:`EXTRA`.
    The prepared folder is made for SPEC, so EXTRA's keywords are searched in the text by both engines."""
    from features.collate_spark import build_features_spark
    from features.prepare import prepare_sources

    spec = replace(SPEC, aggregations=(*SPEC.aggregations, *EXTRA))
    prepared = prepare_sources(random_dir, tmp_path / "prepared")  # keyword columns of SPEC only
    dates = [D(2022, 7, 1), D(2023, 1, 1), D(2024, 7, 1), D(2025, 6, 1)]
    duck = build_features(random_dir, dates, spec=spec, prepared_dir=prepared)
    assert len(duck) > 100
    zz = [c for c in duck.columns if c.startswith("zz_")]
    assert len(zz) == 3 * 2 + 6 * 2 + 1 + 1
    vacuous = [c for c in zz if not (duck[c].fillna(0) != 0).any() and not c.startswith("zz_absent_min")]
    assert not vacuous, f"EXTRA metrics zero or NaN everywhere (they test nothing): {vacuous}"
    assert_same_features(duck, build_features_spark(random_dir, dates, spec=spec, prepared_dir=prepared,
                                                    spark=spark, chunk_dates=len(dates)))


def test_arguments_are_checked():
    from features.collate_spark import build_features_spark

    with pytest.raises(ValueError, match="engine"):
        build_features_spark(REPO, [D(2025, 1, 1)], engine="duckdb")
    with pytest.raises(ValueError, match="empty"):
        build_features_spark(REPO, [])
    with pytest.raises(ValueError, match="chunk_dates"):
        build_features_spark(REPO, [D(2025, 1, 1)], chunk_dates=0)
