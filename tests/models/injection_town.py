"""Helper of the fairness-injection test (DESIGN §11.11): a simulated town run through the pipeline's
own stages — ingest (pseudonymization), features, labels, one target's model cycle with the fairness
audit on observed labels and on true outcomes — with or without a bias injected into one district.

Two injections are available (simulator knobs, both off by default):

``visit_bias={district: k}``
    every township of the district is visited k × as often (``SimulatorConfig.township_visit_bias``):
    surveillance bias — more of that district's failures are *recorded*, the children are not worse off.
``incident_bias={district: k}``
    every police record of the district's households is made with k × its probability
    (``SimulatorConfig.district_incident_recording_bias``).

``districts`` restricts the town to some of the city's districts (their census shares are kept), so a
small town still holds thousands of children per audited district.

Importable from a script too: ``python tests/models/injection_town.py CHILDREN SEED [FACTOR]`` prints the
injected district's audit rows with and without a visit injection (the two towns run side by side).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[2]
INJECTED_DISTRICT = "钱塘区"
#: Two suburban districts: 萧山区 (the larger — about 72% of the town — so the audit's default reference,
#: with enough recorded cases to measure its recall) and 钱塘区, where the bias is injected.
TOWN_DISTRICTS: tuple[str, ...] = ("萧山区", "钱塘区")
GRID = [{"num_leaves": 15, "learning_rate": 0.05, "num_boost_round": 150, "min_data_in_leaf": 50}]


def district_townships(name: str) -> tuple[str, ...]:
    """The townships of one district of the simulated city."""
    from simulator.config import SimulatorConfig

    return next(d.townships for d in SimulatorConfig().districts if d.name == name)


def simulator_config(
    districts: Sequence[str] | None = None,
    visit_bias: Mapping[str, float] | None = None,
    incident_bias: Mapping[str, float] | None = None,
    failure_bias: Mapping[str, float] | None = None,
):
    """The simulator's default configuration with the town's districts and injections."""
    from simulator import SimulatorConfig

    cfg = SimulatorConfig()
    if districts:
        unknown = set(districts) - {d.name for d in cfg.districts}
        if unknown:
            raise ValueError(f"unknown districts {sorted(unknown)}")
        cfg = dataclasses.replace(cfg, districts=tuple(d for d in cfg.districts if d.name in set(districts)))
    if visit_bias:
        towns = {t: float(k) for d, k in visit_bias.items() for t in district_townships(d)}
        cfg = dataclasses.replace(cfg, township_visit_bias=towns)
    if incident_bias:
        cfg = dataclasses.replace(cfg, district_incident_recording_bias={d: float(k) for d, k in incident_bias.items()})
    if failure_bias:
        cfg = dataclasses.replace(cfg, district_failure_recording_bias={d: float(k) for d, k in failure_bias.items()})
    return cfg


def run_town(
    root: Path,
    *,
    children: int,
    seed: int,
    districts: Sequence[str] | None = TOWN_DISTRICTS,
    visit_bias: Mapping[str, float] | None = None,
    incident_bias: Mapping[str, float] | None = None,
    failure_bias: Mapping[str, float] | None = None,
    target: str = "guardianship_risk",
    n_splits: int = 3,
    n_boot: int = 200,
) -> dict:
    """Simulate the town (with the injections), ingest, build features and labels, train and evaluate
    ``target`` over ``n_splits`` temporal splits (test dates 6 months apart) with true outcomes and the
    oracle; return the evaluation document (:func:`models.evaluate.evaluate_target`: ``fairness`` on
    observed labels and ``fairness_truth`` on true outcomes, both over every split's test date)."""
    import simulator
    from features.dictionary import feature_dictionary
    from features.labels import true_outcomes
    from humiao.config import load_config
    from humiao.plan import plan_cycle
    from humiao.stages import (
        build_feature_frames,
        capacity_for,
        pseudonymizer_from_config,
        run_ingest,
        training_matrix,
    )  # fmt: skip
    from models.cycle import run_target_cycle
    from models.oracle import true_risk_score
    from models.train import splits_from_timechop
    from privacy.truth import load_truth

    root.mkdir(parents=True, exist_ok=True)
    cfg_d = {
        "paths": {
            "raw_dir": str(root / "raw"), "truth_dir": str(root / "truth"), "work_dir": str(root / "work"),
            "quarantine_dir": str(root / "quarantine"), "out_dir": str(root / "out"),
            "secrets_dir": str(root / "secrets"), "dagster_home": str(root / "dagster"),
            "contracts_dir": str(REPO / "contracts"),
        },
        "simulation": {"children": children, "months": 36, "seed": seed},
        "time": {"n_splits": n_splits},
    }  # fmt: skip
    (root / "humiao.yaml").write_text(yaml.safe_dump(cfg_d, allow_unicode=True), encoding="utf-8")
    cfg = load_config(root / "humiao.yaml")
    simulator.simulate(
        cfg.path("raw_dir"),
        cfg.path("truth_dir"),
        children=children,
        months=36,
        seed=seed,
        end_month=cfg.simulation.end_month,
        config=simulator_config(districts, visit_bias, incident_bias, failure_bias),
    )
    run_ingest(cfg)
    plan = plan_cycle(cfg, cfg.pseudonymized_dir)
    feats, labels = build_feature_frames(cfg, plan)
    labelled = feats[pd.to_datetime(feats["as_of_date"]).dt.date.isin(plan.training_as_of_dates)]
    m = training_matrix(labelled, labels, target)
    truth = load_truth(cfg.path("truth_dir"), pseudonymizer_from_config(cfg))
    res = run_target_cycle(
        m, target, feature_dictionary(), capacity_for(cfg, labelled, target), splits_from_timechop(plan.splits),
        label_timespan_days=cfg.time.label_timespan_days, grid=GRID, seed=0,
        truth=true_outcomes(truth, m, target, cfg.time.label_timespan_days),
        oracle_score=true_risk_score(truth, m, target), simulation=True, track=False, n_boot=n_boot,
    )  # fmt: skip
    return res.evaluation


def district_rows(ev: dict, district: str = INJECTED_DISTRICT) -> dict:
    """The district's audit rows on observed labels and on true outcomes."""

    def pick(rows):
        return next(r for r in rows if r["attribute"] == "district" and r["group"] == district)

    return {"observed": pick(ev["fairness"]), "truth": pick(ev["fairness_truth"])}


def summary(ev: dict, district: str = INJECTED_DISTRICT) -> dict:
    """The figures the injection test looks at, for printing."""
    keys = ("reference_group", "n", "n_positive", "tpr", "tpr_disparity", "tpr_disparity_ci95", "flag")
    return {kind: {k: r[k] for k in keys} for kind, r in district_rows(ev, district).items()}


def _timed(kind: str, root: Path, **kw) -> tuple[str, float, dict]:
    import time

    t = time.perf_counter()
    ev = run_town(root, **kw)
    return kind, time.perf_counter() - t, ev


if __name__ == "__main__":
    import json
    import multiprocessing
    import sys
    import tempfile
    from concurrent.futures import ProcessPoolExecutor

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    factor = float(sys.argv[3]) if len(sys.argv) > 3 else 50.0
    with tempfile.TemporaryDirectory() as d, ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [
            pool.submit(_timed, kind, Path(d) / kind, children=n, seed=seed, visit_bias=bias)
            for kind, bias in (("injected", {INJECTED_DISTRICT: factor}), ("plain", None))
        ]
        for f in futures:
            kind, secs, ev = f.result()
            print(json.dumps({"town": kind, "children": n, "seed": seed, "factor": factor, "seconds": round(secs),
                              **summary(ev)}, ensure_ascii=False, default=str), flush=True)  # fmt: skip
