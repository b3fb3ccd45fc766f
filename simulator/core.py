"""The public entry point: :func:`simulate` builds the city, runs the causal process, writes the exports,
the manifest and the ground truth — in one pass, or shard by shard for a large city."""

from __future__ import annotations

import datetime as dt
import gc
import json
import logging
import math
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .config import SimulatorConfig, config_hash
from .contracts import load_contracts
from .dynamics import BURN_IN, run_dynamics
from .ids import IdLedger
from .places import build_city
from .population import NameMaker, build_population
from .tables import Builder
from .writer import sha256_file, write_table

__all__ = ["DEFAULT_SHARD_CHILDREN", "TRUTH_FILE", "shard_sizes", "simulate"]

log = logging.getLogger(__name__)

TRUTH_FILE = "child_month_truth.parquet"
MANIFEST_VERSION = 1
# children per shard: 2,000,000 children in 8 shards peak at 5.5 GB RSS (200,000 unsharded: 4.1 GB)
DEFAULT_SHARD_CHILDREN = 250_000

# the order tables are built in (some reuse what an earlier one computed, e.g. student numbers)
_ORDER = (
    "household_registry",
    "residence_permits",
    "incidents",
    "child_registry",
    "subsistence_allowance",
    "visit_records",
    "student_enrollment",
    "attendance",
    "child_health_checks",
    "injury_visits",
    "inpatient_admissions",
    "disability_certificates",
    "social_insurance",
    "detention_records",
)


def _streams(seed: int, shard: int | None = None) -> dict[str, np.random.Generator]:
    """One numpy generator per stage; ``shard`` k of a sharded city gets its own set (seed, stage, k+1)."""
    names = ("city", "population", "names", "dynamics", "tables", "writer")
    if shard is None:
        return {n: np.random.default_rng([seed, i]) for i, n in enumerate(names)}
    return {n: np.random.default_rng([seed, i, shard + 1]) for i, n in enumerate(names)}


def shard_sizes(children: int, shard_children: int) -> list[int]:
    """Children per shard: ``ceil(children / shard_children)`` shards as equal as possible (earlier ones
    one larger), e.g. ``shard_sizes(2_000_000, 250_000)`` → 8 × 250,000; one shard when it fits."""
    n = max(1, math.ceil(children / shard_children))
    base, extra = divmod(children, n)
    return [base + (1 if k < extra else 0) for k in range(n)]


def _truth_table(truth) -> pa.Table:
    return pa.table(
        {
            "id_number": pa.array(truth["id_number"].to_numpy(dtype=object), type=pa.string()),
            "month": pa.array(truth["month"].to_numpy().astype("datetime64[D]"), type=pa.date32()),
            "guardianship_state": pa.array(truth["guardianship_state"].to_numpy(), type=pa.int8()),
            "true_left_behind": pa.array(truth["true_left_behind"].to_numpy(), type=pa.bool_()),
            "maltreated": pa.array(truth["maltreated"].to_numpy(), type=pa.bool_()),
            "guardianship_failure_event": pa.array(
                truth["guardianship_failure_event"].to_numpy(), type=pa.bool_()
            ),
        }
    )


