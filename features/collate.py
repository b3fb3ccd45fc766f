"""Compile the feature spec (:mod:`features.spec`) to DuckDB SQL and run it, set-based.

One query per :class:`~features.spec.Aggregation` for *all* as-of dates of a chunk at once: the child
table ``hm_children`` (one row per child and as-of date) is joined to the source rows usable at each
date (``knowledge <= as_of_date`` and ``date <= as_of_date``) and grouped by (as_of_date, child_token);
intervals are ``FILTER`` clauses of the same scan. The few families that need two-level
aggregation (household composition, parents away) are hand-written SQL of the same shape
(:func:`custom_sql`), documented in :data:`features.spec.CUSTOM`.

:func:`compute_feature_matrix` runs them (the result of each query is scattered by row number into
a float32 matrix: no join of ~20 tables, no pandas round trip) and :func:`compile_features` is the
same result as one readable SELECT (the reference the tests hold it to). The SQL is the same on
plain sources (string tokens) and on a prepared folder (:mod:`features.prepare`: integer tokens,
keyword flags precomputed in columns :func:`keyword_column`).

Time rules (the only place they are written):

- usable at ``d``: ``max(knowledge_columns) <= d`` and ``date_column <= d``;
- interval ``'N months'`` at ``d``: ``d - N months < date_column <= d`` (start exclusive, end
  inclusive, the mirror image of the label window ``(d, d + span]``);
- ``'all'``: every usable row; state metrics (``active_*``, ``latest_*``) look at rows started by
  ``d`` and, for ``active_*``, not ended at ``d`` (``end_column IS NULL OR end_column > d``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable

import duckdb
import numpy as np
import pyarrow as pa

from features.sources import has_view, sql_literal
from features.spec import (
    AS_OF,
    SPEC,
    Aggregation,
    Derived,
    FeatureSpec,
    Metric,
    Predicate,
    interval_suffix,
    parse_interval,
)
from features.spine import ADULT_MONTHS

# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------


def metric_columns(agg: Aggregation, metric: Metric) -> list[tuple[str, str | None]]:
    """``[(feature name, interval or None for a state)]`` produced by one metric."""
    intervals = agg.intervals if metric.intervals is None else metric.intervals
    if not intervals:
        return [(f"{agg.family}_{metric.name}", None)]
    return [(f"{agg.family}_{metric.name}_{interval_suffix(i)}", i) for i in intervals]


def aggregation_features(agg: Aggregation) -> list[str]:
    """Output feature names of one aggregation, missing flags included."""
    names = []
    for m in agg.metrics:
        for name, _ in metric_columns(agg, m):
            names.append(name)
            if m.resolved_imputation == "nan_flag":
                names.append(f"{name}_missing")
    return names


def feature_names(spec: FeatureSpec = SPEC) -> list[str]:
    """Every numeric feature column ``build_features`` returns, in order; raises on duplicates."""
    names = [d.name for d in spec.custom]
    for agg in spec.aggregations:
        names.extend(aggregation_features(agg))
    names.extend(d.name for d in spec.derived)
    seen, dup = set(), set()
    for n in names:
        (dup if n in seen else seen).add(n)
    if dup:
        raise ValueError(f"duplicate feature names in spec: {sorted(dup)}")
    return names


# --------------------------------------------------------------------------------------------
# SQL rendering
# --------------------------------------------------------------------------------------------


def _value(v: object) -> str:
    return "c.as_of_date" if v == AS_OF else sql_literal(v)


def keyword_column(p: Predicate) -> str:
    """Name of the column that holds a ``contains_any`` predicate evaluated once per source row.

    :func:`features.prepare.prepare_sources` writes such a column (BOOLEAN, NULL where the text is
    NULL, exactly the SQL value of the predicate) for every ``contains_any`` predicate of the spec;
    the compilers read it instead of searching the text again for every as-of date.
    """
    key = "\x1e".join([p.column, *(str(w) for w in p.value)])
    return "_kw_" + hashlib.sha1(key.encode()).hexdigest()[:12]


def keyword_predicates(spec: FeatureSpec = SPEC) -> dict[str, list[Predicate]]:
    """``{source table: [distinct contains_any predicates]}`` of a spec (aggregation and metric filters)."""
    out: dict[str, list[Predicate]] = {}
    for agg in spec.aggregations:
        for p in (*agg.where, *(q for m in agg.metrics for q in m.where)):
            if p.op == "contains_any" and p not in out.setdefault(agg.source, []):
                out[agg.source].append(p)
    return out


def render_predicate(p: Predicate, alias: str = "s", precomputed: frozenset[str] = frozenset()) -> str:
    """SQL for a :class:`~features.spec.Predicate` on source alias ``alias``.

    ``precomputed``: columns of the source; a ``contains_any`` predicate whose
    :func:`keyword_column` is among them reads that column.
    """
    col = f"{alias}.{p.column}"
    if p.op == "contains_any" and keyword_column(p) in precomputed:
        return f"{alias}.{keyword_column(p)}"
    op, v = p.op, p.value
    if op == "eq":
        return f"{col} = {_value(v)}"
    if op == "ne":
        return f"{col} IS DISTINCT FROM {_value(v)}"
    if op in ("in", "not_in"):
        items = ", ".join(_value(x) for x in v)
        return f"{col} {'NOT ' if op == 'not_in' else ''}IN ({items})"
    if op == "contains_any":
        return "(" + " OR ".join(f"contains({col}, {sql_literal(w)})" for w in v) + ")"
    if op in ("le", "lt", "ge", "gt"):
        sym = {"le": "<=", "lt": "<", "ge": ">=", "gt": ">"}[op]
        return f"{col} {sym} {_value(v)}"
    if op == "is_null":
        return f"{col} IS NULL"
    if op == "not_null":
        return f"{col} IS NOT NULL"
    if op == "null_or_gt":
        return f"({col} IS NULL OR {col} > {_value(v)})"
    if op == "is_true":
        return f"{col} IS TRUE"
    if op == "is_false":
        return f"{col} IS FALSE"
    if op == "not_startswith":
        return f"NOT starts_with({col}, {_value(v)})"
    raise ValueError(op)  # pragma: no cover - guarded by Predicate


def _interval_condition(interval: str | None) -> str | None:
    if interval is None or interval == "all":
        return None
    n, unit = parse_interval(interval)
    return f"s._d > CAST(c.as_of_date - INTERVAL {n} {unit} AS DATE)"


def _filter(conds: Iterable[str | None]) -> str:
    conds = [c for c in conds if c]
    return f" FILTER (WHERE {' AND '.join(conds)})" if conds else ""


def _mapped(col: str, mapping) -> str:
    whens = " ".join(f"WHEN {sql_literal(k)} THEN {float(v)!r}" for k, v in mapping)
    return f"CASE {col} {whens} END"


def metric_sql(agg: Aggregation, metric: Metric, interval: str | None,
               precomputed: frozenset[str] = frozenset()) -> str:
    """The aggregate expression of one metric over one interval (un-imputed)."""
    conds = [_interval_condition(interval), *(render_predicate(p, "s", precomputed) for p in metric.where)]
    fn = metric.function
    col = f"s.{metric.column}" if metric.column else None
    if fn.startswith("active"):
        conds.append(f"(s.{metric.end_column} IS NULL OR s.{metric.end_column} > c.as_of_date)")
    f = _filter(conds)
    if fn == "count":
        return f"COUNT(*){f}"
    if fn == "count_distinct":
        return f"COUNT(DISTINCT {col}){f}"
    if fn in ("sum", "max", "min", "avg"):
        return f"{fn.upper()}({col}){f}"
    if fn in ("any", "active_any"):
        return f"CAST(COUNT(*){f} > 0 AS INTEGER)"
    if fn == "active_count":
        return f"COUNT(DISTINCT {col or 's.' + agg.key}){f}"
    if fn == "active_max":
        return f"MAX({col}){f}"
    if fn == "days_since_latest":
        return f"date_diff('day', MAX(s._d){f}, c.as_of_date)"
    if fn == "months_since_latest":
        return f"date_diff('month', MAX(s._d){f}, c.as_of_date)"
    if fn == "months_since_earliest":
        return f"date_diff('month', MIN(s._d){f}, c.as_of_date)"
    if fn == "latest_in":
        items = ", ".join(sql_literal(x) for x in metric.choices)
        return f"CAST(arg_max({col}, s._ord){f} IN ({items}) AS INTEGER)"
    if fn == "latest_mapped":
        return _mapped(f"arg_max({col}, s._ord){f}", metric.mapping)
    if fn == "max_mapped":
        return f"MAX({_mapped(col, metric.mapping)}){f}"
    raise ValueError(fn)  # pragma: no cover - guarded by Metric


def _date(d: dt.date) -> str:
    return f"DATE {sql_literal(d.isoformat())}"


def widest_interval(agg: Aggregation) -> tuple[int, str] | None:
    """The widest window of an aggregation's metrics, or None if any metric looks at all history or a state."""
    bounds = []
    for m in agg.metrics:
        for _, interval in metric_columns(agg, m):
            bounds.append(None if interval in (None, "all") else parse_interval(interval))
    if not bounds or any(b is None for b in bounds):
        return None
    days = {"DAY": 1, "WEEK": 7, "MONTH": 31, "YEAR": 366}
    return max(bounds, key=lambda b: b[0] * days[b[1]])


