"""Benchmark: peak memory of the models stage, phase by phase (issue 8: memory is the binding limit).

Runs what the ``models`` asset runs (pipelines/assets/models.py), without Dagster and without MLflow,
on a city that `benchmarks/city_scale.py` (or `humiao run`) already materialized:

    .venv/bin/python benchmarks/models_memory.py --root benchmarks/_work/city_200000
    .venv/bin/python benchmarks/models_memory.py --root benchmarks/_work/city_200000 \
        --training-frequency-months 3 --negative-sample-rate 0.1          # quarterly, read-time sampling
    ... --negative-sample-rate 0.1 --fit-time-sampling                    # the same, sampled after reading

Phases, as the asset runs them: the label coverage of every target, then per target: reading the
plan's feature and label partitions (:func:`humiao.stages.read_training_inputs`: the features as one
float32 array; with a rate below 1 the negatives of the fit-only dates are dropped as the partitions
are read, unless ``--fit-time-sampling``), then what ``run_target_cycle(track=False)`` runs, timed
apart: ``train_target`` (train, select, calibrate, refit) and, with the feature array released,
``evaluate_target`` (baselines, bootstrap, fairness). ``--training-frequency-months`` re-plans the
cycle (:func:`humiao.plan.plan_cycle`) with that spacing of training dates instead of the stored
plan. The resident set size of this process (LightGBM's threads included) is sampled every 0.2 s;
for each phase the RSS at its start and its peak are printed, and the raw figures (with the settings
and the matrix rows) go to ``benchmarks/results/models_memory_<stamp>.json``; ``--profile`` adds
cProfile's top functions of training and evaluation (``models_profile_<stamp>.txt``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _rss() -> int:
    """Resident set size of this process in bytes (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class RssSampler:
    """Peak RSS (bytes) of this process per named phase, sampled on a background thread."""

    def __init__(self, interval: float = 0.2):
        self._interval = interval
        self._peak = 0
        self._lock = threading.Lock()  # a phase's reset is not overwritten by the previous phase's peak
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.phases: list[dict] = []

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                self._peak = max(self._peak, _rss())
            time.sleep(self._interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @contextmanager
    def phase(self, name: str):
        with self._lock:
            start = _rss()
            self._peak = start
        t0 = time.perf_counter()
        yield
        end = _rss()
        self.phases.append({"phase": name, "seconds": round(time.perf_counter() - t0, 1),
                            "rss_start_gb": round(start / 1e9, 2), "rss_peak_gb": round(max(self._peak, end) / 1e9, 2),
                            "rss_end_gb": round(end / 1e9, 2)})
        print(f"{name:<40} {self.phases[-1]['seconds']:>7.1f} s  start {start / 1e9:5.2f} GB  "
              f"peak {max(self._peak, end) / 1e9:5.2f} GB  end {end / 1e9:5.2f} GB", flush=True)


@contextmanager
def profiled(on: bool, name: str, out: list[str], top: int = 30):
    """cProfile the block when ``on``; append its top ``top`` functions by cumulative time to ``out``."""
    if not on:
        yield
        return
    import cProfile
    import io
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    try:
        yield
    finally:
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(top)
        out.append(f"## {name}\n{buf.getvalue()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, required=True, help="a city folder with humiao.yaml and work/assets")
    ap.add_argument("--targets", nargs="*", default=["guardianship_risk", "left_behind_risk"])
    ap.add_argument("--negative-sample-rate", type=float, default=None,
                    help="models.negative_sample_rate (default: the city's configuration)")
    ap.add_argument("--training-frequency-months", type=int, default=None,
                    help="re-plan with time.training_as_of_date_frequency_months (default: the stored plan)")
    ap.add_argument("--fit-time-sampling", action="store_true",
                    help="read every row and sample the negatives at fit time only (the path before issue 8)")
    ap.add_argument("--profile", action="store_true",
                    help="profile train_target and evaluate_target with cProfile; the top functions by cumulative "
                         "time go to benchmarks/results/models_profile_<stamp>.txt")
    args = ap.parse_args()

    import gc

    import pyarrow.parquet as pq

    from features.dictionary import feature_dictionary
    from humiao.config import load_config
    from humiao.plan import plan_cycle, plan_from_dict
    from humiao.stages import capacity_for, model_splits, read_training_inputs, stored_coverage_by_target
    from models.evaluate import evaluate_target
    from models.train import fit_only_as_of_dates, train_target
    from pipelines.io_manager import read_output

    cfg = load_config(args.root / "humiao.yaml")
    if args.negative_sample_rate is not None:
        cfg.models.negative_sample_rate = args.negative_sample_rate
    assets = cfg.path("work_dir") / "assets"
    if args.training_frequency_months is None:
        plan = plan_from_dict(read_output(assets / "cycle_plan.json"))
    else:
        cfg.time.training_as_of_date_frequency_months = args.training_frequency_months
        plan = plan_cycle(cfg, cfg.pseudonymized_dir)
    keys = [d.isoformat() for d in plan.training_as_of_dates]
    splits = model_splits(plan)
    fit_only = [] if args.fit_time_sampling else fit_only_as_of_dates(splits)
    rate = cfg.models.negative_sample_rate
    print(f"{len(keys)} training dates {keys[0]}..{keys[-1]}, fit-only {[d.isoformat() for d in fit_only]}, "
          f"negative_sample_rate {rate}, {'fit' if args.fit_time_sampling or rate == 1 else 'read'}-time sampling",
          flush=True)
    dictionary = feature_dictionary()
    rows: dict[str, dict] = {}
    profiles: list[str] = []
    with RssSampler() as rss:
        with rss.phase("label_coverage (every target)"):  # before any matrix, as the models asset does
            coverages = stored_coverage_by_target(cfg, plan, assets, args.targets)
        for target in args.targets:
            coverage = coverages[target]
            with rss.phase(f"{target}: read + training_matrix"):
                read = read_training_inputs(
                    assets / "features", assets / "labels", keys, target, fit_only_as_of_dates=fit_only,
                    negative_sample_rate=rate, seed=cfg.models.seed, feature_names=dictionary["name"],
                    one_feature=cfg.models.one_feature.get(target))  # fmt: skip
                capacity = capacity_for(cfg, read.capacity_input, target)
                matrix, evaluation_rows, X, names = read.matrix, read.evaluation_rows, read.X, read.feature_names
                rows[target] = {"matrix_rows": len(matrix), "rows_before_sampling": read.rows_before_sampling,
                                "matrix_memory_gb": round(matrix.memory_usage(deep=True).sum() / 1e9, 2),
                                "feature_array_gb": None if X is None else round(X.nbytes / 1e9, 2),
                                "evaluation_rows_memory_gb": None if evaluation_rows is None else
                                round(evaluation_rows.memory_usage(deep=True).sum() / 1e9, 2), "note": read.note}
                del read
                gc.collect()
            print(f"    {rows[target]}", flush=True)
            # run_target_cycle(track=False) is train_target then evaluate_target: timed apart
            with rss.phase(f"{target}: train_target"), profiled(args.profile, f"{target}: train_target", profiles):
                result = train_target(matrix, target, dictionary, splits, capacity, grid=cfg.models.grid,
                                      seed=cfg.models.seed, negative_sample_rate=rate, X=X, feature_names=names)
            del X  # as run_target_cycle releases the features before the evaluation
            gc.collect()
            with rss.phase(f"{target}: evaluate_target"), profiled(args.profile, f"{target}: evaluate_target", profiles):
                ev = evaluate_target(
                    result, matrix if evaluation_rows is None else evaluation_rows, dictionary, capacity,
                    label_timespan_days=cfg.time.label_timespan_days, one_feature=cfg.models.one_feature.get(target),
                    label_coverage=coverage, simulation=False, n_boot=cfg.models.bootstrap_samples,
                    seed=cfg.models.seed)  # fmt: skip
            m = ev["metrics"]["model"]
            rows[target].update({"precision@capacity_abs": m["precision@capacity_abs"]["value"],
                                 "roc_auc": m["roc_auc"]["value"], "ece": m["ece"]["value"],
                                 "refit_n_train": ev["refit"]["n_train"], "n_train": ev["n_train"]})  # fmt: skip
            del matrix, evaluation_rows, capacity, result, ev, coverage
            gc.collect()
    first = pq.ParquetFile(assets / "features" / f"{keys[0]}.parquet")
    out = {"root": str(args.root), "training_as_of_dates": keys, "fit_only_as_of_dates": [d.isoformat() for d in fit_only],
           "negative_sample_rate": rate, "sampling": "fit" if args.fit_time_sampling or rate == 1 else "read",
           "rows_features_first_date": first.metadata.num_rows, "columns_features": first.metadata.num_columns,
           "targets": rows, "peak_gb": max(p["rss_peak_gb"] for p in rss.phases), "phases": rss.phases}  # fmt: skip
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = REPO / "benchmarks" / "results" / f"models_memory_{stamp}.json"
    path.write_text(json.dumps(out, indent=1), encoding="utf-8")
    if profiles:
        (REPO / "benchmarks" / "results" / f"models_profile_{stamp}.txt").write_text("\n".join(profiles), encoding="utf-8")
    print(f"peak {out['peak_gb']} GB → {path}")


if __name__ == "__main__":
    main()