class _ParquetAppender:
    """Row groups of one parquet file written shard by shard (schema, incl. pandas metadata, of the first)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: pq.ParquetWriter | None = None

    def write(self, table: pa.Table) -> None:
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        else:
            table = table.replace_schema_metadata(self.writer.schema.metadata)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def simulate(
    out_dir: Path,
    truth_dir: Path,
    *,
    children: int = 20000,
    months: int = 36,
    seed: int = 42,
    end_month: str = "2025-12",
    config: SimulatorConfig | None = None,
    shard_children: int = DEFAULT_SHARD_CHILDREN,
) -> dict:
    """Simulate the city and write every departmental export, the manifest and the ground truth.

    Parameters
    ----------
    out_dir : Path
        Raw zone: ``<out_dir>/<department>/<file>`` for all 14 contract tables, plus ``manifest.json``.
    truth_dir : Path
        Ground truth (must not lie inside ``out_dir``): ``child_month_truth.parquet`` (interfaces.md §1),
        ``child_attributes.parquet`` and ``injected_defects.parquet`` (file, source_row, column, defect
        of every deliberate defect: wrong check characters, duplicates, 15-digit IDs, …).
    children : int
        Children 0–17 in the city (those present at some time in the window).
    months : int
        Length of the exported window, ending with ``end_month``.
    seed : int
        Same seed and configuration (and ``shard_children``) give byte-identical files.
    end_month : str
        ``YYYY-MM``, the last simulated month (configuration, never the wall clock; DESIGN §11.6).
    config : SimulatorConfig, optional
    shard_children : int
        Largest number of children simulated at once (≥ 100). A city of at most that many children is
        simulated in one pass (the files do not depend on ``shard_children`` then); a larger one in
        ``ceil(children / shard_children)`` near-equal shards — random sub-populations of the same city
        (all districts and communities) — whose rows are appended to the same files, so peak memory
        follows the shard, not the city (5.5 GB at 250,000). See the package docstring, *Sharding*.

    Returns
    -------
    dict
        The manifest (also written to ``<out_dir>/manifest.json``).

    Raises
    ------
    ValueError
        On bad arguments, or when ``truth_dir`` is inside ``out_dir``.
    """
    if children < 100:
        raise ValueError(f"children must be at least 100, got {children}")
    if shard_children < 100:
        raise ValueError(f"shard_children must be at least 100, got {shard_children}")
    if not 1 <= months <= 240:
        raise ValueError(f"months must be in 1..240, got {months}")
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", end_month):
        raise ValueError(f"end_month must be YYYY-MM, got {end_month!r}")
    out_dir = Path(out_dir).resolve()
    truth_dir = Path(truth_dir).resolve()
    if truth_dir == out_dir or out_dir in truth_dir.parents:
        raise ValueError("truth_dir must lie outside out_dir (the raw zone never holds the truth)")
    config = config or SimulatorConfig()
    contracts = load_contracts()
    rs = _streams(seed)
    end = np.datetime64(end_month, "M")
    start = end - (months + BURN_IN) + 1
    sizes = shard_sizes(children, shard_children)
    sharded = len(sizes) > 1

    # one city for all shards: townships, communities (names unique city-wide), visit intensities
    city = build_city(config, children, rs["city"])
    ledger = None
    if sharded:
        # what the unsharded dynamics draw per community must be the same for every shard
        city.communities["leave_propensity"] = np.exp(
            np.random.default_rng([seed, 100]).normal(0, 0.35, len(city.communities))
        )
        ledger = IdLedger()

    y, m = int(end_month[:4]), int(end_month[5:])
    fixed = dt.datetime(y, m, 28, 12, 0, 0)
    out_dir.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    tables = [t for t in _ORDER + tuple(sorted(set(contracts) - set(_ORDER))) if t in contracts]
    rows: dict[str, int] = {contracts[t].relpath: 0 for t in tables}
    xlsx_parts: dict[str, list[pd.DataFrame]] = {}  # sharded: .xlsx tables are written once, at the end
    defect_parts: list[pd.DataFrame] = []
    truth_out = _ParquetAppender(truth_dir / TRUTH_FILE)
    attr_out = _ParquetAppender(truth_dir / "child_attributes.parquet")
    directors = None
    try:
        for k, n_k in enumerate(sizes):
            srs = _streams(seed, k) if sharded else rs
            t0 = time.perf_counter()
            names = NameMaker(srs["names"])
            pop = build_population(config, city, n_k, end, start, srs["population"], names, ledger=ledger)
            log.info(
                "shard %d/%d population: %d households, %d persons (%.1fs)",
                k + 1,
                len(sizes),
                len(pop.hh),
                len(pop.persons),
                time.perf_counter() - t0,
            )
            t0 = time.perf_counter()
            hist = run_dynamics(config, city, pop, months, start, srs["dynamics"])
            log.info("dynamics: %d months (%.1fs)", hist.G, time.perf_counter() - t0)
            b = Builder(
                config,
                city,
                pop,
                hist,
                contracts,
                srs["tables"],
                names,
                end,
                ledger=ledger,
                directors=directors,
                staff_scale=children / n_k if sharded else 1.0,
            )
            directors = b.directors  # the first shard's (city-wide) directors serve every shard
            for t in tables:
                c = contracts[t]
                t0 = time.perf_counter()
                df = getattr(b, f"table_{t}")()
                id_cols = [col[len("_defect_") :] for col in df.columns if col.startswith("_defect_")]
                df = b.defects.finish(df, c.relpath, id_cols, row_offset=rows[c.relpath])
                rows[c.relpath] += len(df)
                if sharded and c.file.endswith(".xlsx"):
                    xlsx_parts.setdefault(t, []).append(df)
                else:
                    write_table(df, c, out_dir, fixed, rs["writer"], config.mixed_date_rate, append=k > 0)
                log.info("%s: %d rows (%.1fs)", c.relpath, len(df), time.perf_counter() - t0)
                del df
            truth_out.write(_truth_table(b.truth()))
            attr_out.write(pa.Table.from_pandas(b.child_attributes(), preserve_index=False))
            defect_parts.append(b.defects.frame())
            del b, hist, pop, names
            gc.collect()
    finally:
        truth_out.close()
        attr_out.close()
    for t, parts in xlsx_parts.items():
        df = pd.concat(parts, ignore_index=True)
        write_table(df, contracts[t], out_dir, fixed, rs["writer"], config.mixed_date_rate)
    files = {contracts[t].relpath: sha256_file(out_dir / contracts[t].relpath) for t in tables}
    defects = (
        defect_parts[0]
        if len(defect_parts) == 1
        else pd.concat([d for d in defect_parts if len(d)] or defect_parts[:1], ignore_index=True)
    )
    defects.to_parquet(truth_dir / "injected_defects.parquet", index=False)

    manifest = {
        "generator": "humiao.simulator",
        "version": MANIFEST_VERSION,
        "seed": int(seed),
        "children": int(children),
        "months": int(months),
        "end_month": end_month,
        "config_hash": config_hash(config),
        "files": dict(sorted(files.items())),
        "rows": dict(sorted(rows.items())),
    }
    (out_dir / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return manifest
