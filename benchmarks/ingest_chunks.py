"""Benchmark: seconds per chunk of one large CSV through the ingest's validation and tokenization (issue 8).
Not a test.

A CSV over :data:`privacy.readers.CSV_STREAM_BYTES` is read in chunks of about 64 MB; each chunk goes
through :meth:`privacy.ingest.IngestSession.add_raw` (validation, normalization, tokenization, identities).
This times the read and ``add_raw`` of every chunk of one file, nothing else (no scan, no write):

    .venv/bin/python benchmarks/ingest_chunks.py \\
        --csv benchmarks/_work/city_200000/raw/human_resources/social_insurance.csv --table social_insurance

To compare two versions of the code, run it from each checkout (``PYTHONPATH=<checkout>``); the file
records which ``privacy`` package it ran. Raw output: ``benchmarks/results/ingest_chunks_<stamp>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, required=True)
    ap.add_argument("--table", required=True, help="the contract table the file is (e.g. social_insurance)")
    ap.add_argument("--label", default="", help="a word for the result file name")
    args = ap.parse_args(argv)

    import privacy
    from privacy.contracts import load_contracts
    from privacy.ingest import IngestSession
    from privacy.readers import iter_source, open_sources
    from privacy.tokens import Pseudonymizer

    table = load_contracts(REPO / "contracts")[args.table]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        session = IngestSession(pseudonymizer=Pseudonymizer(os.urandom(32), 1), vault_key=b"v" * 32,
                                out_dir=d / "out", quarantine_dir=d / "q", as_of=dt.date.today())
        session.spill_dir = d / "spill"
        session.spill_dir.mkdir()
        src = open_sources(args.csv)[0]
        chunks = []
        load0, start = os.getloadavg(), time.perf_counter()
        it = iter_source(src, table)
        while True:
            t0 = time.perf_counter()
            raw = next(it, None)
            if raw is None:
                break
            t1 = time.perf_counter()
            session.add_raw(raw, args.csv.name, part=len(chunks))
            chunks.append({"rows": len(raw.data), "read_s": round(t1 - t0, 2),
                           "add_raw_s": round(time.perf_counter() - t1, 2)})
        total = time.perf_counter() - start
    rows = sum(c["rows"] for c in chunks)
    add = sum(c["add_raw_s"] for c in chunks)
    print(f"{args.csv.name}: {rows:,} rows in {len(chunks)} chunks (streamed: {src.streamed})")
    print(f"{'chunk':>6}{'rows':>12}{'read s':>9}{'add_raw s':>11}")
    for i, c in enumerate(chunks):
        print(f"{i:>6}{c['rows']:>12,}{c['read_s']:>9.2f}{c['add_raw_s']:>11.2f}")
    print(f"total {total:.1f} s (add_raw {add:.1f} s, {rows / max(add, 1e-9):,.0f} rows/s); "
          f"load {load0[0]:.1f} → {os.getloadavg()[0]:.1f}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = REPO / "benchmarks" / "results" / f"ingest_chunks_{args.label + '_' if args.label else ''}{stamp}.json"
    out.write_text(json.dumps({
        "command": "benchmarks/ingest_chunks.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "privacy_package": privacy.__file__, "csv": str(args.csv), "table": args.table, "rows": rows,
        "streamed": src.streamed, "seconds": round(total, 2), "add_raw_seconds": round(add, 2),
        "load_before": load0, "load_after": os.getloadavg(), "chunks": chunks,
    }, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"raw JSON: {out}")


if __name__ == "__main__":
    main()
