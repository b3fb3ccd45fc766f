"""Model cards generated from the evaluation document of a training run.

A card is never hand-typed: :func:`render_model_card` takes the evaluation document that models/
builds and logs to MLflow, and writes, for one target,

``<out_dir>/<target>.html``
    Chinese HTML with embedded plots (base64 PNG);
``<out_dir>/<target>.en.html``
    English HTML with embedded plots;
``<out_dir>/<target>.md``
    Markdown (Chinese, bilingual headings), plots linked as the PNG files beside it;
``<out_dir>/<target>.json``
    the card's content as published: the evaluation document after small-cell suppression, plus
    the approval statement and the list of plots;
``<out_dir>/<target>_<plot>.png``
    each plot (``calibration``, ``precision_recall_at_k``, ``fairness_tpr``,
    ``importance_by_family``, ``metrics_over_time``); with a CJK font installed these carry Chinese
    labels and ``<target>_<plot>.en.png`` carries English ones; without one, all labels are English
    so no glyph boxes appear.

Sections follow Mitchell et al. 2019, *Model Cards for Model Reporting*; the UK Algorithmic
Transparency Recording Standard (ATRS); and a PIPL personal-information impact assessment
(DESIGN §5, §7, §8). Any fairness group or calibration bin with fewer than 10 children is
suppressed (DESIGN §5).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import io
import json
import math
import re
from collections import Counter
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

__all__ = [
    "CORE_METRICS",
    "METRIC_NAMES",
    "ModelCardError",
    "build_card_context",
    "find_cjk_font",
    "render_model_card",
]

SMALL_CELL_THRESHOLD = 10
SUPPRESSED = f"<{SMALL_CELL_THRESHOLD}"
BAND = (0.8, 1.25)

#: Metric names in display order (triage names; DESIGN §7, §11.9).
METRIC_NAMES: tuple[str, ...] = (
    "precision@capacity_abs",
    "recall@capacity_abs",
    "precision@5_pct",
    "roc_auc",
    "average_precision",
    "brier",
    "ece",
)
#: Metrics of the model that a card cannot be published without.
CORE_METRICS: tuple[str, ...] = (
    "precision@capacity_abs",
    "recall@capacity_abs",
    "precision@5_pct",
    "roc_auc",
    "average_precision",
)
CORE_KEYS: tuple[str, ...] = ("target", "model_name", "model_version", "metrics")
#: Every top-level key of the evaluation document (models/), core or optional.
EVALUATION_KEYS: tuple[str, ...] = (
    "target",
    "model_name",
    "model_version",
    "mlflow_run_id",
    "trained_at",
    "train_as_of_dates",
    "test_as_of_dates",
    "label_timespan_days",
    "n_train",
    "n_test",
    "prevalence_train",
    "prevalence_test",
    "capacity_total",
    "n_communities",
    "metrics",
    "beats_baselines",
    "splits",
    "selection",
    "fairness",
    "calibration",
    "precision_recall_at_k",
    "importance_by_family",
    "features",
    "params",
    "simulation",
    "truth_metrics",
    "approval",
    "fairness_truth",
    "fairness_scope",
    "label_coverage",
    "label_gap",
    "oracle",
)
MODEL_ORDER: tuple[str, ...] = ("model", "checklist", "registry_rule", "one_feature_rank", "prior")

TEMPLATE_DIR = Path(__file__).parent / "templates"

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "model": "模型（LightGBM）",
        "prior": "先验基线（随机排序）",
        "one_feature_rank": "单特征排序基线",
        "registry_rule": "台账类别规则（现行做法）",
        "checklist": "专家清单基线",
        "precision@capacity_abs": "名额内精确率 precision@capacity_abs",
        "recall@capacity_abs": "名额内召回率 recall@capacity_abs",
        "precision@5_pct": "前5%精确率 precision@5_pct",
        "roc_auc": "ROC AUC",
        "average_precision": "平均精确率 average_precision",
        "brier": "Brier 分数",
        "ece": "期望校准误差 ECE",
        "hukou_type": "户口性质",
        "urban_rural": "城乡",
        "sex": "性别",
        "has_disability": "是否残疾",
        "district": "区县",
        "guardianship_risk": "监护风险（guardianship_risk）",
        "left_behind_risk": "疑似未登记留守（left_behind_risk）",
        "oracle": "理想排序（按模拟真实风险）",
        "all": "全部",
        "township": "乡镇(街道)",
        "community": "村(社区)",
    },
    "en": {
        "model": "Model (LightGBM)",
        "prior": "Prior baseline (random order)",
        "one_feature_rank": "One-feature rank baseline",
        "registry_rule": "Registry-category rule (current practice)",
        "checklist": "Expert checklist baseline",
        "precision@capacity_abs": "precision@capacity_abs",
        "recall@capacity_abs": "recall@capacity_abs",
        "precision@5_pct": "precision@5_pct",
        "roc_auc": "ROC AUC",
        "average_precision": "average_precision",
        "brier": "Brier score",
        "ece": "Expected calibration error (ECE)",
        "hukou_type": "Hukou type",
        "urban_rural": "Urban/rural",
        "sex": "Sex",
        "has_disability": "Disability",
        "district": "District",
        "guardianship_risk": "Guardianship risk (guardianship_risk)",
        "left_behind_risk": "Unregistered left-behind child (left_behind_risk)",
        "oracle": "Oracle (ranked by the simulated true risk)",
        "all": "All",
        "township": "Township",
        "community": "Community",
    },
}

#: English renderings of group values that occur in the fairness audit (used on English plots).
GROUP_EN = {
    "男": "male",
    "女": "female",
    "城镇": "urban",
    "农村": "rural",
    "农业家庭户口": "agricultural hukou",
    "非农业家庭户口": "non-agricultural hukou",
    "非本地户籍": "non-local hukou",
    "True": "yes",
    "False": "no",
    "是": "yes",
    "否": "no",
}

#: Feature families (importance table and plot).
FAMILY_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "school": "学校", "parents": "父母", "parents_away": "父母外出", "visit": "走访", "visits": "走访",
        "subsistence": "低保与救助", "health": "健康", "disability": "残疾", "guardian": "监护人",
        "household": "家庭", "demo": "人口信息", "registry": "台账登记", "notes": "走访记录文本",
        "police": "警情", "injury": "伤害就诊", "detention": "羁押服刑", "other": "其他",
    },
    "en": {
        "school": "School", "parents": "Parents", "parents_away": "Parents away", "visit": "Visits",
        "visits": "Visits", "subsistence": "Subsistence and assistance", "health": "Health",
        "disability": "Disability", "guardian": "Guardian", "household": "Household", "demo": "Demographics",
        "registry": "Registry", "notes": "Visit notes (text)", "police": "Police incidents",
        "injury": "Injury treatment", "detention": "Detention", "other": "Other",
    },
}

#: Model parameters (the two-column parameter table); an unknown key is shown by its name.
PARAM_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "lightgbm": "LightGBM 参数", "objective": "目标函数", "boosting_type": "提升方法", "boosting": "提升方法",
        "num_leaves": "叶子数上限", "max_depth": "最大树深", "learning_rate": "学习率", "n_estimators": "树的数量",
        "num_boost_round": "提升轮数", "num_iterations": "提升轮数", "min_child_samples": "叶子最少样本数",
        "min_data_in_leaf": "叶子最少样本数", "min_child_weight": "叶子最小权重和",
        "min_sum_hessian_in_leaf": "叶子最小权重和", "min_split_gain": "分裂最小增益",
        "negative_sample_rate": "负样本抽样率", "feature_fraction": "每棵树的特征抽样比例",
        "colsample_bytree": "每棵树的特征抽样比例", "bagging_fraction": "样本抽样比例", "subsample": "样本抽样比例",
        "bagging_freq": "样本抽样频率（每几轮）", "subsample_freq": "样本抽样频率（每几轮）",
        "lambda_l1": "L1 正则系数", "reg_alpha": "L1 正则系数", "lambda_l2": "L2 正则系数",
        "reg_lambda": "L2 正则系数", "scale_pos_weight": "正样本权重", "is_unbalance": "按类别不平衡加权",
        "num_threads": "线程数", "n_jobs": "线程数", "deterministic": "确定性训练", "force_row_wise": "按行构建直方图",
        "verbosity": "日志级别", "verbose": "日志级别", "seed": "随机种子", "random_state": "随机种子",
        "monotone_constraints": "单调约束", "monotone_constraints_method": "单调约束方法",
        "feature_pre_filter": "预先筛除无法分裂的特征", "early_stopping_rounds": "提前停止轮数", "metric": "训练评估指标",
        "grid": "候选配置（调参网格）", "n_boot": "自助法重抽样次数", "ties_headline": "主指标的同分处理",
        "label_timespan_days": "标签窗口（天）", "calibration_holdout": "校准留出数据", "calibration_method": "校准方法",
        "baselines": "基线", "name": "名称", "prevalence": "阳性率", "feature": "特征", "direction": "方向",
        "column": "依据列", "severity": "严重程度顺序", "version": "版本", "written": "编写日期",
        "n_indicators": "指标个数", "missing_features": "缺少的特征", "k_factors": "名额倍数",
        "city_pcts": "全市前百分比", "variance_penalty": "方差惩罚系数",
        "exploration_share": "随机名额比例", "capacity": "走访名额设置",
    },
    "en": {
        "lightgbm": "LightGBM parameters", "objective": "Objective", "boosting_type": "Boosting type",
        "boosting": "Boosting type", "num_leaves": "Maximum leaves per tree", "max_depth": "Maximum tree depth",
        "learning_rate": "Learning rate", "n_estimators": "Number of trees", "num_boost_round": "Boosting rounds",
        "num_iterations": "Boosting rounds", "min_child_samples": "Minimum samples per leaf",
        "min_data_in_leaf": "Minimum samples per leaf", "min_child_weight": "Minimum weight per leaf",
        "min_sum_hessian_in_leaf": "Minimum weight per leaf", "min_split_gain": "Minimum split gain",
        "negative_sample_rate": "Negative sampling rate", "feature_fraction": "Feature fraction per tree",
        "colsample_bytree": "Feature fraction per tree", "bagging_fraction": "Row sampling fraction",
        "subsample": "Row sampling fraction", "bagging_freq": "Row sampling frequency (every n rounds)",
        "subsample_freq": "Row sampling frequency (every n rounds)", "lambda_l1": "L1 regularization",
        "reg_alpha": "L1 regularization", "lambda_l2": "L2 regularization", "reg_lambda": "L2 regularization",
        "scale_pos_weight": "Positive class weight", "is_unbalance": "Weight for class imbalance",
        "num_threads": "Threads", "n_jobs": "Threads", "deterministic": "Deterministic training",
        "force_row_wise": "Row-wise histograms", "verbosity": "Log level", "verbose": "Log level",
        "seed": "Random seed", "random_state": "Random seed", "monotone_constraints": "Monotone constraints",
        "monotone_constraints_method": "Monotone constraint method",
        "feature_pre_filter": "Pre-filter unsplittable features", "early_stopping_rounds": "Early-stopping rounds",
        "metric": "Training metric", "grid": "Candidate configurations (grid)", "n_boot": "Bootstrap resamples",
        "ties_headline": "Tie handling of the headline metrics", "label_timespan_days": "Label window (days)",
        "calibration_holdout": "Calibration hold-out", "calibration_method": "Calibration method",
        "baselines": "Baselines", "name": "Name", "prevalence": "Prevalence", "feature": "Feature",
        "exploration_share": "Share of list places given at random", "capacity": "Capacity settings",
        "direction": "Direction", "column": "Column", "severity": "Severity order", "version": "Version",
        "written": "Written", "n_indicators": "Indicators", "missing_features": "Missing features",
        "k_factors": "Capacity multiples", "city_pcts": "City-wide top percentages",
        "variance_penalty": "Variance penalty",
    },
}

#: Known string values in the parameters and the document (translated on the Chinese card).
VALUE_ZH: dict[str, str] = {
    "binary": "二分类", "basic": "基本", "intermediate": "中等", "advanced": "高级", "gbdt": "梯度提升树",
    "stochastic": "随机打破同分", "best": "同分时最有利的顺序", "worst": "同分时最不利的顺序",
    "isotonic": "保序回归", "platt": "Platt 缩放", "sigmoid": "Platt 缩放", "none": "无",
    "auc": "AUC", "binary_logloss": "对数损失",
    "latest training as-of date(s) held out; isotonic if >= min positives else Platt":
        "留出最近的训练预测日期用于校准；阳性数达到下限时用保序回归，否则用 Platt 缩放",
    "simulated input": "模拟输入", "simulated input: approved automatically": "模拟输入：自动批准",
    "true latent guardianship state (0-3) in the last complete month before the as-of date "
    "+ 0.5 x maltreated that month + 0.25 x mean state over the 6 months up to it":
        "预测日期前最后一个完整月的真实潜在监护状态（0–3）+ 0.5 × 当月是否受到侵害 + 0.25 × 截至该月 6 个月的平均状态",
    "truly left behind in the last complete month before the as-of date (0/1) "
    "+ 0.5 x share of the 12 months up to it truly left behind":
        "预测日期前最后一个完整月是否真实留守（0/1）+ 0.5 × 截至该月 12 个月中真实留守的月份占比",
    "simulator's true risk at the as-of date": "模拟器中预测日期当时的真实风险",
}
VALUE_EN: dict[str, str] = {
    "isotonic": "isotonic regression", "platt": "Platt scaling", "sigmoid": "Platt scaling",
}

#: Districts of the simulated (Hangzhou-shaped) city, romanized for the English card and plots.
DISTRICT_EN: dict[str, str] = {
    "上城区": "Shangcheng", "拱墅区": "Gongshu", "西湖区": "Xihu", "滨江区": "Binjiang", "萧山区": "Xiaoshan",
    "余杭区": "Yuhang", "临平区": "Linping", "钱塘区": "Qiantang", "富阳区": "Fuyang", "临安区": "Lin'an",
    "桐庐县": "Tonglu", "淳安县": "Chun'an", "建德市": "Jiande",
}

#: Attributes whose groups are yes/no: the group cell names the attribute ("残疾：是").
BOOL_ATTRIBUTE: dict[str, dict[str, str]] = {
    "has_disability": {"zh": "残疾", "en": "Disability"},
}
TRUE_VALUES = {"true", "1", "是", "yes", "y", "t"}
FALSE_VALUES = {"false", "0", "否", "no", "n", "f"}
MISSING_VALUES = {"", "none", "nan", "nat", "null", "<na>"}
UNKNOWN = {"zh": "未知", "en": "unknown"}


class ModelCardError(ValueError):
    """The evaluation document lacks something a card cannot be published without."""


# ----------------------------------------------------------------------------------------------
# formatting and suppression
# ----------------------------------------------------------------------------------------------


def _num(x: Any) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def fmt(x: Any, digits: int = 3) -> str:
    """Format a number with fixed decimals; ``"—"`` for a missing one."""
    v = _num(x)
    return "—" if v is None else f"{v:.{digits}f}"


def fmt_pct(x: Any, digits: int = 2) -> str:
    """Format a share as a percentage; ``"—"`` for a missing one."""
    v = _num(x)
    return "—" if v is None else f"{100 * v:.{digits}f}%"


def fmt_int(x: Any) -> str:
    """Format a count with thousands separators; suppressed markers pass through."""
    if isinstance(x, str):
        return x
    v = _num(x)
    return "—" if v is None else f"{int(v):,}"


def fmt_ci(ci: Any, digits: int = 3) -> str:
    """Format a 95% interval ``[lo, hi]``; empty when absent."""
    if not isinstance(ci, list | tuple) or len(ci) != 2 or _num(ci[0]) is None or _num(ci[1]) is None:
        return ""
    return f"[{fmt(ci[0], digits)}, {fmt(ci[1], digits)}]"


#: Fairness fields derived from the positives of a group, hidden when the group has fewer than 10 (DESIGN §5).
POSITIVE_DERIVED = ("prevalence", "tpr", "fnr", "for", "precision", "tpr_disparity", "tpr_disparity_ci95",
                    "fnr_disparity", "for_disparity", "precision_disparity")


def _suppress_fairness(rows: list[dict]) -> list[dict]:
    out = []
    for row in rows:
        row = dict(row)
        # a group's size is its distinct children (an audit over several test dates counts a child once)
        n = _num(row.get("n_children")) if row.get("n_children") is not None else _num(row.get("n"))
        if n is None or n < SMALL_CELL_THRESHOLD:
            keep = {k: row.get(k) for k in ("attribute", "group", "reference_group")}
            out.append({**keep, "n": SUPPRESSED, "suppressed": True})
            continue
        npos = _num(row.get("n_positive"))
        if npos is not None and npos < SMALL_CELL_THRESHOLD:
            row["n_positive"] = SUPPRESSED
            # every rate whose numerator or denominator is the small positive count would give it back
            # (prevalence × n = positives; TPR, FNR, FOR, precision count the few positives)
            for k in POSITIVE_DERIVED:
                if k in row:
                    row[k] = None
        row["suppressed"] = False
        out.append(row)
    return out


def _suppress_bins(bins: list[dict]) -> list[dict]:
    out = []
    for b in bins:
        n = _num(b.get("n"))
        if n is not None and n < SMALL_CELL_THRESHOLD:
            out.append({"mean_predicted": None, "observed": None, "n": SUPPRESSED, "suppressed": True})
        else:
            out.append({**b, "suppressed": False})
    return out


def _suppress_coverage(cov: Any) -> Any:
    """Label coverage rows: a group of < 10 children shows only "<10"; < 10 visited hides the share."""
    if not isinstance(cov, Mapping):
        return cov
    rows = []
    for r in cov.get("rows") or []:
        r = dict(r)
        n, visited = _num(r.get("cohort_children")), _num(r.get("visited_children"))
        if n is not None and n < SMALL_CELL_THRESHOLD:
            r.update(cohort_children=SUPPRESSED, visited_children=None, coverage=None, suppressed=True)
        else:
            if visited is not None and visited < SMALL_CELL_THRESHOLD:
                r.update(visited_children=SUPPRESSED, coverage=None)  # coverage × n gives the count back
            r["suppressed"] = False
        rows.append(r)
    return {**dict(cov), "rows": rows}


def _suppress_found(oracle: Any) -> Any:
    """The oracle's "truly at-risk children found" per list: hidden when fewer than 10 are at risk."""
    if not isinstance(oracle, Mapping) or not isinstance(oracle.get("true_at_risk_found"), Mapping):
        return oracle
    found = {}
    for name, f in oracle["true_at_risk_found"].items():
        f = dict(f or {})
        n = _num(f.get("n_true_at_risk"))
        if n is not None and n < SMALL_CELL_THRESHOLD:
            f.update(n_true_at_risk=SUPPRESSED, found=None, share=None, ci95=None, suppressed=True)
        else:
            found_n = _num(f.get("found"))
            if found_n is not None and found_n < SMALL_CELL_THRESHOLD:
                f["found"] = SUPPRESSED
            f["suppressed"] = False
        found[name] = f
    return {**dict(oracle), "true_at_risk_found": found}


