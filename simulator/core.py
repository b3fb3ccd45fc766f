"""The public entry point: :func:`simulate` builds the city, runs the causal process, writes the exports,
the manifest and the ground truth."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .config import SimulatorConfig, config_hash
from .contracts import load_contracts
from .dynamics import BURN_IN, run_dynamics
from .places import build_city
from .population import NameMaker, build_population
from .tables import Builder
from .writer import sha256_file, write_table

__all__ = ["TRUTH_FILE", "simulate"]

log = logging.getLogger(__name__)

TRUTH_FILE = "child_month_truth.parquet"
MANIFEST_VERSION = 1

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


def _streams(seed: int) -> dict[str, np.random.Generator]:
    names = ("city", "population", "names", "dynamics", "tables", "writer")
    return {n: np.random.default_rng([seed, i]) for i, n in enumerate(names)}


def simulate(
    out_dir: Path,
    truth_dir: Path,
    *,
    children: int = 20000,
    months: int = 36,
    seed: int = 42,
    end_month: str = "2025-12",
    config: SimulatorConfig | None = None,
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
        Same seed and configuration give byte-identical files.
    end_month : str
        ``YYYY-MM``, the last simulated month (configuration, never the wall clock; DESIGN §11.6).
    config : SimulatorConfig, optional

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

    t0 = time.perf_counter()
    city = build_city(config, children, rs["city"])
    names = NameMaker(rs["names"])
    pop = build_population(config, city, children, end, start, rs["population"], names)
    log.info(
        "population: %d households, %d persons (%.1fs)",
        len(pop.hh),
        len(pop.persons),
        time.perf_counter() - t0,
    )
    t0 = time.perf_counter()
    hist = run_dynamics(config, city, pop, months, start, rs["dynamics"])
    log.info("dynamics: %d months (%.1fs)", hist.G, time.perf_counter() - t0)
    b = Builder(config, city, pop, hist, contracts, rs["tables"], names, end)

    y, m = int(end_month[:4]), int(end_month[5:])
    fixed = dt.datetime(y, m, 28, 12, 0, 0)
    out_dir.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    rows: dict[str, int] = {}
    for t in _ORDER + tuple(sorted(set(contracts) - set(_ORDER))):
        if t not in contracts:
            continue
        c = contracts[t]
        t0 = time.perf_counter()
        df = getattr(b, f"table_{t}")()
        id_cols = [col[len("_defect_") :] for col in df.columns if col.startswith("_defect_")]
        df = b.defects.finish(df, c.relpath, id_cols)
        path = write_table(df, c, out_dir, fixed, rs["writer"], config.mixed_date_rate)
        files[c.relpath] = sha256_file(path)
        rows[c.relpath] = len(df)
        log.info("%s: %d rows (%.1fs)", c.relpath, len(df), time.perf_counter() - t0)
        del df

    truth = b.truth()
    table = pa.table(
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
    pq.write_table(table, truth_dir / TRUTH_FILE)
    b.child_attributes().to_parquet(truth_dir / "child_attributes.parquet", index=False)
    b.defects.frame().to_parquet(truth_dir / "injected_defects.parquet", index=False)

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
