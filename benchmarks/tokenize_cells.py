"""Benchmark: structured tokenization, identifier cells per second. Not a test.

Run ``.venv/bin/python benchmarks/tokenize_cells.py [--cells 2000000] [--unique 0.2]``.

:meth:`privacy.tokens.Pseudonymizer.tokens` on a column of normalized resident IDs (as the ingest
hands it over after validation): each distinct value is hashed once (HMAC-SHA256), then the tokens are
broadcast back to the cells. Target: ≥ 1,000,000 cells/s (issue 3). Reports the best of 3 runs, wall
and CPU time, and the load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from privacy.identifiers import ric_check_char
from privacy.tokens import Pseudonymizer


def make_ids(n_unique: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_unique):
        body = f"3301{rng.integers(1, 99):02d}{rng.integers(1950, 2024)}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}{rng.integers(0, 999):03d}"
        out.append(body + ric_check_char(body))
    return np.array(out, dtype=object)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=2_000_000)
    ap.add_argument("--unique", type=float, default=0.2, help="share of distinct values")
    args = ap.parse_args(argv)
    uniq = make_ids(max(1, int(args.cells * args.unique)))
    rng = np.random.default_rng(5)
    cells = pd.Series(uniq[rng.integers(0, len(uniq), args.cells)], dtype="str")
    cells.iloc[::97] = None  # a few missing cells
    p = Pseudonymizer(b"k" * 32, 1)
    load0 = os.getloadavg()
    best_wall = best_cpu = float("inf")
    for _ in range(3):
        t, c = time.perf_counter(), time.process_time()
        out = p.tokens("P", cells)
        best_wall = min(best_wall, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
    assert out.iloc[1] == p.token("P", cells.iloc[1]) and out.isna().sum() == cells.isna().sum()
    print(f"load average before/after: {load0} / {os.getloadavg()}, CPUs: {os.cpu_count()}")
    print(f"{args.cells:,} cells, {len(uniq):,} distinct values")
    print(f"wall {best_wall:.3f} s → {args.cells / best_wall:,.0f} cells/s; "
          f"CPU {best_cpu:.3f} s → {args.cells / best_cpu:,.0f} cells/s  (target ≥ 1,000,000 cells/s)")


if __name__ == "__main__":
    main()
