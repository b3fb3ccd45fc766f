"""Person spine: who a person is, where they live and whom they live with, as of a date.

Sources (pseudonymized, interfaces §2): ``id_attributes`` (birth month and sex from the resident ID),
``household_registry`` (公安 户籍: household, relation to head, hukou type, place), ``residence_permits``
(公安 居住登记: migrants, hukou outside the city), ``child_registry`` (民政 台账: where a registered
child lives) and ``student_enrollment`` (学籍: student numbers).

Rules (all "as of" a date ``d``; a row is usable only if ``knowledge_date <= d``):

- **Birth month / sex**: ``id_attributes`` (derived from the ID number, so known with the person);
  fallback: the person's latest ``household_registry`` row.
- **Household membership**: a household_registry row with ``registered_date <= d`` is *active* at
  ``d`` unless ``moved_out_date <= d`` or ``deregistered_date <= d`` (a move-out or deregistration is
  taken as known on its own date). A person's current household is their latest active row.
- **Hukou type**: the current household row's ``hukou_type`` (农业家庭户口 / 非农业家庭户口); else
  ``非本地户籍`` when the person is known only through a residence permit; else unknown (NULL).
- **Place** (district, township, community): latest child_registry row known, else residence permit
  (active ones first, then the latest), else the current household row (else the latest one).
- **urban_rural** from the community name: ``…村`` / ``…村委会`` / ``…村民委员会`` → 农村,
  ``…社区`` / ``…居委会`` / ``…居民委员会`` → 城镇, otherwise unknown.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd

from features.sources import KNOWN_PERSON_COLUMNS, drop_relation, fetch_df, open_sources, register_as_of_dates

#: Relations of a child to the household head that make the head's children the child's parents.
GRANDCHILD_RELATIONS = ("孙子", "孙女", "外孙子", "外孙女")
#: Age (months) from which a person counts as an adult.
ADULT_MONTHS = 18 * 12
#: DuckDB type of ``hm_links.role`` (an ENUM: one byte per link instead of a string; compares
#: with string literals as a VARCHAR would).
ROLE_TYPE = "ENUM('student', 'parent', 'guardian', 'household_member', 'household_adult')"
#: Far-future date used for "latest known" (no as-of restriction).
END_OF_TIME = dt.date(9999, 12, 31)


def urban_rural_sql(column: str) -> str:
    """SQL expression mapping a community name to 城镇 / 农村 / NULL (see module docstring)."""
    return (
        f"CASE WHEN {column} LIKE '%村民委员会' OR {column} LIKE '%村委会' OR {column} LIKE '%村' THEN '农村' "
        f"WHEN {column} LIKE '%居民委员会' OR {column} LIKE '%居委会' OR {column} LIKE '%社区' THEN '城镇' END"
    )


def create_person_tables(con: duckdb.DuckDBPyConnection, *, children_only: bool = False) -> None:
    """Create ``hm_person(person_token, birth_month, sex)`` and ``hm_first_known(token, first_known)``.

    ``hm_first_known`` is the earliest ``knowledge_date`` at which any department held a row on
    the person (the tables of :data:`features.sources.KNOWN_PERSON_COLUMNS`). With
    ``children_only`` (needs ``hm_as_of``) it is computed only for people who are 0–17 at some
    as-of date, which keeps the adult-only tables (social insurance) out of the group-by.

    On a prepared folder (:func:`features.prepare.open_prepared`: views ``pp_person`` and
    ``pp_first_known`` exist) both are views of the tables computed once by
    :func:`features.prepare.prepare_sources` for every person (same rules; ``children_only`` is then
    moot: every use of ``hm_first_known`` filters on age anyway).
    """
    for name in ("hm_person", "hm_first_known"):
        drop_relation(con, name)
    if _has_relation(con, "pp_person"):
        con.execute(
            "CREATE TEMP VIEW hm_person AS SELECT * FROM pp_person;"
            "CREATE TEMP VIEW hm_first_known AS SELECT * FROM pp_first_known;"
        )
        return
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE hm_person AS
        WITH hh AS (
            SELECT person_token,
                   arg_max(birth_date, {'k': knowledge_date, 'r': source_row})
                       FILTER (WHERE birth_date IS NOT NULL) AS birth_month,
                   arg_max(sex, {'k': knowledge_date, 'r': source_row})
                       FILTER (WHERE sex IS NOT NULL) AS sex
            FROM src_household_registry GROUP BY person_token
        ), ida AS (
            SELECT person_token, ANY_VALUE(birth_month) AS birth_month, ANY_VALUE(sex) AS sex
            FROM src_id_attributes GROUP BY person_token
        ), tokens AS (
            SELECT person_token FROM ida
            UNION SELECT person_token FROM hh
        )
        SELECT t.person_token,
               CAST(date_trunc('month', COALESCE(ida.birth_month, hh.birth_month)) AS DATE) AS birth_month,
               COALESCE(ida.sex, hh.sex) AS sex
        FROM tokens t
        LEFT JOIN ida USING (person_token)
        LEFT JOIN hh USING (person_token)
        """
    )
    restrict = ""
    if children_only:
        # the candidate children once (a small table), semi-joined by every source scan
        con.execute(
            "CREATE OR REPLACE TEMP TABLE hm_child_tokens AS SELECT person_token FROM hm_person "
            "WHERE birth_month <= (SELECT MAX(as_of_date) FROM hm_as_of)"
            f" AND date_diff('month', birth_month, (SELECT MIN(as_of_date) FROM hm_as_of)) < {ADULT_MONTHS}"
        )
        restrict = " AND {col} IN (SELECT person_token FROM hm_child_tokens)"
    known = " UNION ALL ".join(
        f"SELECT {col} AS token, MIN(knowledge_date) AS knowledge_date FROM src_{table} "
        f"WHERE {col} IS NOT NULL{restrict.format(col=col)} GROUP BY {col}"
        for table, col in KNOWN_PERSON_COLUMNS
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE hm_first_known AS
        SELECT token, MIN(knowledge_date) AS first_known FROM ({known}) GROUP BY token;

        INSERT INTO hm_person
        SELECT token, NULL, NULL FROM hm_first_known WHERE token NOT IN (SELECT person_token FROM hm_person);
        """
    )


def _has_relation(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        con.execute(
            "SELECT COUNT(*) FROM duckdb_views() WHERE view_name = ? AND temporary", [name]
        ).fetchall()[0][0]
    )


def create_household_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the as-of household tables (needs ``hm_as_of`` and ``hm_person``).

    ``hm_hh_ever(as_of_date, person_token, household_token, relation_to_head, hukou_type, district,
    township, community, registered_date, active, dead, age_months)``: every household row known at
    the as-of date; ``hm_hh_current``: per (as_of_date, person_token) the latest active row.
    """
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE hm_hh_ever AS
        SELECT a.as_of_date, h.person_token, h.household_token, h.relation_to_head, h.hukou_type,
               h.district, h.township, h.community, h.registered_date, h.knowledge_date, h.source_row,
               (h.moved_out_date IS NULL OR h.moved_out_date > a.as_of_date)
                 AND (h.deregistered_date IS NULL OR h.deregistered_date > a.as_of_date) AS active,
               COALESCE(h.deregistration_reason = '死亡' AND h.deregistered_date <= a.as_of_date, FALSE) AS dead,
               date_diff('month', p.birth_month, a.as_of_date) AS age_months
        FROM src_household_registry h
        JOIN hm_as_of a ON h.knowledge_date <= a.as_of_date AND h.registered_date <= a.as_of_date
        LEFT JOIN hm_person p ON p.person_token = h.person_token
        WHERE h.person_token IS NOT NULL;

        -- the latest active row (registered_date, knowledge_date, source_row; a NULL source_row last)
        -- by an aggregate on row ids rather than a window: the same row, a third less work
        CREATE OR REPLACE TEMP TABLE hm_hh_current AS
        SELECT * EXCLUDE (active, dead) FROM hm_hh_ever
        WHERE rowid IN (
            SELECT arg_max(rowid, {'r': registered_date, 'k': knowledge_date,
                                   's': COALESCE(source_row, -9223372036854775808)})
            FROM hm_hh_ever WHERE active GROUP BY as_of_date, person_token);
        """
    )


def create_place_table(con: duckdb.DuckDBPyConnection, persons_sql: str, out: str = "hm_places") -> None:
    """Create ``out(as_of_date, person_token, district, township, community, place_source, hukou_type,
    is_local_hukou, urban_rural, household_token, relation_to_head, hh_registered_date, has_hh_rows,
    active_permit, active_registry, dead)`` for the (as_of_date, person_token) pairs of ``persons_sql``.

    Needs ``hm_hh_ever`` / ``hm_hh_current`` (:func:`create_household_tables`).
    """
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {out} AS
        WITH ps AS ({persons_sql}),
        reg AS (
            SELECT ps.as_of_date, ps.person_token, r.district, r.township, r.community,
                   (r.closed_date IS NULL OR r.closed_date > ps.as_of_date) AS active
            FROM ps JOIN src_child_registry r
              ON r.child_token = ps.person_token AND r.knowledge_date <= ps.as_of_date
             AND r.registered_date <= ps.as_of_date
            QUALIFY row_number() OVER (PARTITION BY ps.as_of_date, ps.person_token
                    ORDER BY r.registered_date DESC, r.knowledge_date DESC, r.source_row DESC) = 1
        ),
        reg_active AS (
            SELECT ps.as_of_date, ps.person_token
            FROM ps JOIN src_child_registry r
              ON r.child_token = ps.person_token AND r.knowledge_date <= ps.as_of_date
             AND r.registered_date <= ps.as_of_date
             AND (r.closed_date IS NULL OR r.closed_date > ps.as_of_date)
            GROUP BY ALL
        ),
        perm AS (
            SELECT ps.as_of_date, ps.person_token, m.district, m.township, m.community,
                   (m.cancelled_date IS NULL OR m.cancelled_date > ps.as_of_date) AS active
            FROM ps JOIN src_residence_permits m
              ON m.person_token = ps.person_token AND m.knowledge_date <= ps.as_of_date
             AND m.registered_date <= ps.as_of_date
            QUALIFY row_number() OVER (PARTITION BY ps.as_of_date, ps.person_token
                    ORDER BY active DESC, m.registered_date DESC, m.knowledge_date DESC, m.source_row DESC) = 1
        ),
        hh_any AS (
            SELECT e.as_of_date, e.person_token, e.district, e.township, e.community,
                   BOOL_OR(e.dead) OVER w AS dead
            FROM hm_hh_ever e JOIN ps USING (as_of_date, person_token)
            WINDOW w AS (PARTITION BY e.as_of_date, e.person_token)
            QUALIFY row_number() OVER (PARTITION BY e.as_of_date, e.person_token
                    ORDER BY e.registered_date DESC, e.knowledge_date DESC, e.source_row DESC) = 1
        ),
        placed AS (
            SELECT ps.as_of_date, ps.person_token,
               CASE WHEN reg.person_token IS NOT NULL THEN reg.district
                    WHEN perm.person_token IS NOT NULL THEN perm.district
                    WHEN cur.person_token IS NOT NULL THEN cur.district ELSE hh_any.district END AS district,
               CASE WHEN reg.person_token IS NOT NULL THEN reg.township
                    WHEN perm.person_token IS NOT NULL THEN perm.township
                    WHEN cur.person_token IS NOT NULL THEN cur.township ELSE hh_any.township END AS township,
               CASE WHEN reg.person_token IS NOT NULL THEN reg.community
                    WHEN perm.person_token IS NOT NULL THEN perm.community
                    WHEN cur.person_token IS NOT NULL THEN cur.community ELSE hh_any.community END AS community,
               CASE WHEN reg.person_token IS NOT NULL THEN 'child_registry'
                    WHEN perm.person_token IS NOT NULL THEN 'residence_permits'
                    WHEN hh_any.person_token IS NOT NULL THEN 'household_registry' END AS place_source,
               CASE WHEN cur.person_token IS NOT NULL THEN cur.hukou_type
                    WHEN perm.person_token IS NOT NULL THEN '非本地户籍' END AS hukou_type,
               cur.household_token, cur.relation_to_head, cur.registered_date AS hh_registered_date,
               hh_any.person_token IS NOT NULL AS has_hh_rows,
               COALESCE(perm.active, FALSE) AS active_permit,
               reg_active.person_token IS NOT NULL AS active_registry,
               COALESCE(hh_any.dead, FALSE) AS dead
        FROM ps
        LEFT JOIN reg USING (as_of_date, person_token)
        LEFT JOIN reg_active USING (as_of_date, person_token)
        LEFT JOIN perm USING (as_of_date, person_token)
        LEFT JOIN hm_hh_current cur USING (as_of_date, person_token)
        LEFT JOIN hh_any USING (as_of_date, person_token)
        )
        SELECT *, hukou_type IN ('农业家庭户口', '非农业家庭户口') AS is_local_hukou,
               {urban_rural_sql("community")} AS urban_rural
        FROM placed
        """
    )