def compile_aggregation(
    agg: Aggregation,
    children: str = "hm_children",
    links: str = "hm_links",
    *,
    bounds: tuple[dt.date, dt.date] | None = None,
    precomputed: frozenset[str] = frozenset(),
) -> str:
    """Compile one aggregation to a SELECT returning (as_of_date, child_token, <raw features>).

    Raw = before imputation (NULL where no row qualified); :func:`compute_feature_matrix` imputes.
    ``bounds`` = (earliest, latest) as-of date of ``children``: adds the constant, redundant filters
    ``knowledge <= latest``, ``date <= latest`` and (windowed aggregations) ``date > earliest - window``
    to the source scan, so that Parquet row groups outside them are skipped. ``precomputed``: columns
    of the source (:func:`keyword_column`).
    """
    knowledge = (
        agg.knowledge_columns[0] if len(agg.knowledge_columns) == 1 else f"GREATEST({', '.join(agg.knowledge_columns)})"
    )
    needs_order = any(m.function.startswith("latest") for m in agg.metrics)
    order = (
        f", {{'d': CAST({agg.date_column} AS DATE), 'k': {knowledge}, 'r': source_row}} AS _ord" if needs_order else ""
    )
    widest = widest_interval(agg)
    scan = ""
    if bounds is not None:
        lo, hi = bounds
        conds = [f"{knowledge} <= {_date(hi)}", f"CAST({agg.date_column} AS DATE) <= {_date(hi)}"]
        if widest is not None:
            n, unit = widest
            conds.append(f"CAST({agg.date_column} AS DATE) > CAST({_date(lo)} - INTERVAL {n} {unit} AS DATE)")
        scan = " WHERE " + " AND ".join(conds)
    source = f"(SELECT *, CAST({agg.date_column} AS DATE) AS _d, {knowledge} AS _k{order} FROM src_{agg.source}{scan})"

    lower = ""
    if widest is not None:
        n, unit = widest
        lower = f" AND s._d > CAST(c.as_of_date - INTERVAL {n} {unit} AS DATE)"
    on = ["s._k <= c.as_of_date", "s._d <= c.as_of_date", *(render_predicate(p, "s", precomputed) for p in agg.where)]
    if agg.entity == "child":
        join = f"JOIN {source} s ON s.{agg.key} = c.child_token AND " + " AND ".join(on) + lower
    else:
        join = (
            f"JOIN {links} l ON l.as_of_date = c.as_of_date AND l.child_token = c.child_token "
            f"AND l.role = {sql_literal(agg.entity)}\n"
            f"JOIN {source} s ON s.{agg.key} = l.token AND " + " AND ".join(on) + lower
        )
    exprs = []
    for m in agg.metrics:
        for name, interval in metric_columns(agg, m):
            exprs.append(f"{metric_sql(agg, m, interval, precomputed)} AS {name}")
    return (
        "SELECT c.as_of_date, c.child_token,\n  "
        + ",\n  ".join(exprs)
        + f"\nFROM {children} c\n{join}\nGROUP BY c.as_of_date, c.child_token"
    )


