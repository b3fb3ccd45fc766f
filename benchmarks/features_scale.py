"""Scale benchmark of ``features.build_features`` (issue 4): seconds and peak RSS per as-of date.

Synthetic scale-up (documented, not a simulation): the simulator needs ~50 GB at 2,000,000 children,
so the big cities here are built by **replicating** a pseudonymized city ``factor`` times. Every
token / id column (``*_token``, ``visit_id``, ``incident_id``, ``record_id``) gets the suffix
``_r<i>`` in copy ``i``, so each copy is a disjoint population with the same dates, places and
per-child volumes as the source city (the 20,000-child default city ×10 = 200,000, ×100 =
2,000,000 children). Household / place structure, record volumes per child and the time range are
therefore realistic; between-copy variety is not (irrelevant for timing).

    .venv/bin/python benchmarks/features_scale.py replicate --factor 100          # → benchmarks/_work/x100
    .venv/bin/python benchmarks/features_scale.py run --factor 10 --factor 100 --dates 1 --dates 12
    .venv/bin/python benchmarks/features_scale.py pandas --factor 1 --dates 3      # naive loop, side by side

Each measurement runs in a fresh subprocess (peak RSS = that process's ``ru_maxrss``); the table
is printed and the raw JSON is written to ``benchmarks/results/features_scale_<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "benchmarks" / "_work"
RESULTS = REPO / "benchmarks" / "results"
SOURCE = REPO / "data" / "work" / "pseudonymized"
ID_COLUMNS = ("visit_id", "incident_id", "record_id")
#: Monthly as-of dates inside the default city's 36 months (2023-01 … 2025-12).
LAST_AS_OF = dt.date(2025, 6, 1)


def as_of_dates(n: int) -> list[dt.date]:
    from features.timechop import add_months

    return [add_months(LAST_AS_OF, -i) for i in reversed(range(n))]


def replicate(factor: int, source: Path = SOURCE, out: Path | None = None) -> Path:
    """Write ``factor`` disjoint token-suffixed copies of every table of ``source`` (see module doc)."""
    import duckdb

    out = out or WORK / f"x{factor}"
    done = out / ".complete"
    if done.exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    for f in sorted(source.glob("*.parquet")):
        cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{f}')").fetchall()]
        repl = [c for c in cols if c.endswith("_token") or c in ID_COLUMNS]
        replace = ", ".join(f"{c} || '_r' || CAST(r.i AS VARCHAR) AS {c}" for c in repl)
        sel = f"* EXCLUDE (i) REPLACE ({replace})" if repl else "* EXCLUDE (i)"
        t0 = time.time()
        con.execute(
            f"COPY (SELECT {sel} FROM read_parquet('{f}') CROSS JOIN range({factor}) AS r(i)) "
            f"TO '{out / f.name}' (FORMAT parquet, ROW_GROUP_SIZE 500000)"
        )
        print(f"  {f.name}: {time.time() - t0:.1f}s", flush=True)
    done.write_text(json.dumps({"factor": factor, "source": str(source)}))
    return out


def _child_run(kind: str, folder: str, n_dates: int, engine: str) -> None:
    """Runs inside the measured subprocess; prints one JSON line."""
    sys.path.insert(0, str(REPO))
    dates = as_of_dates(n_dates)
    t0 = time.time()
    if kind == "features":
        from features.build import build_features

        df = build_features(folder, dates, engine=engine)
        rows, cols = df.shape
    elif kind == "labels":
        from features.build import build_labels

        df = build_labels(folder, dates, 180)
        rows, cols = df.shape
    elif kind == "pandas":
        sys.path.insert(0, str(REPO / "benchmarks"))
        from naive_pandas import naive_features

        df = naive_features(folder, dates)
        rows, cols = df.shape
    else:
        raise ValueError(kind)
    secs = time.time() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024  # KiB → GiB
    print(json.dumps({"seconds": secs, "peak_rss_gb": rss, "rows": rows, "columns": cols}))


def measure(kind: str, folder: Path, n_dates: int, engine: str = "duckdb") -> dict:
    cmd = [sys.executable, __file__, "_child", kind, str(folder), str(n_dates), engine]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-3000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def count_children(folder: Path) -> int:
    import duckdb

    con = duckdb.connect()
    return con.execute(
        f"SELECT COUNT(DISTINCT person_token) FROM read_parquet('{folder / 'id_attributes.parquet'}') "
        f"WHERE birth_month > DATE '2007-06-01'"
    ).fetchall()[0][0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("replicate")
    r.add_argument("--factor", type=int, action="append", required=True)
    for name in ("run", "pandas"):
        p = sub.add_parser(name)
        p.add_argument("--factor", type=int, action="append", default=None)
        p.add_argument("--dates", type=int, action="append", default=None)
        p.add_argument("--kind", default="features", choices=["features", "labels"])
        p.add_argument("--engine", default="duckdb", choices=["duckdb", "polars"])
    c = sub.add_parser("_child")
    c.add_argument("kind")
    c.add_argument("folder")
    c.add_argument("n_dates", type=int)
    c.add_argument("engine")
    args = ap.parse_args()

    if args.cmd == "_child":
        _child_run(args.kind, args.folder, args.n_dates, args.engine)
        return
    if args.cmd == "replicate":
        for f in args.factor:
            print(f"replicating ×{f} → {replicate(f)}")
        return

    rows = []
    factors = args.factor or ([10, 100] if args.cmd == "run" else [1])
    dates = args.dates or ([1, 12] if args.cmd == "run" else [1, 3])
    for f in factors:
        folder = SOURCE if f == 1 else replicate(f)
        n_children = count_children(folder)
        for n in dates:
            runs = [(args.kind, args.engine)] if args.cmd == "run" else [("pandas", "pandas"), ("features", "duckdb")]
            for kind, engine in runs:
                m = measure(kind, folder, n, engine)
                rec = {"kind": kind, "engine": engine, "factor": f, "children": n_children, "as_of_dates": n, **m,
                       "seconds_per_date": m["seconds"] / n}
                rows.append(rec)
                print(f"{kind:9s} {engine:7s} children={n_children:>9,d} dates={n:>2d} "
                      f"seconds={m['seconds']:7.1f} ({m['seconds'] / n:6.1f}/date) peak_rss={m['peak_rss_gb']:5.2f} GB "
                      f"rows={m['rows']:,}", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    out = RESULTS / f"features_{args.cmd}_{stamp}.json"
    out.write_text(json.dumps({
        "command": " ".join(sys.argv), "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "note": "cities >1x are token-suffixed replicas of the 20k default pseudonymized city (synthetic scale-up)",
        "results": rows}, indent=1, default=str))
    print(f"\n{'kind':9s} {'engine':7s} {'children':>10s} {'dates':>5s} {'seconds':>8s} {'s/date':>7s} {'peak GB':>8s}")
    for r in rows:
        print(f"{r['kind']:9s} {r['engine']:7s} {r['children']:>10,d} {r['as_of_dates']:>5d} {r['seconds']:>8.1f} "
              f"{r['seconds_per_date']:>7.1f} {r['peak_rss_gb']:>8.2f}")
    print(f"raw JSON: {out}")


if __name__ == "__main__":
    main()
