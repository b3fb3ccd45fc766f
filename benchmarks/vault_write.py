"""Benchmark: time and peak memory of writing and reading the re-identification vault (issue 8: the ingest's
last phase peaked at 14 GB at 2,000,000 children, where the vault holds about 5.7 M people). Not a test.

    .venv/bin/python benchmarks/vault_write.py --records 5700000

Synthetic records only (``测试`` + a number, made-up 18-digit numbers, no real person). Each way runs in a fresh
process: ``whole`` is the vault as it was written before session 10 (the JSON buffer copied out and encrypted
as one Fernet token), ``sealed`` is :meth:`privacy.vault.Vault.write` now (sealed chunk by chunk from the
buffer, :mod:`privacy.sealed`); both are read back with :func:`privacy.vault.read_encrypted`. Figures are the
resident set above the records' own (``models_memory.RssSampler``, 0.05 s); results go to
``benchmarks/results/vault_write_<stamp>.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _records(n: int):
    for i in range(n):
        yield {"token": f"P_{i:012x}{'0' * 20}", "name": f"测试{i}", "id_number": f"990000{20000101 + i % 9999:08d}{i % 10000:04d}",
               "phone": f"199{i:08d}", "address": f"测试市测试区第{i % 997}街{i % 89}号", "community": f"测试村{i % 8000}",
               "township": f"测试镇{i % 190}"}


def _whole(path: Path, records, key: bytes) -> None:
    """The vault's write before session 10 (privacy.vault.Vault.write at e84eeeb)."""
    from cryptography.fernet import Fernet

    from privacy.vault import FIELDS, write_private

    buf = io.BytesIO()
    buf.write(b'{"version":1,"records":{')
    for tok, rec in ((r["token"], r) for r in records):
        if buf.tell() > 24:
            buf.write(b",")
        buf.write(json.dumps(tok, ensure_ascii=False).encode())
        buf.write(b":")
        buf.write(json.dumps({f: rec.get(f) for f in FIELDS}, ensure_ascii=False, separators=(",", ":")).encode())
    buf.write(b"}}")
    write_private(path, Fernet(key).encrypt(buf.getvalue()))


def _one(way: str, n: int) -> dict:
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "benchmarks"))
    from cryptography.fernet import Fernet
    from models_memory import RssSampler

    from privacy.vault import Vault, read_encrypted

    key = Fernet.generate_key()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "vault.bin"
        with RssSampler(interval=0.05) as rss:
            with rss.phase("write"):
                if way == "whole":
                    _whole(path, _records(n), key)
                else:
                    Vault.write(path, _records(n), key)
            size = path.stat().st_size
            with rss.phase("read"):
                doc = read_encrypted(path, key)
                assert len(doc["records"]) == n
                del doc
    w, r = rss.phases
    return {"way": way, "records": n, "file_gb": round(size / 2**30, 3),
            "write_seconds": w["seconds"], "write_peak_gb": w["rss_peak_gb"], "write_start_gb": w["rss_start_gb"],
            "read_seconds": r["seconds"], "read_peak_gb": r["rss_peak_gb"], "load_average": os.getloadavg()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=5_700_000)
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(_one(args.one, args.records)))
        return
    out = []
    for way in ("whole", "sealed"):
        p = subprocess.run([sys.executable, __file__, "--records", str(args.records), "--one", way],
                           capture_output=True, text=True, check=True)
        out.append(json.loads(p.stdout.strip().splitlines()[-1]))
        print(out[-1], flush=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = REPO / "benchmarks" / "results" / f"vault_write_{stamp}.json"
    path.write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(f"→ {path}")


if __name__ == "__main__":
    main()
