"""Benchmark: seconds of one bootstrap evaluation call at a city's test-date size (issue 8). Not a test.

The models step evaluates every scored list (model, four baselines, oracle; observed and true outcomes)
with :func:`models.metrics.evaluate_scores`: 200 bootstrap replicates over every test row. A
2,000,000-child city's test date has about 1.7 M rows in 8,002 communities; 17 such calls per target
made up most of the models step. This times the calls on synthetic rows of that shape — positives at
2 %, a model-like score, calibrated probabilities with few distinct values, capacity 10 per community —
with the bootstrap draws shared between calls as the evaluation shares them
(:class:`models.metrics.BootstrapWeights`): the first call draws them, the next ones reuse them.

    .venv/bin/python benchmarks/evaluate_scores.py --rows 1700000 --communities 8002 --calls 3

To compare two versions of the code, run it from each checkout (``PYTHONPATH=<checkout>``); the file
records which ``models`` package it ran. Raw output: ``benchmarks/results/evaluate_scores_<stamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_700_000)
    ap.add_argument("--communities", type=int, default=8_002)
    ap.add_argument("--calls", type=int, default=3, help="calls on the same rows (the first draws the weights)")
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--label", default="", help="a word for the result file name")
    args = ap.parse_args(argv)

    import models
    from models import metrics as M

    rng = np.random.default_rng(0)
    n = args.rows
    comm = pd.Series(rng.integers(0, args.communities, n)).astype(str).to_numpy()
    cap = pd.Series(10, index=np.unique(comm))
    y = (rng.random(n) < 0.02).astype(float)
    raw = rng.random(n) + 0.5 * y
    proba = np.clip(raw / 1.5, 0, 1).round(3)  # an isotonic map's few distinct values
    child = pd.Series(np.arange(n))
    weights = M.BootstrapWeights(child, n, args.n_boot, 0)
    seconds, load0 = [], os.getloadavg()
    for _ in range(args.calls):
        t = time.perf_counter()
        out = M.evaluate_scores(y, proba, comm, cap, rank_score=raw, child_ids=child, n_boot=args.n_boot,
                                weights=weights)
        seconds.append(round(time.perf_counter() - t, 2))
    print(f"evaluate_scores: {n:,} rows, {args.communities:,} communities, {args.n_boot} replicates")
    print(f"{'call':>5}{'seconds':>10}")
    for i, s in enumerate(seconds):
        print(f"{i:>5}{s:>10.2f}{'   (draws the weights)' if i == 0 else ''}")
    print(f"load {load0[0]:.1f} → {os.getloadavg()[0]:.1f}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    res = REPO / "benchmarks" / "results" / f"evaluate_scores_{args.label + '_' if args.label else ''}{stamp}.json"
    res.write_text(json.dumps({
        "command": "benchmarks/evaluate_scores.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "models_package": models.__file__, "rows": n, "communities": args.communities, "n_boot": args.n_boot,
        "seconds": seconds, "load_before": load0, "load_after": os.getloadavg(),
        "metrics": {k: {"value": v["value"], "ci95": v["ci95"]} for k, v in out.items()},
    }, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"raw JSON: {res}")


if __name__ == "__main__":
    main()
