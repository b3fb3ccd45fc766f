"""Entry points of ``features``: the feature matrix, the labels and the visit capacity inputs.

All three read the pseudonymized Parquet folder (interfaces §2) with DuckDB and do everything
set-based in SQL. Features go through the prepared folder (:mod:`features.prepare`: integer
tokens, compact, keyword flags; made once per delivery and shared by every as-of date) and are
computed in chunks of as-of dates (``chunk_dates``), each chunk one query per source, so memory
does not grow with the number of dates. They are what the Dagster assets and the CLI call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from features.cohorts import create_children_table
from features.collate import compute_feature_matrix, feature_names, serving_sql
from features.labels import CHUNK_TABLES
from features.labels import labels as _labels
from features.prepare import (  # noqa: F401  (re-exported: the chunking helpers live with the prepared folder)
    CHUNK_CHILD_ROWS,
    DEFAULT_MEMORY_LIMIT,
    as_of_list,
    auto_chunk_dates,
    connect,
    has_view,
    open_prepared,
    prepared_sources,
)
from features.sources import (
    _to_date,
    drop_relation,
    fetch_df,
    open_sources,
    register_as_of_dates,
    sql_literal,
)
from features.spec import SPEC, FeatureSpec

GROUP_COLUMNS = [
    "child_token",
    "as_of_date",
    "community",
    "township",
    "district",
    "hukou_type",
    "urban_rural",
    "sex",
    "has_disability",
    "registry_category",
    "last_visit_date",
]


ENGINES = ("duckdb", "polars", "spark")

UNPLACED = "（未定位）"
"""Place of a child with no registered residence at the as-of date (no household, permit or registry row)."""
UNKNOWN = "未知"


#: Temporary relations of one chunk of as-of dates (dropped after the last chunk).
CHUNK_RELATIONS = ("hm_rows", *CHUNK_TABLES)


def _has_tokens(con: duckdb.DuckDBPyConnection) -> bool:
    return has_view(con, "pp_tokens")


def _group_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """GROUP_COLUMNS of the rows of ``hm_rows`` in row order (tokens as delivered)."""
    # Arrow → pandas: strings become pandas' ``str`` dtype and dates ``datetime.date`` / None without
    # a per-value conversion (the same values and dtypes as :func:`features.sources.fetch_df`).
    return con.sql(
        f"""
        SELECT r.token AS child_token, c.as_of_date, c.community, c.township, c.district, c.hukou_type,
               c.urban_rural, c.sex, sv.has_disability, sv.registry_category, sv.last_visit_date
        FROM hm_rows r JOIN hm_children c USING (as_of_date, child_token)
        LEFT JOIN ({serving_sql()}) sv USING (as_of_date, child_token)
        ORDER BY r.row_id
        """
    ).to_arrow_table().to_pandas()


def _polars_frame(con: duckdb.DuckDBPyConnection, spec: FeatureSpec, home_city: str) -> pd.DataFrame:
    import polars as pl

    from features.collate_polars import compute_features_polars

    out = compute_features_polars(con, spec, home_city=home_city)
    if _has_tokens(con):
        tokens = con.sql("SELECT id, token FROM pp_tokens WHERE id IN (SELECT child_token FROM hm_children)").pl()
        out = (out.join(tokens, left_on="child_token", right_on="id", how="left")
               .with_columns(pl.col("token").alias("child_token")).drop("token")
               .sort(["as_of_date", "child_token"]))
    df = out.to_pandas()
    for c in ("as_of_date", "last_visit_date"):
        d = pd.to_datetime(df[c]).dt.date
        df[c] = d.astype(object).where(df[c].notna(), None)
    return df


def features_of_chunk(
    con: duckdb.DuckDBPyConnection,
    as_of_dates: list[dt.date],
    *,
    rural_hukou_only: bool = False,
    home_city: str = "杭州",
    spec: FeatureSpec = SPEC,
    engine: str = "duckdb",
) -> pd.DataFrame:
    """The feature rows of some as-of dates on an open connection (``src_*`` views: prepared or plain).

    Builds the cohort tables for ``as_of_dates`` (:func:`features.cohorts.create_children_table`)
    and returns the frame :func:`build_features` documents, for these dates only.
    """
    register_as_of_dates(con, as_of_dates)
    create_children_table(con, rural_hukou_only=rural_hukou_only)
    for name in ("hm_hh_ever", "hm_cand_places"):  # not read by any feature: free their memory now
        drop_relation(con, name)
    names = feature_names(spec)
    if engine == "duckdb":
        matrix = compute_feature_matrix(con, spec, home_city=home_city, bounds=(as_of_dates[0], as_of_dates[-1]))
        groups = _group_frame(con)
        df = pd.concat([groups, pd.DataFrame(matrix.T, columns=names, copy=False)], axis=1)
    else:
        df = _polars_frame(con, spec, home_city)
    return finish_frame(df, names)


def finish_frame(df: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """The group-column conventions and column order every engine's frame ends with (modified in place
    where possible): ``has_disability`` bool, ``registry_category`` str or None, missing places
    :data:`UNPLACED`, missing hukou type / urban-rural / sex :data:`UNKNOWN`, then
    :data:`GROUP_COLUMNS` + ``names`` as float32.
    """
    df["has_disability"] = df["has_disability"].fillna(False).astype(bool)
    # same representation whichever engine ran: str or None
    df["registry_category"] = df["registry_category"].astype(object).where(df["registry_category"].notna(), None)
    # A child known to a department (school, clinic) but with no registered residence is kept, not
    # dropped: placed in the pseudo-community UNPLACED so the bureau sees and can locate them.
    for col in ("district", "township", "community"):
        df[col] = df[col].fillna(UNPLACED)
    for col in ("hukou_type", "urban_rural", "sex"):
        df[col] = df[col].fillna(UNKNOWN)
    if list(df.columns) != GROUP_COLUMNS + names:  # (selecting columns copies the float32 block)
        df = df[GROUP_COLUMNS + names]
    if not (df.dtypes.iloc[len(GROUP_COLUMNS):] == np.float32).all():
        df[names] = df[names].astype("float32")
    return df


def iter_features(
    pseudo_dir: str | Path,
    as_of_dates: Iterable[dt.date],
    *,
    rural_hukou_only: bool = False,
    con: duckdb.DuckDBPyConnection | None = None,
    home_city: str = "杭州",
    spec: FeatureSpec = SPEC,
    engine: str = "duckdb",
    feedback_dir: str | Path | None = None,
    prepared_dir: str | Path | None = None,
    chunk_dates: int | None = None,
    memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
    threads: int | None = None,
) -> Iterator[pd.DataFrame]:
    """The feature matrix chunk by chunk: one frame per ``chunk_dates`` as-of dates, in date order.

    Same parameters and frame layout as :func:`build_features`; memory stays that of one chunk
    (write or reduce each frame before taking the next, e.g. :func:`write_features`).

    Raises
    ------
    ValueError
        Empty ``as_of_dates``, unknown ``engine``, ``chunk_dates < 1``.
    """
    dates = as_of_list(as_of_dates)
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; expected one of {ENGINES}")
    if chunk_dates is not None and int(chunk_dates) < 1:
        raise ValueError(f"chunk_dates must be >= 1 or None, got {chunk_dates}")
    if engine == "spark":  # the same spec on Spark: the active SparkSession, else a local one
        try:
            from features.collate_spark import iter_features_spark
        except ImportError as e:
            raise ImportError(f"engine 'spark' needs pyspark and a Java runtime ({e}); install the dev "
                              "dependencies (uv sync) and `make system-deps`") from None
        return iter_features_spark(pseudo_dir, dates, rural_hukou_only=rural_hukou_only, con=con,
                                   home_city=home_city, spec=spec, feedback_dir=feedback_dir,
                                   prepared_dir=prepared_dir, chunk_dates=chunk_dates, memory_limit=memory_limit,
                                   threads=threads)

    def frame_of_chunk(c, _prep, _first, chunk):
        return features_of_chunk(c, chunk, rural_hukou_only=rural_hukou_only, home_city=home_city, spec=spec,
                                 engine=engine)

    return chunked_frames(pseudo_dir, dates, frame_of_chunk, con=con, spec=spec, feedback_dir=feedback_dir,
                          prepared_dir=prepared_dir, chunk_dates=chunk_dates, memory_limit=memory_limit,
                          threads=threads)


def chunked_frames(
    pseudo_dir: str | Path,
    dates: list[dt.date],
    frame_of_chunk: Callable[[duckdb.DuckDBPyConnection, Path, int, list[dt.date]], pd.DataFrame],
    *,
    con: duckdb.DuckDBPyConnection | None = None,
    spec: FeatureSpec = SPEC,
    feedback_dir: str | Path | None = None,
    prepared_dir: str | Path | None = None,
    chunk_dates: int | None = None,
    memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
    threads: int | None = None,
) -> Iterator[pd.DataFrame]:
    """The chunk loop every engine shares: open the prepared sources (:func:`prepared_sources`) on a
    DuckDB connection (``con`` or a new one, closed at the end) and yield
    ``frame_of_chunk(con, prepared_folder, first_date_index, chunk)`` for each chunk of ``chunk_dates``
    as-of dates (default :func:`auto_chunk_dates`), freeing the chunk's DuckDB tables
    (:data:`CHUNK_RELATIONS`) before the frame is handed over.
    """
    with prepared_sources(pseudo_dir, prepared_dir, feedback_dir=feedback_dir, memory_limit=memory_limit,
                          threads=threads, spec=spec) as prep:
        c = con if con is not None else connect(memory_limit, threads)
        try:
            open_prepared(prep, c)
            size = int(chunk_dates) if chunk_dates is not None else auto_chunk_dates(c, dates)
            for i in range(0, len(dates), size):
                frame = frame_of_chunk(c, Path(prep), i, dates[i:i + size])
                for name in CHUNK_RELATIONS:  # free the chunk's tables before the caller uses the frame
                    drop_relation(c, name)
                yield frame
                del frame  # the caller's reference only: the next chunk does not sit beside this one
        finally:
            for name in CHUNK_RELATIONS:
                drop_relation(c, name)
            if con is None:
                c.close()


def build_features(
    pseudo_dir: str | Path,
    as_of_dates: Iterable[dt.date],
    *,
    label_timespan_days: int = 180,
    rural_hukou_only: bool = False,
    con: duckdb.DuckDBPyConnection | None = None,
    home_city: str = "杭州",
    spec: FeatureSpec = SPEC,
    engine: str = "duckdb",
    feedback_dir: str | Path | None = None,
    prepared_dir: str | Path | None = None,
    chunk_dates: int | None = None,
    memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
    threads: int | None = None,
) -> pd.DataFrame:
    """The feature matrix: one row per child in either cohort and as-of date (interfaces §3).

    Parameters
    ----------
    pseudo_dir : str or Path
        Pseudonymized Parquet folder (interfaces §2).
    as_of_dates : iterable of datetime.date
        As-of dates (normally first days of months). Only facts with ``knowledge_date <= as_of_date``
        (and dated on or before it) are used for a row.
    label_timespan_days : int, default 180
        Not used by any feature (features never look forward); accepted so that features and labels
        are called with the same configuration.
    rural_hukou_only : bool, default False
        left_behind_risk cohort definition (rows are the union of both cohorts).
    con : duckdb.DuckDBPyConnection, optional
        Connection to reuse (views ``src_*`` / ``pp_*`` and temporary tables ``hm_*`` are created in
        it; the chunk tables are dropped at the end). Default: a new one (:func:`features.prepare.connect`).
    home_city : str, default "杭州"
        Social insurance whose ``insured_city`` does not start with this is "away" (parents away).
    spec : FeatureSpec
        The feature specification (default :data:`features.spec.SPEC`).
    engine : {"duckdb", "polars", "spark"}, default "duckdb"
        Which engine compiles and runs the spec (:mod:`features.collate` / :mod:`features.collate_polars`
        / :mod:`features.collate_spark`: the active SparkSession of the process, else a local one that
        is stopped afterwards). Same features from each (tests/features/test_features_engines.py,
        test_spark_engine.py).
        Cohort, person spine and links (``hm_children`` / ``hm_links``) are built by DuckDB in both
        cases; with ``"polars"`` every feature column and the serving columns are computed by Polars
        lazy queries compiled from the same spec.
    feedback_dir : str or Path, optional
        Folder of the review app's ``visit_outcomes.parquet`` (default ``<pseudo_dir>/../feedback``),
        unioned into the visit records (:func:`features.sources.open_sources`).
    prepared_dir : str or Path, optional
        A folder written by :func:`features.prepare.prepare_sources` for this ``pseudo_dir`` (and
        feedback file): reused, so a call pays only for its dates. Default: prepare into a temporary
        folder for this call (at 2,000,000 children this costs about as much as one date).
    chunk_dates : int, optional
        As-of dates per chunk (each chunk: one query per source for all its dates); peak memory is
        that of one chunk plus the returned frame. Default: :func:`auto_chunk_dates` (about
        :data:`CHUNK_CHILD_ROWS` child rows per chunk: every date at once for a town, one date at a
        time for a city of 2,000,000 children).
    memory_limit : str or None, default "4GB"
        DuckDB memory limit of the connection opened here (it spills beyond it); None: DuckDB's default.
    threads : int, optional
        DuckDB threads (default: every core).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`GROUP_COLUMNS` (``child_token, as_of_date (datetime.date), community, township,
        district, hukou_type, urban_rural, sex, has_disability (bool), registry_category (str|None),
        last_visit_date (datetime.date|None)``), then the float32 features of
        :func:`features.collate.feature_names` (units in :func:`features.dictionary.feature_dictionary`).
        Unique on (child_token, as_of_date), ordered by (as_of_date, child_token).

    Raises
    ------
    ValueError
        Empty ``as_of_dates``, unknown ``engine``, ``chunk_dates < 1``.
    FileNotFoundError, features.sources.SourceSchemaError, features.prepare.PreparedMismatchError
        Missing folder, a file lacking a needed column, a stale ``prepared_dir``.
    """
    del label_timespan_days  # features never look past the as-of date
    frames = list(iter_features(
        pseudo_dir, as_of_dates, rural_hukou_only=rural_hukou_only, con=con, home_city=home_city, spec=spec,
        engine=engine, feedback_dir=feedback_dir, prepared_dir=prepared_dir, chunk_dates=chunk_dates,
        memory_limit=memory_limit, threads=threads))
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)


def write_features(
    pseudo_dir: str | Path,
    as_of_dates: Iterable[dt.date],
    out_dir: str | Path,
    **kwargs,
) -> list[Path]:
    """Write the feature matrix as one Parquet file per as-of date, ``<out_dir>/features_<YYYY-MM-DD>.parquet``.

    Memory stays that of one chunk however many dates (the frames of :func:`iter_features` are
    written and released one by one). ``kwargs``: those of :func:`iter_features`.

    Returns
    -------
    list of Path
        The files written, in date order (columns as :func:`build_features`).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for frame in iter_features(pseudo_dir, as_of_dates, **kwargs):
        dates = frame["as_of_date"].unique()
        # one date per chunk (a city): write the frame as it is, no per-date copy
        parts = [(dates[0], frame)] if len(dates) == 1 else frame.groupby("as_of_date", sort=True)
        for d, part in parts:
            p = out / f"features_{d.isoformat()}.parquet"
            part.reset_index(drop=True).to_parquet(p, index=False)
            paths.append(p)
        del frame, parts
    return paths


