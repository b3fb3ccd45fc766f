"""Benchmark: peak memory of the models stage, phase by phase (issue 8: memory is the binding limit).

Runs what the ``models`` asset runs (pipelines/assets/models.py), without Dagster and without MLflow,
on a city that `benchmarks/city_scale.py` (or `humiao run`) already materialized:

    .venv/bin/python benchmarks/models_memory.py --root benchmarks/_work/city_200000

Phases: reading the plan's feature and label partitions (what the IO manager hands the asset),
``training_matrix`` per target, and ``run_target_cycle`` per target (train, select, calibrate,
evaluate with the bootstrap). The resident set size of this process (LightGBM's threads included) is
sampled every 0.2 s; for each phase the RSS at its start and its peak are printed, and the raw figures
go to ``benchmarks/results/models_memory_<stamp>.json``.
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
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.phases: list[dict] = []

    def _run(self) -> None:
        while not self._stop.is_set():
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, required=True, help="a city folder with humiao.yaml and work/assets")
    ap.add_argument("--targets", nargs="*", default=["guardianship_risk", "left_behind_risk"])
    args = ap.parse_args()

    import pandas as pd

    from features.dictionary import feature_dictionary
    from humiao.config import load_config
    from humiao.plan import plan_from_dict
    from humiao.stages import capacity_for, coverage_for, model_splits, training_matrix
    from models.cycle import run_target_cycle
    from pipelines.io_manager import read_output, read_partitions
    from pipelines.partitions import plan_partition_keys

    cfg = load_config(args.root / "humiao.yaml")
    assets = cfg.path("work_dir") / "assets"
    plan_doc = read_output(assets / "cycle_plan.json")
    plan = plan_from_dict(plan_doc)
    dictionary = feature_dictionary()
    with RssSampler() as rss:
        with rss.phase("read feature partitions"):
            features = read_partitions(assets / "features", plan_partition_keys("features", plan_doc), "features")
        with rss.phase("read label partitions"):
            labels = read_partitions(assets / "labels", plan_partition_keys("labels", plan_doc), "labels")
        training_rows = pd.to_datetime(features["as_of_date"]).isin(pd.to_datetime(list(plan.training_as_of_dates)))
        capacity_input = features.loc[training_rows.to_numpy(), ["as_of_date", "community", "registry_category"]]
        for target in args.targets:
            with rss.phase(f"{target}: training_matrix"):
                matrix = training_matrix(features, labels, target, as_of_dates=plan.training_as_of_dates)
            with rss.phase(f"{target}: run_target_cycle"):
                run_target_cycle(
                    matrix, target, dictionary, capacity_for(cfg, capacity_input, target),
                    model_splits(plan), label_timespan_days=cfg.time.label_timespan_days, grid=cfg.models.grid,
                    seed=cfg.models.seed, simulation=False, track=False, n_boot=cfg.models.bootstrap_samples,
                    one_feature=cfg.models.one_feature.get(target), label_coverage=coverage_for(cfg, plan, target),
                    negative_sample_rate=cfg.models.negative_sample_rate)
            del matrix
    out = {"root": str(args.root), "rows_features": len(features), "columns_features": len(features.columns),
           "features_memory_gb": round(features.memory_usage(deep=True).sum() / 1e9, 2), "phases": rss.phases}
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = REPO / "benchmarks" / "results" / f"models_memory_{stamp}.json"
    path.write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(f"features: {out['rows_features']:,} rows × {out['columns_features']} columns, "
          f"{out['features_memory_gb']} GB in pandas → {path}")


if __name__ == "__main__":
    main()