def suppress_evaluation(evaluation: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of the evaluation document with small cells suppressed.

    Parameters
    ----------
    evaluation : Mapping
        The evaluation document from models/.

    Returns
    -------
    dict
        The same document where every fairness group with ``n < 10`` keeps only its attribute,
        group, reference group and ``n = "<10"`` (metrics dropped), ``n_positive < 10`` reads
        ``"<10"`` and the rates derived from the positives (:data:`POSITIVE_DERIVED`) are blanked, and
        calibration bins with ``n < 10`` are blanked. The audit on true outcomes (``fairness_truth``,
        simulation) is suppressed like ``fairness``; label coverage rows of fewer than 10 children
        keep only ``"<10"`` (fewer than 10 visited: the count reads ``"<10"`` and the share is
        blanked); the oracle's "truly at-risk children found" is hidden when fewer than 10 are at risk
        (fewer than 10 found: the count reads ``"<10"``).
    """
    doc = copy.deepcopy(dict(evaluation))
    doc["fairness"] = _suppress_fairness(list(doc.get("fairness") or []))
    if doc.get("fairness_truth") is not None:
        doc["fairness_truth"] = _suppress_fairness(list(doc.get("fairness_truth") or []))
    if doc.get("label_coverage") is not None:
        doc["label_coverage"] = _suppress_coverage(doc["label_coverage"])
    if doc.get("oracle") is not None:
        doc["oracle"] = _suppress_found(doc["oracle"])
    cal = doc.get("calibration") or {}
    if cal:
        cal = dict(cal)
        cal["bins"] = _suppress_bins(list(cal.get("bins") or []))
        doc["calibration"] = cal
    return doc


# ----------------------------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------------------------


def _validate(evaluation: Mapping[str, Any]) -> None:
    missing = [k for k in CORE_KEYS if k not in evaluation or evaluation[k] in (None, "", {})]
    if missing:
        raise ModelCardError(f"evaluation document lacks core keys {missing}; cannot write a model card")
    metrics = evaluation["metrics"]
    if not isinstance(metrics, Mapping) or "model" not in metrics:
        raise ModelCardError("evaluation['metrics'] has no 'model' block; cannot write a model card")
    model = metrics["model"] or {}
    absent = [
        m
        for m in CORE_METRICS
        if not isinstance(model.get(m), Mapping) or _num(model[m].get("value")) is None
    ]
    if absent:
        raise ModelCardError(
            f"evaluation['metrics']['model'] lacks core metrics {absent} (each needs a numeric 'value'); "
            "a card is generated from the run's figures, never without them"
        )


# ----------------------------------------------------------------------------------------------
# plots
# ----------------------------------------------------------------------------------------------

CJK_CANDIDATES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Source Han Sans SC",
)


@lru_cache(maxsize=1)
def find_cjk_font() -> str | None:
    """Name of an installed CJK font known to matplotlib, or ``None``.

    Returns
    -------
    str or None
        The first of :data:`CJK_CANDIDATES` that matplotlib's font manager knows.
    """
    from matplotlib import font_manager

    def known() -> str | None:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((c for c in CJK_CANDIDATES if c in names), None)

    found = known()
    if found is None:
        # matplotlib's font cache predates a font installed later (make system-deps): add it
        hints = ("wqy", "wenquanyi", "notosanscjk", "noto sans cjk", "notosanssc", "sourcehansans")
        for path in sorted(font_manager.findSystemFonts()):
            flat = Path(path).name.lower().replace("-", "").replace("_", "")
            if any(h.replace(" ", "") in flat for h in hints):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        found = known()
    return found


PLOT_TEXT = {
    "zh": {
        "calibration": ("校准曲线", "预测概率（分箱均值）", "实际发生率", "完全校准"),
        "precision_recall_at_k": ("不同名单规模下的精确率与召回率", "全市名单总人数 k", "比例", "本期名额 K"),
        "fairness_tpr": ("各群体召回率差异（相对参照组）", "召回率比值（TPR 差异）", "可接受范围 0.8–1.25"),
        "importance_by_family": ("各特征族的重要性占比", "占比"),
        "metrics_over_time": ("各时间切分上的指标", "测试日期", "指标值"),
        "precision": "精确率",
        "recall": "召回率",
        "pr_kinds": {"capacity": "按名额", "abs": "前N名", "pct": "前N%"},
        "lang": "zh",
    },
    "en": {
        "calibration": (
            "Calibration",
            "Predicted probability (bin mean)",
            "Observed rate",
            "Perfect calibration",
        ),
        "precision_recall_at_k": (
            "Precision and recall at list size",
            "City-wide list size k",
            "Share",
            "Capacity K",
        ),
        "fairness_tpr": (
            "Recall (TPR) disparity vs reference group",
            "TPR disparity",
            "Accepted band 0.8-1.25",
        ),
        "importance_by_family": ("Importance by feature family", "Share"),
        "metrics_over_time": ("Metrics across temporal splits", "Test as-of date", "Value"),
        "precision": "precision",
        "recall": "recall",
        "pr_kinds": {"capacity": "by capacity", "abs": "top N", "pct": "top N%"},
        "lang": "en",
    },
}


def _ascii(text: str) -> bool:
    return all(ord(ch) < 128 for ch in text)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return str(value).strip().lower() in MISSING_VALUES


def _yes_no(attribute: str, value: Any) -> bool | None:
    """``True``/``False`` when ``value`` is a yes/no group (a boolean attribute or a boolean value)."""
    if isinstance(value, bool):
        return value
    s = str(value).strip().lower()
    if attribute not in BOOL_ATTRIBUTE and s not in ("true", "false"):
        return None
    return True if s in TRUE_VALUES else False if s in FALSE_VALUES else None


def group_text(attribute: Any, value: Any, lang: str) -> str:
    """Readable name of one group of an attribute, in ``lang`` (``"zh"`` or ``"en"``).

    Parameters
    ----------
    attribute : str
        The attribute (``hukou_type``, ``has_disability``, ``district``, … or ``all``).
    value : Any
        The group value as the document gives it (a string, a boolean, ``None`` or NaN).
    lang : str
        ``"zh"`` or ``"en"``.

    Returns
    -------
    str
        Yes/no groups name the attribute (``残疾：是``, ``Disability: no``); a blank, ``None`` or NaN
        group reads ``未知`` / ``unknown``; on the English card known values are translated and
        districts romanized (``Chun'an (淳安县)``); other values are shown as they are.
    """
    attribute = str(attribute)
    if _is_missing(value):
        return UNKNOWN[lang]
    yes = _yes_no(attribute, value)
    if yes is not None:
        name = BOOL_ATTRIBUTE.get(attribute, {}).get(lang) or LABELS[lang].get(attribute, attribute)
        if lang == "zh":
            return f"{name}：{'是' if yes else '否'}"
        return f"{name}: {'yes' if yes else 'no'}"
    g = str(value).strip()
    if attribute == "all" or g == "全部":
        return LABELS[lang]["all"]
    if lang == "en":
        if g in GROUP_EN:
            return GROUP_EN[g]
        if g in DISTRICT_EN:
            return f"{DISTRICT_EN[g]} ({g})"
    return g


def _group_key(attribute: Any, value: Any) -> tuple[str, str]:
    return str(attribute), "" if _is_missing(value) else str(value).strip()


def _plot_name_en(attribute: str, value: Any) -> str | None:
    """ASCII name of a group for an English plot, or ``None`` when the group needs a G-code."""
    g = "" if _is_missing(value) else str(value).strip()
    shown = DISTRICT_EN.get(g) or group_text(attribute, value, "en")
    return shown if _ascii(shown) else None


def _plotted_fairness(ev: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Audit rows drawn in the fairness plot (shown, with a TPR disparity)."""
    return [
        r
        for r in ev.get("fairness") or []
        if not r.get("suppressed") and _num(r.get("tpr_disparity")) is not None
    ]


def group_codes(ev: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """G-codes of the plotted groups whose names have no English (ASCII) rendering.

    Codes are numbered once for the whole card, in the order of the audit, so a code means the same
    group in every plot and table and no two groups share one.

    Returns
    -------
    dict
        ``{(attribute, group): "G1", …}``.
    """
    codes: dict[tuple[str, str], str] = {}
    for r in _plotted_fairness(ev):
        key = _group_key(r.get("attribute"), r.get("group"))
        if key not in codes and _plot_name_en(str(r.get("attribute")), r.get("group")) is None:
            codes[key] = f"G{len(codes) + 1}"
    return codes


def _group_label(attribute: str, group: Any, code: int | str | None, lang: str, cjk: bool) -> str:
    """Label of a group in a plot: its name (Chinese plots with a CJK font), else English or its G-code."""
    bool_group = _yes_no(attribute, group) is not None and not _is_missing(group)
    if lang == "zh" and cjk:
        text = group_text(attribute, group, "zh")
        return text if bool_group else f"{LABELS['zh'].get(attribute, attribute)}：{text}"
    shown = _plot_name_en(attribute, group)
    if shown is not None and bool_group and _ascii(shown):
        return shown
    if shown is None:
        shown = code if isinstance(code, str) else f"G{code}"  # the card lists what each code means
    attr = LABELS["en"].get(attribute, attribute)
    if not _ascii(attr):
        attr = attribute
    return f"{attr}: {shown}"


def _figure(width: float = 7.0, height: float = 4.2):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    return fig, fig.add_subplot(1, 1, 1)


def _png(fig) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return buf.getvalue()


def _plot_calibration(ev: Mapping[str, Any], t: dict) -> bytes | None:
    bins = [b for b in (ev.get("calibration") or {}).get("bins") or [] if not b.get("suppressed")]
    pts = [(_num(b.get("mean_predicted")), _num(b.get("observed")), _num(b.get("n")) or 0) for b in bins]
    pts = [p for p in pts if p[0] is not None and p[1] is not None]
    if not pts:
        return None
    title, xl, yl, diag = t["calibration"]
    fig, ax = _figure(5.6, 4.6)
    hi = max(max(p[0] for p in pts), max(p[1] for p in pts)) * 1.1 or 1.0
    ax.plot([0, hi], [0, hi], linestyle="--", color="grey", label=diag)
    nmax = max(p[2] for p in pts) or 1
    ax.plot([p[0] for p in pts], [p[1] for p in pts], color="#1f4e79", marker="o", label="")
    ax.scatter(
        [p[0] for p in pts], [p[1] for p in pts], s=[20 + 180 * p[2] / nmax for p in pts], color="#1f4e79"
    )
    ax.set_xlim(0, hi)
    ax.set_ylim(0, hi)
    ax.set_xlabel(xl)
    ax.set_ylabel(yl)
    method = method_text((ev.get("calibration") or {}).get("method"), t["lang"])
    ax.set_title(f"{title}（{method}）" if method and t["lang"] == "zh" else f"{title} ({method})" if method else title)
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return _png(fig)


def _plot_pr_at_k(ev: Mapping[str, Any], t: dict) -> bytes | None:
    groups = pr_groups(ev)
    if not groups:
        return None
    title, xl, yl, cap = t["precision_recall_at_k"]
    fig, ax = _figure()
    styles = {"capacity": ("-", "o"), "abs": (":", "D"), "pct": ("--", "^")}
    for g in groups:  # one line per list-size kind, each ordered by its own k
        line, marker = styles[g["kind"]]
        rows = [r for r in g["rows"] if r["k_total_num"] is not None]
        ks = [r["k_total_num"] for r in rows]
        kind = t["pr_kinds"][g["kind"]]
        ax.plot(ks, [_num(r["precision_num"]) for r in rows], linestyle=line, marker=marker,
                color="#1f4e79", label=f"{t['precision']}（{kind}）" if t["lang"] == "zh" else f"{t['precision']} ({kind})")
        ax.plot(ks, [_num(r["recall_num"]) for r in rows], linestyle=line, marker=marker,
                color="#c55a11", label=f"{t['recall']}（{kind}）" if t["lang"] == "zh" else f"{t['recall']} ({kind})")
    k = _num(ev.get("capacity_total"))
    if k is not None:
        ax.axvline(k, linestyle="--", color="grey", linewidth=0.8, label=f"{cap} = {int(k):,}")
    ax.set_xlabel(xl)
    ax.set_ylabel(yl)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(alpha=0.3)
    return _png(fig)


def _plot_fairness(ev: Mapping[str, Any], t: dict, lang: str, cjk: bool) -> bytes | None:
    rows = _plotted_fairness(ev)
    if not rows:
        return None
    title, xl, band = t["fairness_tpr"]
    labels, vals, lo, hi, colors = [], [], [], [], []
    codes = group_codes(ev)
    for r in rows:
        attr = str(r.get("attribute"))
        labels.append(_group_label(attr, r.get("group"), codes.get(_group_key(attr, r.get("group"))), lang, cjk))
        v = _num(r["tpr_disparity"])
        ci = r.get("tpr_disparity_ci95") or [None, None]
        # a percentile interval need not contain the point estimate: clamp the bars at zero
        lo.append(max(0.0, v - (_num(ci[0]) if _num(ci[0]) is not None else v)))
        hi.append(max(0.0, (_num(ci[1]) if _num(ci[1]) is not None else v) - v))
        vals.append(v)
        colors.append("#c00000" if r.get("flag") else "#1f4e79")
    fig, ax = _figure(7.0, 0.9 + 0.36 * len(rows))
    y = list(range(len(rows)))[::-1]
    ax.axvspan(BAND[0], BAND[1], color="#d9ead3", alpha=0.7, label=band)
    ax.axvline(1.0, color="grey", linewidth=0.8)
    ax.errorbar(vals, y, xerr=[lo, hi], fmt="none", ecolor="#555555", capsize=3)
    ax.scatter(vals, y, color=colors, zorder=3)
    ax.set_yticks(y)
    ax.set_yticklabels(labels)
    ax.set_xlabel(xl)
    ax.set_title(title, pad=18)
    xmax = max([BAND[1] * 1.1, *[v + h for v, h in zip(vals, hi, strict=True)]])
    xmin = min([BAND[0] * 0.9, *[v - low for v, low in zip(vals, lo, strict=True)]])
    ax.set_xlim(max(0.0, xmin - 0.05), xmax + 0.05)
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def _plot_importance(ev: Mapping[str, Any], t: dict) -> bytes | None:
    imp = {str(k): _num(v) for k, v in (ev.get("importance_by_family") or {}).items() if _num(v) is not None}
    if not imp:
        return None
    items = sorted(imp.items(), key=lambda kv: (-kv[1], kv[0]))
    title, xl = t["importance_by_family"]
    fig, ax = _figure(6.4, 0.9 + 0.38 * len(items))
    y = list(range(len(items)))[::-1]
    ax.barh(y, [v for _, v in items], color="#1f4e79")
    ax.set_yticks(y)
    ax.set_yticklabels([FAMILY_LABELS[t["lang"]].get(k, k) for k, _ in items])
    ax.set_xlabel(xl)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def _plot_splits(ev: Mapping[str, Any], t: dict) -> bytes | None:
    splits = [s for s in ev.get("splits") or [] if s.get("test_as_of_date")]
    if not splits:
        return None
    splits = sorted(splits, key=lambda s: str(s["test_as_of_date"]))
    title, xl, yl = t["metrics_over_time"]
    fig, ax = _figure()
    xs = [str(s["test_as_of_date"]) for s in splits]
    drawn = False
    for metric in (
        "precision@capacity_abs",
        "recall@capacity_abs",
        "precision@5_pct",
        "roc_auc",
        "average_precision",
    ):
        ys = [_num(((s.get("metrics") or {}).get(metric) or {}).get("value")) for s in splits]
        if all(v is None for v in ys):
            continue
        ax.plot(xs, [math.nan if v is None else v for v in ys], marker="o", label=metric)
        drawn = True
    if not drawn:
        return None
    ax.set_xlabel(xl)
    ax.set_ylabel(yl)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(alpha=0.3)
    for label in ax.get_xticklabels():
        label.set_rotation(20)
    return _png(fig)


PLOTS = ("calibration", "precision_recall_at_k", "fairness_tpr", "importance_by_family", "metrics_over_time")


def _make_plots(ev: Mapping[str, Any], lang: str) -> dict[str, bytes]:
    """Render every plot that has data, labelled in ``lang`` (English when no CJK font)."""
    import matplotlib

    cjk = find_cjk_font()
    use = lang if (lang == "en" or cjk) else "en"
    t = PLOT_TEXT[use]
    rc = {"font.size": 9, "svg.hashsalt": "humiao", "axes.unicode_minus": False}
    if cjk:
        rc["font.sans-serif"] = [cjk, *matplotlib.rcParams["font.sans-serif"]]
        rc["font.family"] = "sans-serif"
    out: dict[str, bytes] = {}
    with matplotlib.rc_context(rc):
        makers = {
            "calibration": lambda: _plot_calibration(ev, t),
            "precision_recall_at_k": lambda: _plot_pr_at_k(ev, t),
            "fairness_tpr": lambda: _plot_fairness(ev, t, use, bool(cjk)),
            "importance_by_family": lambda: _plot_importance(ev, t),
            "metrics_over_time": lambda: _plot_splits(ev, t),
        }
        for name in PLOTS:
            png = makers[name]()
            if png is not None:
                out[name] = png
    return out


# ----------------------------------------------------------------------------------------------
# context
# ----------------------------------------------------------------------------------------------


def method_text(method: Any, lang: str) -> str:
    """The calibration method in words (``保序回归`` / ``isotonic regression``); empty when absent."""
    if not method:
        return ""
    m = str(method)
    table = VALUE_ZH if lang == "zh" else VALUE_EN
    return table.get(m, table.get(m.lower(), m))


def value_text(value: str, lang: str) -> str:
    """A known string of the document in ``lang`` (Chinese card: translated; otherwise as it is)."""
    if lang != "zh":
        return value
    return VALUE_ZH.get(value, VALUE_ZH.get(value.lower(), LABELS["zh"].get(value, value)))


_CRITERION_PENALTY = re.compile(r"max mean\((?P<m>[^()]+)\) - (?P<p>[0-9.]+) \* std\((?P=m)\) over splits")
_CRITERION_MEAN = re.compile(r"(?:best|max) mean (?P<m>\S+)")


def criterion_text(criterion: Any, lang: str) -> str:
    """The model-selection criterion of the document, in Chinese on the Chinese card."""
    c = str(criterion or "")
    if lang != "zh" or not c:
        return c
    if m := _CRITERION_PENALTY.fullmatch(c):
        return f"各时间切分上 {m['m']} 的均值减去 {m['p']} 倍标准差，取最大者"
    if m := _CRITERION_MEAN.fullmatch(c):
        return f"各时间切分上 {m['m']} 的均值最高"
    return value_text(c, lang)


def _scalar_text(v: Any, lang: str) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return ("是" if v else "否") if lang == "zh" else ("yes" if v else "no")
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "—" if math.isnan(v) else f"{v:.6g}"
    return value_text(str(v), lang)


def _param_key(key: str, lang: str) -> str:
    return PARAM_LABELS[lang].get(key) or LABELS[lang].get(key) or key


def param_text(v: Any, lang: str) -> str:
    """One parameter value in words: lists joined (long ones counted), mappings as ``label value``."""
    sep = "、" if lang == "zh" else ", "
    if isinstance(v, Mapping):
        inner = "；" if lang == "zh" else "; "
        return inner.join(f"{_param_key(str(k), lang)} {param_text(x, lang)}" for k, x in v.items()) or "—"
    if isinstance(v, list | tuple):
        if not v:
            return "无" if lang == "zh" else "none"
        if len(v) > 12 and all(not isinstance(x, Mapping | list | tuple) for x in v):
            counts = Counter(_scalar_text(x, lang) for x in v)
            if len(counts) <= 6:
                parts = sep.join(f"{k} ×{n}" for k, n in sorted(counts.items()))
                return f"共 {len(v)} 项：{parts}" if lang == "zh" else f"{len(v)} values: {parts}"
            head = sep.join(_scalar_text(x, lang) for x in v[:10])
            return f"{head}…（共 {len(v)} 项）" if lang == "zh" else f"{head}, … ({len(v)} values)"
        return sep.join(param_text(x, lang) for x in v)
    return _scalar_text(v, lang)


def param_rows(params: Any, lang: str, prefix: str = "") -> list[dict[str, str]]:
    """Rows ``{key, label, value}`` of the parameter table: nested blocks flattened (``LightGBM 参数 › 学习率``),
    lists of configurations one row each; unknown keys keep their name."""
    if not isinstance(params, Mapping):
        return []
    rows: list[dict[str, str]] = []
    for key, v in params.items():
        label = _param_key(str(key), lang)
        full = f"{prefix} › {label}" if prefix else label
        if isinstance(v, Mapping) and v:
            rows.extend(param_rows(v, lang, full))
        elif isinstance(v, list | tuple) and v and all(isinstance(x, Mapping) for x in v):
            for i, item in enumerate(v, 1):
                rows.append({"key": str(key), "label": f"{full} {i}", "value": param_text(item, lang)})
        else:
            rows.append({"key": str(key), "label": full, "value": param_text(v, lang)})
    return rows


#: List-size kinds of ``precision_recall_at_k``, in the order the card shows them.
PR_KINDS: tuple[str, ...] = ("capacity", "abs", "pct")
PR_KIND_TEXT = {
    "zh": {
        "capacity": "按名额：各村(社区)取名额 K 的倍数，合计为全市名单人数",
        "abs": "前N名：全市得分最高的 N 名",
        "pct": "前N%：全市得分最高的 N% 儿童",
    },
    "en": {
        "capacity": "By capacity: a multiple of each community's K, summed city-wide",
        "abs": "Top N: the N highest-scored children city-wide",
        "pct": "Top N%: the highest-scored N% of children city-wide",
    },
}


def _pr_kind(r: Mapping[str, Any]) -> str:
    kind = str(r.get("kind") or "").lower()
    if kind in PR_KINDS:
        return kind
    if _num(r.get("k_per_community_factor")) is not None:
        return "capacity"
    if _num(r.get("pct")) is not None:
        return "pct"
    return "abs"


def pr_groups(ev: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Precision and recall at list size, one group per kind of list size, each ordered by its size.

    A row with ``k_per_community_factor`` is a multiple of each community's capacity K (``capacity``),
    a row with ``pct`` the city-wide top percentage (``pct``), any other row the city-wide top
    ``k_total`` (``abs``). Mixing the kinds in one ordered column makes recall look as if it fell as the
    list grew; within one kind it cannot. Metric names follow triage: ``precision@capacity_abs``
    (``precision@2×capacity_abs`` for twice K), ``precision@100_abs``, ``recall@5_pct``.
    """
    groups: dict[str, list[dict[str, Any]]] = {k: [] for k in PR_KINDS}
    for r in ev.get("precision_recall_at_k") or []:
        kind = _pr_kind(r)
        k_total = _num(r.get("k_total"))
        if kind == "capacity":
            size = _num(r.get("k_per_community_factor"))
            size = 1.0 if size is None else size
            suffix = "capacity_abs" if size == 1 else f"{size:g}×capacity_abs"
            shown = {"zh": f"{size:g} × K", "en": f"{size:g} × K"}
        elif kind == "pct":
            size = _num(r.get("pct"))
            suffix = f"{size:g}_pct"
            shown = {"zh": f"前 {size:g}%", "en": f"top {size:g}%"}
        else:
            size = k_total
            if size is None:
                continue
            suffix = f"{int(size)}_abs"
            shown = {"zh": f"前 {int(size):,} 名", "en": f"top {int(size):,}"}
        groups[kind].append(
            {
                "size": size,
                "size_text": shown,
                "k_total": fmt_int(r.get("k_total")),
                "k_total_num": k_total,
                "precision_name": f"precision@{suffix}",
                "recall_name": f"recall@{suffix}",
                "precision": fmt(r.get("precision")),
                "recall": fmt(r.get("recall")),
                "precision_num": _num(r.get("precision")),
                "recall_num": _num(r.get("recall")),
            }
        )
    return [
        {"kind": k, "title": {lang: PR_KIND_TEXT[lang][k] for lang in ("zh", "en")},
         "rows": sorted(groups[k], key=lambda r: (r["size"], r["k_total_num"] or 0))}
        for k in PR_KINDS
        if groups[k]
    ]  # fmt: skip


def _metric_cell(block: Any) -> dict[str, str]:
    block = block if isinstance(block, Mapping) else {}
    return {"value": fmt(block.get("value")), "ci": fmt_ci(block.get("ci95"))}


def _previous_champion(ev: Mapping[str, Any]) -> tuple[bool, str]:
    """(known, version) of the approved model that serves while this one is not approved.

    The evaluation document may say so in ``previous_champion`` (top level or in ``approval``): a
    version, or null/"" for "none was ever approved" (a first cycle). ``known`` is False when the
    document does not say: the card then words it conditionally instead of claiming a model exists.
    """
    for block in (ev.get("approval") or {}, ev):
        if isinstance(block, Mapping) and "previous_champion" in block:
            v = block.get("previous_champion")
            return True, "" if v in (None, "", 0, "0") else str(v)
    return False, ""


def _fallback_text(ev: Mapping[str, Any]) -> tuple[str, str]:
    """What serves while this model is not approved: never claims an earlier model that does not exist."""
    known, version = _previous_champion(ev)
    if known and version:
        return (f"继续由已批准的第{version}版模型服务。",
                f"the approved version {version} keeps serving.")
    if known:
        return ("目前没有更早的已批准模型，因此在批准之前本周期不发布名单。",
                "no earlier model was ever approved, so no lists are published this cycle until one is.")
    return ("若已有批准的模型则继续由其服务；否则本周期不发布名单。",
            "if an earlier model was approved it keeps serving; otherwise no lists are published this cycle.")


def _approval(ev: Mapping[str, Any]) -> dict[str, Any]:
    a = ev.get("approval") or {}
    status = str(a.get("status") or "pending").lower()
    simulated = bool(ev.get("simulation"))
    by, at, note = a.get("by") or "", a.get("at") or "", a.get("note") or ""
    approved = status in ("approved", "auto_approved", "automatic", "auto")
    warning_zh = warning_en = ""
    if approved and simulated:
        zh = (
            f"已批准（自动，{at}）：本次输入是模拟器生成的模拟数据（输入目录带模拟器清单），按设计自动批准。"
            "真实数据训练的模型必须由算法治理审查员在审核系统中人工审批后才能发布名单。"
        )
        en = (
            f"Approved automatically ({at}) because the input is simulated data (the input folder carries "
            "the simulator's manifest). A model trained on real exports is published only after a "
            "governance reviewer approves this card in the review app."
        )
    elif approved:
        zh = f"已批准：审批人 {by}，时间 {at}。"
        en = f"Approved by {by} at {at}."
        if str(by).lower() in ("auto", "automatic", "system"):
            warning_zh = "警告：真实数据的模型不得自动批准，请由算法治理审查员人工审批。"
            warning_en = "Warning: a model trained on real data must not be approved automatically; a reviewer must approve it."
    elif status == "rejected":
        fb_zh, fb_en = _fallback_text(ev)
        zh = f"未获批准：审批人 {by}，时间 {at}。本模型不发布名单；{fb_zh}"
        en = f"Rejected by {by} at {at}. This model publishes no lists; {fb_en}"
    else:
        fb_zh, fb_en = _fallback_text(ev)
        zh = f"待审批：算法治理审查员批准本模型卡之前，本模型不发布名单；{fb_zh}"
        en = f"Pending review: until a governance reviewer approves this card, the model publishes no lists; {fb_en}"
    if note:
        zh += f" 备注：{value_text(str(note), 'zh')}"
        en += f" Note: {note}"
    return {
        "status": status,
        "approved": approved,
        "simulated": simulated,
        "by": by,
        "at": at,
        "note": note,
        "zh": zh,
        "en": en,
        "warning_zh": warning_zh,
        "warning_en": warning_en,
    }


def _exploration(ev: Mapping[str, Any]) -> dict[str, Any]:
    """The share of list places given at random to unvisited children (``capacity.exploration_share``,
    DESIGN §6 selective labels), as the evaluation document records it, and what the card may say.

    Looked up as ``exploration_share`` at the top level, in ``params`` or in ``params.capacity``. The
    card claims random places only when a share > 0 is recorded; otherwise it says plainly that no
    places are reserved (default 0) and what that means for selective labels.
    """
    params = ev.get("params") if isinstance(ev.get("params"), Mapping) else {}
    capacity = params.get("capacity") if isinstance(params.get("capacity"), Mapping) else {}
    raw = next((b["exploration_share"] for b in (ev, params, capacity)
                if isinstance(b, Mapping) and b.get("exploration_share") is not None), None)
    share = _num(raw)
    if share is not None and share > 0:
        pct = fmt_pct(share, 0 if round(share * 100, 6).is_integer() else 1)
        return {
            "share": share, "recorded": True, "reserved": True,
            "zh": f"每个村(社区)的名额中有 {pct}（capacity.exploration_share = {share:g}）随机分给近期未被走访的儿童，"
                  "名单上标注“随机抽选”，以减少选择性标签。",
            "en": f"In each community {pct} of the places (capacity.exploration_share = {share:g}) go to children "
                  "chosen at random among those not visited recently, marked 随机抽选 on the list, to reduce "
                  "selective labels.",
        }
    meaning_zh = ("名单全部按风险排序，排不到前面的儿童仍然很少被走访、很少得到标签，"
                  "选择性标签没有通过随机名额来减少（只能靠标签覆盖率报告和群体审计发现）。")
    meaning_en = ("every place goes by rank, so children who never rank high are still rarely visited and "
                  "rarely labelled: selective labels are not reduced by random places (only the label-coverage "
                  "report and the group audit show them).")
    if share is not None:
        return {"share": share, "recorded": True, "reserved": False,
                "zh": f"不保留随机名额（capacity.exploration_share = {share:g}）：{meaning_zh}",
                "en": f"No list places are given at random (capacity.exploration_share = {share:g}): {meaning_en}"}
    return {"share": None, "recorded": False, "reserved": False,
            "zh": f"评估文件未记录随机名额比例；按默认配置（capacity.exploration_share = 0）不保留随机名额：{meaning_zh}",
            "en": "The evaluation does not record a share of random places; with the default configuration "
                  f"(capacity.exploration_share = 0) none are reserved: {meaning_en}"}


def _retain_until(ev: Mapping[str, Any]) -> str:
    raw = str(ev.get("trained_at") or "")[:10]
    try:
        d = dt.date.fromisoformat(raw)
    except ValueError:
        return ""
    try:
        return d.replace(year=d.year + 3).isoformat()
    except ValueError:  # 29 February
        return d.replace(year=d.year + 3, day=28).isoformat()


def _owner(ev: Mapping[str, Any]) -> dict[str, str]:
    owner = ev.get("owner")
    if isinstance(owner, Mapping):
        org = str(owner.get("organisation") or owner.get("organization") or "")
        if org:
            return {"zh": org, "en": org}
    elif isinstance(owner, str) and owner.strip():
        return {"zh": owner.strip(), "en": owner.strip()}
    return {
        "zh": "市民政局（儿童福利业务处室）",
        "en": "the city civil-affairs bureau (民政局, child-welfare division)",
    }


def _fairness_rows(rows: list[dict], codes: Mapping[tuple[str, str], str] | None = None) -> list[dict]:
    """Formatted audit rows (suppressed groups keep only their name and "<10").

    ``group_text`` and ``reference_text`` hold the readable group names per language (:func:`group_text`);
    ``plot_label`` is how the group is labelled in the English fairness plot (its card-wide G-code when
    its name has no English rendering, see :func:`group_codes`).
    """
    codes = codes or {}
    out = []
    for r in rows:
        attr = str(r.get("attribute"))
        group = r.get("group")
        sup = bool(r.get("suppressed"))
        code = codes.get(_group_key(attr, group))
        ref = r.get("reference_group")
        out.append(
            {
                "attribute": attr,
                "group": "" if _is_missing(group) else str(group),
                "group_text": {lang: group_text(attr, group, lang) for lang in ("zh", "en")},
                "reference_text": {lang: "" if _is_missing(ref) else group_text(attr, ref, lang) for lang in ("zh", "en")},
                "plot_label": code or _plot_name_en(attr, group) or "",
                "code": code or "",
                "reference_group": "" if _is_missing(ref) else str(ref),
                "is_reference": not _is_missing(group) and _group_key(attr, group) == _group_key(attr, ref),
                "suppressed": sup,
                "n": SUPPRESSED if sup else fmt_int(r.get("n_children") if r.get("n_children") is not None else r.get("n")),
                "n_positive": "" if sup else fmt_int(r.get("n_positive")),
                "prevalence": "" if sup else fmt_pct(r.get("prevalence")),
                "tpr": "" if sup else fmt(r.get("tpr")),
                "fnr": "" if sup else fmt(r.get("fnr")),
                "for": "" if sup else fmt(r.get("for")),
                "fpr": "" if sup else fmt(r.get("fpr")),
                "precision": "" if sup else fmt(r.get("precision")),
                "ppr": "" if sup else fmt(r.get("ppr")),
                "tpr_disparity": "" if sup else fmt(r.get("tpr_disparity"), 2),
                "tpr_disparity_ci95": "" if sup else fmt_ci(r.get("tpr_disparity_ci95"), 2),
                "flag": (not sup) and bool(r.get("flag")),
            }
        )
    return out


#: Metrics of the observed-vs-true and model-vs-oracle comparisons (models.evaluate.GAP_METRICS).
GAP_METRICS: tuple[str, ...] = (
    "precision@capacity_abs",
    "recall@capacity_abs",
    "precision@5_pct",
    "roc_auc",
    "average_precision",
)


def _fairness_scope(ev: Mapping[str, Any]) -> dict[str, str]:
    """Which test dates the audit covers (``fairness_scope`` of the document), formatted."""
    sc = ev.get("fairness_scope") or {}
    if not isinstance(sc, Mapping) or not sc:
        return {"dates": ", ".join(str(d) for d in ev.get("test_as_of_dates") or []) or "—", "rows": "", "children": ""}
    return {
        "dates": ", ".join(str(d) for d in sc.get("test_as_of_dates") or []) or "—",
        "rows": fmt_int(sc.get("n_rows")),
        "children": fmt_int(sc.get("n_children")),
    }


def _signed(x: Any, digits: int = 3) -> str:
    v = _num(x)
    return "—" if v is None else f"{v:+.{digits}f}"


def _oracle_context(ev: Mapping[str, Any], models: list[str]) -> dict[str, Any]:
    """Rows of the oracle comparison (simulation only): truly at-risk children each list finds, and the
    model's metrics beside the oracle's on observed labels and on true outcomes, with the gap."""
    oracle = ev.get("oracle") or {}
    if not isinstance(oracle, Mapping) or not oracle:
        return {"oracle_found_rows": [], "oracle_metric_rows": [], "oracle_definition": "",
                "oracle_definition_text": {"zh": "", "en": ""}}
    found = oracle.get("true_at_risk_found") or {}
    order = [m for m in models if m in found] + [m for m in found if m not in models and m != "oracle"]
    order += ["oracle"] if "oracle" in found else []
    found_rows = []
    for name in order:
        f = found[name] or {}
        sup = bool(f.get("suppressed"))
        found_rows.append(
            {
                "list": name,
                "found": fmt_int(f.get("found")) if not sup else "",
                "n_true_at_risk": fmt_int(f.get("n_true_at_risk")),
                "share": "" if sup else fmt_pct(f.get("share"), 1),
                "ci": "" if sup else fmt_ci([100 * v if _num(v) is not None else None
                                             for v in (f.get("ci95") or [None, None])], 1),
                "list_places": fmt_int(f.get("list_places")),
                "suppressed": sup,
            }
        )
    model_obs = (ev.get("metrics") or {}).get("model") or {}
    model_truth = (ev.get("truth_metrics") or {}).get("model") or {}
    o_obs, o_truth = oracle.get("metrics") or {}, oracle.get("truth_metrics") or {}
    gap = oracle.get("gap_to_oracle") or {}
    metric_rows = []
    for m in GAP_METRICS:
        if m not in o_obs and m not in o_truth:
            continue
        metric_rows.append(
            {
                "metric": m,
                "model_observed": _metric_cell(model_obs.get(m)),
                "oracle_observed": _metric_cell(o_obs.get(m)),
                "gap_observed": _signed((gap.get("observed") or {}).get(m)),
                "model_truth": _metric_cell(model_truth.get(m)),
                "oracle_truth": _metric_cell(o_truth.get(m)),
                "gap_truth": _signed((gap.get("truth") or {}).get(m)),
            }
        )
    return {
        "oracle_found_rows": found_rows,
        "oracle_metric_rows": metric_rows,
        "oracle_definition": str(oracle.get("definition") or ""),
        "oracle_definition_text": {lang: value_text(str(oracle.get("definition") or ""), lang) for lang in ("zh", "en")},
    }


def _label_gap_rows(ev: Mapping[str, Any], models: list[str]) -> list[dict]:
    """Per list: precision and recall at capacity on observed labels, on true outcomes, and truth − observed."""
    gap = ev.get("label_gap") or {}
    rows = []
    for name in [m for m in models if m in gap] + [m for m in gap if m not in models]:
        g = gap[name] or {}
        cells = []
        for m in ("precision@capacity_abs", "recall@capacity_abs"):
            c = g.get(m) or {}
            cells.append({"observed": fmt(c.get("observed")), "truth": fmt(c.get("truth")),
                          "gap": _signed(c.get("truth_minus_observed"))})  # fmt: skip
        rows.append({"list": name, "cells": cells})
    return rows


def _coverage_context(ev: Mapping[str, Any]) -> dict[str, Any]:
    """Label coverage (share of the cohort visited in the label window) per group, as in the document."""
    cov = ev.get("label_coverage") or {}
    rows = []
    for r in cov.get("rows") or [] if isinstance(cov, Mapping) else []:
        sup = bool(r.get("suppressed"))
        attr = "" if _is_missing(r.get("group")) else str(r.get("group"))
        rows.append(
            {
                "group": attr,
                "group_label": {lang: LABELS[lang].get(attr, attr) if attr else UNKNOWN[lang] for lang in ("zh", "en")},
                "value": "" if _is_missing(r.get("value")) else str(r.get("value")),
                "value_text": {lang: group_text(attr, r.get("value"), lang) for lang in ("zh", "en")},
                "cohort_children": fmt_int(r.get("cohort_children")),
                "visited_children": "" if sup else fmt_int(r.get("visited_children")),
                "coverage": "" if sup else fmt_pct(r.get("coverage"), 1),
                "suppressed": sup,
            }
        )
    return {"coverage_rows": rows, "coverage_as_of": str(cov.get("as_of_date") or "") if isinstance(cov, Mapping) else ""}


def build_card_context(evaluation: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the evaluation document and prepare everything the templates show.

    Parameters
    ----------
    evaluation : Mapping
        The evaluation document from models/ (keys listed in the module docs of models/ and in
        this package's README section of docs/interfaces.md).

    Returns
    -------
    dict
        ``ev`` (the suppressed document), formatted tables (``metric_rows``, ``baseline_rows``,
        ``split_rows``, ``fairness_rows``, ``calibration_rows``, ``pr_rows``, ``importance_rows``,
        ``sensitive_features``, ``truth_rows``; simulation: ``label_gap_rows``,
        ``fairness_truth_rows``, ``oracle_found_rows``, ``oracle_metric_rows``; ``coverage_rows``),
        headline figures (``headline``), ``approval``,
        ``retain_until`` and counts used in the prose.

    Raises
    ------
    ModelCardError
        When a core key or a core metric of the model is missing.
    """
    _validate(evaluation)
    ev = suppress_evaluation(evaluation)
    for key in EVALUATION_KEYS:  # optional parts may be absent: templates see None
        ev.setdefault(key, None)
    metrics = ev["metrics"]
    models = [m for m in MODEL_ORDER if m in metrics] + sorted(m for m in metrics if m not in MODEL_ORDER)
    metric_names = [m for m in METRIC_NAMES if any(m in (metrics[x] or {}) for x in models)]
    metric_rows = [
        {"model": m, "cells": [_metric_cell((metrics[m] or {}).get(name)) for name in metric_names]}
        for m in models
    ]
    model_block = metrics["model"]
    headline = {name: _metric_cell(model_block.get(name)) for name in METRIC_NAMES}

    baseline_rows = []
    for name, b in sorted(
        (ev.get("beats_baselines") or {}).items(),
        key=lambda kv: MODEL_ORDER.index(kv[0]) if kv[0] in MODEL_ORDER else 99,
    ):
        b = b or {}
        metric = b.get("metric") or "precision@capacity_abs"
        baseline_rows.append(
            {
                "baseline": name,
                "metric": metric,
                "model_value": fmt((model_block.get(metric) or {}).get("value")),
                "baseline_value": fmt(((metrics.get(name) or {}).get(metric) or {}).get("value")),
                "better": bool(b.get("better_point_estimate")),
                "significant": bool(b.get("significant")),
            }
        )

    split_metrics = ["precision@capacity_abs", "recall@capacity_abs", "roc_auc", "average_precision"]
    split_rows = []
    for s in sorted(ev.get("splits") or [], key=lambda s: str(s.get("test_as_of_date"))):
        sm = s.get("metrics") or {}
        split_rows.append(
            {
                "test_as_of_date": str(s.get("test_as_of_date", "")),
                "train_as_of_dates": ", ".join(str(d) for d in s.get("train_as_of_dates") or []),
                "cells": [fmt((sm.get(m) or {}).get("value")) for m in split_metrics],
            }
        )

    codes = group_codes(ev)
    fairness_rows = _fairness_rows(ev.get("fairness") or [], codes)
    flagged = [r for r in fairness_rows if r["flag"]]
    attributes = list(dict.fromkeys(r["attribute"] for r in fairness_rows))  # order of the audit

    cal = ev.get("calibration") or {}
    calibration_rows = [
        {
            "mean_predicted": "" if b.get("suppressed") else fmt(b.get("mean_predicted")),
            "observed": "" if b.get("suppressed") else fmt(b.get("observed")),
            "n": SUPPRESSED if b.get("suppressed") else fmt_int(b.get("n")),
        }
        for b in cal.get("bins") or []
    ]
    importance_rows = [
        {"family": str(k), "label": {lang: FAMILY_LABELS[lang].get(str(k), str(k)) for lang in ("zh", "en")},
         "share": fmt_pct(v, 1)}
        for k, v in sorted(
            (ev.get("importance_by_family") or {}).items(), key=lambda kv: (-(_num(kv[1]) or 0), str(kv[0]))
        )
    ]
    features = list(ev.get("features") or [])
    sensitive = [f for f in features if f.get("sensitive")]
    families = sorted({str(f.get("family")) for f in features if f.get("family")})
    truth = ev.get("truth_metrics") or None
    # truth_metrics is {list: block} (models/) or, in older documents, the model's block itself
    truth_model = truth.get("model") if truth and isinstance(truth.get("model"), Mapping) else truth
    model_gap = ((ev.get("label_gap") or {}).get("model") or {}) if isinstance(ev.get("label_gap"), Mapping) else {}
    truth_rows = []
    if truth_model:
        for name in METRIC_NAMES:
            if name in truth_model:
                truth_rows.append(
                    {
                        "metric": name,
                        "observed": _metric_cell(model_block.get(name)),
                        "truth": _metric_cell(truth_model[name]),
                        "gap": _signed((model_gap.get(name) or {}).get("truth_minus_observed")),
                    }
                )
    fairness_truth_rows = _fairness_rows(ev.get("fairness_truth") or [], codes)
    selection = ev.get("selection") or {}
    n_train, n_test = _num(ev.get("n_train")), _num(ev.get("n_test"))
    return {
        "ev": ev,
        "target": str(ev["target"]),
        "models": models,
        "metric_names": metric_names,
        "metric_rows": metric_rows,
        "headline": headline,
        "baseline_rows": baseline_rows,
        "beats_all": bool(baseline_rows) and all(r["better"] for r in baseline_rows),
        "split_metrics": split_metrics,
        "split_rows": split_rows,
        "fairness_rows": fairness_rows,
        "fairness_attributes": attributes,
        "fairness_flagged": flagged,
        "fairness_suppressed": sum(r["suppressed"] for r in fairness_rows),
        "calibration_method": cal.get("method") or "",
        "calibration_method_text": {lang: method_text(cal.get("method"), lang) for lang in ("zh", "en")},
        "calibration_rows": calibration_rows,
        "pr_groups": pr_groups(ev),
        "group_codes": [
            {"code": code, "attribute": attr, "group_text": {lang: group_text(attr, g, lang) for lang in ("zh", "en")}}
            for (attr, g), code in codes.items()
        ],
        "importance_rows": importance_rows,
        "features": features,
        "n_features": len(features),
        "families": families,
        "sensitive_features": sensitive,
        "truth_rows": truth_rows,
        "label_gap_rows": _label_gap_rows(ev, models),
        "fairness_truth_rows": fairness_truth_rows,
        "fairness_scope": _fairness_scope(ev),
        "fairness_truth_flagged": [r for r in fairness_truth_rows if r["flag"]],
        **_oracle_context(ev, models),
        **_coverage_context(ev),
        "selection": {
            "criterion": selection.get("criterion") or "",
            "criterion_text": {lang: criterion_text(selection.get("criterion"), lang) for lang in ("zh", "en")},
            "selected_config": {
                lang: param_text(selection.get("selected_config") or {}, lang) if selection.get("selected_config") else ""
                for lang in ("zh", "en")
            },
            "regret": fmt(selection.get("regret")),
        },
        "param_rows": {lang: param_rows(ev.get("params") or {}, lang) for lang in ("zh", "en")},
        "approval": _approval(ev),
        "exploration": _exploration(ev),
        "owner": _owner(ev),
        "retain_until": _retain_until(ev),
        "n_rows_total": fmt_int((n_train or 0) + (n_test or 0)) if (n_train or n_test) else "—",
        "train_dates": ", ".join(str(d) for d in ev.get("train_as_of_dates") or []) or "—",
        "test_dates": ", ".join(str(d) for d in ev.get("test_as_of_dates") or []) or "—",
        "band": BAND,
        "small_cell": SMALL_CELL_THRESHOLD,
    }


# ----------------------------------------------------------------------------------------------
# rendering
# ----------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(fmt=fmt, pct=fmt_pct, int=fmt_int, ci=fmt_ci)
    return env


def _json_default(o: Any) -> Any:
    if isinstance(o, dt.date | dt.datetime):
        return o.isoformat()
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "item"):
        return o.item()
    return str(o)


def render_model_card(evaluation: dict, out_dir: Path) -> dict[str, Path]:
    """Write the model card of one target in four formats, with its plots.

    Parameters
    ----------
    evaluation : dict
        The evaluation document produced by models/ and logged with the MLflow run (keys:
        ``target, model_name, model_version, mlflow_run_id, trained_at, train_as_of_dates,
        test_as_of_dates, label_timespan_days, n_train, n_test, prevalence_train,
        prevalence_test, capacity_total, n_communities, metrics, beats_baselines, splits,
        selection, fairness, calibration, precision_recall_at_k, importance_by_family, features,
        params, simulation, truth_metrics, approval``). Optional parts may be missing or empty;
        ``target``, ``model_name``, ``model_version`` and the model's core metrics
        (:data:`CORE_METRICS`) may not.
    out_dir : pathlib.Path
        Folder for the card files (created if needed).

    Returns
    -------
    dict[str, pathlib.Path]
        ``html`` (Chinese), ``html_en``, ``md``, ``json`` and ``plot_<name>`` for each PNG written
        (``plot_<name>_en`` too when Chinese-labelled plots exist).

    Raises
    ------
    ModelCardError
        When a core key or a core metric is missing.
    """
    ctx = build_card_context(evaluation)
    target = ctx["target"]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    plots_en = _make_plots(ctx["ev"], "en")
    plots_zh = _make_plots(ctx["ev"], "zh") if find_cjk_font() else plots_en
    paths: dict[str, Path] = {}
    files_zh: dict[str, str] = {}
    for name, png in plots_zh.items():
        p = out_dir / f"{target}_{name}.png"
        p.write_bytes(png)
        paths[f"plot_{name}"] = p
        files_zh[name] = p.name
    files_en = dict(files_zh)
    if plots_zh is not plots_en:
        for name, png in plots_en.items():
            p = out_dir / f"{target}_{name}.en.png"
            p.write_bytes(png)
            paths[f"plot_{name}_en"] = p
            files_en[name] = p.name

    def embed(plots: dict[str, bytes]) -> dict[str, str]:
        return {k: "data:image/png;base64," + base64.b64encode(v).decode("ascii") for k, v in plots.items()}

    env = _env()
    cjk = bool(find_cjk_font())
    html_zh = env.get_template("model_card.zh.html.j2").render(
        **ctx, lang="zh", L=LABELS["zh"], F=FAMILY_LABELS["zh"], plots=embed(plots_zh), plot_files=files_zh,
        cjk_plots=cjk,
    )
    html_en = env.get_template("model_card.en.html.j2").render(
        **ctx, lang="en", L=LABELS["en"], F=FAMILY_LABELS["en"], plots=embed(plots_en), plot_files=files_en,
        cjk_plots=False,
    )
    md = env.get_template("model_card.md.j2").render(
        **ctx, lang="zh", L=LABELS["zh"], F=FAMILY_LABELS["zh"], plot_files=files_zh, cjk_plots=cjk
    )

    paths["html"] = out_dir / f"{target}.html"
    paths["html_en"] = out_dir / f"{target}.en.html"
    paths["md"] = out_dir / f"{target}.md"
    paths["json"] = out_dir / f"{target}.json"
    paths["html"].write_text(html_zh, encoding="utf-8")
    paths["html_en"].write_text(html_en, encoding="utf-8")
    paths["md"].write_text(md, encoding="utf-8")
    ev_public = copy.deepcopy(ctx["ev"])
    for r in [*(ev_public.get("fairness") or []), *(ev_public.get("fairness_truth") or [])]:
        r.pop("_index", None)
    doc = {
        "card_schema_version": 1,
        "target": target,
        "generated_from": {
            "mlflow_run_id": ev_public.get("mlflow_run_id"),
            "model_name": ev_public.get("model_name"),
            "model_version": ev_public.get("model_version"),
        },
        "approval": {
            k: ctx["approval"][k] for k in ("status", "approved", "simulated", "by", "at", "note", "zh", "en")
        },
        "small_cell_threshold": SMALL_CELL_THRESHOLD,
        "fairness_band": list(BAND),
        "retain_assessment_until": ctx["retain_until"],
        "plots": {k: files_zh[k] for k in sorted(files_zh)},
        "evaluation": ev_public,
    }
    paths["json"].write_text(
        json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True, default=_json_default) + "\n",
        encoding="utf-8",
    )
    return paths
