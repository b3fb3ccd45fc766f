"""Hand-built inputs for the serving tests: score tables, alerts and an evaluation document."""
# Kept out of conftest.py so tests can import the constants by a unique module name.

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd

AS_OF = dt.date(2025, 6, 1)
CYCLE = "2025-06"

# district, township, community, guardianship capacity K, children scored
COMMUNITIES = [
    ("临安区", "於潜镇", "光明村", 3, 14),
    ("临安区", "於潜镇", "祥里村", 2, 5),
    ("西湖区", "转塘街道", "龙坞社区", 4, 25),
]
LEVELS = {20: "极危", 19: "极危", 18: "高危", 17: "高危", 16: "高危"}


def token(i: int, kind: str = "P") -> str:
    """A well-formed pseudonymous token (docs/interfaces.md §2) for child ``i``."""
    return f"{kind}_k1_" + hashlib.sha256(f"child-{i}".encode()).hexdigest()[:20]


def level_of(ventile: int) -> str:
    return LEVELS.get(ventile, "中危" if ventile >= 11 else "低危")


def _scores(target: str, lb_capacity: int | None) -> pd.DataFrame:
    rows = []
    i = 0
    for district, township, community, k, n in COMMUNITIES:
        for r in range(1, n + 1):
            i += 1
            ventile = max(1, 21 - r) if target == "guardianship_risk" else max(1, 18 - 2 * r)
            rows.append(
                {
                    "child_token": token(i if target == "guardianship_risk" else 1000 + i),
                    "as_of_date": AS_OF,
                    "target": target,
                    "community": community,
                    "township": township,
                    "district": district,
                    "score": round(0.9 / r, 6),
                    "ventile": ventile,
                    "risk_level": level_of(ventile),
                    "rank_in_community": r,
                    "capacity": k if lb_capacity is None else lb_capacity,
                    "reasons": [f"近3个月缺勤{10 + r}天", "父母均在外地参保12个月", "祖父近期住院"][
                        : 1 + r % 3
                    ],
                    "reason_features": [
                        "school_days_absent_3m",
                        "parents_away_months_12m",
                        "guardian_inpatient_3m",
                    ][: 1 + r % 3],
                    "age_band": ["0–2岁", "3–5岁", "6–11岁", "12–14岁", "15–17岁"][r % 5],
                    "last_visit_date": None if r % 4 == 0 else dt.date(2025, 3, r % 28 + 1),
                    "registry_category": "留守儿童" if r % 3 == 0 else None,
                    "flags": ["数据更正中"] if r == 2 else [],
                }
            )
    return pd.DataFrame(rows)


def make_guardianship_scores() -> pd.DataFrame:
    return _scores("guardianship_risk", None)


def make_left_behind_scores() -> pd.DataFrame:
    df = _scores("left_behind_risk", 3)
    # the top left-behind candidate of 光明村 is also on its guardianship list
    df.loc[0, "child_token"] = token(1)
    return df


def make_alerts() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "child_token": token(3),
                "community": "光明村",
                "event": "监护人住院",
                "event_date": dt.date(2025, 5, 20),
            },
            {
                "child_token": token(9999),
                "community": "龙坞社区",
                "event": "低保家庭新生儿",
                "event_date": dt.date(2025, 5, 28),
            },
        ]
    )


def _metric(value: float, half: float = 0.03) -> dict:
    return {"value": value, "ci95": [round(value - half, 4), round(value + half, 4)]}


