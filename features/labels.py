"""Labels of DESIGN §6, with precise window edges, a knowledge cutoff and a missing-label policy.

Window
    The label window of an as-of date ``d`` is ``(d, d + label_timespan_days]``: an event dated
    ``d`` itself is *not* a label (it may already be a feature: features use facts dated ``<= d``);
    an event dated exactly ``d + label_timespan_days`` is. The event date is ``visit_date`` for a
    visit, ``reported_at`` (as a date) for an incident, ``registered_date`` for a registry entry.
Knowledge cutoff
    An event counts only if its ``knowledge_date <= label_knowledge_cutoff`` (DESIGN §11.6: for
    training rows, the first test as-of date of the split). Without a cutoff, the *data horizon* is
    used: the latest ``knowledge_date`` in the label sources (visit_records, incidents,
    child_registry), i.e. everything the export holds.
Missing-label policy
    1 if a qualifying event is in the window and known by the cutoff; 0 if none and the whole window
    has passed by the cutoff (``d + label_timespan_days <= cutoff``); **NA** otherwise (the window
    is still open: absence of evidence is not yet a negative). Outside a target's cohort the label
    is NA. A 0 means "no failure was *detected*" (labels are detections, DESIGN §9); see
    :func:`label_coverage` for how many children were visited at all.

guardianship_risk = 1
    a visit of the child assessed 监护缺失 or 监护不当; or an incident 家庭暴力 in which the child is an
    involved person (any role); or an incident 监护人失联 or 儿童走失 involving the child, an active
    member of the child's household, a parent or the registered guardian (as of ``d``).
left_behind_risk = 1
    a child_registry row of category 留守儿童 for the child with ``registered_date`` in the window
    (the cohort already excludes children registered 留守儿童 at ``d``).

``label_knowledge_date``: the date by which the row's labels are what they are: for each target in
whose cohort the row is and whose label is not NA, the earliest knowledge_date of its qualifying
events if 1, the window end if 0; the latest of these (None when both are NA).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from features.cohorts import TARGETS, create_children_table
from features.prepare import (
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

#: Temporary relations of one chunk (the cohort tables of :func:`features.cohorts.create_children_table`).
CHUNK_TABLES = ("hm_links", "hm_children", "hm_cand_places", "hm_hh_current", "hm_hh_ever", "hm_child_tokens",
                "hm_first_known", "hm_person", "hm_as_of")

GUARDIANSHIP_ASSESSMENTS = ("监护缺失", "监护不当")
CHILD_INCIDENTS = ("家庭暴力",)
HOUSEHOLD_INCIDENTS = ("监护人失联", "儿童走失")
LEFT_BEHIND_CATEGORY = "留守儿童"


def _in(values: Sequence[str]) -> str:
    return ", ".join(sql_literal(v) for v in values)


def resolve_cutoff(con: duckdb.DuckDBPyConnection, label_knowledge_cutoff: dt.date | None) -> dt.date:
    """The cutoff given, or the data horizon (latest knowledge_date in the label sources)."""
    if label_knowledge_cutoff is not None:
        return _to_date(label_knowledge_cutoff)
    horizon = con.execute(
        """SELECT MAX(k) FROM (
             SELECT MAX(knowledge_date) AS k FROM src_visit_records
             UNION ALL SELECT MAX(knowledge_date) FROM src_incidents
             UNION ALL SELECT MAX(knowledge_date) FROM src_child_registry)"""
    ).fetchall()[0][0]  # fetch to the end: duckdb 2 keeps a half-read result open
    return horizon if horizon is not None else dt.date(9999, 12, 31)


def create_label_table(
    con: duckdb.DuckDBPyConnection, label_timespan_days: int, label_knowledge_cutoff: dt.date | None
) -> dt.date:
    """Create ``hm_labels`` from ``hm_children`` / ``hm_links``; returns the cutoff used."""
    if int(label_timespan_days) <= 0:
        raise ValueError(f"label_timespan_days must be positive, got {label_timespan_days}")
    cutoff = resolve_cutoff(con, label_knowledge_cutoff)
    k = f"DATE {sql_literal(cutoff.isoformat())}"
    in_window = "{d} > c.as_of_date AND {d} <= c.window_end"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE hm_labels AS
        WITH c AS (
            SELECT as_of_date, child_token, in_cohort_guardianship, in_cohort_left_behind,
                   CAST(as_of_date + INTERVAL {int(label_timespan_days)} DAY AS DATE) AS window_end
            FROM hm_children
        ),
        g_events AS (
            SELECT c.as_of_date, c.child_token, v.knowledge_date AS k
            FROM c JOIN src_visit_records v
              ON v.child_token = c.child_token AND v.guardianship_assessment IN ({_in(GUARDIANSHIP_ASSESSMENTS)})
             AND {in_window.format(d="v.visit_date")} AND v.knowledge_date <= {k}
            UNION ALL
            SELECT c.as_of_date, c.child_token, i.knowledge_date
            FROM c JOIN src_incidents i
              ON i.person_token = c.child_token AND i.category IN ({_in(CHILD_INCIDENTS)})
             AND {in_window.format(d="CAST(i.reported_at AS DATE)")} AND i.knowledge_date <= {k}
            UNION ALL
            SELECT c.as_of_date, c.child_token, i.knowledge_date
            FROM c JOIN hm_links l
              ON l.as_of_date = c.as_of_date AND l.child_token = c.child_token
             AND l.role IN ('household_member', 'parent', 'guardian')
            JOIN src_incidents i
              ON i.person_token = l.token AND i.category IN ({_in(HOUSEHOLD_INCIDENTS)})
             AND {in_window.format(d="CAST(i.reported_at AS DATE)")} AND i.knowledge_date <= {k}
        ),
        g AS (SELECT as_of_date, child_token, MIN(k) AS k FROM g_events GROUP BY ALL),
        lb AS (
            SELECT c.as_of_date, c.child_token, MIN(r.knowledge_date) AS k
            FROM c JOIN src_child_registry r
              ON r.child_token = c.child_token AND r.category = {sql_literal(LEFT_BEHIND_CATEGORY)}
             AND {in_window.format(d="r.registered_date")} AND r.knowledge_date <= {k}
            GROUP BY ALL
        ),
        lab AS (
            SELECT c.child_token, c.as_of_date, c.in_cohort_guardianship, c.in_cohort_left_behind,
                   CAST(CASE WHEN NOT c.in_cohort_guardianship THEN NULL WHEN g.k IS NOT NULL THEN 1
                             WHEN c.window_end <= {k} THEN 0 END AS TINYINT) AS guardianship_risk,
                   CAST(CASE WHEN NOT c.in_cohort_left_behind THEN NULL WHEN lb.k IS NOT NULL THEN 1
                             WHEN c.window_end <= {k} THEN 0 END AS TINYINT) AS left_behind_risk,
                   g.k AS g_k, lb.k AS lb_k, c.window_end
            FROM c LEFT JOIN g USING (as_of_date, child_token) LEFT JOIN lb USING (as_of_date, child_token)
        )
        SELECT child_token, as_of_date, in_cohort_guardianship, guardianship_risk,
               in_cohort_left_behind, left_behind_risk,
               GREATEST(CASE guardianship_risk WHEN 1 THEN g_k WHEN 0 THEN window_end END,
                        CASE left_behind_risk WHEN 1 THEN lb_k WHEN 0 THEN window_end END)
                   AS label_knowledge_date
        FROM lab
        """
    )
    return cutoff


