"""The `humiao` command line: scan exits 1 with masked findings; anonymize keeps order."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from humiao.cli import app

runner = CliRunner()
RAW_ID = "330106201501011236"  # checksum-valid synthetic ID (shared/cases case-12)


def test_scan_finds_planted_identifier_and_masks_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HUMIAO__PATHS__WORK_DIR", str(tmp_path / "no-work"))  # no scanner index: patterns only
    clean = tmp_path / "clean"
    clean.mkdir()
    pd.DataFrame({"child_token": ["P_k1_0123456789abcdef0123"], "score": [0.12]}).to_parquet(clean / "a.parquet")
    (clean / "note.md").write_text("# 名单\n儿童编号 P_k1_0123456789abcdef0123，风险等级 高危。\n", encoding="utf-8")
    ok = runner.invoke(app, ["scan", str(clean)])
    assert ok.exit_code == 0, ok.output

    leaky = tmp_path / "leaky"
    leaky.mkdir()
    pd.DataFrame({"child_token": ["P_k1_0123456789abcdef0123"], "remark": [f"监护人电话13800000000 身份证{RAW_ID}"]}
                 ).to_csv(leaky / "list.csv", index=False)
    bad = runner.invoke(app, ["scan", str(leaky)])
    assert bad.exit_code == 1
    assert "CN_RIC" in bad.output and "PHONE_NUMBER" in bad.output
    assert RAW_ID not in bad.output and "13800000000" not in bad.output  # masked, never the full value


def test_anonymize_jsonl_in_order():
    lines = [
        {"text": "奶奶王秀英说孩子父亲在外务工，电话13800000000。", "known": {"names": ["王秀英"]}},
        {"text": f"儿童身份证号码{RAW_ID}已登记。"},
    ]
    res = runner.invoke(app, ["anonymize"], input="\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    assert res.exit_code == 0, res.output
    out = [json.loads(x) for x in res.stdout.strip().splitlines()]
    assert len(out) == 2
    assert "王秀英" not in out[0]["text"] and "13800000000" not in out[0]["text"]
    assert "<PERSON_1>" in out[0]["text"] and "<PHONE_NUMBER>" in out[0]["text"]
    assert RAW_ID not in out[1]["text"] and "<CN_RIC>" in out[1]["text"]


def test_scan_refuses_a_missing_path(tmp_path):
    res = runner.invoke(app, ["scan", str(tmp_path / "does_not_exist")])
    assert res.exit_code == 2  # not "0 findings": the scanner fails closed


def test_simulate_zero_children_is_refused_not_replaced_by_the_default(tmp_path):
    res = runner.invoke(app, ["simulate", "--children", "0", "--months", "12", "--out", str(tmp_path / "raw"),
                              "--truth", str(tmp_path / "truth")])
    assert res.exit_code != 0
    assert not (tmp_path / "raw" / "manifest.json").exists()
