"""The naive baseline of issue 4: a pandas loop over as-of dates (for the side-by-side benchmark only).

For each as-of date: filter every source to rows known by then, then per aggregation of the spec
that reaches the child directly (``entity == "child"``) and per metric and interval, filter and
``groupby``. This is how the features are typically first written by hand. It covers only the
child-level aggregations (count / sum / any / days- and months-since / latest / mapped; the link
entities, household and parents families are left out), so it does *less* work than
``build_features`` — the ratio it gives is a lower bound on the gap.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from features.cohorts import cohort
from features.collate import metric_columns
from features.spec import AS_OF, SPEC, Predicate, parse_interval


def _pred(df: pd.DataFrame, p: Predicate, d: pd.Timestamp) -> pd.Series:
    col = df[p.column]
    v = d if p.value == AS_OF else p.value
    if p.op == "eq":
        return col == v
    if p.op == "in":
        return col.isin(v)
    if p.op == "contains_any":
        return col.fillna("").str.contains("|".join(v))
    if p.op == "le":
        return col <= v
    if p.op == "ge":
        return col >= v
    if p.op == "is_false":
        return col == False  # noqa: E712
    if p.op == "null_or_gt":
        return col.isna() | (col > v)
    raise NotImplementedError(p.op)


def naive_features(pseudo_dir: str | Path, as_of_dates: list[dt.date]) -> pd.DataFrame:
    pseudo_dir = Path(pseudo_dir)
    tables = {a.source: pd.read_parquet(pseudo_dir / f"{a.source}.parquet") for a in SPEC.aggregations
              if a.entity == "child"}
    for t in tables.values():
        for c in t.columns:
            if c.endswith("_date") or c in ("reported_at", "month"):
                t[c] = pd.to_datetime(t[c])
    out = []
    for d in as_of_dates:
        ts = pd.Timestamp(d)
        kids = cohort(pseudo_dir, [d])[["child_token"]].set_index("child_token")
        for agg in SPEC.aggregations:
            if agg.entity != "child":
                continue
            s = tables[agg.source]
            k = s[list(agg.knowledge_columns)].max(axis=1)
            s = s[(k <= ts) & (pd.to_datetime(s[agg.date_column]) <= ts)].copy()
            s["_d"] = pd.to_datetime(s[agg.date_column]).dt.normalize()
            for p in agg.where:
                s = s[_pred(s, p, ts)]
            for m in agg.metrics:
                for name, interval in metric_columns(agg, m):
                    r = s
                    if interval not in (None, "all"):
                        n, unit = parse_interval(interval)
                        lo = ts - pd.DateOffset(**{unit.lower() + "s": n})
                        r = r[r["_d"] > lo]
                    if m.function.startswith("active"):
                        r = r[r[m.end_column].isna() | (r[m.end_column] > ts)]
                    for p in m.where:
                        r = r[_pred(r, p, ts)]
                    g = r.groupby(agg.key)
                    f = m.function
                    if f == "count":
                        v = g.size()
                    elif f in ("count_distinct", "active_count"):
                        v = g[m.column or agg.key].nunique()
                    elif f in ("sum", "max", "min", "active_max"):
                        v = getattr(g[m.column], "max" if f == "active_max" else f)()
                    elif f in ("any", "active_any"):
                        v = (g.size() > 0).astype(int)
                    elif f == "days_since_latest":
                        v = (ts - g["_d"].max()).dt.days
                    elif f in ("months_since_latest", "months_since_earliest"):
                        x = g["_d"].max() if f.endswith("latest") else g["_d"].min()
                        v = (ts.year - x.dt.year) * 12 + ts.month - x.dt.month
                    elif f in ("latest_in", "latest_mapped"):
                        last = r.sort_values(["_d", "knowledge_date", "source_row"]).groupby(agg.key)[m.column].last()
                        v = last.isin(m.choices).astype(int) if f == "latest_in" else last.map(dict(m.mapping))
                    elif f == "max_mapped":
                        v = r.assign(_v=r[m.column].map(dict(m.mapping))).groupby(agg.key)["_v"].max()
                    else:
                        raise NotImplementedError(f)
                    kids[name] = v.reindex(kids.index).astype("float32")
                    if m.resolved_imputation == "zero":
                        kids[name] = kids[name].fillna(0)
        out.append(kids.reset_index().assign(as_of_date=d))
    return pd.concat(out, ignore_index=True).replace({np.inf: np.nan})
