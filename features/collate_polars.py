"""Second backend: compile the feature spec (:mod:`features.spec`) to Polars lazy queries.

The same :class:`~features.spec.FeatureSpec` objects that :mod:`features.collate` renders to DuckDB
SQL are rendered here to Polars expressions, with the same time rules (written once in prose in
:mod:`features.collate`; the equality test ``tests/features/test_features_engines.py`` holds the
two renderings to each other):

- usable at ``d``: ``max(knowledge_columns) <= d`` and ``date_column <= d``;
- interval ``'N months'``: ``d - N months < date <= d``; ``'all'``: every usable row;
- ``active_*``: ``end_column`` NULL or ``> d``; "latest" orders by (date, knowledge_date, source_row).

What Polars computes: every aggregation of the spec, the derived features, the hand-written
two-level families (``demo``, ``household``, ``parents``) and the serving columns. What it takes as
input: the source tables (``src_*``, so the feedback union and the schema checks are shared) and the
cohort tables ``hm_children``, ``hm_links``, ``hm_hh_current`` built by :mod:`features.cohorts`
(the person spine is SQL; it is not part of the spec).
"""

from __future__ import annotations

import duckdb
import polars as pl

from features.collate import keyword_column, metric_columns
from features.spec import (
    AS_OF,
    REGISTRY_PRIORITY,
    SPEC,
    Aggregation,
    Derived,
    FeatureSpec,
    Metric,
    Predicate,
    parse_interval,
)
from features.spine import ADULT_MONTHS

KEYS = ["as_of_date", "child_token"]
_ASOF = pl.col("as_of_date")


def _value(v: object) -> pl.Expr:
    return _ASOF if v == AS_OF else pl.lit(v)


def predicate_expr(p: Predicate, precomputed: frozenset[str] = frozenset()) -> pl.Expr:
    """Polars expression of a :class:`~features.spec.Predicate` (SQL three-valued logic: NULL → False).

    ``precomputed``: columns of the source; a ``contains_any`` predicate whose
    :func:`features.collate.keyword_column` is among them reads that column.
    """
    col, op, v = pl.col(p.column), p.op, p.value
    if op == "contains_any" and keyword_column(p) in precomputed:
        return pl.col(keyword_column(p)).fill_null(False)
    if op == "eq":
        e = col == _value(v)
    elif op == "ne":
        e = col.ne_missing(_value(v))
    elif op == "in":
        e = col.is_in(list(v))
    elif op == "not_in":
        e = ~col.is_in(list(v))
    elif op == "contains_any":
        e = pl.any_horizontal([col.str.contains(w, literal=True) for w in v])
    elif op in ("le", "lt", "ge", "gt"):
        e = {"le": col <= _value(v), "lt": col < _value(v), "ge": col >= _value(v), "gt": col > _value(v)}[op]
    elif op == "is_null":
        return col.is_null()
    elif op == "not_null":
        return col.is_not_null()
    elif op == "null_or_gt":
        return col.is_null() | (col > _value(v)).fill_null(False)
    elif op == "is_true":
        return col.fill_null(False)
    elif op == "is_false":
        return (~col).fill_null(False)
    elif op == "not_startswith":
        e = ~col.str.starts_with(v)
    else:  # pragma: no cover - guarded by Predicate
        raise ValueError(op)
    return e.fill_null(False)


def _shift(expr: pl.Expr, interval: str) -> pl.Expr:
    n, unit = parse_interval(interval)
    return expr.dt.offset_by(f"-{n}{ {'DAY': 'd', 'WEEK': 'w', 'MONTH': 'mo', 'YEAR': 'y'}[unit]}")


