"""The product's own vocabulary keeps the leak scanner from flagging humiao's fixed text (seen at 200,000
children: a person named 卫健 stopped the run at the model card's department list)."""

from __future__ import annotations

from humiao.vocabulary import product_words
from privacy.identities import KnownIdentities
from privacy.scanner import LeakScanner

CARD_SENTENCE = "数据来自民政、公安、教育、卫健、残联、人社、司法等部门共享的数据，身份号码等直接标识符在进入流水线前已替换。"


def test_product_words_hold_the_departments_and_levels():
    words = product_words()
    assert {"卫健", "残联", "人社", "民政", "高危", "极危", "走访"} <= words
    assert all(len(w) == 2 for w in words)
    assert 300 < len(words) < 5000  # small and reviewable


def test_a_name_that_is_a_product_word_is_not_a_finding_in_product_text():
    known = KnownIdentities().add("names", ["卫健", "李娜", "欧阳娜娜"])
    plain = LeakScanner(known)
    assert [e for e, _, _ in plain.scan_text(CARD_SENTENCE, free_text=True)] == ["PERSON"]  # the failure
    scanner = LeakScanner(known, skip_words=product_words())
    assert scanner.scan_text(CARD_SENTENCE, free_text=True) == []
    # other names are still found, in free text (2 characters) and everywhere (3+)
    assert [e for e, _, _ in scanner.scan_text("奶奶说李娜今天没上学", free_text=True)] == ["PERSON"]
    assert [e for e, _, _ in scanner.scan_text("欧阳娜娜")] == ["PERSON"]


def test_the_pipeline_scanner_uses_the_vocabulary(tmp_path):
    from humiao.config import load_config
    from humiao.stages import output_scanner

    cfg = load_config()
    cfg = cfg.model_copy(update={"paths": cfg.paths.model_copy(update={"work_dir": str(tmp_path)})})
    scanner = output_scanner(cfg)  # no ingest yet: patterns only, with the skip words
    assert "卫健" in scanner.skip_words
