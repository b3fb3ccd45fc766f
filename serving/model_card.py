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
    },
}


def _ascii(text: str) -> bool:
    return all(ord(ch) < 128 for ch in text)


def _group_label(attribute: str, group: Any, index: int, lang: str, cjk: bool) -> str:
    g = str(group)
    attr = LABELS[lang].get(attribute, attribute) if (lang == "en" or cjk) else attribute
    if lang == "zh" and cjk:
        return f"{attr}: {g}"
    shown = GROUP_EN.get(g, g)
    if not _ascii(shown):
        shown = f"G{index}"  # the card's fairness table gives the mapping
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
    method = (ev.get("calibration") or {}).get("method")
    ax.set_title(f"{title} ({method})" if method else title)
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return _png(fig)


def _plot_pr_at_k(ev: Mapping[str, Any], t: dict) -> bytes | None:
    rows = [r for r in ev.get("precision_recall_at_k") or [] if _num(r.get("k_total")) is not None]
    if not rows:
        return None
    rows = sorted(rows, key=lambda r: _num(r["k_total"]))
    title, xl, yl, cap = t["precision_recall_at_k"]
    fig, ax = _figure()
    ks = [_num(r["k_total"]) for r in rows]
    ax.plot(ks, [_num(r.get("precision")) for r in rows], marker="o", label=t["precision"], color="#1f4e79")
    ax.plot(ks, [_num(r.get("recall")) for r in rows], marker="s", label=t["recall"], color="#c55a11")
    k = _num(ev.get("capacity_total"))
    if k is not None:
        ax.axvline(k, linestyle="--", color="grey", label=f"{cap} = {int(k):,}")
    ax.set_xlabel(xl)
    ax.set_ylabel(yl)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return _png(fig)


def _plot_fairness(ev: Mapping[str, Any], t: dict, lang: str, cjk: bool) -> bytes | None:
    rows = [
        r
        for r in ev.get("fairness") or []
        if not r.get("suppressed") and _num(r.get("tpr_disparity")) is not None
    ]
    if not rows:
        return None
    title, xl, band = t["fairness_tpr"]
    labels, vals, lo, hi, colors = [], [], [], [], []
    counters: dict[str, int] = {}
    for r in rows:
        attr = str(r.get("attribute"))
        counters[attr] = counters.get(attr, 0) + 1
        labels.append(_group_label(attr, r.get("group"), r.get("_index", counters[attr]), lang, cjk))
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
    ax.set_yticklabels([k for k, _ in items])
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


def _metric_cell(block: Any) -> dict[str, str]:
    block = block if isinstance(block, Mapping) else {}
    return {"value": fmt(block.get("value")), "ci": fmt_ci(block.get("ci95"))}


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
        zh = f"未获批准：审批人 {by}，时间 {at}。本模型不发布名单，继续由上一个已批准模型（champion）服务。"
        en = f"Rejected by {by} at {at}. This model publishes no lists; the previous champion keeps serving."
    else:
        zh = "待审批：算法治理审查员批准本模型卡之前，本模型不发布名单，继续由上一个已批准模型（champion）服务。"
        en = (
            "Pending review: until a governance reviewer approves this card, the model publishes no lists "
            "and the previous champion keeps serving."
        )
    if note:
        zh += f" 备注：{note}"
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


def _fairness_rows(rows: list[dict]) -> list[dict]:
    """Formatted audit rows (suppressed groups keep only their name and "<10")."""
    out = []
    counters: dict[str, int] = {}
    for r in rows:
        attr = str(r.get("attribute"))
        counters[attr] = counters.get(attr, 0) + 1
        r["_index"] = counters[attr]
        sup = bool(r.get("suppressed"))
        out.append(
            {
                "attribute": attr,
                "group": str(r.get("group")),
                "plot_label": _group_label(attr, r.get("group"), counters[attr], "en", False).split(": ", 1)[
                    1
                ],
                "reference_group": str(r.get("reference_group") or ""),
                "is_reference": str(r.get("group")) == str(r.get("reference_group")),
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
        return {"oracle_found_rows": [], "oracle_metric_rows": [], "oracle_definition": ""}
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
        rows.append(
            {
                "group": str(r.get("group") or ""),
                "value": str(r.get("value") if r.get("value") is not None else ""),
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

    fairness_rows = _fairness_rows(ev.get("fairness") or [])
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
    pr_rows = [
        {
            "k_total": fmt_int(r.get("k_total")),
            "precision": fmt(r.get("precision")),
            "recall": fmt(r.get("recall")),
        }
        for r in sorted(ev.get("precision_recall_at_k") or [], key=lambda r: _num(r.get("k_total")) or 0)
    ]
    importance_rows = [
        {"family": str(k), "share": fmt_pct(v, 1)}
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
    fairness_truth_rows = _fairness_rows(ev.get("fairness_truth") or [])
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
        "calibration_rows": calibration_rows,
        "pr_rows": pr_rows,
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
            "selected_config": json.dumps(
                selection.get("selected_config") or {}, ensure_ascii=False, sort_keys=True
            ),
            "regret": fmt(selection.get("regret")),
        },
        "params_json": json.dumps(ev.get("params") or {}, ensure_ascii=False, sort_keys=True, default=str),
        "approval": _approval(ev),
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
    html_zh = env.get_template("model_card.zh.html.j2").render(
        **ctx, L=LABELS["zh"], plots=embed(plots_zh), plot_files=files_zh, cjk_plots=bool(find_cjk_font())
    )
    html_en = env.get_template("model_card.en.html.j2").render(
        **ctx, L=LABELS["en"], plots=embed(plots_en), plot_files=files_en, cjk_plots=False
    )
    md = env.get_template("model_card.md.j2").render(**ctx, L=LABELS["zh"], plot_files=files_zh)

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
