"""One IO manager for every stage (DESIGN.md §3): DataFrames as Parquet, documents as JSON.

Each stored output carries the fingerprint of the inputs and code that made it (Parquet schema
metadata ``humiao_fingerprint``; JSON key ``_fingerprint``), written in the same atomic file, so a
re-run can tell whether the stored output is still current (see humiao/stages.py)."""

import json
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

FP_KEY = b"humiao_fingerprint"


def output_path(base_dir: str | Path, name: str) -> Path | None:
    """The stored file of asset ``name`` (Parquet or JSON), or None."""
    for suffix in (".parquet", ".json"):
        p = Path(base_dir) / f"{name}{suffix}"
        if p.exists():
            return p
    return None


def read_output(path: Path):
    """Load a stored output, restoring its fingerprint (DataFrame ``attrs['fingerprint']``)."""
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        df = table.to_pandas()
        fp = (table.schema.metadata or {}).get(FP_KEY)
        if fp:
            df.attrs["fingerprint"] = fp.decode()
        return df
    return json.loads(path.read_text(encoding="utf-8"))


def stored_fingerprint(path: Path | None) -> str | None:
    """The fingerprint inside a stored output without loading it."""
    if path is None:
        return None
    if path.suffix == ".parquet":
        fp = (pq.read_schema(path).metadata or {}).get(FP_KEY)
        return fp.decode() if fp else None
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("_fingerprint")
    except (json.JSONDecodeError, AttributeError):
        return None


class ParquetJsonIOManager(dg.ConfigurableIOManager):
    """Stores ``pd.DataFrame`` outputs as ``<base_dir>/<asset>.parquet`` and dict outputs as
    ``<base_dir>/<asset>.json``; writes go to a temporary file first and are renamed (atomic)."""

    base_dir: str

    def _name(self, context) -> str:
        return "__".join(context.asset_key.path)

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        if obj is None:
            return
        base = Path(self.base_dir)
        base.mkdir(parents=True, exist_ok=True)
        name = self._name(context)
        if isinstance(obj, pd.DataFrame):
            path, tmp = base / f"{name}.parquet", base / f"{name}.parquet.tmp"
            table = pa.Table.from_pandas(obj, preserve_index=False)
            fp = obj.attrs.get("fingerprint")
            if fp:
                table = table.replace_schema_metadata({**(table.schema.metadata or {}), FP_KEY: fp.encode()})
            pq.write_table(table, tmp)
        else:
            path, tmp = base / f"{name}.json", base / f"{name}.json.tmp"
            tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        tmp.replace(path)
        for other in (".parquet", ".json"):
            stale = base / f"{name}{other}"
            if stale != path and stale.exists():
                stale.unlink()

    def load_input(self, context: dg.InputContext):
        path = output_path(self.base_dir, self._name(context.upstream_output))
        if path is None:
            raise FileNotFoundError(f"no stored output for {context.upstream_output.asset_key.to_user_string()}")
        return read_output(path)
