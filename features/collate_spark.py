"""Third backend: the feature spec (:mod:`features.spec`) compiled to Apache Spark (PySpark DataFrame API).

The same :class:`~features.spec.FeatureSpec` objects that :mod:`features.collate` renders to DuckDB
SQL (and :mod:`features.collate_polars` to Polars) are rendered here to Spark column expressions,
with the same time rules (written once in prose in :mod:`features.collate`; the test
``tests/features/test_spark_engine.py`` holds Spark to DuckDB on a simulated town):

- usable at ``d``: ``max(knowledge_columns) <= d`` and ``date_column <= d``;
- interval ``'N months'``: ``d - N months < date <= d`` (``add_months``, clamped to the month's end
  like DuckDB's ``date - INTERVAL``); ``'all'``: every usable row;
- ``active_*``: ``end_column`` NULL or ``> d``; "latest" orders by (date, knowledge_date, source_row)
  (``max_by`` over a struct; rows whose value is NULL are skipped, as DuckDB's ``arg_max`` does);
- ``date_diff('month', a, b)`` = calendar-month boundaries crossed, ``date_diff('day', a, b)`` = ``datediff``.

What runs where (:func:`build_features_spark`):

========================================================  ==========  ==========================
step                                                      engine      module
========================================================  ==========  ==========================
prepared folder (integer tokens, visit feedback union,    DuckDB      :mod:`features.prepare`
keyword flags; once per delivery, shared by every date)
person spine, cohorts, links (``hm_children``,            DuckDB      :mod:`features.cohorts`,
``hm_links``, ``hm_hh_current``), per chunk of dates,                 :mod:`features.spine`
handed to Spark as Parquet
every aggregation of the spec (joins to the source        **Spark**   this module
tables, windows, filters, group-bys), imputation,
derived features, the hand-written two-level families
(``demo``, ``household``, ``parents``), the serving
columns, token decoding
group columns' fill-ins (未定位 / 未知), final order      pandas      :func:`_finish`
========================================================  ==========  ==========================

Spark reads the source tables itself (``spark.read.parquet`` of the prepared folder's
``<table>.parquet``, the same files the DuckDB engine scans) and writes the chunk's features as
Parquet, read back with pyarrow; no feature value is computed by DuckDB or pandas. The person spine
is not part of the spec (it is hand-written SQL; both engines take it from DuckDB).

Plan shape. DuckDB runs one query per aggregation; here the aggregations that read the same source
by the same key (e.g. the three disability families: child, household adults, guardians) share one
scan, one join and one group-by (:func:`source_groups`, :func:`compile_source_spark`): each joined
row carries the role it was reached through and each metric is a conditional aggregate of its
aggregation's rows. On a small town Spark's cost is its fixed cost per stage (~100 stages per chunk),
not the data.

Nothing here needs a cluster: :func:`local_spark` starts ``local[2]``. On a cluster pass your own
``SparkSession`` (``spark=``); the prepared folder and the chunk tables must then be on storage the
executors can read (``scratch_dir=``).
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from features.build import chunked_frames, finish_frame
from features.cohorts import create_children_table
from features.collate import feature_names, keyword_column, metric_columns, widest_interval
from features.prepare import (
    DEFAULT_MEMORY_LIMIT,
    as_of_list,
)
from features.sources import TABLE_COLUMNS, drop_relation, register_as_of_dates, sql_literal
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

try:  # pyspark is a development dependency (pyproject [dependency-groups] dev)
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql import functions as F
except ImportError as exc:  # pragma: no cover - exercised only without pyspark
    raise ImportError("features.collate_spark needs pyspark (the dev dependency group: uv sync) "
                      "and a Java 17+ runtime (make system-deps)") from exc

KEYS = ["as_of_date", "child_token"]


def _asof() -> Column:
    """The as-of date of the row (a column; built lazily: Spark columns need a running context)."""
    return F.col("as_of_date")


#: Chunk tables DuckDB hands to Spark (cohort rows, links, current household members).
SPARK_INPUTS = ("hm_children", "hm_links", "hm_hh_current")


# --------------------------------------------------------------------------------------------
# Session
# --------------------------------------------------------------------------------------------


def local_spark(
    *,
    master: str = "local[2]",
    shuffle_partitions: int = 4,
    driver_memory: str = "2g",
    scratch_dir: str | Path | None = None,
    log_level: str = "ERROR",
    java_options: str = "",
    app_name: str = "humiao-features",
) -> SparkSession:
    """A SparkSession for the feature spec on one machine (or the session already running).

    Parameters
    ----------
    master : str, default "local[2]"
        Spark master URL; ``local[N]`` runs the driver and N executor threads in one JVM.
    shuffle_partitions : int, default 4
        ``spark.sql.shuffle.partitions`` (Spark's default 200 is far too many for one small machine;
        adaptive execution coalesces further).
    driver_memory : str, default "2g"
        JVM heap of the driver (in local mode also the executors'). Only effective when this call
        starts the JVM.
    scratch_dir : str or Path, optional
        Holds ``spark.sql.warehouse.dir``, ``spark.local.dir`` (shuffle and spill files) and the
        log4j2 configuration; default a new temporary folder, removed when the process exits.
    log_level : str, default "ERROR"
        Root log level of the JVM (log4j2, from its start: Spark's start-up warnings are hidden too;
        two notices remain on stderr, the JVM's about incubator modules and Spark's about the shell
        log level) and of the Spark context. ``WARN`` or ``INFO`` to see more.
    java_options : str, default ""
        Extra JVM options of the driver. For short runs (tests, small towns)
        ``"-XX:TieredStopAtLevel=1"`` (client JIT only) halves the warm-up of a fresh JVM; leave it
        out for long jobs.
    app_name : str

    Returns
    -------
    pyspark.sql.SparkSession
        UI and console progress bar off, session time zone UTC (timestamps are cast to dates the
        same way whatever the machine's zone), driver bound to 127.0.0.1 (``SPARK_LOCAL_IP`` is set
        to it unless already set). If a session is already running in this process it is returned
        with ``shuffle_partitions`` and ``log_level`` set; its other settings, fixed when its JVM
        started, are kept.

    Raises
    ------
    pyspark.errors.PySparkRuntimeError
        No Java runtime (``JAVA_GATEWAY_EXITED``): install a JDK 17+ (``make system-deps``).
    """
    if scratch_dir is None:
        scratch = Path(tempfile.mkdtemp(prefix="humiao_spark_"))
        atexit.register(shutil.rmtree, scratch, True)
    else:
        scratch = Path(scratch_dir)
        scratch.mkdir(parents=True, exist_ok=True)
    log4j = scratch / "log4j2.properties"
    log4j.write_text(
        f"rootLogger.level = {log_level.lower()}\n"
        "rootLogger.appenderRef.stderr.ref = console\n"
        "appender.console.type = Console\n"
        "appender.console.name = console\n"
        "appender.console.target = SYSTEM_ERR\n"
        "appender.console.layout.type = PatternLayout\n"
        "appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex\n"
    )
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    spark = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.driver.memory", driver_memory)
        .config("spark.driver.extraJavaOptions", f"-Dlog4j.configurationFile=file:{log4j} {java_options}".strip())
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(int(shuffle_partitions)))
        .config("spark.default.parallelism", str(int(shuffle_partitions)))
        .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
        .config("spark.local.dir", str(scratch / "local"))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    spark.conf.set("spark.sql.shuffle.partitions", str(int(shuffle_partitions)))
    spark.sparkContext.setLogLevel(log_level.upper())
    return spark


# --------------------------------------------------------------------------------------------
# Spec → Spark expressions
# --------------------------------------------------------------------------------------------


def _value(v: object) -> Column:
    return _asof() if v == AS_OF else F.lit(v)


def _and(conds: Iterable[Column | None]) -> Column | None:
    out = None
    for c in conds:
        if c is not None:
            out = c if out is None else out & c
    return out


def predicate_column(p: Predicate, precomputed: frozenset[str] = frozenset()) -> Column:
    """Spark column of a :class:`~features.spec.Predicate`, with SQL three-valued logic (a NULL result
    is a row that does not pass, in ``filter`` and ``when`` alike).

    ``precomputed``: columns of the source; a ``contains_any`` predicate whose
    :func:`features.collate.keyword_column` is among them reads that column (written by
    :func:`features.prepare.prepare_sources`), otherwise it searches the text (literal substrings).
    """
    col, op, v = F.col(p.column), p.op, p.value
    if op == "contains_any" and keyword_column(p) in precomputed:
        return F.col(keyword_column(p))
    if op == "eq":
        return col == _value(v)
    if op == "ne":  # IS DISTINCT FROM
        return ~col.eqNullSafe(_value(v))
    if op == "in":
        return col.isin(list(v))
    if op == "not_in":
        return ~col.isin(list(v))
    if op == "contains_any":
        return _or([col.contains(F.lit(str(w))) for w in v])
    if op in ("le", "lt", "ge", "gt"):
        return {"le": col <= _value(v), "lt": col < _value(v), "ge": col >= _value(v), "gt": col > _value(v)}[op]
    if op == "is_null":
        return col.isNull()
    if op == "not_null":
        return col.isNotNull()
    if op == "null_or_gt":
        return col.isNull() | (col > _value(v))
    if op == "is_true":
        return F.coalesce(col, F.lit(False))
    if op == "is_false":
        return F.coalesce(~col, F.lit(False))
    if op == "not_startswith":
        return ~col.startswith(v)
    raise ValueError(op)  # pragma: no cover - guarded by Predicate


def _or(conds: list[Column]) -> Column:
    out = conds[0]
    for c in conds[1:]:
        out = out | c
    return out


def shift(date: Column, interval: str) -> Column:
    """``date - interval`` as a date (``'3 months'``: ``add_months(date, -3)``, clamped to the month's
    last day like DuckDB's ``CAST(date - INTERVAL 3 MONTH AS DATE)``)."""
    n, unit = parse_interval(interval)
    if unit == "DAY":
        return F.date_sub(date, n)
    if unit == "WEEK":
        return F.date_sub(date, 7 * n)
    return F.add_months(date, -n * (12 if unit == "YEAR" else 1))


def months_between(a: Column, b: Column) -> Column:
    """DuckDB ``date_diff('month', a, b)``: calendar-month boundaries crossed from ``a`` to ``b`` (int)."""
    return (F.year(b) - F.year(a)) * 12 + (F.month(b) - F.month(a))


def _mapped(col: Column, mapping) -> Column:
    out = None
    for k, v in mapping:
        out = (F.when if out is None else out.when)(col == F.lit(k), F.lit(float(v)))
    return out.otherwise(F.lit(None).cast("double")) if out is not None else F.lit(None).cast("double")


def date_column(agg: Aggregation) -> Column:
    """The row's date ``_d`` of an aggregation: ``date_column`` as a date."""
    return F.col(agg.date_column).cast("date")


def knowledge_column(agg: Aggregation) -> Column:
    """When the row was known ``_k``: the latest of ``knowledge_columns`` (NULLs ignored, as DuckDB's GREATEST)."""
    if len(agg.knowledge_columns) == 1:
        return F.col(agg.knowledge_columns[0])
    return F.greatest(*(F.col(c) for c in agg.knowledge_columns))


def usable_condition(agg: Aggregation, precomputed: frozenset[str] = frozenset()) -> Column:
    """A joined row counts for ``agg`` at its as-of date: known and dated by then, the aggregation's
    ``where``, and inside its widest window when every metric is windowed (the last is redundant with
    the metrics' own windows; DuckDB uses it to prune the scan)."""
    conds = [knowledge_column(agg) <= _asof(), date_column(agg) <= _asof(),
             *(predicate_column(p, precomputed) for p in agg.where)]
    widest = widest_interval(agg)
    if widest is not None:
        n, unit = widest
        conds.append(date_column(agg) > shift(_asof(), f"{n} {unit.lower()}s"))
    return _and(conds)


def metric_column(agg: Aggregation, metric: Metric, interval: str | None,
                  precomputed: frozenset[str] = frozenset(), base: Column | None = None) -> Column:
    """The aggregate (inside ``groupBy(as_of_date, child_token).agg``) of one metric over one interval,
    un-imputed (NULL where no row qualified; mirror of :func:`features.collate.metric_sql`).

    Rows are those of :func:`compile_source_spark`'s join; ``base`` (optional) is the condition that
    they belong to ``agg`` (role and :func:`usable_condition`), when the join also holds rows of other
    aggregations. The source's key is the column ``_token``.
    """
    d = date_column(agg)
    conds = [base, *(predicate_column(p, precomputed) for p in metric.where)]
    if interval not in (None, "all"):
        conds.append(d > shift(_asof(), interval))
    fn = metric.function
    if fn.startswith("active"):
        end = F.col(metric.end_column)
        conds.append(end.isNull() | (end > _asof()))
    cond = _and(conds)

    def sel(e: Column) -> Column:
        return e if cond is None else F.when(cond, e)

    col = F.col(metric.column) if metric.column else None
    if fn in ("count", "any", "active_any"):
        n = F.count(F.lit(1)) if cond is None else F.count_if(cond)
        return n if fn == "count" else (n > 0).cast("int")
    if fn in ("count_distinct", "active_count"):  # default: the source's key
        return F.count_distinct(sel(col if col is not None else F.col("_token")))
    if fn == "sum":
        return F.sum(sel(col))
    if fn in ("max", "active_max"):
        return F.max(sel(col))
    if fn == "min":
        return F.min(sel(col))
    if fn == "avg":
        return F.avg(sel(col))
    if fn == "days_since_latest":
        return F.datediff(_asof(), F.max(sel(d)))
    if fn == "months_since_latest":
        return months_between(F.max(sel(d)), _asof())
    if fn == "months_since_earliest":
        return months_between(F.min(sel(d)), _asof())
    if fn in ("latest_in", "latest_mapped"):
        usable = col.isNotNull() if cond is None else cond & col.isNotNull()
        order = F.struct(d.alias("d"), knowledge_column(agg).alias("k"), F.col("source_row").alias("r"))
        latest = F.max_by(col, F.when(usable, order))
        if fn == "latest_in":
            return latest.isin(list(metric.choices)).cast("int")  # NULL stays NULL
        return _mapped(latest, metric.mapping)
    if fn == "max_mapped":
        return F.max(_mapped(sel(col), metric.mapping))
    raise ValueError(fn)  # pragma: no cover - guarded by Metric


def source_groups(spec: FeatureSpec = SPEC) -> list[list[Aggregation]]:
    """The spec's aggregations grouped by (source, key), in spec order: each group is one scan, one
    join and one group-by in :func:`compile_source_spark`."""
    groups: dict[tuple[str, str], list[Aggregation]] = {}
    for agg in spec.aggregations:
        groups.setdefault((agg.source, agg.key), []).append(agg)
    return list(groups.values())


def compile_source_spark(aggs: list[Aggregation], children: DataFrame, links: DataFrame,
                         source: DataFrame) -> DataFrame:
    """Aggregations of one source reached by one key → DataFrame ``(as_of_date, child_token, <raw
    features of every aggregation>)``, one row per child and as-of date with at least one usable row
    for one of them (mirror of :func:`features.collate.compile_aggregation`, one query per source).

    The people each child reaches (the child itself for entity ``child``, the ``links`` rows of the
    other entities) are joined to the source on its key (``_token``); each joined row carries the
    role it was reached through (``_role``), and each metric counts only the rows of its aggregation's
    role that are usable for it (:func:`usable_condition`). Source columns named ``as_of_date``,
    ``child_token``, ``_token`` or ``_role`` are renamed ``_src_<name>`` (no metric of the spec reads
    one; a key named ``child_token`` is still the join's ``_token``).

    Raises
    ------
    ValueError
        ``aggs`` empty or of different sources or keys.
    """
    if not aggs or len({(a.source, a.key) for a in aggs}) != 1:
        raise ValueError("compile_source_spark needs aggregations of one source and one key")
    key = aggs[0].key
    precomputed = frozenset(source.columns)
    roles = list(dict.fromkeys(a.entity for a in aggs))
    people = []
    if "child" in roles:
        people.append(children.select(*KEYS, F.col("child_token").alias("_token"), F.lit("child").alias("_role")))
    others = [r for r in roles if r != "child"]
    if others:
        people.append(links.filter(F.col("role").isin(others) if len(others) > 1 else F.col("role") == others[0])
                      .select(*KEYS, F.col("token").alias("_token"), F.col("role").alias("_role")))
    reach = people[0] if len(people) == 1 else people[0].unionByName(people[1])
    s = source.select(
        *(F.col(c).alias(f"_src_{c}") if c in (*KEYS, "_token", "_role") else F.col(c) for c in source.columns),
        F.col(key).alias("_token"),
    )
    joined = reach.join(s, on="_token", how="inner")
    usable = {a.id: usable_condition(a, precomputed) & (F.col("_role") == a.entity) for a in aggs}
    if len(aggs) == 1:
        joined = joined.filter(usable[aggs[0].id])
        base = {aggs[0].id: None}  # the filter is exact
    else:
        joined = joined.filter(_or(list(usable.values())))
        base = usable
    exprs = [metric_column(a, m, i, precomputed, base[a.id]).alias(name)
             for a in aggs for m in a.metrics for name, i in metric_columns(a, m)]
    return joined.groupBy(*KEYS).agg(*exprs)


def compile_aggregation_spark(agg: Aggregation, children: DataFrame, links: DataFrame,
                              source: DataFrame) -> DataFrame:
    """One aggregation → DataFrame ``(as_of_date, child_token, <raw features>)`` (:func:`compile_source_spark`
    of a group of one)."""
    return compile_source_spark([agg], children, links, source)


def _impute(agg: Aggregation) -> list[Column]:
    out = []
    for m in agg.metrics:
        for name, _ in metric_columns(agg, m):
            c = F.col(name).cast("float")
            imp = m.resolved_imputation
            if imp == "zero":
                out.append(F.coalesce(c, F.lit(0.0).cast("float")).alias(name))
            else:
                out.append(c.alias(name))
                if imp == "nan_flag":
                    out.append(F.col(name).isNull().cast("float").alias(f"{name}_missing"))
    return out


def derived_column(d: Derived) -> Column:
    """A derived feature over imputed float features (mirror of :func:`features.collate.derived_sql`)."""
    a = F.col(d.inputs[0])
    b = F.col(d.inputs[1]) if len(d.inputs) > 1 else None
    if d.kind == "ratio":
        e = F.when(b.isNull() | (b == 0), F.lit(None)).otherwise(a / b)
    elif d.kind == "change":
        e = a - (b - a)
    elif d.kind == "below_age":
        e = F.when(b < F.lit(d.threshold), a)
    elif d.kind == "flag_missing_below_age":
        e = (a.isNull() & (b < F.lit(d.threshold))).cast("int")
    else:
        raise ValueError(f"unknown derived kind {d.kind!r}")
    return e.cast("float").alias(d.name)


def _f(e: Column, name: str) -> Column:
    return e.cast("float").alias(name)


def custom_frames(children: DataFrame, links: DataFrame, hh_current: DataFrame, insurance: DataFrame,
                  home_city: str) -> list[DataFrame]:
    """The hand-written families of :func:`features.collate.custom_sql` (``demo``, ``household``,
    ``parents``; documented in :data:`features.spec.CUSTOM`) as Spark DataFrames, one row per child."""
    c = children
    demo = c.select(
        *KEYS,
        _f(F.col("age_months"), "demo_age_months"),
        _f(F.when(F.col("sex") == "男", 1).when(F.col("sex") == "女", 0), "demo_sex_male"),
        _f(F.coalesce(F.col("hukou_type") == "农业家庭户口", F.lit(False)), "demo_hukou_agricultural"),
        _f(F.coalesce(F.col("hukou_type") == "非本地户籍", F.lit(False)), "demo_hukou_nonlocal"),
        _f(F.col("hukou_type").isNull(), "demo_hukou_unknown"),
        _f(F.when(F.col("urban_rural") == "农村", 1).when(F.col("urban_rural") == "城镇", 0), "demo_rural"),
    )
    # household composition
    hh = hh_current.select("as_of_date", "household_token", "person_token", "age_months")
    m = c.select(*KEYS, "household_token").join(hh, on=["as_of_date", "household_token"], how="inner")
    age = F.col("age_months")
    agg = m.groupBy(*KEYS).agg(
        F.count(F.lit(1)).alias("members"),
        F.count_if(age >= ADULT_MONTHS).alias("adults"),
        F.count_if(age >= 780).alias("elderly"),
        F.count_if((age < ADULT_MONTHS) & (F.col("person_token") != F.col("child_token"))).alias("siblings"),
        F.count_if((age >= ADULT_MONTHS) & (age < 600)).alias("young_adults"),
    )
    pp = (
        links.filter(F.col("role") == "parent").select(*KEYS, "token")
        .join(c.select(*KEYS, "household_token"), on=KEYS, how="inner")
        .join(hh.select("as_of_date", F.col("person_token").alias("token"), F.col("household_token").alias("_h")),
              on=["as_of_date", "token"], how="inner")
        .filter(F.col("_h") == F.col("household_token"))
        .groupBy(*KEYS).agg(F.count_distinct("token").alias("present"))
    )
    household = (
        c.select(*KEYS, "relation_to_head", "hh_registered_date")
        .join(agg, on=KEYS, how="left").join(pp, on=KEYS, how="left")
        .select(
            *KEYS,
            _f(F.coalesce(F.col("members"), F.lit(0)), "household_members"),
            _f(F.coalesce(F.col("adults"), F.lit(0)), "household_adults"),
            _f(F.coalesce(F.col("elderly"), F.lit(0)), "household_elderly"),
            _f(F.coalesce(F.col("siblings"), F.lit(0)), "household_siblings"),
            _f(F.coalesce((F.col("adults") > 0) & (F.col("young_adults") == 0), F.lit(False)),
               "household_grandparent_only"),
            _f(F.coalesce(F.col("relation_to_head").isin(["孙子", "孙女", "外孙子", "外孙女"]), F.lit(False)),
               "household_child_is_grandchild"),
            _f(F.coalesce(F.col("present"), F.lit(0)), "household_parents_present"),
            _f(months_between(F.col("hh_registered_date"), _asof()), "household_months_since_moved_in"),
            _f(F.col("hh_registered_date").isNull(), "household_months_since_moved_in_missing"),
        )
    )
    # parents away: social insurance windowed on knowledge_date (the latest 6 / 12 monthly reports)
    p = links.filter(F.col("role") == "parent").select(*KEYS, "token").distinct()
    pt = p.select("as_of_date", "token").distinct()
    k = F.col("knowledge_date")
    sim = (
        pt.join(insurance.withColumnRenamed("person_token", "token"), on="token", how="inner")
        .filter((k <= _asof()) & (k > shift(_asof(), "12 months")))
        .groupBy("as_of_date", "token", "month")
        .agg(
            F.bool_or(~F.coalesce(F.col("insured_city"), F.lit("")).startswith(home_city)).alias("away"),
            F.bool_or(k > shift(_asof(), "6 months")).alias("in6"),
        )
    )
    per_parent = sim.groupBy("as_of_date", "token").agg(
        F.count_if(F.col("away") & F.col("in6")).alias("away6"),
        F.count_if(F.col("away")).alias("away12"),
        F.count_if(~F.col("away") & F.col("in6")).alias("local6"),
    )
    pagg = p.join(per_parent, on=["as_of_date", "token"], how="left").groupBy(*KEYS).agg(
        F.count(F.lit(1)).alias("n"), F.max("away6").alias("away6"), F.max("away12").alias("away12"),
        F.max("local6").alias("local6"), F.count_if(F.col("away6") >= 3).alias("n_away"),
    )
    both = (
        p.join(sim.filter(F.col("away")), on=["as_of_date", "token"], how="inner")
        .groupBy(*KEYS, "month").agg(F.count(F.lit(1)).alias("k")).filter(F.col("k") >= 2)
        .groupBy(*KEYS).agg(F.count(F.lit(1)).alias("both"))
    )
    n_away = F.coalesce(F.col("n_away"), F.lit(0))
    parents = (
        c.select(*KEYS).join(pagg, on=KEYS, how="left").join(both, on=KEYS, how="left")
        .select(
            *KEYS,
            _f(F.coalesce(F.col("n"), F.lit(0)), "parents_known"),
            _f(F.coalesce(F.col("away6"), F.lit(0)), "parents_away_months_6m"),
            _f(F.coalesce(F.col("away12"), F.lit(0)), "parents_away_months_12m"),
            _f(n_away, "parents_away_count_6m"),
            _f(n_away >= 2, "parents_both_away_6m"),
            _f(n_away == 1, "parents_one_away_6m"),
            _f(F.coalesce(F.col("both"), F.lit(0)), "parents_both_away_months_12m"),
            _f(F.coalesce(F.col("local6"), F.lit(0)), "parents_local_insured_months_6m"),
        )
    )
    return [demo, household, parents]


def serving_frame(children: DataFrame, src: dict[str, DataFrame]) -> DataFrame:
    """``registry_category, last_visit_date, has_disability`` per child (mirror of
    :data:`features.collate.SERVING_SQL`): the highest-priority active registry category
    (:data:`features.spec.REGISTRY_PRIORITY`), the latest usable visit, any usable disability certificate."""
    base = children.select(*KEYS)
    prio = F.lit(len(REGISTRY_PRIORITY))
    for i, cat in reversed(list(enumerate(REGISTRY_PRIORITY))):
        prio = F.when(F.col("category") == cat, F.lit(i)).otherwise(prio)
    reg = (
        base.join(src["child_registry"], on="child_token", how="inner")
        .filter((F.col("knowledge_date") <= _asof()) & (F.col("registered_date") <= _asof())
                & (F.col("closed_date").isNull() | (F.col("closed_date") > _asof())))
        .groupBy(*KEYS)
        .agg(F.min_by("category", F.when(F.col("category").isNotNull(), prio)).alias("registry_category"))
    )
    vis = (
        base.join(src["visit_records"], on="child_token", how="inner")
        .filter((F.col("knowledge_date") <= _asof()) & (F.col("visit_date") <= _asof()))
        .groupBy(*KEYS).agg(F.max("visit_date").alias("last_visit_date"))
    )
    dis = (
        base.join(src["disability_certificates"].withColumnRenamed("person_token", "child_token"),
                  on="child_token", how="inner")
        .filter((F.col("knowledge_date") <= _asof()) & (F.col("issued_date") <= _asof()))
        .select(*KEYS).distinct().withColumn("has_disability", F.lit(True))
    )
    return (
        base.join(reg, on=KEYS, how="left").join(vis, on=KEYS, how="left").join(dis, on=KEYS, how="left")
        .withColumn("has_disability", F.coalesce(F.col("has_disability"), F.lit(False)))
    )


def compute_features_spark(
    children: DataFrame,
    links: DataFrame,
    hh_current: DataFrame,
    src: dict[str, DataFrame],
    spec: FeatureSpec = SPEC,
    *,
    home_city: str = "杭州",
) -> DataFrame:
    """Every feature of ``spec`` as one lazy Spark DataFrame, one row per row of ``children``.

    Parameters
    ----------
    children, links, hh_current : pyspark.sql.DataFrame
        The cohort tables of :func:`features.cohorts.create_children_table` (``hm_children``,
        ``hm_links``, ``hm_hh_current``; any number of as-of dates).
    src : dict of str to pyspark.sql.DataFrame
        Source tables by name (:data:`features.sources.TABLE_COLUMNS` columns; token columns of the
        same type as in ``children``). Needs every source of the spec plus ``social_insurance``,
        ``child_registry``, ``visit_records``, ``disability_certificates``.
    spec : FeatureSpec
    home_city : str
        Prefix of ``insured_city`` that counts as home (parents away).

    Returns
    -------
    pyspark.sql.DataFrame
        ``as_of_date, child_token, community, township, district, hukou_type, urban_rural, sex,
        registry_category, last_visit_date, has_disability`` then the float features of
        :func:`features.collate.feature_names` (FloatType; NULL = missing), unordered.

    Raises
    ------
    KeyError
        A source the spec needs is not in ``src``.
    """
    out = children.select(*KEYS, "community", "township", "district", "hukou_type", "urban_rural", "sex")
    out = out.join(serving_frame(children, src), on=KEYS, how="left")
    for frame in custom_frames(children, links, hh_current, src["social_insurance"], home_city):
        out = out.join(frame, on=KEYS, how="left")
    imputes: list[Column] = []
    for group in source_groups(spec):
        out = out.join(compile_source_spark(group, children, links, src[group[0].source]), on=KEYS, how="left")
    for agg in spec.aggregations:
        imputes.extend(_impute(agg))
    custom = [d.name for d in spec.custom]
    base = [*KEYS, "community", "township", "district", "hukou_type", "urban_rural", "sex",
            "registry_category", "last_visit_date", "has_disability"]
    out = out.select(*base, *custom, *imputes)
    if spec.derived:
        out = out.select("*", *(derived_column(d) for d in spec.derived))
    return out


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


@contextmanager
def _session(spark: SparkSession | None, scratch: Path) -> Iterator[SparkSession]:
    if spark is not None:
        yield spark
        return
    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    session = local_spark(scratch_dir=scratch / "spark")
    try:
        yield session
    finally:
        session.stop()


def _read(spark: SparkSession, path: Path) -> DataFrame:
    return spark.read.parquet(str(path))


def spark_sources(spark: SparkSession, prepared: Path, spec: FeatureSpec = SPEC) -> dict[str, DataFrame]:
    """The prepared tables the spec reads, as Spark DataFrames (``spark.read.parquet``, lazy), plus
    ``tokens`` (``id → token``) for decoding.

    Returns every source of ``spec`` and ``social_insurance``, ``child_registry``, ``visit_records``,
    ``disability_certificates`` (custom families and serving columns).
    """
    needed = {a.source for a in spec.aggregations} | {"social_insurance", "child_registry", "visit_records",
                                                      "disability_certificates", "tokens"}
    return {t: _read(spark, prepared / f"{t}.parquet") for t in sorted(needed)}


def _chunk_frame(
    spark: SparkSession,
    con: duckdb.DuckDBPyConnection,
    src: dict[str, DataFrame],
    chunk_dir: Path,
    dates: list[dt.date],
    *,
    rural_hukou_only: bool,
    home_city: str,
    spec: FeatureSpec,
) -> pd.DataFrame:
    """Cohort tables by DuckDB → Parquet → every feature by Spark → Parquet → pandas (one chunk).

    ``chunk_dir`` is created and removed here.
    """
    register_as_of_dates(con, dates)
    create_children_table(con, rural_hukou_only=rural_hukou_only)
    for name in ("hm_hh_ever", "hm_cand_places"):  # not read by Spark: free their memory now
        drop_relation(con, name)
    chunk_dir.mkdir(parents=True, exist_ok=True)
    try:
        for t in SPARK_INPUTS:
            con.execute(f"COPY (SELECT * FROM {t}) TO {sql_literal(str(chunk_dir / f'{t}.parquet'))} (FORMAT parquet)")
        children, links, hh_current = (_read(spark, chunk_dir / f"{t}.parquet") for t in SPARK_INPUTS)
        spark.sparkContext.setLocalProperty("spark.job.description", f"humiao features {dates[0]}..{dates[-1]}")
        feats = compute_features_spark(children, links, hh_current, src, spec, home_city=home_city)
        tokens = src["tokens"].select(F.col("id").alias("child_token"), F.col("token").alias("_token"))
        decoded = feats.join(tokens, on="child_token", how="left").select(
            F.col("_token").alias("child_token"), *(c for c in feats.columns if c != "child_token"))
        out_dir = chunk_dir / "features"
        decoded.write.mode("overwrite").parquet(str(out_dir))
        spark.sparkContext.setLocalProperty("spark.job.description", None)
        df = pq.read_table(out_dir).to_pandas(date_as_object=True)
    finally:
        shutil.rmtree(chunk_dir, ignore_errors=True)
    return _finish(df, feature_names(spec))


def _finish(df: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Dates as ``datetime.date`` or None, rows in (as_of_date, child_token) order, then the
    conventions of every engine (:func:`features.build.finish_frame`)."""
    for c in ("as_of_date", "last_visit_date"):
        df[c] = df[c].astype(object).where(df[c].notna(), None)
    df = df.sort_values(["as_of_date", "child_token"], kind="stable").reset_index(drop=True)
    return finish_frame(df, names)


def iter_features_spark(
    pseudo_dir: str | Path,
    as_of_dates: Iterable[dt.date],
    *,
    rural_hukou_only: bool = False,
    con: duckdb.DuckDBPyConnection | None = None,
    home_city: str = "杭州",
    spec: FeatureSpec = SPEC,
    engine: str = "spark",
    feedback_dir: str | Path | None = None,
    prepared_dir: str | Path | None = None,
    chunk_dates: int | None = None,
    memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
    threads: int | None = None,
    spark: SparkSession | None = None,
    scratch_dir: str | Path | None = None,
) -> Iterator[pd.DataFrame]:
    """The feature matrix computed by Spark, chunk by chunk (one frame per ``chunk_dates`` dates).

    Parameters and frame layout as :func:`build_features_spark`.
    """
    dates = as_of_list(as_of_dates)
    if engine != "spark":
        raise ValueError(f"unknown engine {engine!r} for build_features_spark; expected 'spark' "
                         "(features.build.build_features runs the others)")
    if chunk_dates is not None and int(chunk_dates) < 1:
        raise ValueError(f"chunk_dates must be >= 1 or None, got {chunk_dates}")
    missing = {a.source for a in spec.aggregations} - set(TABLE_COLUMNS)
    if missing:
        raise KeyError(f"spec reads unknown source table(s) {sorted(missing)}")

    def run() -> Iterator[pd.DataFrame]:
        scratch_parent = Path(scratch_dir) if scratch_dir is not None else None
        if scratch_parent is not None:
            scratch_parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="humiao_spark_features_", dir=scratch_parent))
        try:
            with _session(spark, scratch) as session:
                src: dict = {}

                def frame_of_chunk(c, prep, first, chunk):
                    if not src:  # the prepared tables as Spark DataFrames, once
                        src.update(spark_sources(session, prep, spec))
                    return _chunk_frame(session, c, src, scratch / f"chunk_{first:05d}", chunk,
                                        rural_hukou_only=rural_hukou_only, home_city=home_city, spec=spec)

                yield from chunked_frames(pseudo_dir, dates, frame_of_chunk, con=con, spec=spec,
                                          feedback_dir=feedback_dir, prepared_dir=prepared_dir,
                                          chunk_dates=chunk_dates, memory_limit=memory_limit, threads=threads)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    return run()


def build_features_spark(
    pseudo_dir: str | Path,
    as_of_dates: Iterable[dt.date],
    *,
    label_timespan_days: int = 180,
    rural_hukou_only: bool = False,
    con: duckdb.DuckDBPyConnection | None = None,
    home_city: str = "杭州",
    spec: FeatureSpec = SPEC,
    engine: str = "spark",
    feedback_dir: str | Path | None = None,
    prepared_dir: str | Path | None = None,
    chunk_dates: int = 1,
    memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
    threads: int | None = None,
    spark: SparkSession | None = None,
    scratch_dir: str | Path | None = None,
) -> pd.DataFrame:
    """The feature matrix of :func:`features.build.build_features`, its aggregations run by Spark.

    What runs where is in the module docstring: DuckDB prepares the sources (once) and builds the
    cohort tables of each chunk of as-of dates; Spark computes every feature column and the serving
    columns from the spec, reading the prepared Parquet tables itself.

    Parameters
    ----------
    pseudo_dir, as_of_dates, label_timespan_days, rural_hukou_only, home_city, spec, feedback_dir, prepared_dir
        As :func:`features.build.build_features`.
    con : duckdb.DuckDBPyConnection, optional
        DuckDB connection for the cohort tables (default: a new one, :func:`features.prepare.connect`).
    engine : {"spark"}
        Accepted so that the keyword arguments of ``build_features`` can be passed unchanged.
    chunk_dates : int, optional
        As-of dates per chunk: one DuckDB cohort build and one Spark job each. Default: as
        ``build_features`` (:func:`features.prepare.auto_chunk_dates`, about
        :data:`features.prepare.CHUNK_CHILD_ROWS` child rows per chunk: every date at once for a town).
        Spark's fixed cost per job (~100 stages) dominates on small data, so fewer chunks are faster
        there; the values do not depend on it.
    memory_limit, threads
        DuckDB settings of the cohort connection (Spark's memory is that of its session).
    spark : pyspark.sql.SparkSession, optional
        Session to run on. Default: the active session of this process, else a new
        :func:`local_spark` session that is stopped when the call returns.
    scratch_dir : str or Path, optional
        Where the chunk tables handed from DuckDB to Spark and Spark's output are written (removed
        at the end); default the system temporary folder. On a cluster: a path every executor can read.

    Returns
    -------
    pandas.DataFrame
        Exactly the layout of :func:`features.build.build_features`: :data:`features.build.GROUP_COLUMNS`
        then the float32 features of :func:`features.collate.feature_names`, unique on
        (child_token, as_of_date), ordered by (as_of_date, child_token).

    Raises
    ------
    ValueError
        Empty ``as_of_dates``, ``engine`` other than "spark", ``chunk_dates < 1``.
    KeyError
        The spec reads a table that :data:`features.sources.TABLE_COLUMNS` does not list.
    FileNotFoundError, features.sources.SourceSchemaError, features.prepare.PreparedMismatchError
        As :func:`features.build.build_features`.
    pyspark.errors.PySparkRuntimeError
        Spark cannot start (no Java runtime).
    """
    del label_timespan_days  # features never look past the as-of date
    frames = list(iter_features_spark(
        pseudo_dir, as_of_dates, rural_hukou_only=rural_hukou_only, con=con, home_city=home_city, spec=spec,
        engine=engine, feedback_dir=feedback_dir, prepared_dir=prepared_dir, chunk_dates=chunk_dates,
        memory_limit=memory_limit, threads=threads, spark=spark, scratch_dir=scratch_dir))
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)


__all__ = ["build_features_spark", "compile_aggregation_spark", "compute_features_spark", "derived_column",
           "iter_features_spark", "local_spark", "metric_column", "predicate_column"]
