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
    print(
        f"simulated {m['children']} children ({'reused' if m.get('reused') else 'new'}) in {timings['simulate_s']:.0f} s",
        flush=True,
    )
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


def run_models(root: Path, n_boot: int, targets=("guardianship_risk", "left_behind_risk")) -> dict:
    """Both targets' cycles on the prepared city (no MLflow), with true outcomes and the oracle."""
    import gc

    import pandas as pd

    from features.dictionary import feature_dictionary
    from features.labels import true_outcomes
    from humiao.config import load_config
    from humiao.plan import plan_from_dict
    from humiao.stages import capacity_for, pseudonymizer_from_config, training_matrix
    from models.cycle import run_target_cycle
    from models.oracle import true_risk_score
    from models.train import splits_from_timechop
    from privacy.truth import load_truth

    cfg = load_config(root / "humiao.yaml")
    plan = plan_from_dict(json.loads((root / "cycle_plan.json").read_text(encoding="utf-8")))
    dates = list(plan.training_as_of_dates)
    out = {"children": None, "timings": {}, "evaluations": {}}
    for target in targets:
        # per target, the inputs are read, joined and reduced to what the cycle needs, then dropped, so
        # that only the target's matrix is in memory while it trains (≈ 6 GB at 200,000 children)
        t = time.perf_counter()
        labelled = pd.read_parquet(root / "features.parquet", filters=[("as_of_date", "in", dates)])
        labelled["as_of_date"] = pd.to_datetime(labelled["as_of_date"]).dt.date
        labels = pd.read_parquet(root / "labels.parquet")
        labels["as_of_date"] = pd.to_datetime(labels["as_of_date"]).dt.date
        m = training_matrix(labelled, labels, target)
        capacity = capacity_for(cfg, labelled, target)
        del labelled, labels
        gc.collect()
        truth = load_truth(cfg.path("truth_dir"), pseudonymizer_from_config(cfg))
        y_true = true_outcomes(truth, m, target, cfg.time.label_timespan_days)
        oracle = true_risk_score(truth, m, target)
        n_truth = len(truth)
        del truth
        gc.collect()
        print(f"{target}: inputs in {time.perf_counter() - t:.0f} s ({len(m)} rows; truth {n_truth} child-months)", flush=True)
        t = time.perf_counter()
        c0 = time.process_time()
        res = run_target_cycle(
            m, target, feature_dictionary(), capacity, splits_from_timechop(plan.splits),
            label_timespan_days=cfg.time.label_timespan_days, grid=cfg.models.grid, seed=cfg.models.seed,
            truth=y_true, oracle_score=oracle, simulation=True, track=False, n_boot=n_boot,
        )  # fmt: skip
        out["timings"][target] = {
            "wall_s": time.perf_counter() - t,
            "cpu_s": time.process_time() - c0,
            "matrix_rows": len(m),
        }
        ev = dict(res.evaluation)
        ev.pop("features", None)
        out["evaluations"][target] = ev
        out["timings"][target]["peak_rss_gb_so_far"] = _peak_rss_gb()
        del m, res, y_true, oracle, capacity
        gc.collect()
        summarize(target, ev, out["timings"][target])
    return out


def _peak_rss_gb() -> float:
    """Peak resident set size of this process so far (Linux ``ru_maxrss`` is in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _ci(v) -> str:
    ci = v.get("ci95") or [float("nan")] * 2
    return f"{v['value']:.4f} [{ci[0]:.4f}, {ci[1]:.4f}]"


def summarize(target: str, ev: dict, timing: dict) -> None:
    print(
        f"\n=== {target}: {timing['matrix_rows']} rows, cycle {timing['wall_s']:.0f} s wall / {timing['cpu_s']:.0f} s CPU"
    )
    for s in ev["splits"]:
        print(
            f"  split test {s['test_as_of_date']}: n_test {s['n_test']}, prevalence {s['prevalence_test']:.4f}"
        )
        for name, b in {"model": s["metrics"], **s["baselines"]}.items():
            beat = s["beats_baselines"].get(name)
            tag = (
                ""
                if beat is None
                else ("  beaten" + (" (significant)" if beat["significant"] else ""))
                if beat["better_point_estimate"]
                else "  NOT beaten"
            )
            print(
                f"    {name:17s} precision@capacity_abs {_ci(b['precision@capacity_abs'])}  auc {b['roc_auc']['value']:.3f}{tag}"
            )
    cal = ev["calibration"]
    print(
        f"  ECE {cal['ece']:.4f} {cal['ece_ci95']} ({cal['method']}; target ≤ {cal['ece_target']}: {cal['ece_meets_target']})"
    )
    o = ev.get("oracle") or {}
    if o:
        print(f"  oracle ({o['definition']})")
        print(
            f"    observed labels: oracle p@K {_ci(o['metrics']['precision@capacity_abs'])} vs model {_ci(ev['metrics']['model']['precision@capacity_abs'])}"
        )
        if o.get("truth_metrics"):
            print(
                f"    true outcomes:   oracle p@K {_ci(o['truth_metrics']['precision@capacity_abs'])} vs model {_ci(ev['truth_metrics']['model']['precision@capacity_abs'])}"
            )
            print(
                "    truly at-risk children found: "
                + ", ".join(
                    f"{k} {v['found']}/{v['n_true_at_risk']} ({v['share']:.3f})"
                    for k, v in o["true_at_risk_found"].items()
                )
            )
        print(f"    gap to oracle: {o['gap_to_oracle']}")
    if ev.get("label_gap"):
        print(
            "  truth − observed (model): "
            + ", ".join(f"{m} {v['truth_minus_observed']:+.3f}" for m, v in ev["label_gap"]["model"].items())
        )
    fl = [
        (
            r["attribute"],
            r["group"],
            round(r["tpr_disparity"], 2),
            [round(x, 2) for x in r["tpr_disparity_ci95"]],
        )
        for r in ev["fairness"]
        if r["flag"]
    ]
    ft = [
        (
            r["attribute"],
            r["group"],
            round(r["tpr_disparity"], 2),
            [round(x, 2) for x in r["tpr_disparity_ci95"]],
        )
        for r in (ev.get("fairness_truth") or [])
        if r["flag"]
    ]
    print(f"  fairness flags (observed): {fl}\n  fairness flags (truth): {ft}", flush=True)


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
        res = run_models(args.root, args.n_boot)
        manifest = json.loads((args.root / "raw" / "manifest.json").read_text(encoding="utf-8"))
        res["children"] = manifest.get("children")
        res["seed"] = manifest.get("seed")
        p = args.root / "prepare_timings.json"
        res["prepare_timings"] = json.loads(p.read_text()) if p.exists() else None
        res["subsampled"] = (
            f"nothing: every child of both cohorts at every as-of date; bootstrap B={args.n_boot}"
        )
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        n = res["children"]
        size = f"{n // 1000}k" if n and n % 1000 == 0 else str(n)
        dest = REPO / "benchmarks" / "results" / f"models_{size}_{stamp}.json"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(json.dumps(res, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        print(f"\nraw output: {dest}")
