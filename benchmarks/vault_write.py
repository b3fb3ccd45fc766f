"""Benchmark: time and peak memory of writing and reading the re-identification vault (issue 8: the ingest's
last phase peaked at 14 GB at 2,000,000 children, where the vault holds about 5.7 M people). Not a test.

    .venv/bin/python benchmarks/vault_write.py --records 5700000

Synthetic records only (``测试`` + a number, made-up 18-digit numbers, no real person), as the ingest holds
them before writing: a frame indexed by token, one column per field. Each way runs in a fresh process:

- ``whole``: the vault as the ingest wrote it before session 10: one ``json.dumps`` per record into a
  buffer, the buffer copied out and encrypted as one Fernet token;
- ``sealed``: the same records through :meth:`privacy.vault.Vault.write` (sealed chunk by chunk from the
  buffer, :mod:`privacy.sealed`);
- ``frame``: :meth:`privacy.vault.Vault.write_frame` (pandas' JSON writer a piece at a time, sealed), what the
  ingest does now.

Each is read back with :func:`privacy.vault.read_encrypted`. ``RssSampler`` (0.05 s) gives each phase's peak
resident set; results go to ``benchmarks/results/vault_write_<stamp>.json``.
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


def _frame(n: int):
    import numpy as np
    import pandas as pd

    i = np.arange(n)
    s = pd.Series(i).astype(str)
    return pd.DataFrame({
        "name": "测试" + s, "id_number": "990000" + pd.Series(20000101 + i % 9999).astype(str) + s.str.zfill(4).str[-4:],
        "phone": "199" + s.str.zfill(8), "address": "测试市测试区第" + pd.Series(i % 997).astype(str) + "街",
        "community": "测试村" + pd.Series(i % 8000).astype(str), "township": "测试镇" + pd.Series(i % 190).astype(str),
    }, index=pd.Index("P_" + s.str.zfill(12), name="token"))


def _records(frame):
    """The records as the ingest gave them to Vault.write before session 10 (one dict per person)."""
    import pandas as pd

    fields = list(frame.columns)
    return ({"token": tok, **{f: (None if pd.isna(v) else v) for f, v in zip(fields, row, strict=True)}}
            for tok, row in zip(frame.index, frame.itertuples(index=False, name=None), strict=True))


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
    frame = _frame(n)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "vault.bin"
        with RssSampler(interval=0.05) as rss:
            with rss.phase("write"):
                if way == "whole":
                    _whole(path, _records(frame), key)
                elif way == "sealed":
                    Vault.write(path, _records(frame), key)
                else:
                    Vault.write_frame(path, frame, key)
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
    for way in ("whole", "sealed", "frame"):
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
