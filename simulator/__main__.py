"""Command line: ``python -m simulator --children N --months M --seed S --out DIR --truth DIR
[--shard-children K]``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .core import DEFAULT_SHARD_CHILDREN, simulate


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, simulate, print the row counts; returns the exit code."""
    ap = argparse.ArgumentParser(
        prog="python -m simulator", description="Simulate the synthetic city's departmental exports."
    )
    ap.add_argument("--children", type=int, default=20000, help="children 0-17 in the city (default 20000)")
    ap.add_argument("--months", type=int, default=36, help="months in the exported window (default 36)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--end-month", default="2025-12", help="last simulated month, YYYY-MM (default 2025-12)")
    ap.add_argument("--out", type=Path, default=Path("data/raw"), help="raw zone (default data/raw)")
    ap.add_argument(
        "--truth", type=Path, default=Path("data/truth"), help="ground truth folder (default data/truth)"
    )
    ap.add_argument(
        "--shard-children",
        type=int,
        default=DEFAULT_SHARD_CHILDREN,
        help="simulate a larger city in shards of at most this many children, appended to the same "
        f"files (bounds memory; default {DEFAULT_SHARD_CHILDREN})",
    )
    a = ap.parse_args(argv)
    t = time.perf_counter()
    try:
        m = simulate(
            a.out,
            a.truth,
            children=a.children,
            months=a.months,
            seed=a.seed,
            end_month=a.end_month,
            shard_children=a.shard_children,
        )
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(
        json.dumps(
            {"seconds": round(time.perf_counter() - t, 1), "rows": m["rows"]}, ensure_ascii=False, indent=2
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
