"""Re-runs skip stages whose code and inputs have not changed (DESIGN.md §3): the equivalent check of
Dagster's code/data versions, made concrete — see humiao.stages.fingerprint."""

from pathlib import Path

import pandas as pd

from pipelines.io_manager import output_path, read_output, stored_fingerprint


def fingerprint_of(value) -> str | None:
    """The fingerprint an upstream output carries (DataFrame attrs / ``_fingerprint`` key)."""
    if isinstance(value, pd.DataFrame):
        return value.attrs.get("fingerprint")
    if isinstance(value, dict):
        return value.get("_fingerprint")
    return None


def _files_exist(value) -> bool:
    """A stored document that names output files is current only while those files exist."""
    if not isinstance(value, dict):
        return True
    paths = [v for v in value.get("_files", [])]
    return all(Path(p).exists() for p in paths)


def reuse(base_dir: str | Path, names: list[str], fp: str):
    """The stored outputs ``names`` if every one carries ``fp`` (and its files exist), else None."""
    values = []
    for name in names:
        path = output_path(base_dir, name)
        if stored_fingerprint(path) != fp:
            return None
        value = read_output(path)
        if not _files_exist(value):
            return None
        values.append(value)
    return values


def stamp(value, fp: str):
    """Attach ``fp`` to an output before it is stored."""
    if isinstance(value, pd.DataFrame):
        value.attrs["fingerprint"] = fp
    elif isinstance(value, dict):
        value["_fingerprint"] = fp
    return value


def stage_fingerprint(name: str, packages: tuple[str, ...], config_parts: object, *inputs) -> str:
    """Fingerprint of a stage: its name, its code (the named repository folders), its configuration
    values and its inputs' fingerprints (inputs without one are hashed by content if small dicts)."""
    from humiao.stages import code_hash, fingerprint

    ins = []
    for v in inputs:
        fp = fingerprint_of(v)
        ins.append(fp if fp is not None else (v if isinstance(v, (dict, list, str)) else repr(type(v))))
    return fingerprint(name, code_hash(*packages), config_parts, ins)


def assets_dir(cfg) -> Path:
    """Where the IO manager stores asset values."""
    return cfg.path("work_dir") / "assets"