def _label_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """``hm_labels`` as the documented frame (tokens decoded on a prepared folder)."""
    decode = has_view(con, "pp_tokens")
    token = "t.token" if decode else "l.child_token"
    join = "LEFT JOIN pp_tokens t ON t.id = l.child_token" if decode else ""
    df = fetch_df(
        con,
        f"SELECT {token} AS child_token, l.* EXCLUDE (child_token) FROM hm_labels l {join} "
        f"ORDER BY l.as_of_date, {token}",
        ("as_of_date", "label_knowledge_date"),
    )
    for c in ("guardianship_risk", "left_behind_risk"):
        df[c] = df[c].astype("Int8")
    for c in ("in_cohort_guardianship", "in_cohort_left_behind"):
        df[c] = df[c].astype(bool)
    return df


def labels(
    pseudo_dir: str | Path,
    as_of_dates: Iterable[dt.date],
    label_timespan_days: int = 180,
    label_knowledge_cutoff: dt.date | None = None,
    rural_hukou_only: bool = False,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
    feedback_dir: str | Path | None = None,
    prepared_dir: str | Path | None = None,
    chunk_dates: int | None = None,
    memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
    threads: int | None = None,
) -> pd.DataFrame:
    """Labels of both targets for every child in either cohort (interfaces §3).

    Computed like :func:`features.build.build_features`: from the prepared folder
    (:mod:`features.prepare`), in chunks of as-of dates (memory of one chunk, plus the result).

    Parameters
    ----------
    pseudo_dir : str or Path
        Pseudonymized Parquet folder (interfaces §2).
    as_of_dates : iterable of datetime.date
    label_timespan_days : int, default 180
        Length of the label window ``(as_of_date, as_of_date + label_timespan_days]`` in days.
    label_knowledge_cutoff : datetime.date, optional
        Events count only if ``knowledge_date <= label_knowledge_cutoff``; default: data horizon
        (of all the data, whatever the chunk).
    rural_hukou_only : bool, default False
        left_behind_risk cohort restricted to 农业家庭户口.
    con : duckdb.DuckDBPyConnection, optional
        Connection to use (default: a new one, :func:`features.prepare.connect`).
    feedback_dir : str or Path, optional
        Folder of the review app's ``visit_outcomes.parquet`` (see :func:`features.sources.open_sources`).
    prepared_dir : str or Path, optional
        Folder of :func:`features.prepare.prepare_sources` for these files; default: prepared for
        this call into a temporary folder (pass the same folder as to ``build_features`` to prepare once).
    chunk_dates : int, optional
        As-of dates per chunk; default :func:`features.prepare.auto_chunk_dates`.
    memory_limit, threads
        DuckDB settings of the connection opened here (:func:`features.prepare.connect`).

    Returns
    -------
    pandas.DataFrame
        ``child_token, as_of_date (datetime.date), in_cohort_guardianship (bool), guardianship_risk
        (Int8), in_cohort_left_behind (bool), left_behind_risk (Int8, NA outside the cohort or while
        the window is open), label_knowledge_date (datetime.date or None)``; unique on
        (child_token, as_of_date), ordered by (as_of_date, child_token).

    Raises
    ------
    ValueError
        Empty ``as_of_dates``, ``label_timespan_days <= 0``, ``chunk_dates < 1``.
    """
    dates = as_of_list(as_of_dates)
    if int(label_timespan_days) <= 0:
        raise ValueError(f"label_timespan_days must be positive, got {label_timespan_days}")
    if chunk_dates is not None and int(chunk_dates) < 1:
        raise ValueError(f"chunk_dates must be >= 1 or None, got {chunk_dates}")
    frames = []
    with prepared_sources(pseudo_dir, prepared_dir, feedback_dir=feedback_dir, memory_limit=memory_limit,
                          threads=threads) as prep:
        c = con if con is not None else connect(memory_limit, threads)
        try:
            open_prepared(prep, c)
            cutoff = resolve_cutoff(c, label_knowledge_cutoff)  # once: the same for every chunk
            size = int(chunk_dates) if chunk_dates is not None else auto_chunk_dates(c, dates)
            for i in range(0, len(dates), size):
                register_as_of_dates(c, dates[i:i + size])
                create_children_table(c, rural_hukou_only=rural_hukou_only)
                create_label_table(c, label_timespan_days, cutoff)
                frames.append(_label_frame(c))
                for name in ("hm_labels", *CHUNK_TABLES):
                    drop_relation(c, name)
        finally:
            if con is None:
                c.close()
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)


