"""Model card: files, this run's figures, languages, sections, small cells, approval, determinism."""

from __future__ import annotations

import copy
import hashlib
import json
import re

import pytest
from serving_testdata import make_evaluation

from serving import model_card
from serving.model_card import ModelCardError, build_card_context, render_model_card

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("cards")
    return out, render_model_card(make_evaluation(), out)


@pytest.fixture
def card(rendered):
    return rendered[1]


def _text(paths, key):
    return paths[key].read_text(encoding="utf-8")


def test_every_file_exists(rendered):
    out, card = rendered
    assert card["html"] == out / "guardianship_risk.html"
    assert card["html_en"] == out / "guardianship_risk.en.html"
    assert card["md"] == out / "guardianship_risk.md"
    assert card["json"] == out / "guardianship_risk.json"
    for name in model_card.PLOTS:
        png = card[f"plot_{name}"]
        assert png.exists() and png.read_bytes().startswith(PNG_MAGIC), name
    for p in card.values():
        assert p.exists() and p.stat().st_size > 0


def test_cards_carry_this_runs_figures(card, evaluation):
    texts = {k: _text(card, k) for k in ("html", "html_en", "md")}
    for key, text in texts.items():
        for figure in (
            "0.412",
            "[0.382, 0.442]",
            "0.357",
            "0.781",
            "1,370",
            "137",
            "61,234",
            "20,411",
            "2.47%",
        ):
            assert figure in text, (key, figure)
        assert evaluation["mlflow_run_id"] in text
        assert "humiao_guardianship_risk" in text
        # baselines beside the model, splits over time, calibration bins, PR at k
        assert "0.330" in text and "0.206" in text  # checklist, prior precision@capacity_abs
        assert "2024-10-01" in text
        assert "0.372" in text  # observed rate of the top calibration bin
        assert "0.463" in text  # precision at k = 1,370
        assert "0.523" in text  # truth metrics (simulation)
        assert "30.0%" in text or "31.0%" in text  # importance share of the top family
    doc = json.loads(_text(card, "json"))
    assert doc["evaluation"]["metrics"]["model"]["precision@capacity_abs"]["value"] == 0.4123
    assert doc["generated_from"]["mlflow_run_id"] == evaluation["mlflow_run_id"]
    assert set(doc["plots"]) == set(model_card.PLOTS)


def test_languages_and_sections(card):
    zh, en, md = _text(card, "html"), _text(card, "html_en"), _text(card, "md")
    assert '<html lang="zh-CN">' in zh and '<html lang="en">' in en
    # Mitchell et al. sections
    for heading in (
        "模型详情",
        "预期用途与不适用范围",
        "因素",
        "指标",
        "评估数据",
        "训练数据",
        "定量分析",
        "伦理考量",
        "注意事项与建议",
    ):
        assert heading in zh and heading in md, heading
    for heading in (
        "Model details",
        "Intended use and out-of-scope uses",
        "Factors",
        "Metrics",
        "Evaluation data",
        "Training data",
        "Quantitative analyses",
        "Ethical considerations",
        "Caveats and recommendations",
    ):
        assert heading in en and heading in md, heading
    # ATRS headings
    for heading in ("负责方与责任", "描述与理由", "决策过程", "技术规格与数据", "风险与缓解"):
        assert heading in zh, heading
    for heading in (
        "Owner and responsibility",
        "Description and rationale",
        "Decision-making process",
        "Technical specification and data",
        "Risks and mitigations",
    ):
        assert heading in en, heading
    assert "数据更正中" in zh and "data under correction" in en  # how a family gets data corrected
    # PIPL impact assessment
    for art in ("第55–56条", "第28条", "第31条", "第24条", "第51条", "第73条"):
        assert art in zh, art
    for art in ("arts. 55–56", "arts. 28, 31", "art. 24", "arts. 51, 73"):
        assert art in en, art
    assert "2028-06-02" in zh and "2028-06-02" in en  # kept at least three years from training
    # the English card is English, the Chinese card is mostly Chinese
    han = lambda s: len(re.findall(r"[\u4e00-\u9fff]", s))  # noqa: E731
    strip = lambda s: re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", s)  # noqa: E731
    assert han(strip(zh)) > 2000
    assert han(strip(en)) < 0.15 * len(re.findall(r"[A-Za-z]+", strip(en)))
    # sensitive features, phrased as needs
    for text in (zh, en, md):
        assert "disability_grade" in text and "残疾儿童及其家庭需要更多照护支持" in text
    # plots embedded in both HTML cards
    assert zh.count("data:image/png;base64,") == len(model_card.PLOTS)
    assert en.count("data:image/png;base64,") == len(model_card.PLOTS)