def _months_between(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """DuckDB ``date_diff('month', a, b)``: calendar-month boundaries crossed."""
    return (b.dt.year().cast(pl.Int32) - a.dt.year().cast(pl.Int32)) * 12 + (
        b.dt.month().cast(pl.Int32) - a.dt.month().cast(pl.Int32)
    )


def _mapped(col: pl.Expr, mapping) -> pl.Expr:
    keys = [k for k, _ in mapping]
    vals = [float(v) for _, v in mapping]
    return col.replace_strict(keys, vals, default=None, return_dtype=pl.Float64)


def metric_expr(agg: Aggregation, metric: Metric, interval: str | None,
                precomputed: frozenset[str] = frozenset()) -> pl.Expr:
    """The aggregate (inside ``group_by(as_of_date, child_token).agg``) of one metric, un-imputed."""
    conds = [predicate_expr(p, precomputed) for p in metric.where]
    if interval not in (None, "all"):
        conds.append(pl.col("_d") > _shift(_ASOF, interval))
    fn = metric.function
    if fn.startswith("active"):
        end = pl.col(metric.end_column)
        conds.append(end.is_null() | (end > _ASOF).fill_null(False))
    cond = pl.all_horizontal(conds) if conds else pl.lit(True)
    asof = _ASOF.first()

    def sel(e: pl.Expr) -> pl.Expr:
        return e.filter(cond)

    col = pl.col(metric.column) if metric.column else None
    if fn == "count":
        return (cond.sum() if conds else pl.len()).cast(pl.Int64)
    if fn == "count_distinct" or fn == "active_count":
        c = col if col is not None else pl.col(agg.key)
        return sel(c).drop_nulls().n_unique().cast(pl.Int64)
    if fn == "sum":
        s = sel(col)
        return pl.when(s.count() > 0).then(s.sum())
    if fn in ("max", "active_max"):
        return sel(col).max()
    if fn == "min":
        return sel(col).min()
    if fn == "avg":
        return sel(col).mean()
    if fn in ("any", "active_any"):
        return ((cond.sum() if conds else pl.len()) > 0).cast(pl.Int32)
    if fn == "days_since_latest":
        return (asof - sel(pl.col("_d")).max()).dt.total_days()
    if fn == "months_since_latest":
        return _months_between(sel(pl.col("_d")).max(), asof)
    if fn == "months_since_earliest":
        return _months_between(sel(pl.col("_d")).min(), asof)
    if fn in ("latest_in", "latest_mapped"):
        c = cond & col.is_not_null()  # DuckDB arg_max skips NULL values
        latest = col.filter(c).sort_by(
            [pl.col("_d").filter(c), pl.col("_k").filter(c), pl.col("source_row").filter(c)]
        ).last()
        if fn == "latest_in":
            return pl.when(latest.is_null()).then(None).otherwise(latest.is_in(list(metric.choices)).cast(pl.Int32))
        return _mapped(latest, metric.mapping)
    if fn == "max_mapped":
        return _mapped(sel(col), metric.mapping).max()
    raise ValueError(fn)  # pragma: no cover - guarded by Metric


def compile_aggregation_polars(agg: Aggregation, children: pl.LazyFrame, links: pl.LazyFrame,
                               source: pl.LazyFrame) -> pl.LazyFrame:
    """One aggregation → LazyFrame (as_of_date, child_token, <raw features>) (mirror of
    :func:`features.collate.compile_aggregation`)."""
    precomputed = frozenset(source.collect_schema().names())
    knowledge = pl.max_horizontal([pl.col(c) for c in agg.knowledge_columns])
    s = source.with_columns(pl.col(agg.date_column).cast(pl.Date).alias("_d"), knowledge.alias("_k"))
    if agg.entity == "child":
        j = children.select(KEYS).join(s, left_on="child_token", right_on=agg.key, how="inner")
        if agg.key != "child_token":
            j = j.with_columns(pl.col("child_token").alias(agg.key))
    else:
        lk = links.filter(pl.col("role") == agg.entity).select([*KEYS, "token"])
        j = lk.join(s, left_on="token", right_on=agg.key, how="inner").with_columns(pl.col("token").alias(agg.key))
    on = [pl.col("_k") <= _ASOF, pl.col("_d") <= _ASOF, *(predicate_expr(p, precomputed) for p in agg.where)]
    bounds = [None if i in (None, "all") else i for m in agg.metrics for _, i in metric_columns(agg, m)]
    if bounds and all(b is not None for b in bounds):
        days = {"DAY": 1, "WEEK": 7, "MONTH": 31, "YEAR": 366}
        widest = max(bounds, key=lambda b: parse_interval(b)[0] * days[parse_interval(b)[1]])
        on.append(pl.col("_d") > _shift(_ASOF, widest))
    j = j.filter(pl.all_horizontal(on).fill_null(False))
    exprs = [metric_expr(agg, m, i, precomputed).alias(name) for m in agg.metrics for name, i in metric_columns(agg, m)]
    return j.group_by(KEYS).agg(exprs)


def _impute(agg: Aggregation) -> list[pl.Expr]:
    out = []
    for m in agg.metrics:
        for name, _ in metric_columns(agg, m):
            c = pl.col(name).cast(pl.Float32)
            imp = m.resolved_imputation
            if imp == "zero":
                out.append(c.fill_null(0).alias(name))
            elif imp == "nan":
                out.append(c.alias(name))
            else:
                out.append(c.alias(name))
                out.append(pl.col(name).is_null().cast(pl.Float32).alias(f"{name}_missing"))
    return out


def derived_expr(d: Derived) -> pl.Expr:
    a = pl.col(d.inputs[0])
    b = pl.col(d.inputs[1]) if len(d.inputs) > 1 else None
    if d.kind == "ratio":
        e = pl.when(b.is_null() | (b == 0)).then(None).otherwise(a / b)
    elif d.kind == "change":
        e = a - (b - a)
    elif d.kind == "below_age":
        e = pl.when(b < d.threshold).then(a)
    elif d.kind == "flag_missing_below_age":
        e = (a.is_null() & (b < d.threshold)).cast(pl.Int32)
    else:
        raise ValueError(f"unknown derived kind {d.kind!r}")
    return e.cast(pl.Float32).alias(d.name)


def _f(e: pl.Expr, name: str) -> pl.Expr:
    return e.cast(pl.Float32).alias(name)


def custom_frames(children: pl.LazyFrame, links: pl.LazyFrame, hh_current: pl.LazyFrame,
                  insurance: pl.LazyFrame, home_city: str) -> list[pl.LazyFrame]:
    """The hand-written families of :func:`features.collate.custom_sql`, in Polars."""
    c = children
    demo = c.select(
        *KEYS,
        _f(pl.col("age_months"), "demo_age_months"),
        _f(pl.col("sex").replace_strict(["男", "女"], [1, 0], default=None, return_dtype=pl.Int32), "demo_sex_male"),
        _f((pl.col("hukou_type") == "农业家庭户口").fill_null(False), "demo_hukou_agricultural"),
        _f((pl.col("hukou_type") == "非本地户籍").fill_null(False), "demo_hukou_nonlocal"),
        _f(pl.col("hukou_type").is_null(), "demo_hukou_unknown"),
        _f(pl.col("urban_rural").replace_strict(["农村", "城镇"], [1, 0], default=None, return_dtype=pl.Int32),
           "demo_rural"),
    )
    # household composition
    hh = hh_current.select("as_of_date", "household_token", "person_token", "age_months")
    m = c.select([*KEYS, "household_token"]).join(hh, on=["as_of_date", "household_token"], how="inner")
    age = pl.col("age_months")
    agg = m.group_by(KEYS).agg(
        pl.len().alias("members"),
        (age >= ADULT_MONTHS).sum().alias("adults"),
        (age >= 780).sum().alias("elderly"),
        ((age < ADULT_MONTHS) & (pl.col("person_token") != pl.col("child_token"))).sum().alias("siblings"),
        ((age >= ADULT_MONTHS) & (age < 600)).sum().alias("young_adults"),
    )
    pp = (
        links.filter(pl.col("role") == "parent").select([*KEYS, "token"])
        .join(c.select([*KEYS, "household_token"]), on=KEYS, how="inner")
        .join(hh.select("as_of_date", "person_token", pl.col("household_token").alias("_h")),
              left_on=["as_of_date", "token"], right_on=["as_of_date", "person_token"], how="inner")
        .filter(pl.col("_h") == pl.col("household_token"))
        .group_by(KEYS).agg(pl.col("token").n_unique().alias("present"))
    )
    household = (
        c.select([*KEYS, "relation_to_head", "hh_registered_date"])
        .join(agg, on=KEYS, how="left").join(pp, on=KEYS, how="left")
        .select(
            *KEYS,
            _f(pl.col("members").fill_null(0), "household_members"),
            _f(pl.col("adults").fill_null(0), "household_adults"),
            _f(pl.col("elderly").fill_null(0), "household_elderly"),
            _f(pl.col("siblings").fill_null(0), "household_siblings"),
            _f(((pl.col("adults") > 0) & (pl.col("young_adults") == 0)).fill_null(False), "household_grandparent_only"),
            _f(pl.col("relation_to_head").is_in(["孙子", "孙女", "外孙子", "外孙女"]).fill_null(False),
               "household_child_is_grandchild"),
            _f(pl.col("present").fill_null(0), "household_parents_present"),
            _f(_months_between(pl.col("hh_registered_date"), _ASOF), "household_months_since_moved_in"),
            _f(pl.col("hh_registered_date").is_null(), "household_months_since_moved_in_missing"),
        )
    )
    # parents away (social insurance windowed on knowledge_date)
    p = links.filter(pl.col("role") == "parent").select([*KEYS, "token"]).unique()
    pt = p.select("as_of_date", "token").unique()
    k = pl.col("knowledge_date")
    sim = (
        pt.join(insurance, left_on="token", right_on="person_token", how="inner")
        .filter((k <= _ASOF) & (k > _shift(_ASOF, "12 months")))
        .group_by(["as_of_date", "token", "month"])
        .agg(
            (~pl.col("insured_city").fill_null("").str.starts_with(home_city)).any().alias("away"),
            (k > _shift(_ASOF, "6 months")).any().alias("in6"),
        )
    )
    per_parent = sim.group_by(["as_of_date", "token"]).agg(
        (pl.col("away") & pl.col("in6")).sum().alias("away6"),
        pl.col("away").sum().alias("away12"),
        (~pl.col("away") & pl.col("in6")).sum().alias("local6"),
    )
    pagg = p.join(per_parent, on=["as_of_date", "token"], how="left").group_by(KEYS).agg(
        pl.len().alias("n"), pl.col("away6").max(), pl.col("away12").max(), pl.col("local6").max(),
        (pl.col("away6") >= 3).fill_null(False).sum().alias("n_away"),
    )
    both = (
        p.join(sim.filter(pl.col("away")), on=["as_of_date", "token"], how="inner")
        .group_by([*KEYS, "month"]).agg(pl.len().alias("k")).filter(pl.col("k") >= 2)
        .group_by(KEYS).agg(pl.len().alias("both"))
    )
    n_away = pl.col("n_away").fill_null(0)
    parents = (
        c.select(KEYS).join(pagg, on=KEYS, how="left").join(both, on=KEYS, how="left")
        .select(
            *KEYS,
            _f(pl.col("n").fill_null(0), "parents_known"),
            _f(pl.col("away6").fill_null(0), "parents_away_months_6m"),
            _f(pl.col("away12").fill_null(0), "parents_away_months_12m"),
            _f(n_away, "parents_away_count_6m"),
            _f(n_away >= 2, "parents_both_away_6m"),
            _f(n_away == 1, "parents_one_away_6m"),
            _f(pl.col("both").fill_null(0), "parents_both_away_months_12m"),
            _f(pl.col("local6").fill_null(0), "parents_local_insured_months_6m"),
        )
    )
    return [demo, household, parents]


def serving_frame(children: pl.LazyFrame, src: dict[str, pl.LazyFrame]) -> pl.LazyFrame:
    """registry_category, last_visit_date, has_disability (mirror of :data:`features.collate.SERVING_SQL`)."""
    k = KEYS
    base = children.select(k)
    prio = pl.col("category").replace_strict(list(REGISTRY_PRIORITY), list(range(len(REGISTRY_PRIORITY))),
                                             default=len(REGISTRY_PRIORITY), return_dtype=pl.Int32)
    reg = (
        base.join(src["child_registry"], on="child_token", how="inner")
        .filter((pl.col("knowledge_date") <= _ASOF) & (pl.col("registered_date") <= _ASOF)
                & (pl.col("closed_date").is_null() | (pl.col("closed_date") > _ASOF)))
        .filter(pl.col("category").is_not_null())
        .group_by(k).agg(pl.col("category").sort_by(prio).first().alias("registry_category"))
    )
    vis = (
        base.join(src["visit_records"], on="child_token", how="inner")
        .filter((pl.col("knowledge_date") <= _ASOF) & (pl.col("visit_date") <= _ASOF))
        .group_by(k).agg(pl.col("visit_date").max().alias("last_visit_date"))
    )
    dis = (
        base.join(src["disability_certificates"], left_on="child_token", right_on="person_token", how="inner")
        .filter((pl.col("knowledge_date") <= _ASOF) & (pl.col("issued_date") <= _ASOF))
        .select(k).unique().with_columns(pl.lit(True).alias("has_disability"))
    )
    return (
        base.join(reg, on=k, how="left").join(vis, on=k, how="left").join(dis, on=k, how="left")
        .with_columns(pl.col("has_disability").fill_null(False))
    )


def _frame(con: duckdb.DuckDBPyConnection, table: str) -> pl.LazyFrame:
    return con.sql(f"SELECT * FROM {table}").pl().lazy()


def compute_features_polars(con: duckdb.DuckDBPyConnection, spec: FeatureSpec = SPEC, *,
                            home_city: str = "杭州") -> pl.DataFrame:
    """Every feature of ``spec`` with Polars, one row per row of ``hm_children``.

    Needs the ``src_*`` views and ``hm_children`` / ``hm_links`` / ``hm_hh_current`` of
    :func:`features.cohorts.create_children_table` in ``con``. Returns the columns of
    :func:`features.collate.compile_features` (group, serving, features), sorted by
    (as_of_date, child_token).
    """
    children = _frame(con, "hm_children")
    links = _frame(con, "hm_links")
    hh_current = _frame(con, "hm_hh_current")
    needed = {a.source for a in spec.aggregations} | {"social_insurance", "child_registry", "visit_records",
                                                      "disability_certificates"}
    src = {t: _frame(con, f"src_{t}") for t in sorted(needed)}

    out = children.select([*KEYS, "community", "township", "district", "hukou_type", "urban_rural", "sex"])
    out = out.join(serving_frame(children, src), on=KEYS, how="left")
    for frame in custom_frames(children, links, hh_current, src["social_insurance"], home_city):
        out = out.join(frame, on=KEYS, how="left")
    imputes = []
    for agg in spec.aggregations:
        out = out.join(compile_aggregation_polars(agg, children, links, src[agg.source]), on=KEYS, how="left")
        imputes.extend(_impute(agg))
    out = out.with_columns(imputes)
    if spec.derived:
        out = out.with_columns([derived_expr(d) for d in spec.derived])
    return out.sort(KEYS).collect()


__all__ = ["compile_aggregation_polars", "compute_features_polars", "derived_expr", "metric_expr",
           "predicate_expr"]
