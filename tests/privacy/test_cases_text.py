"""shared/cases public-reports 12, 13, 14 (free text): every expected value is an assertion."""

from __future__ import annotations

import json

import pytest
from _pii_helpers import CASES
from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer
from presidio_analyzer.recognizer_registry import RecognizerRegistry

from privacy.analyzer import shared_analyzer
from privacy.nlp import ChineseContextEnhancer, ChineseNlpEngine
from privacy.recognizers import CnPhoneRecognizer, CnRicRecognizer

ENTITY_NAMES = {"CN_RESIDENT_ID": "CN_RIC"}  # descriptive names in the case files → humiao's names


def _case(name):
    path = CASES / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def analyzer():
    return shared_analyzer()


def test_case12_ids_right_after_chinese_text(analyzer):
    case = _case("case-12.json")
    for c in case["cases"]:
        text = c["text"]
        found = {(r.entity_type, r.start, r.end) for r in analyzer.analyze(text, language="zh")}
        for span in c["expected_spans"]:
            entity = ENTITY_NAMES[span["entity"]]
            start, end = span["span"]
            assert (entity, start, end) in found, (text, found)
            assert text[start:end] == span["value"]
    # the recognizer on its own (no NLP artifacts) gives the same spans
    rec = CnRicRecognizer()
    text = case["cases"][0]["text"]
    assert [(r.start, r.end) for r in rec.analyze(text, ["CN_RIC"])] == [tuple(case["cases"][0]["expected_spans"][0]["span"])]


def test_case12_also_the_phone_after_chinese_text(analyzer):
    text = _case("case-12.json")["cases"][0]["text"]
    phones = [text[r.start:r.end] for r in analyzer.analyze(text, language="zh") if r.entity_type == "PHONE_NUMBER"]
    assert phones == ["13800000000"]


def test_case12_must_not_match(analyzer):
    for text in _case("case-12.json")["must_not_match"]:
        assert not [r for r in analyzer.analyze(text, language="zh") if r.entity_type == "CN_RIC"], text
        assert CnRicRecognizer().analyze(text, ["CN_RIC"]) == []


def test_case13_three_phone_numbers(analyzer):
    case = _case("case-13.json")
    text = case["text"]
    found = sorted((r.start, r.end) for r in analyzer.analyze(text, language="zh", score_threshold=0.4)
                   if r.entity_type == "PHONE_NUMBER")
    expected = [tuple(s["span"]) for s in case["expected_phone_spans"]]
    assert found == expected
    for s in case["expected_phone_spans"]:
        assert text[slice(*s["span"])] == s["value"]
    # the recognizer alone too (Presidio's PhoneRecognizer misses the bare mobile)
    assert sorted((r.start, r.end) for r in CnPhoneRecognizer().analyze(text, ["PHONE_NUMBER"])
                  if r.score >= 0.4) == expected


def _case14_analyzer(case, enhancer):
    spec = case["recognizer"]
    rec = PatternRecognizer(
        supported_entity="CN_RIC", supported_language="zh",
        patterns=[Pattern("case-14", spec["pattern"], spec["base_score"])], context=spec["context"],
    )
    registry = RecognizerRegistry(supported_languages=["zh"])
    registry.add_recognizer(rec)
    engine = ChineseNlpEngine()
    engine.load()
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["zh"],
                          context_aware_enhancer=enhancer)


@pytest.mark.parametrize("enhancer", ["presidio_lemma", "humiao_window"])
def test_case14_context_words_fire_in_chinese(enhancer):
    """Presidio's own lemma enhancer works once lemmas are filled (lemma = token text); the humiao
    enhancer (raw-text window) gives the same result."""
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

    case = _case("case-14.json")
    enh = LemmaContextAwareEnhancer() if enhancer == "presidio_lemma" else ChineseContextEnhancer()
    analyzer = _case14_analyzer(case, enh)
    base = case["recognizer"]["base_score"]
    (t1, t2, t3) = [c["text"] for c in case["cases"]]

    r1 = analyzer.analyze(t1, language="zh", return_decision_process=True)
    assert len(r1) == 1 and r1[0].score >= 0.65 - 1e-9  # Presidio: 0.3 + 0.35 = 0.6499999999999999
    assert r1[0].analysis_explanation.supportive_context_word == "身份证"

    r2 = analyzer.analyze(t2, language="zh", return_decision_process=True)
    assert len(r2) == 1 and r2[0].score >= 0.65 - 1e-9
    assert r2[0].analysis_explanation.supportive_context_word in ("身份证", "身份证号")

    r3 = analyzer.analyze(t3, language="zh", return_decision_process=True)
    assert len(r3) == 1 and r3[0].score == pytest.approx(base)
    assert not r3[0].analysis_explanation.supportive_context_word


def test_case14_lemmas_are_filled():
    engine = ChineseNlpEngine()
    art = engine.process_text("身份证号码330106201501011236", "zh")
    assert art.lemmas[:2] == ["身份证", "号码"]
    assert [t.lemma_ for t in art.tokens][:2] == ["身份证", "号码"]  # the spaCy Doc agrees


def test_case14_supportive_word_on_humiao_recognizers(analyzer):
    res = analyzer.analyze("联系电话 13800000000", language="zh", return_decision_process=True)
    (phone,) = [r for r in res if r.entity_type == "PHONE_NUMBER"]
    assert phone.score >= 0.65 and phone.analysis_explanation.supportive_context_word
    res = analyzer.analyze("身份证号码33011319850312001X", language="zh", return_decision_process=True)
    assert [r.entity_type for r in res] in (["CN_RIC"], [])  # checksum decides; see test_recognizers