def test_small_cells_suppressed(card):
    zh, md = _text(card, "html"), _text(card, "md")
    doc = json.loads(_text(card, "json"))
    small = [r for r in doc["evaluation"]["fairness"] if r["group"] == "非本地户籍"]
    assert small == [
        {
            "attribute": "hukou_type",
            "group": "非本地户籍",
            "reference_group": "非农业家庭户口",
            "n": "<10",
            "suppressed": True,
        }
    ]
    assert '"n": 7' not in _text(card, "json")
    row = next(line for line in md.splitlines() if "| 非本地户籍 |" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3] == "<10" and all(c == "" for c in cells[4:])
    html_row = re.search(r"<tr class=\"suppressed\">(.*?)</tr>", zh, re.S).group(1)
    assert "非本地户籍" in html_row and "&lt;10" in html_row and "1.30" not in html_row
    # n_positive < 10 in a group shown with n ≥ 10 reads "<10" too
    ev = copy.deepcopy(doc["evaluation"])
    assert all(
        r["n_positive"] == "<10" or r["n_positive"] >= 10 for r in ev["fairness"] if not r["suppressed"]
    )


def test_calibration_bin_below_ten_is_blanked(evaluation):
    evaluation["calibration"]["bins"].append({"mean_predicted": 0.9, "observed": 0.6667, "n": 3})
    ctx = build_card_context(evaluation)
    assert ctx["calibration_rows"][-1] == {"mean_predicted": "", "observed": "", "n": "<10"}
    assert ctx["ev"]["calibration"]["bins"][-1]["observed"] is None
    assert evaluation["calibration"]["bins"][-1]["observed"] == 0.6667  # the input is not modified


def test_approval_statements(card, evaluation):
    assert "模拟数据" in _text(card, "html") and "自动批准" in _text(card, "html")
    assert "Approved automatically" in _text(card, "html_en") and "simulated" in _text(card, "html_en")
    real = copy.deepcopy(evaluation)
    real["simulation"] = False
    real["truth_metrics"] = None
    real["approval"] = {"status": "pending", "by": None, "at": None, "note": None}
    pending = build_card_context(real)["approval"]
    assert not pending["approved"] and "待审批" in pending["zh"] and "Pending review" in pending["en"]
    real["approval"] = {"status": "approved", "by": "reviewer_wang", "at": "2025-06-05T10:00:00", "note": ""}
    approved = build_card_context(real)["approval"]
    assert (
        approved["approved"]
        and "reviewer_wang" in approved["zh"]
        and "Approved by reviewer_wang" in approved["en"]
    )
    assert not approved["warning_en"]
    real["approval"] = {"status": "approved", "by": "auto", "at": "2025-06-05T10:00:00", "note": ""}
    assert "must not be approved automatically" in build_card_context(real)["approval"]["warning_en"]
    real["approval"] = {"status": "rejected", "by": "reviewer_wang", "at": "2025-06-05", "note": "fairness"}
    assert "未获批准" in build_card_context(real)["approval"]["zh"]


def test_tolerates_missing_optional_parts(tmp_path, evaluation):
    minimal = {k: evaluation[k] for k in ("target", "model_name", "model_version")}
    minimal["metrics"] = {"model": evaluation["metrics"]["model"]}
    minimal["splits"] = []
    minimal["truth_metrics"] = None
    paths = render_model_card(minimal, tmp_path)
    zh, en = _text(paths, "html"), _text(paths, "html_en")
    assert "0.412" in zh and "0.412" in en
    assert "没有时间切分" in zh and "no temporal splits" in en
    assert "待审批" in zh  # no approval record: pending, never approved by default
    assert not any(k.startswith("plot_") for k in paths)


