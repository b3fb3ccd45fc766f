"""Benchmark: time and peak memory of the ingest, phase by phase (issue 8: at 2,000,000 children the
ingest must fit beside everything else on a 24 GB machine). Not a test.

Runs :func:`privacy.ingest.ingest_folder` — what ``humiao ingest`` and the pipeline's first asset run —
without Dagster, on a city's raw folder with that city's keys and configuration, into a scratch folder:

    .venv/bin/python benchmarks/ingest_memory.py --root benchmarks/_work/city_200000

The proportional set size of this process and its workers (the note anonymizer's pool) is sampled
every 0.5 s; each phase — reading and tokenizing each table (``add_raw``, all chunks of a file), the
identity index, scanning and writing each table, conflicts, the vault, the index file — is reported
with its seconds and its peak, and the raw figures go to ``benchmarks/results/ingest_memory_<stamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from city_scale import tree_rss  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, required=True, help="a city folder with humiao.yaml, raw/ and secrets/")
    ap.add_argument("--raw", type=Path, default=None, help="the raw folder (default: the city's raw_dir)")
    ap.add_argument("--scratch", type=Path, default=None, help="output folder (default: a temporary folder)")
    ap.add_argument("--label", default="", help="a word for the result file name")
    ap.add_argument("--repeat", action="store_true",
                    help="ingest the same delivery a second time with the first ingest's note cache (the next "
                         "cycle's re-delivery: only new notes are anonymized) and report both")
    args = ap.parse_args()

    import privacy.ingest as ing
    from humiao.config import load_config
    from humiao.stages import (
        anonymizer_version,
        ingest_as_of,
        pseudonymizer_from_config,
        vault_key_from_config,
    )
    from privacy import readers
    from privacy.identities import KnownIdentities

    root = args.root.resolve()
    os.environ["HUMIAO_CONFIG"] = str(root / "humiao.yaml")
    cfg = load_config(root / "humiao.yaml")
    raw = args.raw or cfg.path("raw_dir")
    contracts = REPO / "contracts"
    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="ingest_memory_"))
    shutil.rmtree(scratch, ignore_errors=True)

    S = ing.IngestSession
    phases: list[tuple[str, float, float]] = []

    def timed(name_of, fn):
        def wrapper(*a, **kw):
            t0 = time.time()
            try:
                return fn(*a, **kw)
            finally:
                phases.append((name_of(*a, **kw), t0, time.time()))
        return wrapper

    S.add_raw = timed(lambda self, raw, rel, **kw: f"read+tokenize {rel}", S.add_raw)
    S._known = timed(lambda self: "identity index (build)", S._known)
    S._scan = timed(lambda self, scanner, p, frame: f"scan {p.table.name}", S._scan)
    S._conflicts = timed(lambda self, **kw: "conflicts", S._conflicts)
    S._write_vault = timed(lambda self: "vault (write)", S._write_vault)
    S._write_id_attributes = timed(lambda self, d: "id attributes", S._write_id_attributes)
    KnownIdentities.save = timed(lambda self, path, key: "identity index (save)", KnownIdentities.save)

    def run(out_dir: Path, note_cache: Path | None) -> dict:
        samples: list[tuple[float, int]] = []
        done = threading.Event()
        phases.clear()

        def sample():
            while not done.is_set():
                samples.append((time.time(), tree_rss(os.getpid())))
                done.wait(0.5)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        t0 = time.time()
        report = ing.ingest_folder(
            raw, contracts, pseudonymizer=pseudonymizer_from_config(cfg), vault_key=vault_key_from_config(cfg),
            out_dir=out_dir, quarantine_dir=out_dir.parent / (out_dir.name + "_q"), as_of=ingest_as_of(cfg),
            raise_on_error=False, note_cache=note_cache, note_cache_version=anonymizer_version(),
        )
        t1 = time.time()
        done.set()
        th.join()
        agg: dict[str, dict] = defaultdict(lambda: {"seconds": 0.0, "calls": 0, "start": None, "end": None})
        for name, a, b in phases:
            d = agg[name]
            d["seconds"] += b - a
            d["calls"] += 1
            d["start"] = a if d["start"] is None else min(d["start"], a)
            d["end"] = b if d["end"] is None else max(d["end"], b)
        rows = []
        for name, d in sorted(agg.items(), key=lambda kv: kv[1]["start"]):
            inside = [m for t, m in samples if d["start"] <= t <= d["end"]] or [  # a short phase: the nearest sample
                min(samples, key=lambda s, d=d: abs(s[0] - (d["start"] + d["end"]) / 2))[1] if samples else 0]
            rows.append({"phase": name, "seconds": round(d["seconds"], 1), "calls": d["calls"],
                         "peak_gb": round(max(inside) / 2**30, 2)})
        peak = max((m for _, m in samples), default=0) / 2**30
        print(f"{'phase':<58} {'seconds':>8} {'calls':>6} {'peak GB':>8}")
        for r in rows:
            print(f"{r['phase']:<58} {r['seconds']:>8.1f} {r['calls']:>6} {r['peak_gb']:>8.2f}")
        rows_read = sum(t.rows_read for t in report.tables.values())
        print(f"{'END TO END':<58} {t1 - t0:>8.1f} {'':>6} {peak:>8.2f}   ({rows_read:,} rows read; notes "
              f"{report.notes_anonymized:,} anonymized, {report.notes_reused:,} reused)", flush=True)
        return {"seconds": round(t1 - t0, 1), "peak_gb": round(peak, 2), "rows_read": rows_read,
                "status": report.status, "load_average": os.getloadavg(), "notes_anonymized": report.notes_anonymized,
                "notes_reused": report.notes_reused, "phases": rows,
                "tables": {k: {"rows_read": t.rows_read, "rows_passed": t.rows_passed, "seconds": t.seconds}
                           for k, t in report.tables.items()}}

    out = {"root": str(root), "raw": str(raw), "csv_stream_bytes": readers.CSV_STREAM_BYTES,
           "csv_chunk_bytes": readers.CSV_CHUNK_BYTES}
    out["first"] = run(scratch / "work", None)
    if args.repeat:
        print("-- the same delivery again, with the first ingest's note cache --", flush=True)
        out["repeat"] = run(scratch / "work2", scratch / "work" / ing.NOTE_CACHE_FILE)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = REPO / "benchmarks" / "results" / f"ingest_memory_{args.label + '_' if args.label else ''}{stamp}.json"
    path.write_text(json.dumps(out, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"→ {path}")
    if args.scratch is None:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
