"""Benchmark: writing one cycle's visit lists with one process and with several (issue 8: a
2,000,000-child city has 8,000 communities, one workbook each, and openpyxl is pure Python). Not a test.

Runs what the ``visit_lists`` asset runs (:func:`humiao.stages.write_lists`) on a city that
``benchmarks/city_scale.py`` (or ``humiao run``) already materialized: its stored ``risk_scores`` and
cycle plan, its pseudonymized tables (for the event alerts). The lists go to a temporary folder, not to
the city's ``out/``:

    .venv/bin/python benchmarks/visit_lists_workers.py --root benchmarks/_work/city_2000000 --workers 1 2

Then, for the lists written by the last run, the time of the leak scan of the folder
(:meth:`privacy.scanner.LeakScanner.scan_path`, the scanner without the identity index: the reading of
the workbooks is what is measured). Checks that every run wrote the same bytes. Raw output:
``benchmarks/results/visit_lists_workers_<stamp>.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.xlsx")):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, required=True, help="a materialized city (its humiao.yaml)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args(argv)

    import pandas as pd

    from humiao.config import load_config
    from humiao.plan import plan_from_dict
    from humiao.stages import write_lists
    from privacy.scanner import LeakScanner

    root = args.root.resolve()
    cfg = load_config(root / "humiao.yaml")
    assets = cfg.path("work_dir") / "assets"
    scores = pd.read_parquet(assets / "risk_scores.parquet")
    plan = plan_from_dict(json.loads((assets / "cycle_plan.json").read_text(encoding="utf-8")))
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for w in args.workers:
            out = Path(tmp) / f"w{w}"
            cfg.paths.out_dir = str(out)
            t0 = time.perf_counter()
            res = write_lists(cfg, scores, plan, workers=w)
            sec = time.perf_counter() - t0
            lists = out / "visit_lists"
            runs.append({"workers": w, "seconds": round(sec, 1), "workbooks": len(res["workbooks"]),
                         "township_summaries": len(res["township_summaries"]), "digest": _digest(lists)})
            print(f"workers {w}: {sec:.1f} s, {len(res['workbooks']):,} workbooks", flush=True)
        t0 = time.perf_counter()
        scanner = LeakScanner()
        findings = scanner.scan_path(lists)
        scan = {"seconds": round(time.perf_counter() - t0, 1), "findings": len(findings),
                "skipped": len(scanner.skipped)}
        print(f"scan of the lists: {scan['seconds']} s, {len(findings)} findings", flush=True)
    same = len({r["digest"] for r in runs}) == 1
    print(f"same bytes in every run: {same}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    dest = REPO / "benchmarks" / "results" / f"visit_lists_workers_{stamp}.json"
    dest.write_text(json.dumps({"root": str(root), "scored_rows": len(scores), "cpus": os.cpu_count(),
                                "load_before_after": os.getloadavg(), "runs": runs, "same_bytes": same,
                                "scan": scan}, indent=1), encoding="utf-8")
    print(f"raw JSON: {dest}")


if __name__ == "__main__":
    main()