def _impute(agg: Aggregation) -> list[str]:
    out = []
    for m in agg.metrics:
        for name, _ in metric_columns(agg, m):
            imp = m.resolved_imputation
            if imp == "zero":
                out.append(f"CAST(COALESCE({name}, 0) AS FLOAT) AS {name}")
            elif imp == "nan":
                out.append(f"CAST({name} AS FLOAT) AS {name}")
            else:
                out.append(f"CAST({name} AS FLOAT) AS {name}")
                out.append(f"CAST({name} IS NULL AS FLOAT) AS {name}_missing")
    return out


def derived_sql(d: Derived) -> str:
    """SQL expression of a derived feature over already imputed feature columns."""
    a = d.inputs[0]
    b = d.inputs[1] if len(d.inputs) > 1 else None
    if d.kind == "ratio":
        expr = f"CASE WHEN {b} IS NULL OR {b} = 0 THEN NULL ELSE {a} / {b} END"
    elif d.kind == "change":
        expr = f"{a} - ({b} - {a})"
    elif d.kind == "below_age":
        expr = f"CASE WHEN {b} < {d.threshold} THEN {a} END"
    elif d.kind == "flag_missing_below_age":
        expr = f"CAST({a} IS NULL AND {b} < {d.threshold} AS INTEGER)"
    else:
        raise ValueError(f"unknown derived kind {d.kind!r}")
    return f"CAST({expr} AS FLOAT) AS {d.name}"


