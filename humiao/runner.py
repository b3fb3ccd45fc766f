"""Glue behind the CLI: the same library calls the Dagster assets make, with values from the config.

No computation lives here; see privacy/, features/, models/, serving/, simulator/.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from humiao.config import Config


def simulate_city(cfg: Config, *, children: int | None = None, months: int | None = None,
                  seed: int | None = None, out: Path | None = None, truth: Path | None = None,
                  force: bool = False) -> dict:
    """Write the simulated city unless ``out`` already holds the same seed and configuration.

    Reuse rule (DESIGN.md §3): a manifest with equal ``seed``, ``children``, ``months``, ``end_month``
    and simulator ``config_hash`` means the files are what this call would write, so nothing is done.
    A raw folder holding files but no simulator manifest is real data and is never overwritten.

    Raises
    ------
    FileExistsError
        If ``out`` holds departmental files without a simulator manifest.
    """
    import simulator

    sim = cfg.simulation
    children = sim.children if children is None else children
    months = sim.months if months is None else months
    seed = sim.seed if seed is None else seed
    out_dir = Path(out) if out else cfg.path("raw_dir")
    truth_dir = Path(truth) if truth else cfg.path("truth_dir")
    manifest_path = out_dir / "manifest.json"
    if manifest_path.exists():
        m = json.loads(manifest_path.read_text(encoding="utf-8"))
        same = (m.get("seed"), m.get("children"), m.get("months"), m.get("end_month")) == (
            seed, children, months, sim.end_month)
        if same and m.get("config_hash") == simulator.config_hash(simulator.SimulatorConfig()) and not force:
            m.update(out_dir=str(out_dir), reused=True)
            return m
    elif out_dir.exists() and any(p.is_file() for p in out_dir.rglob("*")):
        raise FileExistsError(
            f"{out_dir} holds departmental files but no simulator manifest: it looks like real data; "
            "refusing to simulate over it (choose another --out)")
    if out_dir.exists() and manifest_path.exists():
        shutil.rmtree(out_dir)
    manifest = simulator.simulate(out_dir, truth_dir, children=children, months=months, seed=seed,
                                  end_month=sim.end_month)
    manifest.update(out_dir=str(out_dir), reused=False)
    return manifest


def run_pipeline(cfg: Config, *, simulate_if_missing: bool = True, console=None) -> dict:
    """Simulate the default city if the raw folder is empty, then materialize every asset in-process."""
    from humiao.stages import is_simulated_dir

    raw_dir = cfg.path("raw_dir")
    has_data = raw_dir.exists() and any(p.is_file() for p in raw_dir.rglob("*"))
    if simulate_if_missing and (not has_data or is_simulated_dir(raw_dir)):
        m = simulate_city(cfg)
        if console is not None:
            verb = "reused" if m.get("reused") else "generated"
            console.print(f"simulated city {verb}: {m['children']} children, {m['months']} months → {raw_dir}")
    os.environ["DAGSTER_HOME"] = str(cfg.path("dagster_home"))
    from pipelines.run import materialize_all

    return materialize_all(cfg, console=console)


def build_scanner(cfg: Config, *, with_known: bool = True):
    """A LeakScanner with the scanner index of the last ingest (when present and ``with_known``) and the
    product's vocabulary as skip words (:func:`humiao.stages.output_scanner`)."""
    from humiao.stages import output_scanner

    return output_scanner(cfg, with_known=with_known)