#: DuckDB memory limit of :func:`label_coverage`'s own connection (it spills to disk beyond it).
COVERAGE_MEMORY_LIMIT = "2GB"
#: Default groups of :func:`label_coverage` (besides "all").
COVERAGE_GROUPS: tuple[str, ...] = ("district", "hukou_type", "urban_rural", "sex", "has_disability")


def label_coverage(
    pseudo_dir: str | Path,
    as_of_dates: Iterable[dt.date],
    label_timespan_days: int = 180,
    *,
    target: str = "guardianship_risk",
    by: Sequence[str] = COVERAGE_GROUPS,
    label_knowledge_cutoff: dt.date | None = None,
    rural_hukou_only: bool = False,
    con: duckdb.DuckDBPyConnection | None = None,
    feedback_dir: str | Path | None = None,
    memory_limit: str | None = COVERAGE_MEMORY_LIMIT,
) -> pd.DataFrame:
    """Share of a target's cohort visited in the label window, overall and per group (DESIGN §6).

    A child counts as visited when any visit_records row (any mode, any assessment) for the child
    has ``visit_date`` in ``(as_of_date, as_of_date + label_timespan_days]`` and
    ``knowledge_date <= cutoff`` (same cutoff rule as :func:`labels`). Selective labels: only
    visited children can be labelled by a visit, so low coverage in a group means its zeros are
    weaker evidence. :func:`label_coverage_by_target` for several targets at once.

    Parameters
    ----------
    by : sequence of str
        Group columns among district, township, community, hukou_type, urban_rural, sex,
        has_disability.
    memory_limit : str or None
        DuckDB ``memory_limit`` of the connection made here when ``con`` is None (the query spills
        beyond it, and the connection is closed before returning): the cohort of every training date
        with every visit is 2.5–5.5 GB at 200,000 children without a limit (issue 8). The dates are
        queried one at a time, so the memory is one date's.

    Returns
    -------
    pandas.DataFrame
        Long format: ``as_of_date, group ("all" or the column name), value (str; "全部" for all),
        cohort_children, visited_children, coverage (visited / cohort, float)``.

    Raises
    ------
    ValueError
        An unknown target or group column.
    """
    return label_coverage_by_target(
        pseudo_dir, as_of_dates, label_timespan_days, targets=(target,), by=by,
        label_knowledge_cutoff=label_knowledge_cutoff, rural_hukou_only=rural_hukou_only, con=con,
        feedback_dir=feedback_dir, memory_limit=memory_limit)[target]  # fmt: skip


