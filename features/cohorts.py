"""Cohorts of DESIGN §6: which children get a row (and a label) at an as-of date.

Age. Only the birth *month* is known (the ID's birth date is generalized to its month), so age is
counted in completed calendar months from the first day of the birth month to the as-of date:
``age_months = date_diff('month', birth_month, as_of_date)``. A child is 0–17 while
``0 <= age_months < 216``: a child leaves on the first as-of date in or after the month of the 18th
birthday (born 2007-03 → out on 2025-03-01). "Under 16" is ``age_months < 192``.

guardianship_risk cohort
    Children 0–17 at the as-of date who were known to any department by then (a row with
    ``knowledge_date <= as_of_date`` in any person table), minus children known to have died
    (household_registry deregistered 死亡) and children who have left the city (all their household
    rows ended, no active residence permit, no active child_registry entry).
left_behind_risk cohort
    Children of the guardianship cohort under 16 with a local hukou at the as-of date (an active
    household_registry row; with ``rural_hukou_only`` only 农业家庭户口, the national MCA definition)
    who are not registered 留守儿童 at the as-of date (no child_registry 留守儿童 row known with
    ``registered_date <= as_of_date`` and no ``closed_date <= as_of_date``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pandas as pd

from features.sources import fetch_df, open_sources, register_as_of_dates
from features.spine import (
    ADULT_MONTHS,
    create_household_tables,
    create_links,
    create_person_tables,
    create_place_table,
)

#: Age limits in months (exclusive upper bounds).
CHILD_MAX_MONTHS = ADULT_MONTHS  # 216: 0–17 years
LEFT_BEHIND_MAX_MONTHS = 16 * 12  # 192: under 16

TARGETS = ("guardianship_risk", "left_behind_risk")


def create_children_table(con: duckdb.DuckDBPyConnection, *, rural_hukou_only: bool = False) -> None:
    """Create ``hm_children``: one row per child and as-of date in either cohort, plus ``hm_links``.

    Needs ``src_*`` views and ``hm_as_of``. Columns: ``as_of_date, child_token, birth_month, sex,
    age_months, hukou_type, is_local_hukou, urban_rural, district, township, community,
    household_token, relation_to_head, hh_registered_date, registered_left_behind,
    in_cohort_guardianship, in_cohort_left_behind``.
    """
    create_person_tables(con, children_only=True)
    create_household_tables(con)
    create_place_table(
        con,
        f"""SELECT a.as_of_date, f.token AS person_token
            FROM hm_first_known f
            JOIN hm_person p ON p.person_token = f.token
            JOIN hm_as_of a ON f.first_known <= a.as_of_date
            WHERE date_diff('month', p.birth_month, a.as_of_date) BETWEEN 0 AND {CHILD_MAX_MONTHS - 1}""",
        out="hm_cand_places",
    )
    local = "hukou_type = '农业家庭户口'" if rural_hukou_only else "is_local_hukou"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE hm_children AS
        WITH lb AS (
            SELECT DISTINCT pl.as_of_date, pl.person_token
            FROM hm_cand_places pl JOIN src_child_registry r
              ON r.child_token = pl.person_token AND r.category = '留守儿童'
             AND r.knowledge_date <= pl.as_of_date AND r.registered_date <= pl.as_of_date
             AND (r.closed_date IS NULL OR r.closed_date > pl.as_of_date)
        )
        SELECT pl.as_of_date, pl.person_token AS child_token, p.birth_month, p.sex,
               date_diff('month', p.birth_month, pl.as_of_date) AS age_months,
               pl.hukou_type, COALESCE(pl.is_local_hukou, FALSE) AS is_local_hukou, pl.urban_rural,
               pl.district, pl.township, pl.community,
               pl.household_token, pl.relation_to_head, pl.hh_registered_date,
               lb.person_token IS NOT NULL AS registered_left_behind,
               TRUE AS in_cohort_guardianship,
               (date_diff('month', p.birth_month, pl.as_of_date) < {LEFT_BEHIND_MAX_MONTHS}
                AND COALESCE({local}, FALSE) AND lb.person_token IS NULL) AS in_cohort_left_behind
        FROM hm_cand_places pl
        JOIN hm_person p ON p.person_token = pl.person_token
        LEFT JOIN lb ON lb.as_of_date = pl.as_of_date AND lb.person_token = pl.person_token
        WHERE NOT pl.dead
          AND NOT (pl.has_hh_rows AND pl.household_token IS NULL AND NOT pl.active_permit
                   AND NOT pl.active_registry)
        """
    )
    create_links(con, "hm_children")


def cohort(
    pseudo_dir: str | Path,
    as_of_dates: Iterable[dt.date],
    target: str = "guardianship_risk",
    *,
    rural_hukou_only: bool = False,
    con: duckdb.DuckDBPyConnection | None = None,
    feedback_dir: str | Path | None = None,
) -> pd.DataFrame:
    """The cohort of ``target`` at each as-of date (definitions in the module docstring).

    Parameters
    ----------
    pseudo_dir : str or Path
        Pseudonymized Parquet folder (interfaces §2).
    as_of_dates : iterable of datetime.date
        As-of dates (normally first days of months).
    target : {"guardianship_risk", "left_behind_risk"}
    rural_hukou_only : bool, default False
        For left_behind_risk, count only rural (农业家庭户口) hukou, the national definition.
    con : duckdb.DuckDBPyConnection, optional

    Returns
    -------
    pandas.DataFrame
        ``child_token, as_of_date, age_months (months), sex, hukou_type, is_local_hukou, urban_rural,
        district, township, community``; one row per child and as-of date.
    """
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; expected one of {TARGETS}")
    con = open_sources(pseudo_dir, con, feedback_dir=feedback_dir)
    register_as_of_dates(con, as_of_dates)
    create_children_table(con, rural_hukou_only=rural_hukou_only)
    flag = "in_cohort_guardianship" if target == "guardianship_risk" else "in_cohort_left_behind"
    return fetch_df(
        con,
        f"""SELECT child_token, as_of_date, age_months, sex, hukou_type, is_local_hukou, urban_rural,
                   district, township, community
            FROM hm_children WHERE {flag} ORDER BY as_of_date, child_token""",
        ("as_of_date",),
    )