# --------------------------------------------------------------------------------------------
# Hand-written families (two-level aggregations)
# --------------------------------------------------------------------------------------------


def custom_sql(home_city: str, bounds: tuple[dt.date, dt.date] | None = None) -> dict[str, str]:
    """SELECTs (as_of_date, child_token, features of :data:`features.spec.CUSTOM`) by family.

    ``bounds``: as :func:`compile_aggregation` (constant, redundant filters on the social insurance scan).
    """
    city = sql_literal(home_city)
    si_scan = "src_social_insurance"
    if bounds is not None:
        lo, hi = bounds
        si_scan = (
            f"(SELECT * FROM src_social_insurance WHERE knowledge_date <= {_date(hi)} "
            f"AND knowledge_date > CAST({_date(lo)} - INTERVAL 12 MONTH AS DATE))"
        )
    return {
        "demo": """
            SELECT as_of_date, child_token,
                   CAST(age_months AS FLOAT) AS demo_age_months,
                   CAST(CASE sex WHEN '男' THEN 1 WHEN '女' THEN 0 END AS FLOAT) AS demo_sex_male,
                   CAST(COALESCE(hukou_type = '农业家庭户口', FALSE) AS FLOAT) AS demo_hukou_agricultural,
                   CAST(COALESCE(hukou_type = '非本地户籍', FALSE) AS FLOAT) AS demo_hukou_nonlocal,
                   CAST(hukou_type IS NULL AS FLOAT) AS demo_hukou_unknown,
                   CAST(CASE urban_rural WHEN '农村' THEN 1 WHEN '城镇' THEN 0 END AS FLOAT) AS demo_rural
            FROM hm_children""",
        "household": f"""
            WITH m AS (
                SELECT c.as_of_date, c.child_token, h.person_token, h.age_months
                FROM hm_children c JOIN hm_hh_current h
                  ON h.as_of_date = c.as_of_date AND h.household_token = c.household_token
            ),
            agg AS (
                SELECT as_of_date, child_token,
                       COUNT(*) AS members,
                       COUNT(*) FILTER (WHERE age_months >= {ADULT_MONTHS}) AS adults,
                       COUNT(*) FILTER (WHERE age_months >= 780) AS elderly,
                       COUNT(*) FILTER (WHERE age_months < {ADULT_MONTHS} AND person_token <> child_token) AS siblings,
                       COUNT(*) FILTER (WHERE age_months >= {ADULT_MONTHS} AND age_months < 600) AS young_adults
                FROM m GROUP BY ALL
            ),
            pp AS (
                SELECT l.as_of_date, l.child_token, COUNT(DISTINCT l.token) AS present
                FROM hm_links l JOIN hm_children c USING (as_of_date, child_token)
                JOIN hm_hh_current h ON h.as_of_date = l.as_of_date AND h.person_token = l.token
                 AND h.household_token = c.household_token
                WHERE l.role = 'parent' GROUP BY ALL
            )
            SELECT c.as_of_date, c.child_token,
                   CAST(COALESCE(agg.members, 0) AS FLOAT) AS household_members,
                   CAST(COALESCE(agg.adults, 0) AS FLOAT) AS household_adults,
                   CAST(COALESCE(agg.elderly, 0) AS FLOAT) AS household_elderly,
                   CAST(COALESCE(agg.siblings, 0) AS FLOAT) AS household_siblings,
                   CAST(COALESCE(agg.adults > 0 AND agg.young_adults = 0, FALSE) AS FLOAT)
                       AS household_grandparent_only,
                   CAST(COALESCE(c.relation_to_head IN ('孙子', '孙女', '外孙子', '外孙女'), FALSE) AS FLOAT)
                       AS household_child_is_grandchild,
                   CAST(COALESCE(pp.present, 0) AS FLOAT) AS household_parents_present,
                   CAST(date_diff('month', c.hh_registered_date, c.as_of_date) AS FLOAT)
                       AS household_months_since_moved_in,
                   CAST(c.hh_registered_date IS NULL AS FLOAT) AS household_months_since_moved_in_missing
            FROM hm_children c
            LEFT JOIN agg USING (as_of_date, child_token)
            LEFT JOIN pp USING (as_of_date, child_token)""",
        # Social insurance months are windowed on knowledge_date (the latest 6/12 monthly reports).
        "parents": f"""
            WITH p AS (SELECT DISTINCT as_of_date, child_token, token FROM hm_links WHERE role = 'parent'),
            pt AS (SELECT DISTINCT as_of_date, token FROM p),
            sim AS (  -- one row per parent, as-of date and insured month known in the last 12 months
                SELECT pt.as_of_date, pt.token, s.month,
                       BOOL_OR(NOT starts_with(COALESCE(s.insured_city, ''), {city})) AS away,
                       BOOL_OR(s.knowledge_date > CAST(pt.as_of_date - INTERVAL 6 MONTH AS DATE)) AS in6
                FROM pt JOIN {si_scan} s
                  ON s.person_token = pt.token AND s.knowledge_date <= pt.as_of_date
                 AND s.knowledge_date > CAST(pt.as_of_date - INTERVAL 12 MONTH AS DATE)
                GROUP BY ALL
            ),
            per_parent AS (
                SELECT as_of_date, token,
                       COUNT(*) FILTER (WHERE away AND in6) AS away6,
                       COUNT(*) FILTER (WHERE away) AS away12,
                       COUNT(*) FILTER (WHERE NOT away AND in6) AS local6
                FROM sim GROUP BY ALL
            ),
            agg AS (
                SELECT p.as_of_date, p.child_token, COUNT(*) AS n, MAX(away6) AS away6, MAX(away12) AS away12,
                       MAX(local6) AS local6, COUNT(*) FILTER (WHERE away6 >= 3) AS n_away
                FROM p LEFT JOIN per_parent pp USING (as_of_date, token) GROUP BY ALL
            ),
            both_months AS (
                SELECT as_of_date, child_token, COUNT(*) AS n FROM (
                    SELECT p.as_of_date, p.child_token, sim.month
                    FROM p JOIN sim ON sim.as_of_date = p.as_of_date AND sim.token = p.token AND sim.away
                    GROUP BY ALL HAVING COUNT(*) >= 2) GROUP BY ALL
            )
            SELECT c.as_of_date, c.child_token,
                   CAST(COALESCE(agg.n, 0) AS FLOAT) AS parents_known,
                   CAST(COALESCE(agg.away6, 0) AS FLOAT) AS parents_away_months_6m,
                   CAST(COALESCE(agg.away12, 0) AS FLOAT) AS parents_away_months_12m,
                   CAST(COALESCE(agg.n_away, 0) AS FLOAT) AS parents_away_count_6m,
                   CAST(COALESCE(agg.n_away, 0) >= 2 AS FLOAT) AS parents_both_away_6m,
                   CAST(COALESCE(agg.n_away, 0) = 1 AS FLOAT) AS parents_one_away_6m,
                   CAST(COALESCE(both_months.n, 0) AS FLOAT) AS parents_both_away_months_12m,
                   CAST(COALESCE(agg.local6, 0) AS FLOAT) AS parents_local_insured_months_6m
            FROM hm_children c
            LEFT JOIN agg USING (as_of_date, child_token)
            LEFT JOIN both_months USING (as_of_date, child_token)""",
    }


