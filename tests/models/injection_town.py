"""Helper of the fairness-injection test (DESIGN §11.11): a simulated town run through ingest, features,
labels and one target's model cycle, with or without ``township_visit_bias`` on one district.

Importable from a benchmark script too: ``run_town(root, children, seed, bias_district, factor)``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[2]
INJECTED_DISTRICT = "萧山区"
GRID = [{"num_leaves": 15, "learning_rate": 0.05, "num_boost_round": 150, "min_data_in_leaf": 50}]


def district_townships(name: str) -> tuple[str, ...]:
    from simulator.config import SimulatorConfig

    return next(d.townships for d in SimulatorConfig().districts if d.name == name)


def run_town(
    root: Path,
    *,
    children: int,
    seed: int,
    bias_district: str | None,
    factor: float = 3.0,
    target: str = "guardianship_risk",
    n_boot: int = 200,
) -> dict:
    """Simulate (optionally with every township of ``bias_district`` visited ``factor`` × as often),
    ingest, build features/labels, train and evaluate ``target`` with true outcomes; return the
    evaluation document."""
    import simulator
    from features.dictionary import feature_dictionary
    from features.labels import true_outcomes
    from humiao.config import load_config
    from humiao.plan import plan_cycle
    from humiao.stages import (
        build_feature_frames,
        capacity_for,
        model_splits,
        pseudonymizer_from_config,
        run_ingest,
        training_matrix,
    )  # fmt: skip
    from models.cycle import run_target_cycle
    from models.oracle import true_risk_score
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
        "time": {"n_splits": 1},
    }  # fmt: skip
    (root / "humiao.yaml").write_text(yaml.safe_dump(cfg_d, allow_unicode=True), encoding="utf-8")
    cfg = load_config(root / "humiao.yaml")
    sim_cfg = simulator.SimulatorConfig()
    if bias_district:
        sim_cfg = dataclasses.replace(
            sim_cfg, township_visit_bias={t: float(factor) for t in district_townships(bias_district)}
        )
    simulator.simulate(
        cfg.path("raw_dir"),
        cfg.path("truth_dir"),
        children=children,
        months=36,
        seed=seed,
        end_month=cfg.simulation.end_month,
        config=sim_cfg,
    )
    run_ingest(cfg)
    plan = plan_cycle(cfg, cfg.pseudonymized_dir)
    feats, labels = build_feature_frames(cfg, plan)
    labelled = feats[pd.to_datetime(feats["as_of_date"]).dt.date.isin(plan.training_as_of_dates)]
    m = training_matrix(labelled, labels, target)
    truth = load_truth(cfg.path("truth_dir"), pseudonymizer_from_config(cfg))
    res = run_target_cycle(
        m, target, feature_dictionary(), capacity_for(cfg, labelled, target), model_splits(plan)[-1:],
        label_timespan_days=cfg.time.label_timespan_days, grid=GRID, seed=0,
        truth=true_outcomes(truth, m, target, cfg.time.label_timespan_days),
        oracle_score=true_risk_score(truth, m, target), simulation=True, track=False, n_boot=n_boot,
    )  # fmt: skip
    return res.evaluation


def district_rows(ev: dict, district: str = INJECTED_DISTRICT) -> dict:
    """The injected district's audit rows on observed labels and on true outcomes."""
    pick = lambda rows: next(r for r in rows if r["attribute"] == "district" and r["group"] == district)  # noqa: E731
    return {"observed": pick(ev["fairness"]), "truth": pick(ev["fairness_truth"])}


if __name__ == "__main__":
    import json
    import sys
    import time

    children = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    for bias in (INJECTED_DISTRICT, None):
        t = time.time()
        ev = run_town(Path(f"/tmp/inj_town_{children}_{bias}"), children=children, seed=3, bias_district=bias)
        rows = district_rows(ev)
        print("bias", bias, "s", round(time.time() - t), flush=True)
        for kind, r in rows.items():
            print(
                " ",
                kind,
                {
                    k: r[k]
                    for k in (
                        "reference_group",
                        "n",
                        "n_positive",
                        "tpr",
                        "tpr_disparity",
                        "tpr_disparity_ci95",
                        "flag",
                    )
                },
            )
        print(
            "  all flagged districts obs",
            [
                (r["group"], round(r["tpr_disparity"], 2))
                for r in ev["fairness"]
                if r["flag"] and r["attribute"] == "district"
            ],
        )
        print(
            "  all flagged districts truth",
            [
                (r["group"], round(r["tpr_disparity"], 2))
                for r in ev["fairness_truth"]
                if r["flag"] and r["attribute"] == "district"
            ],
        )
        Path(f"/tmp/inj_ev_{children}_{bias}.json").write_text(json.dumps(ev, ensure_ascii=False))
