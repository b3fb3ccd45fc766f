"""One IO manager for every stage (DESIGN.md §3): DataFrames as Parquet, documents as JSON.

Each stored output carries the fingerprint of the inputs and code that made it (Parquet schema
metadata ``humiao_fingerprint``; JSON key ``_fingerprint``), written in the same atomic file, so a
re-run can tell whether the stored output is still current (see humiao/stages.py)."""

import json
from pathlib import Path
from typing import NamedTuple

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from humiao.stages import FP_KEY


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
        fp = _fingerprint_of(table)
        df = table.to_pandas(self_destruct=True, split_blocks=True)
        del table
        if fp:
            df.attrs["fingerprint"] = fp
        return df
    return json.loads(path.read_text(encoding="utf-8"))


def stored_fingerprint(path: Path | None) -> str | None:
    """The fingerprint inside a stored output without loading it."""
    if path is None or not path.exists():
        return None
    if path.suffix == ".parquet":
        fp = (pq.read_schema(path).metadata or {}).get(FP_KEY)
        return fp.decode() if fp else None
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("_fingerprint")
    except (json.JSONDecodeError, AttributeError):
        return None


class StoredPartition(NamedTuple):
    """A partition the asset already wrote with :func:`write_frame` (streamed, so that every as-of date
    need not be held in memory at once): the IO manager checks it and does not write it again."""

    path: Path
    fingerprint: str
    rows: int


def stored_partition(frame: pd.DataFrame, path: Path) -> StoredPartition:
    """Write one partition (atomic, fingerprint in the schema) and return its marker for the IO manager."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_frame(frame, path)
    return StoredPartition(path, frame.attrs["fingerprint"], len(frame))


def existing_partition(path: Path, fingerprint: str) -> StoredPartition:
    """The marker of a partition already stored with the current ``fingerprint`` (reused, not read)."""
    return StoredPartition(path, fingerprint, pq.read_metadata(path).num_rows)


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
        if context.has_asset_partitions:
            self._handle_partitions(context, base / name, obj)
            return
        if isinstance(obj, pd.DataFrame):
            path = base / f"{name}.parquet"
            write_frame(obj, path)
        else:
            path, tmp = base / f"{name}.json", base / f"{name}.json.tmp"
            tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
            tmp.replace(path)
        for other in (".parquet", ".json"):
            stale = base / f"{name}{other}"
            if stale != path and stale.exists():
                stale.unlink()

    @staticmethod
    def _handle_partitions(context: dg.OutputContext, folder: Path, obj) -> None:
        """A partitioned output is ``{partition key: DataFrame or StoredPartition}``, one Parquet per
        partition (``<base_dir>/<asset>/<key>.parquet``); a partition whose stored fingerprint equals the
        new one is not rewritten, and a :class:`StoredPartition` is only checked."""
        keys = set(context.asset_partition_keys)
        if not isinstance(obj, dict) or set(obj) != keys:
            raise TypeError(f"{context.asset_key.to_user_string()}: a partitioned output must be a dict with "
                            f"one DataFrame per partition key {sorted(keys)[:3]}…")
        folder.mkdir(parents=True, exist_ok=True)
        for key, frame in obj.items():
            path = folder / f"{key}.parquet"
            if isinstance(frame, StoredPartition):  # written by the asset itself
                if frame.path != path or stored_fingerprint(path) != frame.fingerprint:
                    raise RuntimeError(f"{context.asset_key.to_user_string()} {key}: the asset reported "
                                       f"{frame.path} as written, but {path} does not hold that output")
                continue
            fp = frame.attrs.get("fingerprint")
            if fp and path.exists() and stored_fingerprint(path) == fp:
                continue
            write_frame(frame, path)

    def load_input(self, context: dg.InputContext):
        upstream = context.upstream_output
        name = self._name(upstream)
        if context.has_asset_partitions:
            return self._load_partitions(context, name)
        path = output_path(self.base_dir, name)
        if path is None:
            raise FileNotFoundError(f"no stored output for {upstream.asset_key.to_user_string()}")
        return read_output(path)

    def _load_partitions(self, context: dg.InputContext, name: str) -> pd.DataFrame:
        """The partitions a consumer needs, concatenated: a partitioned consumer (an asset check) gets the
        run's partitions; an unpartitioned one (Dagster asks for *every* partition) gets those its cycle
        plan names, narrowed by the input's ``as_of_dates`` metadata (pipelines.partitions.
        plan_partition_keys: a scoring step reads one date, not the cycle's 25)."""
        keys = consumer_partition_keys(
            self.base_dir, name, list(context.asset_partition_keys),
            len(context.asset_partitions_def.get_partition_keys()),
            (context.definition_metadata or {}).get("as_of_dates", "cycle"),
        )
        return read_partitions(Path(self.base_dir) / name, keys, name)