SERVING_SQL = """
    WITH reg AS (
        SELECT c.as_of_date, c.child_token,
               arg_min(r.category, {priority}) AS registry_category
        FROM hm_children c JOIN src_child_registry r
          ON r.child_token = c.child_token AND r.knowledge_date <= c.as_of_date
         AND r.registered_date <= c.as_of_date AND (r.closed_date IS NULL OR r.closed_date > c.as_of_date)
        GROUP BY ALL
    ),
    vis AS (
        SELECT c.as_of_date, c.child_token, MAX(v.visit_date) AS last_visit_date
        FROM hm_children c JOIN src_visit_records v
          ON v.child_token = c.child_token AND v.knowledge_date <= c.as_of_date AND v.visit_date <= c.as_of_date
        GROUP BY ALL
    ),
    dis AS (
        SELECT DISTINCT c.as_of_date, c.child_token
        FROM hm_children c JOIN src_disability_certificates d
          ON d.person_token = c.child_token AND d.knowledge_date <= c.as_of_date AND d.issued_date <= c.as_of_date
    )
    SELECT c.as_of_date, c.child_token, reg.registry_category, vis.last_visit_date,
           dis.child_token IS NOT NULL AS has_disability
    FROM hm_children c
    LEFT JOIN reg USING (as_of_date, child_token)
    LEFT JOIN vis USING (as_of_date, child_token)
    LEFT JOIN dis USING (as_of_date, child_token)
"""


