"""Scale benchmark of ``features`` (issues 4 and 8): seconds and peak RSS per as-of date, one table.

Synthetic scale-up (documented, not a simulation): the simulator needs ~50 GB at 2,000,000 children,
so the big cities here are built by **replicating** a pseudonymized city ``factor`` times. Every
token / id column (``*_token``, ``visit_id``, ``incident_id``, ``record_id``) gets the suffix
``_r<i>`` in copy ``i``, so each copy is a disjoint population with the same dates, places and
per-child volumes as the source city (the 20,000-child default city ×10 = 200,000, ×100 =
2,000,000 children). Household / place structure, record volumes per child and the time range are
therefore realistic; between-copy variety is not (irrelevant for timing).

    .venv/bin/python benchmarks/features_scale.py replicate --factor 100          # → benchmarks/_work/x100
    .venv/bin/python benchmarks/features_scale.py run --factor 1 --factor 10 --factor 100 --dates 1 --dates 12
    .venv/bin/python benchmarks/features_scale.py pandas --factor 1 --dates 3      # naive loop, side by side

What ``run`` measures, per city (each in a fresh subprocess: peak RSS = that process's ``ru_maxrss``;
the 1/5/15-minute load averages before and after are recorded with every timing, the machine is shared):

- ``prepare``: :func:`features.prepare.prepare_sources` (once per delivery of the pseudonymized data;
  an asset of its own in the pipeline), into ``benchmarks/_work/prep_x<factor>``;
- ``features`` / ``frame``: :func:`features.build.build_features` from that prepared folder
  (in-memory DataFrame of every date; what a Dagster partition or the pipeline calls);
- ``features`` / ``stream``: :func:`features.build.write_features` (one Parquet per date, memory of
  one chunk whatever the number of dates; used for 12 dates of the 2,000,000-child city, whose
  12-date frame alone would be 13 GB);
- ``features_cold`` / ``frame``: ``build_features`` without a prepared folder (prepares into a
  temporary folder first: what a single call costs on its own).

``pandas`` runs :mod:`naive_pandas` (a pandas loop over as-of dates) and ``build_features`` (cold
and prepared) on the same city in the same session. The table is printed and the raw JSON is written
to ``benchmarks/results/features_<command>_<timestamp>.json``.
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


def _child_run(kind: str, folder: str, n_dates: int, engine: str, mode: str, prepared: str) -> None:
    """Runs inside the measured subprocess; prints one JSON line."""
    sys.path.insert(0, str(REPO))
    dates = as_of_dates(n_dates)
    prep = prepared or None
    import duckdb  # noqa: F401  (imports are not part of the timing)
    import pandas  # noqa: F401
    import polars  # noqa: F401
    import pyarrow  # noqa: F401

    import features.build  # noqa: F401
    t0 = time.time()
    use0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = use0.ru_utime + use0.ru_stime
    if kind == "prepare":
        from features.prepare import prepare_sources

        prepare_sources(folder, prepared)
        rows, cols = 0, 0
    elif kind in ("features", "features_cold"):
        from features.build import build_features, write_features

        if mode == "stream":
            import shutil
            import tempfile

            out = Path(tempfile.mkdtemp(prefix="features_stream_", dir=WORK))
            try:
                paths = write_features(folder, dates, out, engine=engine, prepared_dir=prep)
                import pyarrow.parquet as pq

                rows = sum(pq.read_metadata(p).num_rows for p in paths)
                cols = pq.read_metadata(paths[0]).num_columns
            finally:
                shutil.rmtree(out, ignore_errors=True)
        else:
            df = build_features(folder, dates, engine=engine, prepared_dir=prep)
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
    use = resource.getrusage(resource.RUSAGE_SELF)
    rss = use.ru_maxrss / 1024 / 1024  # KiB → GiB
    # CPU seconds (user + system, every thread) of the measured part: less sensitive to a loaded machine
    cpu = use.ru_utime + use.ru_stime - cpu0
    print(json.dumps({"seconds": secs, "cpu_seconds": cpu, "peak_rss_gb": rss, "rows": rows, "columns": cols}))


def measure(kind: str, folder: Path, n_dates: int, engine: str = "duckdb", mode: str = "frame",
            prepared: Path | None = None) -> dict:
    """One measurement in a fresh subprocess, with the load averages before and after."""
    cmd = [sys.executable, __file__, "_child", kind, str(folder), str(n_dates), engine, mode, str(prepared or "")]
    load_before = os.getloadavg()
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-3000:])
    out = json.loads(res.stdout.strip().splitlines()[-1])
    return {**out, "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()]}


def count_children(folder: Path) -> int:
    import duckdb

    con = duckdb.connect()
    return con.execute(
        f"SELECT COUNT(DISTINCT person_token) FROM read_parquet('{folder / 'id_attributes.parquet'}') "
        f"WHERE birth_month > DATE '2007-06-01'"
    ).fetchall()[0][0]


def _row(kind: str, mode: str, f: int, n_children: int, n: int, m: dict) -> dict:
    rec = {"kind": kind, "mode": mode, "factor": f, "children": n_children, "as_of_dates": n, **m,
           "seconds_per_date": m["seconds"] / n}
    print(f"{kind:13s} {mode:6s} children={n_children:>9,d} dates={n:>2d} seconds={m['seconds']:7.1f} "
          f"({m['seconds'] / n:6.1f}/date, cpu {m.get('cpu_seconds', float('nan')):7.1f}) "
          f"peak_rss={m['peak_rss_gb']:5.2f} GB rows={m['rows']:,} "
          f"load={m['load_before'][0]:.1f}→{m['load_after'][0]:.1f}", flush=True)
    return rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("replicate")
    r.add_argument("--factor", type=int, action="append", required=True)
    for name in ("run", "pandas"):
        p = sub.add_parser(name)
        p.add_argument("--factor", type=int, action="append", default=None)
        p.add_argument("--dates", type=int, action="append", default=None)
        p.add_argument("--engine", default="duckdb", choices=["duckdb", "polars"])
        p.add_argument("--mode", default="auto", choices=["auto", "frame", "stream"],
                       help="auto: frame, except stream for more than one date at 2,000,000 children")
        p.add_argument("--cold", action="store_true", help="also time build_features without a prepared folder")
    c = sub.add_parser("_child")
    for a in ("kind", "folder", "n_dates", "engine", "mode", "prepared"):
        c.add_argument(a, type=int if a == "n_dates" else str)
    args = ap.parse_args()

    if args.cmd == "_child":
        _child_run(args.kind, args.folder, args.n_dates, args.engine, args.mode, args.prepared)
        return
    if args.cmd == "replicate":
        for f in args.factor:
            print(f"replicating ×{f} → {replicate(f)}")
        return

    rows = []
    factors = args.factor or ([1, 10, 100] if args.cmd == "run" else [1])
    dates = args.dates or ([1, 12] if args.cmd == "run" else [1, 3])
    for f in factors:
        folder = SOURCE if f == 1 else replicate(f)
        n_children = count_children(folder)
        prep = WORK / f"prep_x{f}"
        rows.append(_row("prepare", "-", f, n_children, 1, measure("prepare", folder, 1, prepared=prep)))
        for n in dates:
            if args.cmd == "pandas":
                rows.append(_row("pandas", "frame", f, n_children, n, measure("pandas", folder, n)))
                rows.append(_row("features_cold", "frame", f, n_children, n, measure("features_cold", folder, n)))
                rows.append(_row("features", "frame", f, n_children, n, measure("features", folder, n, prepared=prep)))
                continue
            mode = args.mode
            if mode == "auto":
                mode = "stream" if (n > 1 and n_children > 1_000_000) else "frame"
            rows.append(_row("features", mode, f, n_children, n,
                             measure("features", folder, n, args.engine, mode, prepared=prep)))
            if args.cold:
                rows.append(_row("features_cold", mode, f, n_children, n,
                                 measure("features_cold", folder, n, args.engine, mode)))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    out = RESULTS / f"features_{args.cmd}_{stamp}.json"
    out.write_text(json.dumps({
        "command": " ".join(sys.argv), "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                                   "memory_gb": round(os.sysconf("SC_PAGE_SIZE")
                                                                      * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)},
        "note": "cities >1x are token-suffixed replicas of the 20k default pseudonymized city (synthetic scale-up); "
                "the machine is shared with other jobs: see load_before / load_after (1, 5, 15-minute averages)",
        "results": rows}, indent=1, default=str))
    print(f"\n{'kind':13s} {'mode':6s} {'children':>10s} {'dates':>5s} {'seconds':>8s} {'s/date':>7s} {'cpu s':>7s} "
          f"{'peak GB':>8s} {'load':>9s}")
    for r in rows:
        print(f"{r['kind']:13s} {r['mode']:6s} {r['children']:>10,d} {r['as_of_dates']:>5d} {r['seconds']:>8.1f} "
              f"{r['seconds_per_date']:>7.1f} {r.get('cpu_seconds', float('nan')):>7.1f} {r['peak_rss_gb']:>8.2f} "
              f"{r['load_before'][0]:>4.1f}/{r['load_after'][0]:<4.1f}")
    if args.cmd == "pandas":
        for n in dates:
            by = {r["kind"]: r for r in rows if r["as_of_dates"] == n}
            print(f"dates={n}: naive pandas / build_features = {by['pandas']['seconds'] / by['features_cold']['seconds']:.1f}× "
                  f"(cold, prepare included), {by['pandas']['seconds'] / by['features']['seconds']:.1f}× (prepared)")
    print(f"raw JSON: {out}")


if __name__ == "__main__":
    main()
