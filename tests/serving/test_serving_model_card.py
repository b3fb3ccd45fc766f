"""Model card: files, this run's figures, languages, sections, small cells, approval, determinism."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from html.parser import HTMLParser

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
        model_card._group_label("district", "某新区", 3, "en", False),  # no English name: its code
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


# ----------------------------------------------------------------------------------------------
# new-user findings on the rendered cards
# ----------------------------------------------------------------------------------------------


class _Visible(HTMLParser):
    """Visible text of an HTML page (text nodes and the title; no style, script or attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.skip = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("style", "script")

    def handle_endtag(self, tag):
        self.skip -= tag in ("style", "script")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def _visible(html: str) -> str:
    p = _Visible()
    p.feed(html)
    return re.sub(r"\s+", " ", " ".join(p.parts))


def _tables(html: str) -> list[list[list[str]]]:
    """Every <table> of a page as rows of cell texts (tags stripped)."""
    out = []
    for table in re.findall(r"<table.*?</table>", html, re.S):
        rows = []
        for tr in re.findall(r"<tr.*?</tr>", table, re.S):
            rows.append([_visible(c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", tr, re.S)])
        out.append(rows)
    return out


def _pr_sections(html: str) -> dict[str, list[list[str]]]:
    """Row groups of the precision/recall-at-list-size table: {kind: [[size, k, precision, recall], …]}."""
    table = re.search(r'<table class="prk">.*?</table>', html, re.S).group(0)
    out = {}
    for kind, body in re.findall(r'<tbody class="prk-(\w+)">(.*?)</tbody>', table, re.S):
        rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
        out[kind] = [[_visible(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)] for r in rows]
    return out


def test_precision_recall_at_list_size_grouped_by_kind(card, evaluation):
    """Finding 1: capacity multiples, city-wide top N and top N% in one column ordered by k made recall
    look as if it fell as the list grew. Each kind is its own group, ordered by size, recall monotone."""
    zh, en, md = _text(card, "html"), _text(card, "html_en"), _text(card, "md")
    for html in (zh, en):
        groups = _pr_sections(html)
        assert list(groups) == ["capacity", "abs", "pct"]
        for kind, rows in groups.items():
            recall = [float(r[3].split()[0]) for r in rows]
            assert recall == sorted(recall), (kind, recall)  # non-decreasing within a kind
            k = [int(r[1].replace(",", "")) for r in rows]
            assert k == sorted(k), (kind, k)
        # the numbers are the document's, under the triage metric names
        doc_rows = evaluation["precision_recall_at_k"]
        assert len([r for rows in groups.values() for r in rows]) == len(doc_rows)
        cap = {r[0]: r for r in groups["capacity"]}
        assert cap["1 × K"][2].startswith("0.400") and "precision@capacity_abs" in cap["1 × K"][2]
        assert "recall@capacity_abs" in cap["1 × K"][3]
        pct = {r[0].split()[-1]: r for r in groups["pct"]}
        assert "recall@5_pct" in pct["5%"][3] and pct["5%"][2].startswith("0.450")
        top = groups["abs"]
        assert "precision@1370_abs" in top[3][2] and top[3][2].startswith("0.463")
    # the Markdown lists the same groups, in the same order
    assert md.index("按名额") < md.index("前N名") < md.index("前N%")
    assert "recall@5_pct" in md and "precision@100_abs" not in md
    # a mixed document sorted by k alone would interleave the kinds
    mixed = sorted(evaluation["precision_recall_at_k"], key=lambda r: r["k_total"])
    recall = [r["recall"] for r in mixed]
    assert recall != sorted(recall)  # the fixture does exercise the finding


def test_pr_groups_metric_names():
    ev = {"precision_recall_at_k": [
        {"k_total": 100, "precision": 0.5, "recall": 0.1},
        {"k_total": 50, "precision": 0.6, "recall": 0.05},
        {"k_total": 300, "pct": 5.0, "precision": 0.3, "recall": 0.4},
        {"k_per_community_factor": 2.0, "k_total": 80, "precision": 0.2, "recall": 0.3},
        {"k_per_community_factor": 1.0, "k_total": 40, "precision": 0.3, "recall": 0.2},
    ]}  # fmt: skip
    groups = model_card.pr_groups(ev)
    assert [g["kind"] for g in groups] == ["capacity", "abs", "pct"]
    names = [[r["precision_name"] for r in g["rows"]] for g in groups]
    assert names == [["precision@capacity_abs", "precision@2×capacity_abs"],
                     ["precision@50_abs", "precision@100_abs"], ["precision@5_pct"]]  # fmt: skip
    assert groups[2]["rows"][0]["recall_name"] == "recall@5_pct"


def _coverage_doc(ev: dict) -> dict:
    ev = copy.deepcopy(ev)
    ev["label_coverage"] = {
        "as_of_date": "2025-01-01",
        "rows": [
            {"group": "all", "value": "全部", "cohort_children": 20411, "visited_children": 1873, "coverage": 0.0918},
            {"group": "has_disability", "value": "False", "cohort_children": 20100, "visited_children": 1800, "coverage": 0.0896},
            {"group": "has_disability", "value": "True", "cohort_children": 311, "visited_children": 73, "coverage": 0.2347},
            {"group": "hukou_type", "value": None, "cohort_children": 55, "visited_children": 12, "coverage": 0.2182},
            {"group": "urban_rural", "value": float("nan"), "cohort_children": 40, "visited_children": 11, "coverage": 0.275},
            {"group": "sex", "value": "", "cohort_children": 30, "visited_children": 10, "coverage": 0.3333},
        ],
    }  # fmt: skip
    return ev


def test_group_cells_are_readable(tmp_path, evaluation):
    """Finding 2: label coverage and fairness tables showed blank group names and raw True/False."""
    paths = render_model_card(_coverage_doc(_with_simulation_blocks(evaluation)), tmp_path)
    zh, en, md = _text(paths, "html"), _text(paths, "html_en"), _text(paths, "md")
    for html, lang in ((zh, "zh"), (en, "en")):
        for table in _tables(html):
            header = table[0]
            if not any(h in header for h in ("群体", "Group")):
                continue
            col = header.index("群体" if lang == "zh" else "Group")
            cells = [r[col] for r in table[1:] if len(r) == len(header)]
            assert cells, header
            for cell in cells:
                assert cell.strip(" *"), (lang, header)  # never blank
                assert cell.strip(" *") not in ("True", "False", "None", "nan", "是", "否"), (lang, cell)
    for text in (_visible(zh), md):
        assert "残疾：是" in text and "残疾：否" in text and "未知" in text
        assert "True" not in text and "False" not in text
    vis_en = _visible(en)
    assert "Disability: yes" in vis_en and "Disability: no" in vis_en and "unknown" in vis_en
    assert not re.search(r"\b(True|False)\b(?! (outcomes|positives|prevalence))", vis_en)
    # the fairness tables (observed and true outcomes) name the boolean and the blank groups too
    rows = build_card_context(evaluation)["fairness_rows"]
    shown = {r["group_text"]["zh"] for r in rows if r["attribute"] == "has_disability"}
    assert shown == {"残疾：是", "残疾：否", "未知"}
    assert {r["group_text"]["en"] for r in rows if r["attribute"] == "sex"} == {"male", "female"}
    # the coverage table keeps the document's counts and small-cell rules
    assert "20,100" in zh and "23.5%" in zh


def test_group_text():
    assert model_card.group_text("has_disability", True, "zh") == "残疾：是"
    assert model_card.group_text("has_disability", "False", "en") == "Disability: no"
    assert model_card.group_text("has_disability", "否", "zh") == "残疾：否"
    for blank in (None, "", float("nan"), "None", "nan"):
        assert model_card.group_text("hukou_type", blank, "zh") == "未知"
        assert model_card.group_text("hukou_type", blank, "en") == "unknown"
    assert model_card.group_text("all", "全部", "en") == "All"
    assert model_card.group_text("district", "淳安县", "en") == "Chun'an (淳安县)"
    assert model_card.group_text("district", "淳安县", "zh") == "淳安县"


def test_parameters_as_labelled_table(card, evaluation):
    """Finding 3: parameters were a raw JSON dump; now a two-column table with human labels."""
    zh, en, md = _text(card, "html"), _text(card, "html_en"), _text(card, "md")
    assert "{&#34;" not in zh and '{"' not in zh and '{"' not in md  # no JSON dump
    table = next(t for t in _tables(zh) if t[0] == ["参数", "取值"])
    rows = {r[0]: r[1] for r in table[1:]}
    assert rows["LightGBM 参数 › 叶子数上限"] == "31"
    assert rows["LightGBM 参数 › 学习率"] == "0.05"
    assert rows["LightGBM 参数 › 树的数量"] == "300"
    assert rows["LightGBM 参数 › 叶子最少样本数"] == "100"
    assert rows["LightGBM 参数 › 目标函数"] == "二分类"
    assert rows["LightGBM 参数 › 确定性训练"] == "是"
    assert rows["LightGBM 参数 › 单调约束"] == "共 15 项：-1 ×1、0 ×12、1 ×2"
    assert rows["负样本抽样率"] == "0.25"
    assert rows["候选配置（调参网格） 1"] == "叶子数上限 15；学习率 0.05"
    assert rows["基线 › 单特征排序基线 › 特征"] == "school_days_absent_3m"
    table_en = next(t for t in _tables(en) if t[0] == ["Parameter", "Value"])
    rows_en = {r[0]: r[1] for r in table_en[1:]}
    assert rows_en["LightGBM parameters › Maximum leaves per tree"] == "31"
    assert rows_en["Negative sampling rate"] == "0.25"
    assert "| 负样本抽样率 | 0.25 |" in md
    # unknown keys are shown by their name
    assert model_card.param_rows({"some_new_knob": 3}, "zh") == [{"key": "some_new_knob", "label": "some_new_knob", "value": "3"}]
    # the JSON card keeps the raw values
    assert json.loads(_text(card, "json"))["evaluation"]["params"] == evaluation["params"]


#: Words allowed in the visible text of the Chinese cards: standard names and abbreviations.
ALLOWED_LATIN = {
    "MLflow", "LightGBM", "PIPL", "ATRS", "ECE", "AUC", "ROC", "Brier", "TPR", "FNR", "FOR", "FPR", "PPR",
    "Mitchell", "TreeSHAP", "HMAC", "SHA256", "JSON", "HTML", "Platt", "K", "k", "N", "A", "B", "C", "D", "E",
}  # fmt: skip


def _stray_english(text: str, ev: dict) -> list[str]:
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"\S+\.(?:png|html|json|md)\b", " ", text)  # file names
    text = re.sub(r"\b\d{4}-\d{2}-\d{2}(?:T[\d:.]+)?", " ", text)  # dates and timestamps
    text = text.replace(str(ev.get("mlflow_run_id")), " ")
    text = re.sub(r"\bv\d+\b", " ", text)  # model versions
    text = re.sub(r"\bG\d+\b", " ", text)  # plot codes
    words = re.findall(r"[A-Za-z][A-Za-z0-9]*(?:[_@%.×][A-Za-z0-9_@%.×]+)*", text)
    # metric names, feature and model codes are identifiers (snake_case / name@k), not English prose
    return sorted({w for w in words if not re.search(r"[_@]", w) and w.rstrip(".") not in ALLOWED_LATIN})


def test_chinese_cards_have_no_stray_english(tmp_path, evaluation):
    """Finding 4: table headers, labels, plot texts, status words and values in English on the Chinese
    card (HTML and Markdown). Only standard names on the allow-list and identifiers remain."""
    ev = _coverage_doc(_with_simulation_blocks(evaluation))
    ev["oracle"]["definition"] = (
        "true latent guardianship state (0-3) in the last complete month before the as-of date "
        "+ 0.5 x maltreated that month + 0.25 x mean state over the 6 months up to it"
    )
    for label, doc in (("approved", ev), ("pending", {**ev, "approval": {"status": "pending"}, "simulation": False})):
        paths = render_model_card(doc, tmp_path / label)
        zh, md = _text(paths, "html"), _text(paths, "md")
        assert _stray_english(_visible(zh), doc) == [], label
        body = "\n".join(line for line in md.splitlines() if not line.startswith("#"))  # bilingual headings
        assert _stray_english(body, doc) == [], label
    assert "pending" not in _visible(zh) and "approved" not in _visible(zh) and "待审批" in zh
    assert "保序回归" in _visible(zh) and "isotonic" in _text(paths, "html_en")


def test_chinese_plot_texts_are_chinese():
    for key, value in model_card.PLOT_TEXT["zh"].items():
        texts = value if isinstance(value, tuple) else value.values() if isinstance(value, dict) else [value]
        for t in texts:
            assert not re.search(r"[A-Za-z]{3,}", t.replace("TPR", "")), (key, t)
    assert set(model_card.FAMILY_LABELS["zh"]) == set(model_card.FAMILY_LABELS["en"])


def test_plot_codes_unique_and_explained(tmp_path, evaluation, monkeypatch):
    """Finding 5: G-codes were numbered per attribute, so G1 named a hukou type and a district. Codes are
    now numbered once for the card, no two groups share one, and the card says what each means."""
    monkeypatch.setattr(model_card, "find_cjk_font", lambda: None)
    ev = copy.deepcopy(evaluation)
    ev["fairness"].append({**ev["fairness"][-1], "group": "另一新区", "tpr_disparity": 0.99})
    codes = model_card.group_codes(ev)
    assert len(set(codes.values())) == len(codes)  # one code per group
    assert sorted(codes.values(), key=lambda c: int(c[1:])) == [f"G{i}" for i in range(1, len(codes) + 1)]
    # only groups without an English name are coded (known districts are romanized, hukou types translated)
    assert codes == {("district", "某新区"): "G1", ("district", "另一新区"): "G2"}
    labels = [
        model_card._group_label(str(r["attribute"]), r["group"], codes.get(model_card._group_key(r["attribute"], r["group"])), "en", False)
        for r in model_card._plotted_fairness(model_card.suppress_evaluation(ev))
    ]  # fmt: skip
    assert len(labels) == len(set(labels))  # no two plotted groups carry the same label
    assert all(ord(ch) < 128 for label in labels for ch in label)
    paths = render_model_card(ev, tmp_path)
    zh, en, md = _text(paths, "html"), _text(paths, "html_en"), _text(paths, "md")
    ctx = build_card_context(ev)
    for text in (_visible(zh), _visible(en), md):
        for code in codes.values():
            assert code in text
    assert "G1 = 区县：某新区" in _visible(zh) and "G2 = District: 另一新区" in _visible(en)
    assert "District: Chun'an" not in zh  # named groups are not coded
    # the tables carry the same code for the same group as the plot
    for r in ctx["fairness_rows"]:
        code = codes.get((r["attribute"], r["group"]))
        if code:
            assert r["plot_label"] == code
    plotted = {model_card._group_key(r["attribute"], r["group"]) for r in model_card._plotted_fairness(ctx["ev"])}
    assert set(codes) <= plotted


# ----------------------------------------------------------------------------------------------
# new-user findings: a safeguard claimed while switched off; a previous model claimed in a first cycle
# ----------------------------------------------------------------------------------------------


def _render(tmp_path, doc, name):
    paths = render_model_card(doc, tmp_path / name)
    return {k: _text(paths, k) for k in ("html", "html_en", "md")}


def test_card_states_the_exploration_share_it_was_run_with(tmp_path, evaluation):
    """Section E said 保留随机名额以减少选择性标签 while capacity.exploration_share was 0.0, and the card
    never stated the share: claim random places only when a share > 0 is recorded."""
    for where in ("top", "params", "capacity"):
        doc = copy.deepcopy(evaluation)
        if where == "top":
            doc["exploration_share"] = 0.0
        elif where == "params":
            doc["params"]["exploration_share"] = 0.0
        else:
            doc["params"]["capacity"] = {"exploration_share": 0.0}
        ctx = build_card_context(doc)["exploration"]
        assert ctx["recorded"] and not ctx["reserved"] and ctx["share"] == 0.0, where
    off = _render(tmp_path, {**copy.deepcopy(evaluation), "exploration_share": 0.0}, "off")
    for text in off.values():
        assert "保留随机名额以减少选择性标签" not in text and "并可把少量名额随机分给" not in text
    assert "不保留随机名额（capacity.exploration_share = 0）" in off["html"]
    assert "选择性标签没有通过随机名额来减少" in off["html"] and "不保留随机名额" in off["md"]
    assert "random list places reduce selective labels" not in off["html_en"]
    assert "No list places are given at random (capacity.exploration_share = 0)" in off["html_en"]

    on = _render(tmp_path, {**copy.deepcopy(evaluation), "exploration_share": 0.1}, "on")
    assert "有 10%（capacity.exploration_share = 0.1）随机分给近期未被走访的儿童" in on["html"]
    assert "In each community 10% of the places (capacity.exploration_share = 0.1)" in on["html_en"]

    unknown = _render(tmp_path, copy.deepcopy(evaluation), "unknown")  # the document does not say
    assert "保留随机名额以减少选择性标签" not in unknown["html"]
    assert "评估文件未记录随机名额比例" in unknown["html"] and "does not record a share" in unknown["html_en"]


def test_pending_card_claims_no_previous_model_that_does_not_exist(evaluation):
    """The first cycle's pending card said 继续由上一个已批准的模型服务 although none was ever approved."""
    doc = copy.deepcopy(evaluation)
    doc["simulation"] = False
    for status in ("pending", "rejected"):
        doc["approval"] = {"status": status, "by": "reviewer_wang", "at": "2025-06-05", "note": ""}
        a = build_card_context(doc)["approval"]  # the document does not say: conditional wording
        assert "继续由上一个已批准的模型服务" not in a["zh"] and "previous champion keeps serving" not in a["en"]
        assert "若已有批准的模型则继续由其服务；否则本周期不发布名单" in a["zh"]
        assert "otherwise no lists are published this cycle" in a["en"]
        doc["previous_champion"] = None  # the document says: none
        a = build_card_context(doc)["approval"]
        assert "没有更早的已批准模型" in a["zh"] and "继续由" not in a["zh"]
        assert "no earlier model was ever approved" in a["en"]
        doc["approval"]["previous_champion"] = "3"  # … or names the serving version
        a = build_card_context(doc)["approval"]
        assert "继续由已批准的第3版模型服务" in a["zh"] and "approved version 3 keeps serving" in a["en"]
        del doc["previous_champion"]