def make_evaluation() -> dict:
    metric_block = {
        "precision@capacity_abs": _metric(0.4123),
        "recall@capacity_abs": _metric(0.3567),
        "precision@5_pct": _metric(0.2811),
        "roc_auc": _metric(0.7812, 0.01),
        "average_precision": _metric(0.2456),
        "brier": _metric(0.0512, 0.002),
        "ece": _metric(0.0123, 0.002),
    }

    def scaled(f: float) -> dict:
        return {k: _metric(round(v["value"] * f, 4)) for k, v in metric_block.items()}

    fairness = []
    for attribute, groups in {
        "hukou_type": [("农业家庭户口", 5200, 0.91), ("非农业家庭户口", 3100, 1.0), ("非本地户籍", 7, 1.3)],
        "sex": [("男", 4100, 1.0), ("女", 4207, 1.02)],
        "urban_rural": [("城镇", 3000, 1.0), ("农村", 5307, 0.62)],
        # as features.labels writes them: booleans and a blank group (children with no record)
        "has_disability": [(False, 8100, 1.0), (True, 207, 0.95), (None, 40, 1.05)],
        "district": [("淳安县", 2100, 0.97), ("临安区", 3000, 1.0), ("某新区", 3207, 1.01)],
    }.items():
        ref = groups[0][0] if attribute not in ("hukou_type", "district") else "非农业家庭户口"
        if attribute == "district":
            ref = "临安区"
        if attribute == "urban_rural":
            ref = "城镇"
        for group, n, disp in groups:
            fairness.append(
                {
                    "attribute": attribute,
                    "group": group,
                    "reference_group": ref,
                    "n": n,
                    "n_positive": max(1, n // 40),
                    "prevalence": 0.025,
                    "tpr": round(0.36 * disp, 4),
                    "fnr": round(1 - 0.36 * disp, 4),
                    "for": 0.016,
                    "fpr": 0.02,
                    "precision": 0.41,
                    "ppr": 0.03,
                    "tpr_disparity": disp,
                    "tpr_disparity_ci95": [round(disp - 0.1, 3), round(disp + 0.1, 3)],
                    "flag": disp < 0.7,
                }
            )
    return {
        "target": "guardianship_risk",
        "model_name": "humiao_guardianship_risk",
        "model_version": "3",
        "mlflow_run_id": "0123456789abcdef0123456789abcdef",
        "trained_at": "2025-06-02T03:04:05",
        "train_as_of_dates": ["2024-01-01", "2024-04-01", "2024-07-01"],
        "test_as_of_dates": ["2025-01-01"],
        "label_timespan_days": 180,
        "n_train": 61234,
        "n_test": 20411,
        "prevalence_train": 0.0231,
        "prevalence_test": 0.0247,
        "capacity_total": 1370,
        "n_communities": 137,
        "metrics": {
            "model": metric_block,
            "prior": scaled(0.5),
            "one_feature_rank": scaled(0.7),
            "registry_rule": scaled(0.6),
            "checklist": scaled(0.8),
        },
        "beats_baselines": {
            b: {
                "metric": "precision@capacity_abs",
                "better_point_estimate": True,
                "significant": b != "checklist",
            }
            for b in ("prior", "one_feature_rank", "registry_rule", "checklist")
        },
        "splits": [
            {
                "train_as_of_dates": ["2023-07-01", "2023-10-01"],
                "test_as_of_date": d,
                "metrics": {k: {"value": round(v["value"] * f, 4)} for k, v in metric_block.items()},
            }
            for d, f in (("2024-04-01", 0.9), ("2024-07-01", 0.95), ("2024-10-01", 1.0))
        ],
        "selection": {
            "criterion": "max mean(precision@capacity_abs) - 0.5 * std(precision@capacity_abs) over splits",
            "selected_config": {"num_leaves": 31, "learning_rate": 0.05},
            "regret": 0.012,
        },
        "fairness": fairness,
        "calibration": {
            "method": "isotonic",
            "bins": [
                {"mean_predicted": p, "observed": round(p * 0.93, 4), "n": 2000 - int(p * 1000)}
                for p in (0.01, 0.05, 0.1, 0.2, 0.4)
            ],
        },
        # as models.evaluate writes it: multiples of capacity K, then city-wide top percentages; plus
        # city-wide top-N rows (``{k_total, precision, recall}``)
        "precision_recall_at_k": [
            *[
                {"k_per_community_factor": f, "k_total": round(1370 * f), "precision": round(0.45 - 0.05 * f, 4),
                 "recall": round(0.36 * f ** 0.5, 4)}
                for f in (0.5, 1.0, 2.0)
            ],
            *[
                {"k_total": k, "pct": p, "precision": round(0.5 - p / 100, 4), "recall": round(0.12 + p / 50, 4)}
                for k, p in ((204, 1.0), (1021, 5.0), (2041, 10.0))
            ],
            *[
                {"k_total": k, "precision": round(0.6 - k / 10000, 4), "recall": round(min(1.0, k / 4000), 4)}
                for k in (250, 500, 1000, 1370, 2000, 3000)
            ],
        ],
        "importance_by_family": {
            "school": 0.31,
            "parents_away": 0.27,
            "visits": 0.18,
            "subsistence": 0.14,
            "health": 0.10,
        },
        "features": [
            {
                "name": "school_days_absent_3m",
                "family": "school",
                "description_zh": "近3个月缺勤天数",
                "sensitive": False,
                "sensitive_reason_zh": "",
            },
            {
                "name": "disability_grade",
                "family": "health",
                "description_zh": "残疾等级",
                "sensitive": True,
                "sensitive_reason_zh": "残疾儿童及其家庭需要更多照护支持，用于识别支持需求",
            },
            {
                "name": "subsistence_months_12m",
                "family": "subsistence",
                "description_zh": "近12个月享受低保月数",
                "sensitive": True,
                "sensitive_reason_zh": "经济困难家庭可能需要救助，用于识别帮扶需求",
            },
        ],
        # nested like models.evaluate: LightGBM's parameters, the grid, run settings, the baselines
        "params": {
            "lightgbm": {"objective": "binary", "num_leaves": 31, "learning_rate": 0.05, "n_estimators": 300,
                         "min_child_samples": 100, "deterministic": True, "monotone_constraints": [0] * 12 + [1, -1, 1],
                         "monotone_constraints_method": "basic"},
            "grid": [{"num_leaves": 15, "learning_rate": 0.05}, {"num_leaves": 31, "learning_rate": 0.05}],
            "seed": 7,
            "n_boot": 200,
            "ties_headline": "stochastic",
            "negative_sample_rate": 0.25,
            "calibration_holdout": "latest training as-of date(s) held out; isotonic if >= min positives else Platt",
            "baselines": {"one_feature_rank": {"feature": "school_days_absent_3m", "direction": 1}},
        },
        "simulation": True,
        "truth_metrics": {"precision@capacity_abs": _metric(0.5234), "recall@capacity_abs": _metric(0.3012)},
        "approval": {
            "status": "approved",
            "by": "auto",
            "at": "2025-06-02T03:10:00",
            "note": "simulated input: approved automatically",
        },
    }
