"""Benchmark: leak scanning of ``out/``, the MLflow store and the Dagster storage after a run. Not a test.

Run ``.venv/bin/python benchmarks/scan_outputs.py [paths…]`` (default: ``out/`` — which holds the
MLflow store ``out/mlflow`` — and ``.dagster/``). The scanner is the one ``humiao scan`` builds: the
validated identifier patterns plus the identity index of the last ingest (every name, ID, phone,
address and other identifier seen in the raw input). Target: ≤ 30 s (issue 3). Findings are printed
masked; skipped (binary) files are listed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", default=[str(ROOT / "out"), str(ROOT / ".dagster")])
    args = ap.parse_args(argv)
    from humiao.config import load_config
    from humiao.runner import build_scanner

    load0 = os.getloadavg()
    cfg = load_config()
    t0 = time.perf_counter()
    scanner = build_scanner(cfg, with_known=True)
    t_build = time.perf_counter() - t0
    sizes = {p: sum(f.stat().st_size for f in Path(p).rglob("*") if f.is_file()) for p in args.paths}
    n_files = sum(1 for p in args.paths for f in Path(p).rglob("*") if f.is_file())
    t1 = time.perf_counter()
    findings = scanner.scan_paths(args.paths)
    t_scan = time.perf_counter() - t1
    print(f"load average before/after: {load0} / {os.getloadavg()}, CPUs: {os.cpu_count()}")
    for p, n in sizes.items():
        print(f"  {p}: {n / 1e6:.1f} MB")
    print(f"files: {n_files}; index build {t_build:.2f} s; scan {t_scan:.2f} s; total {t_build + t_scan:.2f} s "
          "(target ≤ 30 s)")
    print(f"findings: {len(findings)}")
    for f in findings[:20]:
        print(f"  {f.location} [{f.column}] row {f.row}: {f.entity_type} {f.masked}")
    print(f"skipped: {len(scanner.skipped)}")
    for s in scanner.skipped[:20]:
        print(f"  {s}")


if __name__ == "__main__":
    main()