def test_refuses_missing_core_metrics(tmp_path, evaluation):
    broken = copy.deepcopy(evaluation)
    del broken["metrics"]["model"]["recall@capacity_abs"]
    with pytest.raises(ModelCardError, match="recall@capacity_abs"):
        render_model_card(broken, tmp_path)
    broken = copy.deepcopy(evaluation)
    broken["metrics"]["model"]["roc_auc"] = {"value": None}
    with pytest.raises(ModelCardError, match="roc_auc"):
        render_model_card(broken, tmp_path)
    broken = copy.deepcopy(evaluation)
    del broken["metrics"]["model"]
    with pytest.raises(ModelCardError, match="'model'"):
        render_model_card(broken, tmp_path)
    with pytest.raises(ModelCardError, match="target"):
        render_model_card({k: v for k, v in evaluation.items() if k != "target"}, tmp_path)
    assert not list(tmp_path.iterdir())


def test_english_plot_labels_without_cjk_font(tmp_path, evaluation, monkeypatch):
    monkeypatch.setattr(model_card, "find_cjk_font", lambda: None)
    paths = render_model_card(evaluation, tmp_path)
    assert not any(
        k.startswith("plot_") and k.endswith("_en") for k in paths
    )  # one English set serves both cards
    assert "Recall (TPR) disparity" in model_card.PLOT_TEXT["en"]["fairness_tpr"][0]
    labels = [
        model_card._group_label("district", "临安区", 3, "en", False),
        model_card._group_label("sex", "女", 1, "en", False),
    ]
    assert labels == ["District: G3", "Sex: female"]
    assert all(ord(ch) < 128 for label in labels for ch in label)


def test_deterministic(tmp_path, rendered, evaluation):
    _, a = rendered
    b = render_model_card(evaluation, tmp_path / "b")
    assert a.keys() == b.keys()
    for key in a:
        assert hashlib.sha256(a[key].read_bytes()).digest() == hashlib.sha256(b[key].read_bytes()).digest(), (
            key
        )


@pytest.mark.parametrize(
    ("override", "zh", "md"),
    [
        ({"outcomes": 25, "disagreed": 4, "rate": 0.16, "suppressed": False}, "25 条走访结果中，儿童主任不同意排序 4 条（16.0%）", "4 / 25（16.0%）"),
        ({"outcomes": 7, "disagreed": 2, "rate": 2 / 7, "suppressed": True}, "已记录的走访结果少于10条，不显示比例", "<10 条走访结果"),
        (None, "本周期尚无在审核系统中记录的走访结果", "尚无记录"),
    ],
)
def test_override_rate_on_the_card(tmp_path, override, zh, md):
    """Directors' disagreement with the ranking (review app) is reported; under 10 outcomes it is hidden."""
    ev = make_evaluation()
    if override is not None:
        ev["override_rate"] = override
    paths = render_model_card(ev, tmp_path)
    assert zh in paths["html"].read_text(encoding="utf-8")
    assert md in paths["md"].read_text(encoding="utf-8")
    if override and override["suppressed"]:
        assert "28.6%" not in paths["html"].read_text(encoding="utf-8")


def test_rates_that_would_reveal_a_small_positive_count_are_hidden(tmp_path):
    """New-user finding: a group of 132 with "<10" positives and prevalence 2.27% gives the count back."""
    ev = make_evaluation()
    row = dict(ev["fairness"][0])
    row.update(group="小群体", n=132, n_positive=3, prevalence=3 / 132, tpr=1 / 3, fnr=2 / 3, precision=0.25)
    ev["fairness"] = [*ev["fairness"], row]
    card = build_card_context(ev)
    shown = next(r for r in card["ev"]["fairness"] if r["group"] == "小群体")
    assert shown["n_positive"] == "<10"
    assert all(shown.get(k) is None for k in ("prevalence", "tpr", "fnr", "precision"))
    paths = render_model_card(ev, tmp_path)
    assert "2.27%" not in paths["html"].read_text(encoding="utf-8")


