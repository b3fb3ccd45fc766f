"""Benchmark: time and peak memory of the label-coverage query (issue 8: it set the models stage's peak
at 200,000 children) under a DuckDB memory limit. Not a test.

    .venv/bin/python benchmarks/label_coverage_memory.py --root benchmarks/_work/city_200000 none 1GB 2GB
    .venv/bin/python benchmarks/label_coverage_memory.py --root benchmarks/_work/city_2000000 --routes

``--routes``: both targets of the plan's training dates, the children built again for each date
(``humiao.stages.coverage_by_target``, the models asset before session 10) against the stored features and
labels partitions (``stored_coverage_by_target``, the models asset now), at the default limit, each in a
fresh process; the counts are compared (a missing place or hukou type is （未定位）/未知 in the stored route).

Each limit runs in a fresh process (its resident set size, sampled every 0.1 s by
``models_memory.RssSampler``);
results go to ``benchmarks/results/label_coverage_memory_<stamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _one(root: Path, limit: str | None, target: str) -> dict:
    sys.path.insert(0, str(REPO))
    os.environ["HUMIAO_CONFIG"] = str(root / "humiao.yaml")
    import features.labels as fl
    from humiao.config import load_config
    from humiao.plan import plan_from_dict
    from humiao.stages import coverage_for
    from pipelines.io_manager import read_output

    cfg = load_config()
    plan = plan_from_dict(read_output(cfg.path("work_dir") / "assets" / "cycle_plan.json"))

    sys.path.insert(0, str(REPO / "benchmarks"))
    from models_memory import RssSampler

    orig = fl.label_coverage
    fl.label_coverage = lambda *a, **k: orig(*a, **{**k, "memory_limit": limit})
    with RssSampler(interval=0.1) as rss, rss.phase(f"label_coverage {target}, memory_limit {limit}"):
        cov = coverage_for(cfg, plan, target)
    ph = rss.phases[-1]
    return {"memory_limit": limit, "target": target, "seconds": ph["seconds"], "rss_start_gb": ph["rss_start_gb"],
            "rss_peak_gb": ph["rss_peak_gb"], "rows": len(cov), "load_average": os.getloadavg(),
            "training_as_of_dates": len(plan.training_as_of_dates)}


def _route(root: Path, route: str) -> dict:
    sys.path.insert(0, str(REPO))
    os.environ["HUMIAO_CONFIG"] = str(root / "humiao.yaml")
    from humiao.config import load_config
    from humiao.plan import plan_from_dict
    from humiao.stages import TARGETS, coverage_by_target, stored_coverage_by_target
    from pipelines.io_manager import read_output

    cfg = load_config()
    assets = cfg.path("work_dir") / "assets"
    plan = plan_from_dict(read_output(assets / "cycle_plan.json"))
    sys.path.insert(0, str(REPO / "benchmarks"))
    from models_memory import RssSampler

    with RssSampler(interval=0.1) as rss, rss.phase(f"label coverage, {route}"):
        cov = (coverage_by_target(cfg, plan, TARGETS) if route == "rebuilt"
               else stored_coverage_by_target(cfg, plan, assets, TARGETS))
    ph = rss.phases[-1]
    # the counts, keyed without the group values a missing place/hukou type takes in either route
    counts = {t: sorted((str(r.as_of_date), r.group, int(r.cohort_children), int(r.visited_children))
                        for r in f.itertuples()) for t, f in cov.items()}
    return {"route": route, "seconds": ph["seconds"], "rss_start_gb": ph["rss_start_gb"],
            "rss_peak_gb": ph["rss_peak_gb"], "rows": {t: len(f) for t, f in cov.items()},
            "load_average": os.getloadavg(), "training_as_of_dates": len(plan.training_as_of_dates),
            "counts": counts}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, required=True, help="a materialized city (humiao.yaml, work/)")
    ap.add_argument("--target", default="guardianship_risk")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--routes", action="store_true", help="rebuilt children vs stored partitions, both targets")
    ap.add_argument("--route", default=None, help=argparse.SUPPRESS)
    ap.add_argument("limits", nargs="*", default=["none", "2GB"], help="DuckDB memory limits ('none': unlimited)")
    args = ap.parse_args()
    if args.one is not None:
        print(json.dumps(_one(args.root.resolve(), None if args.one == "none" else args.one, args.target)))
        return
    if args.route is not None:
        print(json.dumps(_route(args.root.resolve(), args.route)))
        return
    out = []
    if args.routes:
        for route in ("rebuilt", "stored"):
            p = subprocess.run([sys.executable, __file__, "--root", str(args.root), "--route", route],
                               capture_output=True, text=True, check=True)
            out.append(json.loads(p.stdout.strip().splitlines()[-1]))
            print({k: v for k, v in out[-1].items() if k != "counts"}, flush=True)
        same = out[0].pop("counts") == out[1].pop("counts")
        print(f"same counts per date, group and target: {same}")
        out.append({"same_counts": same})
        args.limits = []
    for limit in args.limits:
        p = subprocess.run([sys.executable, __file__, "--root", str(args.root), "--target", args.target,
                            "--one", limit], capture_output=True, text=True, check=True)
        out.append(json.loads(p.stdout.strip().splitlines()[-1]))
        print(out[-1], flush=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = REPO / "benchmarks" / "results" / f"label_coverage_{'routes' if args.routes else 'memory'}_{stamp}.json"
    path.write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(f"→ {path}")


if __name__ == "__main__":
    main()