def label_coverage_by_target(
    pseudo_dir: str | Path,
    as_of_dates: Iterable[dt.date],
    label_timespan_days: int = 180,
    *,
    targets: Sequence[str] = TARGETS,
    by: Sequence[str] = COVERAGE_GROUPS,
    label_knowledge_cutoff: dt.date | None = None,
    rural_hukou_only: bool = False,
    con: duckdb.DuckDBPyConnection | None = None,
    feedback_dir: str | Path | None = None,
    memory_limit: str | None = COVERAGE_MEMORY_LIMIT,
) -> dict[str, pd.DataFrame]:
    """:func:`label_coverage` of several targets, each date's children, cohorts and links built once for
    all of them (issue 8: at 2,000,000 children that build is most of the 26 s a date takes).

    Returns
    -------
    dict
        Target → the frame :func:`label_coverage` returns for it.

    Raises
    ------
    ValueError
        An unknown target or group column.
    """
    _check_coverage_args(targets, by)
    own = con is None
    con = open_sources(pseudo_dir, connect(memory_limit) if own else con, feedback_dir=feedback_dir)
    dates = sorted({_to_date(d) for d in as_of_dates})
    try:
        # one as-of date per query: the children table and its links are one date's (at 2,000,000 children
        # six dates at once ran out of a 2 GB limit in the links' window function; one date takes 26 s
        # and 2.3 GB, the same time per date as all at once; issue 8)
        per_date = [_coverage_query(con, [d], label_timespan_days, targets, by, label_knowledge_cutoff,
                                    rural_hukou_only) for d in dates] or \
            [_coverage_query(con, [], label_timespan_days, targets, by, label_knowledge_cutoff, rural_hukou_only)]
    finally:
        if own:
            con.close()
    return {t: _coverage_rows(pd.concat([r[t] for r in per_date], ignore_index=True), by) for t in targets}