def serving_sql() -> str:
    """SELECT (as_of_date, child_token, registry_category, last_visit_date, has_disability) over ``hm_children``."""
    from features.spec import REGISTRY_PRIORITY

    priority = "CASE r.category " + " ".join(
        f"WHEN {sql_literal(c)} THEN {i}" for i, c in enumerate(REGISTRY_PRIORITY)
    ) + f" ELSE {len(REGISTRY_PRIORITY)} END"
    return SERVING_SQL.format(priority=priority)


def _source_columns(con: duckdb.DuckDBPyConnection, table: str) -> frozenset[str]:
    return frozenset(r[0] for r in con.execute(f"DESCRIBE SELECT * FROM src_{table}").fetchall())


def _fetch_columns(con: duckdb.DuckDBPyConnection, sql: str, columns: list[str]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Run ``sql`` (a SELECT with ``as_of_date, child_token`` and ``columns``) joined to ``hm_rows``:
    (row ids, [float32 arrays, NaN for NULL])."""
    casts = ", ".join(f"CAST(f.{c} AS FLOAT) AS {c}" for c in columns)
    tbl: pa.Table = con.sql(
        f"SELECT r.row_id, {casts} FROM ({sql}) f JOIN hm_rows r USING (as_of_date, child_token)"
    ).to_arrow_table()
    rows = tbl.column("row_id").to_numpy()
    return rows, [tbl.column(c).to_numpy(zero_copy_only=False).astype(np.float32, copy=False) for c in columns]


def derived_values(d: Derived, a: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """A derived feature from its float32 inputs (NaN = missing), with SQL's NULL logic
    (the same values as :func:`derived_sql`)."""
    nan = np.float32(np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        if d.kind == "ratio":
            out = np.where(np.isnan(b) | (b == 0), nan, a / b)
        elif d.kind == "change":
            out = a - (b - a)
        elif d.kind == "below_age":
            out = np.where(b < d.threshold, a, nan)  # NaN < t is False, as NULL < t is not true
        elif d.kind == "flag_missing_below_age":
            # CAST(a IS NULL AND b < t AS INTEGER): NULL when a is NULL and b is NULL
            out = np.where(np.isnan(a), np.where(np.isnan(b), nan, (b < d.threshold).astype(np.float32)), 0)
        else:
            raise ValueError(f"unknown derived kind {d.kind!r}")
    return out.astype(np.float32, copy=False)


def create_rows_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``hm_rows(as_of_date, child_token, token, row_id)`` from ``hm_children``.

    ``token`` is the child's token as delivered (decoded through ``pp_tokens`` on a prepared folder,
    where ``child_token`` is an integer id; ``child_token`` itself otherwise) and ``row_id`` numbers
    the rows ``0..n-1`` in (as_of_date, token) order: the order of every output.
    """
    if has_view(con, "pp_tokens"):
        token, decode = "t.token", "LEFT JOIN pp_tokens t ON t.id = c.child_token"
    else:
        token, decode = "c.child_token", ""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE hm_rows AS SELECT c.as_of_date, c.child_token, {token} AS token, "
        f"CAST(row_number() OVER (ORDER BY c.as_of_date, {token}) - 1 AS BIGINT) AS row_id "
        f"FROM hm_children c {decode}"
    )