def create_links(con: duckdb.DuckDBPyConnection, children: str = "hm_children") -> None:
    """Create ``hm_links(as_of_date, child_token, token, role)``: the people around each child
    (``role`` of type :data:`ROLE_TYPE`).

    Roles (each token at most once per child, role and as-of date):

    - ``student``: the child's student tokens (student_enrollment rows known at the as-of date);
    - ``parent``: in the child's current household, the adults (≥ 18 years or age unknown) with
      relation 户主/配偶 when the child is 子/女, or with relation 子/女 when the child is a grandchild
      of the head (孙子/孙女/外孙子/外孙女; a heuristic: the head's adult children), counting rows
      that have since ended (a parent who died or moved out is still a parent); plus the guardian
      of the latest child_registry row known when the guardian is 父亲/母亲;
    - ``guardian``: parents plus the guardian of the latest child_registry row known (any relation);
    - ``household_member``: the child and the active members of the child's current household;
    - ``household_adult``: active members aged 18 or more, other than the child.

    Needs ``children`` (as_of_date, child_token, household_token, relation_to_head; unique on
    (as_of_date, child_token); ``household_token`` the child's own ``hm_hh_current`` household, as
    :func:`features.cohorts.create_children_table` builds it) and the tables of
    :func:`create_household_tables`.
    """
    grandchild = ", ".join(f"'{r}'" for r in GRANDCHILD_RELATIONS)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE hm_links AS
        WITH c AS (SELECT as_of_date, child_token, household_token, relation_to_head FROM {children}),
        reg_guardian AS (
            SELECT c.as_of_date, c.child_token, r.guardian_token, r.guardian_relation
            FROM c JOIN src_child_registry r
              ON r.child_token = c.child_token AND r.knowledge_date <= c.as_of_date
             AND r.registered_date <= c.as_of_date AND r.guardian_token IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY c.as_of_date, c.child_token
                    ORDER BY r.registered_date DESC, r.knowledge_date DESC, r.source_row DESC) = 1
        ),
        hh_parents AS (
            SELECT DISTINCT c.as_of_date, c.child_token, e.person_token AS token
            FROM c JOIN hm_hh_ever e
              ON e.as_of_date = c.as_of_date AND e.household_token = c.household_token
             AND e.person_token <> c.child_token
            WHERE (e.age_months IS NULL OR e.age_months >= {ADULT_MONTHS})
              AND ((c.relation_to_head IN ('子', '女') AND e.relation_to_head IN ('户主', '配偶'))
                OR (c.relation_to_head IN ({grandchild}) AND e.relation_to_head IN ('子', '女')))
        ),
        parents AS (
            SELECT as_of_date, child_token, token FROM hh_parents
            UNION
            SELECT as_of_date, child_token, guardian_token FROM reg_guardian
            WHERE guardian_relation IN ('父亲', '母亲') AND guardian_token <> child_token
        ),
        members AS (
            SELECT c.as_of_date, c.child_token, m.person_token AS token, m.age_months
            FROM c JOIN hm_hh_current m
              ON m.as_of_date = c.as_of_date AND m.household_token = c.household_token
        ),
        linked AS (
        SELECT as_of_date, child_token, token, 'parent' AS role FROM parents
        UNION ALL
        SELECT as_of_date, child_token, token, 'guardian' FROM (
            SELECT as_of_date, child_token, token FROM parents
            UNION
            SELECT as_of_date, child_token, guardian_token FROM reg_guardian WHERE guardian_token <> child_token)
        UNION ALL
        -- members are distinct per child (hm_hh_current has one row per person) and include the child
        -- whenever it has a current household (household_token is the child's own current row's)
        SELECT as_of_date, child_token, token, 'household_member' FROM members
        UNION ALL
        SELECT as_of_date, child_token, child_token, 'household_member' FROM c WHERE household_token IS NULL
        UNION ALL
        SELECT as_of_date, child_token, token, 'household_adult' FROM members
        WHERE token <> child_token AND age_months >= {ADULT_MONTHS}
        UNION ALL
        SELECT DISTINCT c.as_of_date, c.child_token, s.student_token, 'student'
        FROM c JOIN src_student_enrollment s
          ON s.child_token = c.child_token AND s.knowledge_date <= c.as_of_date
        WHERE s.student_token IS NOT NULL
        )
        SELECT as_of_date, child_token, token, CAST(role AS {ROLE_TYPE}) AS role FROM linked
        """
    )


def child_places(pseudo_dir: str | Path, as_of_date: dt.date, *, con: duckdb.DuckDBPyConnection | None = None) -> pd.DataFrame:
    """Where each person lives as of a date (rules in the module docstring).

    Parameters
    ----------
    pseudo_dir : str or Path
        Pseudonymized Parquet folder (interfaces §2).
    as_of_date : datetime.date
        Only rows with ``knowledge_date <= as_of_date`` are used.
    con : duckdb.DuckDBPyConnection, optional
        Connection to reuse.

    Returns
    -------
    pandas.DataFrame
        One row per person known by ``as_of_date`` (any age; filter on age with the cohort):
        ``person_token, as_of_date, district, township, community, urban_rural, place_source``
        (child_registry / residence_permits / household_registry / None), ``hukou_type,
        is_local_hukou, household_token``.
    """
    con = open_sources(pseudo_dir, con)
    register_as_of_dates(con, [as_of_date])
    create_person_tables(con)
    create_household_tables(con)
    create_place_table(
        con,
        "SELECT a.as_of_date, f.token AS person_token FROM hm_first_known f "
        "JOIN hm_as_of a ON f.first_known <= a.as_of_date",
    )
    return fetch_df(
        con,
        """SELECT person_token, as_of_date, district, township, community, urban_rural, place_source,
                  hukou_type, is_local_hukou, household_token
           FROM hm_places ORDER BY person_token""",
        ("as_of_date",),
    )


#: DuckDB memory limit of :func:`person_spine`'s own connection. Without one DuckDB may take 80 % of RAM:
#: the step peaked at 12.15 GB at 2,000,000 children (run 4, docs/production.md; issue 8).
SPINE_MEMORY_LIMIT = "4GB"


def person_spine(pseudo_dir: str | Path, *, con: duckdb.DuckDBPyConnection | None = None,
                 memory_limit: str | None = SPINE_MEMORY_LIMIT) -> pd.DataFrame:
    """The person spine of interfaces §3, on everything the data holds (latest known state).

    Parameters
    ----------
    pseudo_dir : str or Path
        Pseudonymized Parquet folder (interfaces §2).
    con : duckdb.DuckDBPyConnection, optional
        Connection to reuse (its own settings apply).
    memory_limit : str or None
        DuckDB ``memory_limit`` of the connection made here when ``con`` is None
        (:func:`features.prepare.connect`: it spills beyond it; closed before returning); None: DuckDB's
        default, 80 % of RAM.

    Returns
    -------
    pandas.DataFrame
        One row per person token seen in any table: ``person_token, household_token, birth_month
        (datetime.date, first of month), sex (男/女), hukou_type (农业家庭户口 / 非农业家庭户口 /
        非本地户籍 / None), is_local_hukou (bool), district, township, community, urban_rural
        (城镇/农村/None)``. The household is the latest active household_registry row (else the
        latest row). Use :func:`child_places` and the as-of tables for anything time-dependent: the
        spine is the *latest* state and must not feed features of past as-of dates.
    """
    own = con is None
    if own:
        from features.prepare import connect

        con = connect(memory_limit)
    try:
        return _person_spine(open_sources(pseudo_dir, con))
    finally:
        if own:
            con.close()


def _person_spine(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    register_as_of_dates(con, [END_OF_TIME])
    create_person_tables(con)
    create_household_tables(con)
    create_place_table(con, "SELECT a.as_of_date, p.person_token FROM hm_person p CROSS JOIN hm_as_of a")
    return fetch_df(
        con,
        """
        WITH latest_hh AS (
            SELECT person_token, household_token FROM hm_hh_ever
            QUALIFY row_number() OVER (PARTITION BY person_token
                    ORDER BY active DESC, registered_date DESC, knowledge_date DESC, source_row DESC) = 1
        )
        SELECT p.person_token, h.household_token, p.birth_month, p.sex, pl.hukou_type,
               COALESCE(pl.is_local_hukou, FALSE) AS is_local_hukou,
               pl.district, pl.township, pl.community, pl.urban_rural
        FROM hm_person p
        LEFT JOIN hm_places pl ON pl.person_token = p.person_token
        LEFT JOIN latest_hh h ON h.person_token = p.person_token
        ORDER BY p.person_token
        """,
        ("birth_month",),
    )