def label_coverage_from_partitions(
    pseudo_dir: str | Path,
    partitions: Sequence[tuple[str | Path, str | Path]],
    label_timespan_days: int = 180,
    *,
    targets: Sequence[str] = TARGETS,
    by: Sequence[str] = COVERAGE_GROUPS,
    label_knowledge_cutoff: dt.date | None = None,
    feedback_dir: str | Path | None = None,
    memory_limit: str | None = COVERAGE_MEMORY_LIMIT,
) -> dict[str, pd.DataFrame]:
    """:func:`label_coverage_by_target` from the stored features and labels partitions of the as-of dates,
    instead of building each date's children again (issue 8: 26 s a date at 2,000,000 children, 184 s for the
    models step's seven quarterly dates, for what the features step had already built).

    The cohort flags come from the labels partition, the group columns from the features partition of the
    same date (built by :func:`features.build.finish_frame` from the same children table, with the same
    ``has_disability`` rule), the visits from ``src_visit_records`` with the same window and cutoff. One
    difference: a child without a registered place or hukou type is counted under the features' values
    :data:`features.build.UNPLACED` / ``未知`` instead of a missing value.

    Parameters
    ----------
    pseudo_dir : path
        The pseudonymized tables (for ``src_visit_records`` and the cutoff).
    partitions : sequence of (features file, labels file)
        One pair of Parquet files per as-of date (the assets' partitions).
    label_timespan_days : int
        Days of the label window ``(as_of_date, as_of_date + label_timespan_days]``.
    targets, by, label_knowledge_cutoff, feedback_dir, memory_limit
        As for :func:`label_coverage`.

    Returns
    -------
    dict
        Target → the frame :func:`label_coverage` returns for it.

    Raises
    ------
    ValueError
        An unknown target or group column, or a labels row with no features row (the two partitions are
        not of the same build).
    """
    _check_coverage_args(targets, by)
    con = open_sources(pseudo_dir, connect(memory_limit), feedback_dir=feedback_dir)
    flags = {t: "in_cohort_guardianship" if t == "guardianship_risk" else "in_cohort_left_behind" for t in targets}
    cols = ", ".join(by)
    parts: dict[str, list[pd.DataFrame]] = {t: [] for t in targets}
    try:
        cutoff = resolve_cutoff(con, label_knowledge_cutoff)
        for features_file, labels_file in partitions:
            con.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE hm_coverage AS
                SELECT l.child_token, CAST(l.as_of_date AS DATE) AS as_of_date,
                       CAST(CAST(l.as_of_date AS DATE) + INTERVAL {int(label_timespan_days)} DAY AS DATE) AS window_end,
                       {", ".join(f"l.{f}" for f in sorted(set(flags.values())))},
                       {", ".join(f"f.{b}" for b in by)}, f.child_token IS NULL AS no_features
                FROM read_parquet({sql_literal(str(labels_file))}) l
                LEFT JOIN (SELECT child_token, CAST(as_of_date AS DATE) AS as_of_date, {cols}
                           FROM read_parquet({sql_literal(str(features_file))})) f
                  ON f.child_token = l.child_token AND f.as_of_date = CAST(l.as_of_date AS DATE)
                WHERE {" OR ".join(f"l.{f}" for f in sorted(set(flags.values())))}
                """
            )
            missing = con.execute("SELECT COUNT(*) FROM hm_coverage WHERE no_features").fetchall()[0][0]
            if missing:
                raise ValueError(f"{labels_file}: {missing} cohort rows have no row in {features_file} "
                                 "(the partitions are not of the same build)")
            for target in targets:
                parts[target].append(con.sql(
                    _coverage_sql(f"SELECT * FROM hm_coverage WHERE {flags[target]}", cutoff, by)).df())
    finally:
        con.close()
    return {t: _coverage_rows(pd.concat(parts[t], ignore_index=True), by) if parts[t] else
            _coverage_rows(pd.DataFrame(columns=["as_of_date", *by, *(f"g_{b}" for b in by), "cohort_children",
                                                 "visited_children"]), by)
            for t in targets}


def _coverage_query(con, as_of_dates, label_timespan_days, targets, by, label_knowledge_cutoff,
                    rural_hukou_only) -> dict[str, pd.DataFrame]:
    register_as_of_dates(con, as_of_dates)
    create_children_table(con, rural_hukou_only=rural_hukou_only)
    cutoff = resolve_cutoff(con, label_knowledge_cutoff)
    out = {}
    for target in targets:
        flag = "in_cohort_guardianship" if target == "guardianship_risk" else "in_cohort_left_behind"
        out[target] = con.sql(_coverage_sql(
            f"""SELECT h.*, CAST(h.as_of_date + INTERVAL {int(label_timespan_days)} DAY AS DATE) AS window_end,
                       EXISTS (SELECT 1 FROM src_disability_certificates d
                               WHERE d.person_token = h.child_token AND d.issued_date <= h.as_of_date
                                 AND d.knowledge_date <= h.as_of_date) AS has_disability
                FROM hm_children h WHERE {flag}""", cutoff, by)).df()
    return out


def _check_coverage_args(targets: Sequence[str], by: Sequence[str]) -> None:
    """ValueError for an unknown target or group column of label coverage."""
    unknown = [t for t in targets if t not in TARGETS]
    if unknown or not targets:
        raise ValueError(f"unknown target {unknown[0] if unknown else None!r}; expected one of {TARGETS}")
    allowed = {"district", "township", "community", "hukou_type", "urban_rural", "sex", "has_disability"}
    bad = [b for b in by if b not in allowed]
    if bad:
        raise ValueError(f"cannot group label coverage by {bad}; allowed: {sorted(allowed)}")


def _coverage_sql(cohort_sql: str, cutoff: dt.date, by: Sequence[str]) -> str:
    """The coverage counts of a cohort (``cohort_sql``: ``as_of_date, child_token, window_end`` and the ``by``
    columns): each child visited or not in its window (visits known by ``cutoff``), counted overall and per
    group (GROUPING SETS; :func:`_coverage_rows` reads the result)."""
    sets = ", ".join(["(as_of_date)"] + [f"(as_of_date, {b})" for b in by])
    return f"""
        WITH c AS ({cohort_sql}),
        v AS (
            SELECT DISTINCT c.as_of_date, c.child_token
            FROM c JOIN src_visit_records r ON r.child_token = c.child_token
             AND r.visit_date > c.as_of_date AND r.visit_date <= c.window_end
             AND r.knowledge_date <= DATE {sql_literal(cutoff.isoformat())}
        ),
        cv AS (SELECT c.*, v.child_token IS NOT NULL AS visited FROM c LEFT JOIN v USING (as_of_date, child_token))
        SELECT as_of_date, {", ".join(by)}, {", ".join(f"GROUPING({b}) AS g_{b}" for b in by)},
               COUNT(*) AS cohort_children, SUM(CAST(visited AS INT)) AS visited_children
        FROM cv GROUP BY GROUPING SETS ({sets})
        """


def _coverage_rows(res: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    rows = []
    for rec in res.to_dict("records"):
        group, value = "all", "全部"
        for b in by:
            if rec[f"g_{b}"] == 0:
                group, value = b, rec[b]
        rows.append(
            {
                "as_of_date": pd.Timestamp(rec["as_of_date"]).date(),
                "group": group,
                "value": None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value),
                "cohort_children": int(rec["cohort_children"]),
                "visited_children": int(rec["visited_children"] or 0),
            }
        )
    out = pd.DataFrame(rows, columns=["as_of_date", "group", "value", "cohort_children", "visited_children"])
    out["coverage"] = out["visited_children"] / out["cohort_children"]
    return out.sort_values(["as_of_date", "group", "value"], na_position="last").reset_index(drop=True)


def truth_child_codes(truth_tokens: pd.Series, row_tokens: pd.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """Integer child codes shared by the truth and the rows, without a string per truth row.

    Parameters
    ----------
    truth_tokens : Series
        The truth's ``child_token`` (categorical as :func:`privacy.truth.load_truth` gives it, or str).
    row_tokens : Series
        The rows' ``child_token``.

    Returns
    -------
    (truth_codes, row_codes, n_children)
        int arrays in ``[0, n_children)``; -1 for a missing truth token or a row child absent from the truth.
    """
    cat = truth_tokens if isinstance(truth_tokens.dtype, pd.CategoricalDtype) else truth_tokens.astype("category")
    categories = pd.Index(cat.cat.categories.astype(str))
    row_codes = categories.get_indexer(pd.Index(row_tokens.astype(str)))
    return cat.cat.codes.to_numpy(), row_codes, len(categories)


def month_index(values) -> np.ndarray:
    """``year * 12 + month - 1`` of each date (int64): consecutive months differ by one."""
    t = pd.DatetimeIndex(pd.to_datetime(values))
    return (t.year * 12 + t.month - 1).to_numpy(dtype=np.int64)


def true_outcomes(truth: pd.DataFrame, rows: pd.DataFrame, target: str, label_timespan_days: int = 180) -> pd.Series:
    """Simulation only: the true outcome of each row's label window, from the simulator's ground truth.

    Parameters
    ----------
    truth : DataFrame
        From :func:`privacy.truth.load_truth`: ``child_token, month, guardianship_state,
        true_left_behind, guardianship_failure_event`` (one row per child and month).
    rows : DataFrame
        ``child_token, as_of_date`` (any index; the result keeps it).
    target : {"guardianship_risk", "left_behind_risk"}
        guardianship_risk: a true guardianship failure (state inadequate/absent, or a failure event) in a
        month of the window; left_behind_risk: the child is truly left behind in a month of the window.
    label_timespan_days : int
        The window ``(as_of_date, as_of_date + label_timespan_days]``, in whole months touched: a month
        counts when it ends after the as-of date and starts on or before the window's end.

    Returns
    -------
    Series of int8 (0/1), index of ``rows``; children absent from the truth get 0.

    Each child's event months are counted cumulatively (one small integer matrix, children × months),
    so a row's window is two lookups. Joining the rows with every event month (the way before) made
    hundreds of millions of pairs at 2,000,000 children (issue 8).
    """
    if target == "guardianship_risk":
        flag = ((truth["guardianship_state"] >= 2) | truth["guardianship_failure_event"].astype(bool)).to_numpy()
    elif target == "left_behind_risk":
        flag = truth["true_left_behind"].astype(bool).to_numpy()
    else:
        raise ValueError(f"unknown target {target!r}")
    out = np.zeros(len(rows), dtype="int8")
    t_codes, r_codes, n_children = truth_child_codes(truth["child_token"], rows["child_token"])
    keep = flag & (t_codes >= 0)
    if keep.any() and len(rows):
        months = month_index(truth["month"].to_numpy()[keep])
        m0, n_months = int(months.min()), int(months.max() - months.min()) + 1
        events = np.zeros((n_children, n_months + 1), dtype=np.int32)  # column 0: nothing before m0
        events[t_codes[keep], months - m0 + 1] = 1  # one truth row per child and month
        np.cumsum(events, axis=1, out=events)
        as_of = pd.DatetimeIndex(pd.to_datetime(rows["as_of_date"]))
        end = as_of + pd.Timedelta(days=label_timespan_days)
        # first month that ends after the as-of date: its own month unless the as-of date is its last day
        lo = month_index(as_of) + (as_of.is_month_end).astype(np.int64)
        hi = month_index(end)
        ok = r_codes >= 0
        a = np.clip(lo - m0, 0, n_months)  # events[c, j] counts months m0 … m0 + j - 1
        b = np.clip(hi - m0 + 1, 0, n_months)
        hit = np.zeros(len(rows), dtype=bool)
        hit[ok] = events[r_codes[ok], b[ok]] > events[r_codes[ok], a[ok]]
        out[hit & (b > a)] = 1
    return pd.Series(out, index=rows.index, dtype="int8")