def compute_feature_matrix(
    con: duckdb.DuckDBPyConnection,
    spec: FeatureSpec = SPEC,
    *,
    home_city: str = "杭州",
    bounds: tuple[dt.date, dt.date] | None = None,
) -> np.ndarray:
    """Every feature of ``spec`` for the rows of ``hm_children``, as a float32 matrix.

    Needs ``hm_children`` and ``hm_links`` (:func:`features.cohorts.create_children_table`) and
    creates ``hm_rows`` (:func:`create_rows_table`): row ``i`` of the result is the child of
    ``hm_children`` that comes ``i``-th in (as_of_date, token) order. Each aggregation and
    hand-written family is one query (all as-of dates of ``hm_children`` at once) whose rows are
    scattered into their columns (no join of the families with each other); then imputation
    (``zero``: NaN → 0; ``nan_flag``: ``<name>_missing`` = 1 where NaN) and derived features.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        With ``src_*`` views (plain or prepared) and the cohort tables.
    spec : FeatureSpec
    home_city : str
        Prefix of ``insured_city`` that counts as home (parents away).
    bounds : (date, date), optional
        Earliest and latest as-of date of ``hm_children`` (scan pruning, :func:`compile_aggregation`).

    Returns
    -------
    numpy.ndarray
        float32, shape ``(len(feature_names(spec)), n_rows)``: one contiguous row per feature, in
        :func:`feature_names` order (so ``matrix.T`` is the ``n_rows × n_features`` feature matrix).
        Units in :func:`features.dictionary.feature_dictionary`.
    """
    create_rows_table(con)
    n = con.execute("SELECT COUNT(*) FROM hm_rows").fetchall()[0][0]
    names = feature_names(spec)
    index = {name: i for i, name in enumerate(names)}
    out = np.full((len(names), n), np.nan, dtype=np.float32)

    def scatter(sql: str, columns: list[str]) -> None:
        rows, values = _fetch_columns(con, sql, columns)
        for c, v in zip(columns, values, strict=True):
            out[index[c], rows] = v

    custom = {d.family: [] for d in spec.custom}
    for d in spec.custom:
        custom[d.family].append(d.name)
    for fam, sql in custom_sql(home_city, bounds).items():
        if fam in custom:  # already imputed in SQL, every child has a row
            scatter(sql, custom[fam])
    columns_of: dict[str, frozenset[str]] = {}
    for agg in spec.aggregations:
        if agg.source not in columns_of:
            columns_of[agg.source] = _source_columns(con, agg.source)
        raw = [name for m in agg.metrics for name, _ in metric_columns(agg, m)]
        scatter(compile_aggregation(agg, bounds=bounds, precomputed=columns_of[agg.source]), raw)
        for m in agg.metrics:
            for name, _ in metric_columns(agg, m):
                v = out[index[name]]
                imp = m.resolved_imputation
                if imp == "zero":
                    v[np.isnan(v)] = 0
                elif imp == "nan_flag":
                    out[index[f"{name}_missing"]] = np.isnan(v)
    for d in spec.derived:
        a = out[index[d.inputs[0]]]
        b = out[index[d.inputs[1]]] if len(d.inputs) > 1 else None
        out[index[d.name]] = derived_values(d, a, b)
    return out


