"""Benchmark: time and peak memory of the simulation-only evaluation inputs (issue 8). Not a test.

In a simulated city the models step also loads the simulator's ground truth and computes, for every
evaluated row, its true outcome (``features.labels.true_outcomes``) and the oracle's score
(``models.oracle.true_risk_score``). At 2,000,000 children the truth has 58.7 M child-month rows and
the models step reached 18.5 GB while these ran. This runs them alone, as the models asset does, on
a city's materialized labels (the training as-of dates of its cycle plan; each target's cohort rows):

    .venv/bin/python benchmarks/truth_inputs.py --root benchmarks/_work/city_2000000

Peak memory is the proportional set size of this process, sampled every 0.5 s; results go to
``benchmarks/results/truth_inputs_<stamp>.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from city_scale import tree_rss  # noqa: E402


class Peak:
    """The largest PSS of this process while the block runs, in GB."""

    def __enter__(self):
        self.peak, self._stop = tree_rss(os.getpid()), threading.Event()

        def loop():
            while not self._stop.wait(0.5):
                self.peak = max(self.peak, tree_rss(os.getpid()))

        self._t = threading.Thread(target=loop, daemon=True)
        self._t.start()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, tree_rss(os.getpid())) / 2**30


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, required=True, help="a city folder with humiao.yaml and a finished run")
    ap.add_argument("--label", default="", help="a word for the result file name")
    args = ap.parse_args()

    import pandas as pd

    from humiao.config import load_config
    from humiao.plan import plan_from_dict
    from humiao.stages import TARGETS, load_truth_for, simulation_evaluation_inputs
    from pipelines.io_manager import read_output

    root = args.root.resolve()
    os.environ["HUMIAO_CONFIG"] = str(root / "humiao.yaml")
    cfg = load_config(root / "humiao.yaml")
    assets = cfg.path("work_dir") / "assets"
    plan = plan_from_dict(read_output(assets / "cycle_plan.json"))
    keys = [d.isoformat() for d in plan.training_as_of_dates]
    labels = pd.concat([pd.read_parquet(assets / "labels" / f"{k}.parquet",
                                        columns=["child_token", "as_of_date", *TARGETS]) for k in keys],
                       ignore_index=True)
    out: dict = {"root": str(root), "as_of_dates": keys, "label": args.label, "code": str(REPO),
                 "load_before": os.getloadavg()}
    with Peak() as p:
        truth = load_truth_for(cfg)
    out["load_truth"] = {"seconds": round(p.seconds, 1), "peak_gb": round(p.peak, 2), "rows": len(truth)}
    print(f"load_truth: {len(truth):,} rows, {p.seconds:.1f} s, peak {p.peak:.2f} GB", flush=True)
    for target in TARGETS:
        rows = labels.loc[labels[target].notna(), ["child_token", "as_of_date"]].reset_index(drop=True)
        with Peak() as p:
            got = simulation_evaluation_inputs(cfg, truth, rows, target)
        out[target] = {"rows": len(rows), "seconds": round(p.seconds, 1), "peak_gb": round(p.peak, 2),
                       "true_positive_share": round(float(got["truth"].mean()), 6),
                       "oracle_score_mean": round(float(got["oracle_score"].mean()), 6)}
        print(f"{target}: {len(rows):,} rows, {p.seconds:.1f} s, peak {p.peak:.2f} GB, "
              f"truth share {out[target]['true_positive_share']}, oracle mean {out[target]['oracle_score_mean']}",
              flush=True)
        del got, rows
        gc.collect()
    out["load_after"] = os.getloadavg()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = REPO / "benchmarks" / "results" / f"truth_inputs_{args.label + '_' if args.label else ''}{stamp}.json"
    path.write_text(json.dumps(out, indent=1, default=str), encoding="utf-8")
    print(f"→ {path}")


if __name__ == "__main__":
    main()
