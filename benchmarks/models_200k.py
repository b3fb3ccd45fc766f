"""Benchmark: the models stage on a 200,000-child simulated city (issue 5 "Done when").

Two phases, so the slow data preparation runs once and the model code can be re-run on its output:

    .venv/bin/python benchmarks/models_200k.py prepare   # simulate (≈140 s, 5 GB), ingest, features, labels
    .venv/bin/python benchmarks/models_200k.py models    # both targets: LightGBM vs every baseline, ECE, oracle
    .venv/bin/python benchmarks/models_200k.py all

Everything is written under ``--root`` (default ``/tmp/humiao_bench200k``: raw exports, truth, work,
features/labels Parquet) except the results: ``benchmarks/results/models_200k_<stamp>.json`` (the raw
evaluation documents without the per-feature lists) and a printed summary table per split.

Nothing is subsampled by default: every child of both cohorts at every configured as-of date is
trained on and evaluated; the bootstrap uses ``--n-boot`` replicates (default 200) over children.
``--children`` changes the city size (e.g. 20000 for a quick check). The truth is read only through
``privacy.truth.load_truth`` (tokenized on read), as in the pipeline.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def write_config(root: Path, children: int, seed: int) -> Path:
    import yaml

    cfg = {
        "paths": {
            "raw_dir": str(root / "raw"), "truth_dir": str(root / "truth"), "work_dir": str(root / "work"),
            "quarantine_dir": str(root / "quarantine"), "out_dir": str(root / "out"),
            "secrets_dir": str(root / "secrets"), "dagster_home": str(root / "dagster"),
            "contracts_dir": str(REPO / "contracts"),
        },
        "simulation": {"children": children, "months": 36, "seed": seed},
    }  # fmt: skip
    root.mkdir(parents=True, exist_ok=True)
    path = root / "humiao.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def prepare(root: Path, children: int, seed: int) -> dict:
    from humiao.config import load_config
    from humiao.plan import plan_cycle
    from humiao.runner import simulate_city
    from humiao.stages import build_feature_frames, run_ingest

    cfg = load_config(write_config(root, children, seed))
    timings = {}
    t = time.perf_counter()
    m = simulate_city(cfg)
    timings["simulate_s"] = time.perf_counter() - t
    print(f"simulated {m['children']} children ({'reused' if m.get('reused') else 'new'}) in {timings['simulate_s']:.0f} s", flush=True)
    t = time.perf_counter()
    run_ingest(cfg)
    timings["ingest_s"] = time.perf_counter() - t
    print(f"ingest {timings['ingest_s']:.0f} s", flush=True)
    t = time.perf_counter()
    plan = plan_cycle(cfg, cfg.pseudonymized_dir)
    feats, labels = build_feature_frames(cfg, plan)
    timings["features_labels_s"] = time.perf_counter() - t
    print(f"features+labels {timings['features_labels_s']:.0f} s: {feats.shape}, {labels.shape}", flush=True)
    feats.to_parquet(root / "features.parquet", index=False)
    labels.to_parquet(root / "labels.parquet", index=False)
    (root / "cycle_plan.json").write_text(json.dumps(plan.as_dict(), default=str), encoding="utf-8")
    (root / "prepare_timings.json").write_text(json.dumps(timings), encoding="utf-8")
    return timings


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("phase", choices=["prepare", "models", "all"])
    ap.add_argument("--root", type=Path, default=Path("/tmp/humiao_bench200k"))
    ap.add_argument("--children", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--n-boot", type=int, default=200)
    args = ap.parse_args()
    if args.phase in ("prepare", "all"):
        prepare(args.root, args.children, args.seed)
    if args.phase in ("models", "all"):
        from benchmarks_models import run_models  # noqa: F401  (filled in below)
