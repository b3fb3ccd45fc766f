"""NoteAnonymizer: readable placeholders, record-aware matching, nothing raw left."""

from __future__ import annotations

import re

import pytest

from privacy.anonymizer import NoteAnonymizer
from privacy.identities import KnownIdentities
from privacy.scanner import LeakScanner

CHILD_ID = "330106201501011236"
GRANDMA_ID15 = "330106520312456"  # legacy 15-digit number, 18-digit form 330106195203124564
PHONE = "13912345678"
ADDRESS = "浙江省杭州市西湖区文新街道学院路88号3幢2单元301室"
FW = str.maketrans("0123456789", "０１２３４５６７８９")

KNOWN = {
    "names": ["王小明", "李秀英"],
    "id_numbers": [CHILD_ID, GRANDMA_ID15],
    "phones": ["139-1234-5678"],
    "addresses": [ADDRESS],
}

NOTE = (
    "3月5日入户走访。小明今年10岁，跟随奶奶李秀英生活，王小明的父亲长期在外打工。"
    f"奶奶电话{PHONE[:3]}-{PHONE[3:7]}-{PHONE[7:]}，儿童身份证{CHILD_ID.translate(FW)}，"
    f"奶奶老身份证{GRANDMA_ID15}。家住学院路88号3幢2单元301室，李秀英说小明很懂事。"
)


@pytest.fixture(scope="module")
def anon():
    return NoteAnonymizer(skip_words=["文新"])


def test_readable_placeholders_same_person_same_number(anon):
    out = anon.anonymize(NOTE, KNOWN)
    assert out == (
        "3月5日入户走访。<PERSON_1>今年10岁，跟随奶奶<PERSON_2>生活，<PERSON_1>的父亲长期在外打工。"
        "奶奶电话<PHONE_NUMBER>，儿童身份证<CN_RIC_1>，奶奶老身份证<CN_RIC_2>。"
        "家住<LOCATION>，<PERSON_2>说<PERSON_1>很懂事。"
    )


def test_no_raw_value_left(anon):
    out = anon.anonymize(NOTE, KNOWN)
    for raw in ["小明", "李秀英", "王小明", PHONE[7:], "1236", "１２３６", GRANDMA_ID15, "学院路88号", "301室"]:
        assert raw not in out, raw
    assert not re.search(r"\d{7,}", out)
    known = KnownIdentities()
    for kind, values in KNOWN.items():
        known.add(kind, values)
    assert LeakScanner(known).scan_text(out, free_text=True) == []
    assert LeakScanner(known).scan_text(NOTE, free_text=True)  # the scanner does see the raw note


def test_without_record_identities_the_recognizers_still_work(anon):
    out = anon.anonymize("奶奶李秀英说，监护人手机139-1234-5678，身份证号330106201501011236。")
    assert out == "奶奶<PERSON_1>说，监护人手机<PHONE_NUMBER>，身份证号<CN_RIC>。"


def test_two_character_known_name_and_variants(anon):
    out = anon.anonymize("王芳今天不在家，王芳的外婆说她去了学校。", {"names": ["王芳"]})
    assert out == "<PERSON_1>今天不在家，<PERSON_1>的外婆说她去了学校。"


def test_phone_with_plus86_and_spaces_record_aware(anon):
    out = anon.anonymize("备用 +86 139 1234 5678 转 奶奶", {"phones": [PHONE]})
    assert "5678" not in out and "<PHONE_NUMBER>" in out


def test_skip_words_are_not_names(anon):
    assert anon.anonymize("文新街道某社区儿童主任走访。") == "文新街道某社区儿童主任走访。"


def test_none_empty_and_types(anon):
    assert anon.anonymize(None) is None
    assert anon.anonymize("") == ""
    with pytest.raises(TypeError):
        anon.anonymize(12)


def test_anonymize_many_aligns_known(anon):
    texts = ["奶奶李秀英说", None, "小明很懂事", "小明很懂事"]
    out = anon.anonymize_many(texts, [KNOWN, None, KNOWN, None])
    assert out[0] == "奶奶<PERSON_1>说" and out[1] is None
    assert out[2] == "<PERSON_1>很懂事"
    with pytest.raises(ValueError):
        anon.anonymize_many(texts, [KNOWN])


def test_anonymize_many_parallel_equals_sequential(anon):
    texts = [NOTE, "奶奶李秀英说", "无"] * 3
    known = [KNOWN, None, None] * 3
    assert anon.anonymize_many(texts, known, n_jobs=2) == anon.anonymize_many(texts, known)


def test_anonymize_many_from_a_threaded_process_spawns_workers(anon, monkeypatch):
    """With another thread alive (Dagster's, a JVM gateway) fork is unsafe: a large batch goes to
    spawned workers, which build their own anonymizer and give the same notes."""
    import threading

    import privacy.anonymizer as mod

    texts = [NOTE, "奶奶李秀英说", "无", "联系电话13800001111"] * 3
    known = [KNOWN, None, None, None] * 3
    expected = anon.anonymize_many(texts, known)
    used = []
    real = mod.NoteAnonymizer._parallel

    def spy(self, *args, **kwargs):
        used.append(kwargs.get("spawn", False))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(mod.NoteAnonymizer, "_parallel", spy)
    monkeypatch.setattr(mod, "SPAWN_MIN_TEXTS", 8)
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, daemon=True)
    t.start()
    try:
        assert anon.anonymize_many(texts, known, n_jobs=2) == expected
        assert used == [True]
        monkeypatch.setattr(mod, "SPAWN_MIN_TEXTS", 10**6)
        assert anon.anonymize_many(texts, known, n_jobs=2) == expected  # small batch: in this process
        assert used == [True]
    finally:
        stop.set()
        t.join()


def test_overlapping_spans_are_merged(anon):
    spans = anon.find_spans(f"残疾证{CHILD_ID}42", {"id_numbers": [CHILD_ID]})
    assert [(s.entity_type, s.start, s.end) for s in spans] == [("CN_DISABILITY_CERT", 3, 23)]