def compile_features(con: duckdb.DuckDBPyConnection, spec: FeatureSpec = SPEC, *, home_city: str = "杭州") -> str:
    """Reference compilation: every family joined into one SELECT (one row per child, features imputed).

    :func:`compute_feature_matrix` is what :func:`features.build.build_features` runs (it scatters
    each family into a matrix instead of joining them); this one-query form is kept as the
    readable statement of the same result and is held equal to it by the tests.
    Needs ``hm_children`` and ``hm_links`` (:func:`features.cohorts.create_children_table`).
    """
    joins, cols = [], []
    for fam, sql in custom_sql(home_city).items():
        t = f"hm_feat_custom_{fam}"
        con.execute(f"CREATE OR REPLACE TEMP TABLE {t} AS {sql}")
        joins.append(f"LEFT JOIN {t} USING (as_of_date, child_token)")
    cols.extend(d.name for d in spec.custom)
    for i, agg in enumerate(spec.aggregations):
        t = f"hm_feat_{i:02d}_{agg.family}"
        con.execute(f"CREATE OR REPLACE TEMP TABLE {t} AS {compile_aggregation(agg)}")
        joins.append(f"LEFT JOIN {t} USING (as_of_date, child_token)")
        cols.extend(_impute(agg))
    con.execute(f"CREATE OR REPLACE TEMP TABLE hm_serving AS {serving_sql()}")
    base = (
        "SELECT c.child_token, c.as_of_date, c.community, c.township, c.district, c.hukou_type, "
        "c.urban_rural, c.sex, sv.has_disability, sv.registry_category, sv.last_visit_date,\n  "
        + ",\n  ".join(cols)
        + "\nFROM hm_children c\nLEFT JOIN hm_serving sv USING (as_of_date, child_token)\n"
        + "\n".join(joins)
    )
    derived = ",\n  ".join(derived_sql(d) for d in spec.derived)
    return f"SELECT b.*{', ' + derived if derived else ''}\nFROM ({base}) b\nORDER BY b.as_of_date, b.child_token"