def consumer_partition_keys(base_dir: Path, name: str, keys: list[str], all_keys: int,
                            selection: str = "cycle") -> list[str]:
    """The partitions of ``name`` a consumer reads: ``keys`` (the run's range), or — when the run asks
    for every partition (``len(keys) == all_keys``: an unpartitioned consumer, or a run without a range)
    — the ones the stored cycle plan names, narrowed by ``selection`` (pipelines.partitions.
    plan_partition_keys).

    Raises
    ------
    FileNotFoundError
        No stored cycle plan.
    """
    from pipelines.partitions import plan_partition_keys

    if len(keys) != all_keys:
        return keys
    plan_path = output_path(base_dir, "cycle_plan")
    if plan_path is None:
        raise FileNotFoundError(f"no stored cycle_plan: materialize cycle_plan before reading the partitions of {name}")
    return plan_partition_keys(name, read_output(plan_path), selection)


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    """Write a DataFrame as Parquet atomically, with its fingerprint in the schema metadata."""
    tmp = path.with_name(path.name + ".tmp")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    fp = frame.attrs.get("fingerprint")
    if fp:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), FP_KEY: fp.encode()})
    pq.write_table(table, tmp)
    tmp.replace(path)


def _require_partitions(folder: Path, keys: list[str], name: str) -> None:
    """Raise FileNotFoundError naming every partition of ``keys`` not stored in ``folder``, or stored as
    a not-built placeholder (humiao.stages.require_built_partitions)."""
    from humiao.stages import require_built_partitions

    require_built_partitions(folder, keys, name)


def built_partition_keys(folder: Path, keys: list[str]) -> list[str]:
    """The keys among ``keys`` whose stored partition was built: a check of a run's range checks what the
    run built, not the placeholders of the months its plan does not use (humiao.stages.NOT_BUILT_PREFIX).
    A missing partition is kept, so that reading it raises."""
    from humiao.stages import partition_built

    return [k for k in keys if not (folder / f"{k}.parquet").exists() or partition_built(folder / f"{k}.parquet")]


def read_partitions(folder: Path, keys: list[str], name: str) -> pd.DataFrame:
    """Concatenate the stored partitions ``keys`` of one asset; the result's fingerprint is that of its
    partitions' fingerprints, so a consumer's stage fingerprint changes when any partition does.

    Raises
    ------
    FileNotFoundError
        Naming every missing partition and the command that materializes them.
    """
    from humiao.stages import fingerprint

    _require_partitions(folder, keys, name)
    # concatenated as Arrow and converted once, freeing the Arrow buffers as it goes: the peak is about
    # one copy of the data instead of two (every partition frame and their pandas concat; issue 8)
    tables = [pq.read_table(folder / f"{k}.parquet") for k in keys]
    fps = [_fingerprint_of(t) for t in tables]
    non_empty = [t for t in tables if t.num_rows] or tables[:1]
    if all(t.schema.equals(non_empty[0].schema) for t in non_empty[1:]):
        table = pa.concat_tables(non_empty)
        del tables, non_empty
        out = table.to_pandas(self_destruct=True, split_blocks=True)
        del table
    else:  # a partition typed a column differently (e.g. all-null): let pandas reconcile the types
        frames = [t.to_pandas() for t in non_empty]
        del tables, non_empty
        out = pd.concat(frames, ignore_index=True)
    out.attrs["fingerprint"] = fingerprint(name, keys, fps)
    return out


def iter_partitions(folder: Path, keys: list[str], name: str, columns: list[str] | None = None):
    """Each stored partition of ``keys`` in turn (as a DataFrame, only ``columns`` when given): for a
    consumer that needs one as-of date at a time, e.g. the leak-scan check of the features (issue 8:
    every date at once is 6.6 GB at 200,000 children).

    Raises
    ------
    FileNotFoundError
        As :func:`read_partitions` (before the first partition).
    """
    _require_partitions(folder, keys, name)
    for k in keys:
        table = pq.read_table(folder / f"{k}.parquet", columns=columns)
        yield k, table.to_pandas(self_destruct=True, split_blocks=True)
        del table


def partitions_fingerprint(folder: Path, keys: list[str], name: str) -> str:
    """The fingerprint :func:`read_partitions` would give the same partitions, read from the files'
    schemas only (a stage that is reused need not load its inputs to know it).

    Raises
    ------
    FileNotFoundError
        As :func:`read_partitions`.
    """
    from humiao.stages import fingerprint

    _require_partitions(folder, keys, name)
    return fingerprint(name, keys, [stored_fingerprint(folder / f"{k}.parquet") for k in keys])


def _fingerprint_of(table: pa.Table) -> str | None:
    fp = (table.schema.metadata or {}).get(FP_KEY)
    return fp.decode() if fp else None
