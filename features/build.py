"""Entry points of ``features``: the feature matrix, the labels and the visit capacity inputs.

All three read the pseudonymized Parquet folder (interfaces §2) with DuckDB and do everything
set-based in SQL (many as-of dates in one query per source). They are what the Dagster assets and
the CLI call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pandas as pd

from features.cohorts import create_children_table
from features.collate import compile_features, feature_names
from features.labels import labels as _labels
from features.sources import _to_date, fetch_df, open_sources, register_as_of_dates, sql_literal
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


ENGINES = ("duckdb", "polars")

UNPLACED = "（未定位）"
"""Place of a child with no registered residence at the as-of date (no household, permit or registry row)."""
UNKNOWN = "未知"


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
        Connection to reuse (temporary tables ``hm_*`` are created in it).
    home_city : str, default "杭州"
        Social insurance whose ``insured_city`` does not start with this is "away" (parents away).
    spec : FeatureSpec
        The feature specification (default :data:`features.spec.SPEC`).
    engine : {"duckdb", "polars"}, default "duckdb"
        Which engine compiles and runs the spec (:mod:`features.collate` / :mod:`features.collate_polars`).
        Cohort, person spine and links (``hm_children`` / ``hm_links``) are built by DuckDB in both
        cases; with ``"polars"`` every feature column and the serving columns are computed by Polars
        lazy queries compiled from the same spec.
    feedback_dir : str or Path, optional
        Folder of the review app's ``visit_outcomes.parquet`` (default ``<pseudo_dir>/../feedback``),
        unioned into the visit records (:func:`features.sources.open_sources`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`GROUP_COLUMNS` (``child_token, as_of_date (datetime.date), community, township,
        district, hukou_type, urban_rural, sex, has_disability (bool), registry_category (str|None),
        last_visit_date (datetime.date|None)``), then the float32 features of
        :func:`features.collate.feature_names` (units in :func:`features.dictionary.feature_dictionary`).
        Unique on (child_token, as_of_date).
    """
    del label_timespan_days  # features never look past the as-of date
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; expected one of {ENGINES}")
    con = open_sources(pseudo_dir, con, feedback_dir=feedback_dir)
    register_as_of_dates(con, as_of_dates)
    create_children_table(con, rural_hukou_only=rural_hukou_only)
    if engine == "duckdb":
        sql = compile_features(con, spec, home_city=home_city)
        df = fetch_df(con, sql, ("as_of_date", "last_visit_date"))
    else:
        from features.collate_polars import compute_features_polars

        df = compute_features_polars(con, spec, home_city=home_city).to_pandas()
        for c in ("as_of_date", "last_visit_date"):
            d = pd.to_datetime(df[c]).dt.date
            df[c] = d.astype(object).where(df[c].notna(), None)
    df["has_disability"] = df["has_disability"].fillna(False).astype(bool)
    # same representation whichever engine ran: str or None
    df["registry_category"] = df["registry_category"].astype(object).where(df["registry_category"].notna(), None)
    # A child known to a department (school, clinic) but with no registered residence is kept, not
    # dropped: placed in the pseudo-community UNPLACED so the bureau sees and can locate them.
    for col in ("district", "township", "community"):
        df[col] = df[col].fillna(UNPLACED)
    for col in ("hukou_type", "urban_rural", "sex"):
        df[col] = df[col].fillna(UNKNOWN)
    names = feature_names(spec)
    df = df[GROUP_COLUMNS + names]
    df[names] = df[names].astype("float32")
    return df


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


__all__ = ["GROUP_COLUMNS", "active_registry_counts", "build_features", "build_labels"]