def _with_simulation_blocks(ev: dict) -> dict:
    """The evaluation document's simulation blocks (models.evaluate): true outcomes per list, the
    observed-vs-true gap, the oracle, the audit on true outcomes; and label coverage per group."""
    ev = copy.deepcopy(ev)
    ev["truth_metrics"] = {
        "model": {"precision@capacity_abs": {"value": 0.5234, "ci95": [0.4934, 0.5534]},
                  "recall@capacity_abs": {"value": 0.1431, "ci95": [0.1239, 0.1601]}},
        "checklist": {"precision@capacity_abs": {"value": 0.4417, "ci95": [0.41, 0.47]},
                      "recall@capacity_abs": {"value": 0.1207, "ci95": [0.10, 0.14]}},
    }  # fmt: skip
    ev["label_gap"] = {
        "model": {
            "precision@capacity_abs": {"observed": 0.4123, "truth": 0.5234, "truth_minus_observed": 0.1111},
            "recall@capacity_abs": {"observed": 0.3567, "truth": 0.1431, "truth_minus_observed": -0.2136},
        },
        "checklist": {
            "precision@capacity_abs": {"observed": 0.3298, "truth": 0.4417, "truth_minus_observed": 0.1119},
            "recall@capacity_abs": {"observed": 0.2854, "truth": 0.1207, "truth_minus_observed": -0.1647},
        },
    }
    ev["oracle"] = {
        "definition": "simulator's true guardianship state at the as-of date",
        "metrics": {"precision@capacity_abs": {"value": 0.4411, "ci95": [0.41, 0.47]}},
        "truth_metrics": {"precision@capacity_abs": {"value": 0.8196, "ci95": [0.79, 0.85]}},
        "gap_to_oracle": {"observed": {"precision@capacity_abs": 0.0288}, "truth": {"precision@capacity_abs": 0.2962}},
        "true_at_risk_found": {
            "model": {"n_true_at_risk": 1069, "found": 153, "share": 0.1431, "ci95": [0.1239, 0.1601], "list_places": 1370},
            "checklist": {"n_true_at_risk": 1069, "found": 129, "share": 0.1207, "ci95": [0.10, 0.14], "list_places": 1370},
            "oracle": {"n_true_at_risk": 1069, "found": 390, "share": 0.3648, "ci95": [0.3270, 0.3733], "list_places": 1370},
        },
    }  # fmt: skip
    ev["fairness_truth"] = [
        {**r, "n_positive": r["n"] // 15, "tpr": 0.1234, "tpr_disparity": 0.4567 if r["group"] == "农村" else 1.0,
         "tpr_disparity_ci95": [0.3012, 0.6023] if r["group"] == "农村" else [0.9, 1.1], "flag": r["group"] == "农村"}
        for r in ev["fairness"]
    ]  # fmt: skip
    ev["fairness_scope"] = {"scope": "all_splits", "test_as_of_dates": ["2024-07-01", "2025-01-01"],
                            "n_rows": 40822, "n_children": 21377, "list_places": 2740}  # fmt: skip
    ev["label_coverage"] = {
        "as_of_date": "2025-01-01",
        "rows": [
            {"group": "all", "value": "全部", "cohort_children": 20411, "visited_children": 1873, "coverage": 0.09177},
            {"group": "district", "value": "淳安县", "cohort_children": 612, "visited_children": 97, "coverage": 0.1586},
            {"group": "district", "value": "滨江区", "cohort_children": 433, "visited_children": 6, "coverage": 6 / 433},
            {"group": "has_disability", "value": "是", "cohort_children": 8, "visited_children": 5, "coverage": 0.625},
        ],
    }  # fmt: skip
    return ev


