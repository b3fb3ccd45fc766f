"""Benchmark: time and peak memory of the person spine (``features.spine.person_spine``) under DuckDB memory
limits (issue 8: the step peaked at 12.15 GB at 2,000,000 children in run 4, with no limit). Not a test.

    .venv/bin/python benchmarks/person_spine_memory.py --root benchmarks/_work/city_2000000 none 4GB 2GB

Each limit runs in a fresh process (its resident set size, sampled every 0.1 s by
``models_memory.RssSampler``) on the city's pseudonymized tables; the spines are compared by a digest of
their rows. Results go to ``benchmarks/results/person_spine_memory_<stamp>.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _one(root: Path, limit: str | None) -> dict:
    sys.path.insert(0, str(REPO))
    os.environ["HUMIAO_CONFIG"] = str(root / "humiao.yaml")
    import pandas as pd

    from features.spine import person_spine
    from humiao.config import load_config

    cfg = load_config()
    sys.path.insert(0, str(REPO / "benchmarks"))
    from models_memory import RssSampler

    with RssSampler(interval=0.1) as rss, rss.phase(f"person_spine, memory_limit {limit}"):
        spine = person_spine(cfg.pseudonymized_dir, memory_limit=limit)
    ph = rss.phases[-1]
    digest = hashlib.sha256(pd.util.hash_pandas_object(spine.astype(str), index=False).to_numpy().tobytes())
    return {"memory_limit": limit, "seconds": ph["seconds"], "rss_start_gb": ph["rss_start_gb"],
            "rss_peak_gb": ph["rss_peak_gb"], "rows": len(spine),
            "frame_gb": round(spine.memory_usage(deep=True).sum() / 1e9, 2), "digest": digest.hexdigest()[:16],
            "load_average": os.getloadavg()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, required=True, help="a city with pseudonymized tables (humiao.yaml, work/)")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    ap.add_argument("limits", nargs="*", default=["none", "4GB"], help="DuckDB memory limits ('none': DuckDB's 80 %)")
    args = ap.parse_args()
    if args.one is not None:
        print(json.dumps(_one(args.root.resolve(), None if args.one == "none" else args.one)))
        return
    out = []
    for limit in args.limits:
        p = subprocess.run([sys.executable, __file__, "--root", str(args.root), "--one", limit],
                           capture_output=True, text=True, check=True)
        out.append(json.loads(p.stdout.strip().splitlines()[-1]))
        print(out[-1], flush=True)
    print(f"same spine under every limit: {len({r['digest'] for r in out}) == 1}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = REPO / "benchmarks" / "results" / f"person_spine_memory_{stamp}.json"
    path.write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(f"→ {path}")


if __name__ == "__main__":
    main()
