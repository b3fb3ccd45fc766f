"""The evaluation document of one target: model vs baselines at the deployed capacity, across splits,
with fairness, calibration and feature facts — the JSON the model card is rendered from.

``evaluate_target`` returns a JSON-serializable dict (logged to MLflow as ``evaluation.json``; serving
renders the card from it, so its keys are a contract)::

    target, model_name, model_version, mlflow_run_id, trained_at (ISO)
    train_as_of_dates, test_as_of_dates          the evaluated split: the latest test date and its training dates
    label_timespan_days, n_train, n_test, prevalence_train, prevalence_test
    capacity_total, n_communities                at the test as-of date
    metrics        {model|prior|one_feature_rank|registry_rule|checklist: {metric: {value, ci95, [ties]}}}
    beats_baselines{baseline: {metric: "precision@capacity_abs", better_point_estimate, significant}}
    splits         [{train_as_of_dates, test_as_of_date, metrics: {metric: {value, ci95}}}]  selected config
    selection      {criterion, selected_config, regret, scores}
    fairness       [{attribute, group, reference_group, n, n_positive, prevalence, tpr, fnr, for, fpr,
                     precision, ppr, tpr_disparity, tpr_disparity_ci95, flag, …}]
    calibration    {method, bins: [{mean_predicted, observed, n}], n_fit, n_positive_fit, fit_as_of_dates}
    precision_recall_at_k [{k_per_community_factor, k_total, precision, recall} | {k_total, precision, recall}]
    importance_by_family {family: share}
    features       [{name, family, description_zh, sensitive, sensitive_reason_zh}]
    params, simulation, truth_metrics (null or {model|baseline: metric block on true outcomes})
    approval       {status: approved|pending, by, at, note}
    refit          {train_as_of_dates, calibration_as_of_dates, calibration_method, n_train, n_positive_train}
    fairness_truth (simulation: the audit on true outcomes), notes [str]

Why these contents: Mitchell et al. (2019), "Model cards for model reporting", FAT* — intended use,
metrics with intervals, disaggregated (group) evaluation, training data; the UK Algorithmic
Transparency Recording Standard; the metrics and baselines of dssg/triage; the group metrics of
Aequitas. Headline metrics are on the latest split's test as-of date, computed by that split's model
(trained only on dates whose label windows closed before it); the registered model is the selected
config refit on the latest window (``refit``). "Beats" = better point estimate; "significant" only when
the bootstrap 95% intervals do not overlap (DESIGN §7).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd

from models import metrics as M
from models.baselines import (
    Baseline,
    ExpertChecklist,
    OneFeatureRank,
    PriorRate,
    RegistryCategoryRule,
    best_single_feature,
)
from models.capacity import capacity_for_date
from models.explain import importance_by_family
from models.fairness import FAIRNESS_ATTRIBUTES, fairness_audit
from models.train import TrainResult, _dates, _to_date, rows_of_date, training_labels

EVALUATION_KEYS: tuple[str, ...] = (
    "target", "model_name", "model_version", "mlflow_run_id", "trained_at", "train_as_of_dates",
    "test_as_of_dates", "label_timespan_days", "n_train", "n_test", "prevalence_train", "prevalence_test",
    "capacity_total", "n_communities", "metrics", "beats_baselines", "splits", "selection", "fairness",
    "calibration", "precision_recall_at_k", "importance_by_family", "features", "params", "simulation",
    "truth_metrics", "approval",
)  # fmt: skip
BASELINE_NAMES: tuple[str, ...] = ("prior", "one_feature_rank", "registry_rule", "checklist")
DEFAULT_K_FACTORS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 3.0)
DEFAULT_CITY_PCTS: tuple[float, ...] = (1.0, 5.0, 10.0, 20.0)


def to_jsonable(obj):
    """Recursively convert to JSON types: NaN/inf → None, numpy → Python, dates → ISO strings."""
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | np.ndarray | pd.Index):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, pd.Timestamp | datetime | date):
        return obj.isoformat()
    if obj is None or isinstance(obj, str):
        return obj
    if obj is pd.NA or obj is pd.NaT:
        return None
    return str(obj)


def _baseline_scores(b: Baseline, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return b.predict_proba(X)[:, 1], b.rank_score(X)


def _block(y, proba, rank, test: pd.DataFrame, cap, n_boot: int, seed: int, ties: str) -> dict:
    return M.evaluate_scores(
        y, proba, test["community"], cap, rank_score=rank, child_ids=test["child_token"], n_boot=n_boot,
        seed=seed, ties=ties,
    )  # fmt: skip


def _pr_at_k(y, rank, test: pd.DataFrame, cap: pd.Series, factors, pcts, seed: int) -> list[dict]:
    out = []
    for f in factors:
        cap_f = (cap.astype("float64") * f).round().astype("int64")
        out.append(
            {
                "k_per_community_factor": float(f),
                "k_total": int(cap_f.reindex(test["community"].astype(str).unique()).sum()),
                "precision": M.precision_at_k_per_community(y, rank, test["community"], cap_f, seed=seed),
                "recall": M.recall_at_k_per_community(y, rank, test["community"], cap_f, seed=seed),
            }
        )
    n, pos = len(y), float(np.sum(y))
    for p in pcts:
        k = M.k_for_pct(n, p)
        prec = M.precision_at_pct(y, rank, pct=p, seed=seed)
        out.append(
            {
                "k_total": int(k),
                "pct": float(p),
                "precision": prec,
                "recall": prec * k / pos if pos else math.nan,
            }
        )
    return out


def evaluate_target(
    result: TrainResult,
    matrix: pd.DataFrame,
    feature_dictionary: pd.DataFrame,
    capacity: pd.DataFrame,
    *,
    label_timespan_days: int,
    one_feature: str | None = None,
    one_feature_direction: int = 1,
    checklist: ExpertChecklist | None = None,
    truth: pd.Series | None = None,
    simulation: bool = False,
    model_name: str | None = None,
    model_version: str | None = None,
    mlflow_run_id: str | None = None,
    trained_at: datetime | None = None,
    approval: Mapping | None = None,
    fairness_attributes: Sequence[str] = FAIRNESS_ATTRIBUTES,
    reference_groups: Mapping[str, str] | None = None,
    k_factors: Sequence[float] = DEFAULT_K_FACTORS,
    city_pcts: Sequence[float] = DEFAULT_CITY_PCTS,
    extra_params: Mapping | None = None,
    n_boot: int = M.DEFAULT_N_BOOT,
    seed: int = M.DEFAULT_SEED,
    ties: str = "stochastic",
) -> dict:
    """Build the evaluation document of one target.

    Parameters
    ----------
    result : TrainResult
        From :func:`models.train.train_target`.
    matrix : DataFrame
        The training matrix it was trained on (features ⨝ labels of the cohort, all as-of dates).
    feature_dictionary : DataFrame
        docs/interfaces.md §3.
    capacity : DataFrame
        ``as_of_date, community, capacity`` covering the test dates.
    label_timespan_days : int
    one_feature : str, optional
        Feature of the one-feature baseline (e.g. ``parents_away_months_12m``); if None or absent from
        the matrix, the feature with the best training AUC is used and a note says so.
    one_feature_direction : int
    checklist : ExpertChecklist, optional
        Default: the packaged ``models/checklist.yaml``.
    truth : Series, optional
        Simulation only: true outcome (0/1) per matrix row (same index); adds ``truth_metrics`` and
        ``fairness_truth``.
    simulation : bool
        The input carries the simulator's manifest.
    model_name, model_version, mlflow_run_id : str, optional
        Filled by :mod:`models.tracking` once the model is registered.
    trained_at : datetime, optional
        Default: now (UTC).
    approval : mapping, optional
        ``{status, by, at, note}``; default pending.
    fairness_attributes, reference_groups
        See :func:`models.fairness.fairness_audit`.
    k_factors : sequence of float
        Multiples of each community's K for the precision/recall-at-K curve.
    city_pcts : sequence of float
        City-wide list lengths (percent) for the same curve.
    extra_params : mapping, optional
        Added to ``params`` (capacity settings, config hash …).
    n_boot, seed, ties
        Bootstrap replicates, seed and headline tie order (:func:`models.metrics.evaluate_scores`).

    Returns
    -------
    dict
        JSON-serializable (NaN → null), keys :data:`EVALUATION_KEYS` plus ``refit``,
        ``fairness_truth`` and ``notes``.
    """
    target = result.target
    notes: list[str] = []
    last_i = len(result.splits) - 1
    split = result.splits[last_i]
    model = result.split_models[last_i]
    test = rows_of_date(matrix, target, split.test_as_of_date)
    train = matrix[_dates(matrix).isin(split.train_as_of_dates) & matrix[target].notna()]
    y_test = test[target].astype("float64").to_numpy()
    y_train = training_labels(train, target, split.test_as_of_date)
    cap = capacity_for_date(capacity, split.test_as_of_date)
    cap_test = cap.reindex(test["community"].astype(str).unique())

    # --- model and baselines on the same test rows --------------------------------------------------
    raw = model.raw_score(test)
    proba = model.calibrator.transform(raw)
    scored: dict[str, tuple[np.ndarray, np.ndarray]] = {"model": (proba, raw)}
    baselines: dict[str, Baseline] = {"prior": PriorRate()}
    feat = one_feature
    direction = one_feature_direction
    if feat is None or feat not in matrix.columns:
        feat, direction = best_single_feature(train, y_train, result.feature_names)
        notes.append(
            f"one_feature_rank: configured feature {one_feature!r} not in the matrix; used {feat!r} "
            f"(best training AUC, direction {direction:+d})"
        )
    baselines["one_feature_rank"] = OneFeatureRank(feat, direction)
    if "registry_category" in matrix.columns:
        baselines["registry_rule"] = RegistryCategoryRule()
    else:
        notes.append("registry_rule: no registry_category column; baseline not evaluated")
    chk = checklist if checklist is not None else ExpertChecklist()
    baselines["checklist"] = chk
    for name, b in baselines.items():
        b.fit(train, y_train)
        scored[name] = _baseline_scores(b, test)
    if chk.missing_features_:
        notes.append(
            f"checklist: {len(chk.missing_features_)} indicator features absent, scored 0: {chk.missing_features_}"
        )

    blocks = {name: _block(y_test, p, r, test, cap, n_boot, seed, ties) for name, (p, r) in scored.items()}
    beats = {}
    for name in baselines:
        mv, bv = blocks["model"][M.PRECISION_AT_CAPACITY], blocks[name][M.PRECISION_AT_CAPACITY]
        better = bool(np.nan_to_num(mv["value"], nan=-1) > np.nan_to_num(bv["value"], nan=-1))
        beats[name] = {
            "metric": M.PRECISION_AT_CAPACITY,
            "better_point_estimate": better,
            "significant": bool(better and not M.intervals_overlap(mv["ci95"], bv["ci95"])),
        }

    # --- every split of the selected config --------------------------------------------------------
    splits_out = []
    for si, sp in enumerate(result.splits):
        fm = result.split_models[si]
        rows = rows_of_date(matrix, target, sp.test_as_of_date)
        r_raw = fm.raw_score(rows)
        block = _block(
            rows[target].astype("float64").to_numpy(), fm.calibrator.transform(r_raw), r_raw, rows,
            capacity_for_date(capacity, sp.test_as_of_date), n_boot, seed, ties,
        )  # fmt: skip
        splits_out.append(
            {
                "train_as_of_dates": [d.isoformat() for d in sp.train_as_of_dates],
                "test_as_of_date": sp.test_as_of_date.isoformat(),
                "metrics": block,
                "n_test": len(rows),
                "prevalence_test": float(rows[target].astype("float64").mean()),
            }
        )

    # --- fairness at the deployed capacity ----------------------------------------------------------
    selected = M.select_top_k(raw, test["community"], cap, ties="stochastic", seed=seed)
    attrs = test.reset_index(drop=True)
    audit = fairness_audit(
        y_test, selected, attrs, attribute_names=fairness_attributes, reference_groups=reference_groups,
        child_ids=test["child_token"], n_boot=n_boot, seed=seed,
    )  # fmt: skip

    # --- simulation: the same on true outcomes ----------------------------------------------------
    truth_metrics = None
    fairness_truth = None
    if truth is not None:
        y_true_t = pd.Series(truth).reindex(test.index)
        if y_true_t.isna().any():
            raise ValueError("truth lacks outcomes for some test rows")
        yt = y_true_t.astype("float64").to_numpy()
        truth_metrics = {
            name: _block(yt, p, r, test, cap, n_boot, seed, ties) for name, (p, r) in scored.items()
        }
        fairness_truth = fairness_audit(
            yt, selected, attrs, attribute_names=fairness_attributes, reference_groups=reference_groups,
            child_ids=test["child_token"], n_boot=n_boot, seed=seed,
        ).to_dict(orient="records")  # fmt: skip

    # --- facts ------------------------------------------------------------------------------------
    d = feature_dictionary.set_index("name")
    features = [
        {
            "name": n,
            "family": d.at[n, "family"] if n in d.index else "other",
            "description_zh": d.at[n, "description_zh"] if n in d.index else "",
            "sensitive": bool(d.at[n, "sensitive"]) if n in d.index else False,
            "sensitive_reason_zh": (d.at[n, "sensitive_reason_zh"] if n in d.index else "") or "",
        }
        for n in result.feature_names
    ]
    final = result.final
    params = {
        "lightgbm": final.params,
        "grid": result.grid,
        "seed": result.seed,
        "n_boot": n_boot,
        "ties_headline": ties,
        "label_timespan_days": label_timespan_days,
        "calibration_holdout": "latest training as-of date(s) held out; isotonic if >= min positives else Platt",
        "baselines": {name: b.describe() for name, b in baselines.items()},
        **dict(extra_params or {}),
    }
    doc = {
        "target": target,
        "model_name": model_name,
        "model_version": model_version,
        "mlflow_run_id": mlflow_run_id,
        "trained_at": (trained_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        "train_as_of_dates": [x.isoformat() for x in split.train_as_of_dates],
        "test_as_of_dates": [split.test_as_of_date.isoformat()],
        "label_timespan_days": int(label_timespan_days),
        "n_train": len(train),
        "n_test": len(test),
        "prevalence_train": float(y_train.mean()) if len(y_train) else None,
        "prevalence_test": float(y_test.mean()) if len(y_test) else None,
        "capacity_total": int(cap_test.sum()),
        "n_communities": len(cap_test),
        "metrics": blocks,
        "beats_baselines": beats,
        "splits": splits_out,
        "selection": result.selection,
        "fairness": audit.to_dict(orient="records"),
        "calibration": {
            "method": model.calibrator.method,
            "bins": M.calibration_bins(y_test, proba),
            "n_fit": model.calibrator.n_fit,
            "n_positive_fit": model.calibrator.n_positive_fit,
            "fit_as_of_dates": model.calibrator.fit_as_of_dates,
        },
        "precision_recall_at_k": _pr_at_k(y_test, raw, test, cap, k_factors, city_pcts, seed),
        "importance_by_family": importance_by_family(final.booster, feature_dictionary),
        "features": features,
        "params": params,
        "simulation": bool(simulation),
        "truth_metrics": truth_metrics,
        "approval": dict(approval) if approval else {"status": "pending", "by": "", "at": None, "note": ""},
        "refit": {
            "train_as_of_dates": [_to_date(x).isoformat() for x in final.train_as_of_dates],
            "calibration_as_of_dates": [_to_date(x).isoformat() for x in final.calibration_as_of_dates],
            "calibration_method": final.calibrator.method,
            "n_train": final.n_train,
            "n_positive_train": final.n_positive_train,
        },
        "fairness_truth": fairness_truth,
        "notes": notes,
    }
    return to_jsonable(doc)