def test_oracle_label_gap_and_coverage_blocks(tmp_path, evaluation):
    """The card renders the oracle comparison, the observed-vs-true gap and label coverage from the
    evaluation document (simulation), with small cells hidden."""
    paths = render_model_card(_with_simulation_blocks(evaluation), tmp_path)
    zh, en, md = _text(paths, "html"), _text(paths, "html_en"), _text(paths, "md")
    for key, text in {"zh": zh, "en": en, "md": md}.items():
        # oracle: share of truly at-risk children found by each list
        for figure in ("153", "1,069", "14.3%", "[12.4, 16.0]", "390", "36.5%", "129", "12.1%"):
            assert figure in text, (key, "oracle", figure)
        assert "true guardianship state at the as-of date" in text
        assert "0.441" in text and "0.820" in text and "+0.296" in text and "+0.029" in text
        # observed vs true labels: values and the gap (truth − observed), model and baselines
        for figure in ("0.523", "+0.111", "-0.214", "0.442", "+0.112", "-0.165"):
            assert figure in text, (key, "gap", figure)
        # the audit on true outcomes names the flagged group
        assert "0.46" in text and "[0.30, 0.60]" in text
        # label coverage per group
        for figure in ("2025-01-01", "20,411", "1,873", "9.2%", "淳安县", "15.9%"):
            assert figure in text, (key, "coverage", figure)
        # small cells: a group of 8 children and 6 visited children are hidden
        assert "62.5%" not in text and "1.4%" not in text
    for text in (zh, en, md):  # the audit's test dates and its children / child-dates
        assert "2024-07-01, 2025-01-01" in text and "21,377" in text and "40,822" in text
    assert "7.8" in zh and "理想排序" in zh and "Comparison with the oracle" in en
    assert "标签覆盖率" in zh and "Label coverage" in en
    doc = json.loads(_text(paths, "json"))["evaluation"]
    assert doc["oracle"]["true_at_risk_found"]["model"]["share"] == 0.1431
    cov = {r["value"]: r for r in doc["label_coverage"]["rows"]}
    assert cov["是"]["cohort_children"] == "<10" and cov["是"]["coverage"] is None
    assert cov["滨江区"]["visited_children"] == "<10" and cov["滨江区"]["coverage"] is None
    assert all("_index" not in r for r in doc["fairness_truth"])
    small = next(r for r in doc["fairness_truth"] if r["group"] == "非本地户籍")
    assert small["n"] == "<10" and small["suppressed"]


def test_oracle_found_below_ten_is_hidden(evaluation):
    ev = _with_simulation_blocks(evaluation)
    ev["oracle"]["true_at_risk_found"] = {
        "model": {"n_true_at_risk": 7, "found": 3, "share": 3 / 7, "ci95": [0.1, 0.8], "list_places": 40}
    }
    rows = build_card_context(ev)["oracle_found_rows"]
    assert rows == [{"list": "model", "found": "", "n_true_at_risk": "<10", "share": "", "ci": "",
                     "list_places": "40", "suppressed": True}]  # fmt: skip


def test_real_data_card_has_no_simulation_blocks(tmp_path, evaluation):
    real = _with_simulation_blocks(evaluation)
    real.update(simulation=False, truth_metrics=None, label_gap=None, oracle=None, fairness_truth=None)
    zh = render_model_card(real, tmp_path)["html"].read_text(encoding="utf-8")
    assert "理想排序" not in zh and "观察标签与真实结果" not in zh
    assert "标签覆盖率（选择性标签）" in zh  # coverage is reported on real data too


def test_small_cells_count_children_not_child_dates(evaluation):
    """An audit over two test dates: a group of 7 children seen twice (14 rows) is still a small cell."""
    ev = copy.deepcopy(evaluation)
    row = dict(ev["fairness"][0])
    row.update(group="两期小群体", n=14, n_children=7, n_positive=12)
    ev["fairness"] = [*ev["fairness"], row]
    shown = next(r for r in build_card_context(ev)["ev"]["fairness"] if r["group"] == "两期小群体")
    shown.pop("_index", None)
    assert shown == {"attribute": row["attribute"], "group": "两期小群体", "reference_group": row["reference_group"],
                     "n": "<10", "suppressed": True}  # fmt: skip
