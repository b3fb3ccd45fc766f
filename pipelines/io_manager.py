"""One IO manager for every stage (DESIGN.md §3): DataFrames as Parquet, documents as JSON."""


import json
from pathlib import Path

import dagster as dg
import pandas as pd


class ParquetJsonIOManager(dg.ConfigurableIOManager):
    """Stores ``pd.DataFrame`` outputs as ``<base_dir>/<asset>.parquet`` and dict/list outputs as
    ``<base_dir>/<asset>.json``; writes go to a temporary file first and are renamed (atomic)."""

    base_dir: str

    def _path(self, context, suffix: str) -> Path:
        return Path(self.base_dir) / ("__".join(context.asset_key.path) + suffix)

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        if obj is None:
            return
        Path(self.base_dir).mkdir(parents=True, exist_ok=True)
        if isinstance(obj, pd.DataFrame):
            path = self._path(context, ".parquet")
            tmp = path.with_suffix(".parquet.tmp")
            obj.to_parquet(tmp, index=False)
        else:
            path = self._path(context, ".json")
            tmp = path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        tmp.replace(path)

    def load_input(self, context: dg.InputContext):
        parquet = self._path(context.upstream_output, ".parquet")
        if parquet.exists():
            return pd.read_parquet(parquet)
        return json.loads(self._path(context.upstream_output, ".json").read_text(encoding="utf-8"))