#: Labels of both targets (interfaces §3): one function, :func:`features.labels.labels`, under the name the
#: pipeline uses; definitions, window edges and the NA policy are documented there.
build_labels = _labels


def active_registry_counts(
    pseudo_dir: str | Path, as_of_date: dt.date, *, con: duckdb.DuckDBPyConnection | None = None
) -> pd.DataFrame:
    """Children in the 困境儿童 registry per community at a date, for visit capacity (DESIGN §11.9).

    A child counts when a child_registry row is active at ``as_of_date`` (``registered_date <=
    as_of_date``, no ``closed_date <= as_of_date``, ``knowledge_date <= as_of_date``) and the child is
    under 18 (when the birth month is known). The community is that of the child's latest active row.

    Returns
    -------
    pandas.DataFrame
        ``community, township, district, active_registry_children (int)``, one row per
        (district, township, community) with at least one such child.
    """
    con = open_sources(pseudo_dir, con)
    d = sql_literal(_to_date(as_of_date).isoformat())
    return fetch_df(
        con,
        f"""
        WITH births AS (
            SELECT person_token, ANY_VALUE(birth_month) AS birth_month FROM src_id_attributes GROUP BY ALL
            UNION ALL
            SELECT person_token, MAX(birth_date) FROM src_household_registry
            WHERE person_token NOT IN (SELECT person_token FROM src_id_attributes) GROUP BY ALL
        ),
        active AS (
            SELECT r.child_token, r.community, r.township, r.district
            FROM src_child_registry r
            WHERE r.knowledge_date <= DATE {d} AND r.registered_date <= DATE {d}
              AND (r.closed_date IS NULL OR r.closed_date > DATE {d})
            QUALIFY row_number() OVER (PARTITION BY r.child_token
                    ORDER BY r.registered_date DESC, r.knowledge_date DESC, r.source_row DESC) = 1
        )
        SELECT a.community, a.township, a.district,
               COUNT(DISTINCT a.child_token) AS active_registry_children
        FROM active a LEFT JOIN births b ON b.person_token = a.child_token
        WHERE b.birth_month IS NULL OR date_diff('month', b.birth_month, DATE {d}) < 216
        GROUP BY ALL ORDER BY a.district, a.township, a.community
        """,
    )


__all__ = ["GROUP_COLUMNS", "active_registry_counts", "auto_chunk_dates", "build_features", "build_labels", "chunked_frames",
           "features_of_chunk", "finish_frame", "iter_features", "prepared_sources", "write_features"]
