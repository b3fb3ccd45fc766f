"""Valid, invalid and edge cases for each Chinese recognizer (privacy.recognizers)."""

from __future__ import annotations

import pytest
from _pii_helpers import luhn_complete, ric_that_passes_luhn

from privacy.analyzer import build_analyzer, shared_analyzer
from privacy.recognizers import (
    ENTITIES,
    ChineseEmailRecognizer,
    CnAddressRecognizer,
    CnBankCardRecognizer,
    CnDisabilityCertRecognizer,
    CnHmtPermitRecognizer,
    CnLicensePlateRecognizer,
    CnPhoneRecognizer,
    CnRicRecognizer,
    CnStudentNumberRecognizer,
    CnUsccRecognizer,
    chinese_recognizers,
    is_valid_uscc,
)
from privacy.recognizers._base import normalize_with_offsets

RIC = "330106201501011236"
FW = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")


@pytest.fixture(scope="module")
def analyzer():
    return shared_analyzer()


def spans(analyzer, text, entity, threshold=0.4):
    return [text[r.start:r.end] for r in sorted(analyzer.analyze(text, language="zh", score_threshold=threshold),
                                                key=lambda r: r.start) if r.entity_type == entity]


def rec_spans(rec, text, threshold=0.4):
    return [text[r.start:r.end] for r in rec.analyze(text, rec.supported_entities) if r.score >= threshold]


def test_every_recognizer_is_zh_with_context_and_docstring():
    recs = chinese_recognizers()
    assert {r.supported_entities[0] for r in recs} == set(ENTITIES)
    for r in recs:
        assert r.supported_language == "zh"
        assert r.context, r.name
        assert "References" in (type(r).__doc__ or ""), r.name


def test_analyzer_registers_only_zh():
    a = build_analyzer()
    assert a.supported_languages == ["zh"]
    assert set(a.get_supported_entities("zh")) == set(ENTITIES)


# -- CN_RIC -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rid", [RIC, "330113202203151239", "330114202203151243", "44040119580101123X"])
def test_ric_valid_including_new_county_codes(rid):
    text = f"身份证号码{rid}已核实"
    assert rec_spans(CnRicRecognizer(), text) == [rid]


def test_ric_lower_case_x_full_width_and_groups(analyzer):
    assert spans(analyzer, "证件号44040119580101123x。", "CN_RIC") == ["44040119580101123x"]
    fw = RIC.translate(FW)
    assert spans(analyzer, f"身份证{fw}", "CN_RIC") == [fw]
    assert spans(analyzer, "身份证 330106 20150101 1236 已登记", "CN_RIC") == ["330106 20150101 1236"]


@pytest.mark.parametrize("bad", ["330106201501011235",  # wrong check digit
                                 "990106201501011236",  # no such province
                                 "330106201502301234",  # 30 February
                                 "订单号A330106201501011236", "3301062015010112365", "1.330106201501011236"])
def test_ric_invalid_or_not_bounded(bad):
    assert CnRicRecognizer().analyze(bad, ["CN_RIC"]) == []


def test_ric_legacy_15_digits_needs_context(analyzer):
    rec = CnRicRecognizer()
    (r,) = rec.analyze("110105800101123", ["CN_RIC"])
    assert r.score == pytest.approx(0.4)
    (r,) = [x for x in analyzer.analyze("老身份证110105800101123", language="zh") if x.entity_type == "CN_RIC"]
    assert r.score >= 0.75
    assert rec.analyze("110105801301123", ["CN_RIC"]) == []  # month 13


def test_ric_that_passes_luhn_is_ric_not_card(analyzer):
    rid = ric_that_passes_luhn()
    res = analyzer.analyze(f"卡号{rid}", language="zh", score_threshold=0.0)
    assert {r.entity_type for r in res} == {"CN_RIC"}


# -- PHONE_NUMBER -------------------------------------------------------------------------------------

@pytest.mark.parametrize("phone", ["13800000000", "19200000000", "16700000000", "17000000000", "+86 138-0000-0000",
                                   "+8613800000000", "0086 13800000000", "138 0000 0000", "(+86)13912345678",
                                   "0571-88880000", "(0571)88880000", "010-62345678", "0571-8888 0000转123"])
def test_phone_valid(phone):
    assert rec_spans(CnPhoneRecognizer(), f"联系电话{phone}，谢谢") == [phone]


def test_phone_full_width_and_ideographic_space(analyzer):
    raw = "１３８　００００　００００"
    assert spans(analyzer, f"手机{raw}。", "PHONE_NUMBER") == [raw]


@pytest.mark.parametrize("text", ["400-800-0000", "95588", "138000000000", "2025-03-01", "订单1380000000012",
                                  "金额13800000000.5元", "ID x13800000000"])
def test_phone_invalid(text):
    assert rec_spans(CnPhoneRecognizer(), text) == []


def test_local_landline_only_with_context(analyzer):
    assert spans(analyzer, "编号88880000", "PHONE_NUMBER") == []
    assert spans(analyzer, "家里电话88880000", "PHONE_NUMBER") == ["88880000"]


# -- CN_BANK_CARD -------------------------------------------------------------------------------------

def test_bank_card_16_digit_luhn(analyzer):
    card = luhn_complete("622202123456789")
    assert len(card) == 16
    assert spans(analyzer, f"低保金打入{card}", "CN_BANK_CARD") == [card]
    grouped = f"{card[:4]} {card[4:8]} {card[8:12]} {card[12:]}"
    assert spans(analyzer, f"卡号{grouped}", "CN_BANK_CARD") == [grouped]
    assert spans(analyzer, "银行卡6222021234567890128", "CN_BANK_CARD") == ["6222021234567890128"]


def test_bank_card_invalid_luhn_needs_context(analyzer):
    card = luhn_complete("622202123456789")
    bad = card[:-1] + str((int(card[-1]) + 1) % 10)
    assert spans(analyzer, f"编号{bad}", "CN_BANK_CARD") == []
    assert spans(analyzer, f"银行卡号{bad}", "CN_BANK_CARD") == [bad]
    assert rec_spans(CnBankCardRecognizer(), "1735689600123456") == []  # a µs timestamp: MII 1


# -- CN_USCC ------------------------------------------------------------------------------------------

def test_uscc():
    assert is_valid_uscc("91350100M000100Y43")
    assert not is_valid_uscc("91350100M000100Y44")
    assert rec_spans(CnUsccRecognizer(), "统一社会信用代码91350100M000100Y43。") == ["91350100M000100Y43"]
    assert rec_spans(CnUsccRecognizer(), "代码91350100M000100Y44") == []
    assert rec_spans(CnUsccRecognizer(), f"号码{RIC}") == []  # a resident ID is not a USCC


# -- passports, permits, plates, certificates, student numbers, e-mail -----------------------------------

def test_passport_needs_context(analyzer):
    assert spans(analyzer, "编号E12345678", "CN_PASSPORT") == []
    assert spans(analyzer, "护照号码E12345678", "CN_PASSPORT") == ["E12345678"]
    assert spans(analyzer, "护照EA1234567", "CN_PASSPORT") == ["EA1234567"]


def test_hmt_permits(analyzer):
    assert spans(analyzer, "往来港澳通行证C12345678", "CN_HMT_PERMIT") == ["C12345678"]
    assert spans(analyzer, "回乡证H12345678", "CN_HMT_PERMIT") == ["H12345678"]
    assert spans(analyzer, "台胞证12345678", "CN_HMT_PERMIT") == ["12345678"]
    assert spans(analyzer, "共12345678元", "CN_HMT_PERMIT") == []
    assert CnHmtPermitRecognizer().supported_language == "zh"


@pytest.mark.parametrize("plate", ["浙A12345", "浙A·12345", "浙AD12345", "浙A12345D", "粤B1234学", "沪AF12345"])
def test_license_plates(plate):
    assert rec_spans(CnLicensePlateRecognizer(), f"车牌{plate}，停在楼下") == [plate]


@pytest.mark.parametrize("text", ["浙江省", "浙AB CDE", "浙ABCDEF", "浙I12345", "浙a12345"])
def test_license_plate_invalid(text):
    assert rec_spans(CnLicensePlateRecognizer(), text) == []


def test_disability_certificate():
    rec = CnDisabilityCertRecognizer()
    assert rec_spans(rec, f"残疾证号{RIC}42") == [f"{RIC}42"]
    assert rec_spans(rec, f"残疾证号{RIC}82") == []  # no category 8
    assert rec_spans(rec, "残疾证号33010620150101123542") == []  # bad ID check digit


def test_disability_certificate_wins_over_ric(analyzer):
    assert [r.entity_type for r in analyzer.analyze(f"残疾人证{RIC}42", language="zh")] == ["CN_DISABILITY_CERT"]


def test_student_number():
    rec = CnStudentNumberRecognizer()
    assert rec_spans(rec, f"学籍号G{RIC}") == [f"G{RIC}"]
    assert rec_spans(rec, "学籍号G330106201501011235") == []
    assert rec_spans(rec, "学籍号：3301062015123") == ["3301062015123"]


def test_email_next_to_chinese():
    rec = ChineseEmailRecognizer()
    assert rec_spans(rec, "邮箱abc.de@qq.com请回复") == ["abc.de@qq.com"]
    assert rec_spans(rec, "邮箱ａｂｃ＠ｑｑ．ｃｏｍ") == ["ａｂｃ＠ｑｑ．ｃｏｍ"]
    assert rec_spans(rec, "版本1.2@3") == []


# -- CN_ADDRESS ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("家住西湖区文新街道学院路88号3幢2单元301室。", "西湖区文新街道学院路88号3幢2单元301室"),
    ("孩子在余杭区仁和街道某村3组居住", "余杭区仁和街道某村3组"),
    ("住址：浙江省杭州市拱墅区湖墅南路１２３号", "浙江省杭州市拱墅区湖墅南路１２３号"),
    ("现住幸福小区5幢1单元502室，房屋为租住", "幸福小区5幢1单元502室"),
    ("奶奶住在解放东路十二号", "解放东路十二号"),
])
def test_address(text, expected, analyzer):
    assert spans(analyzer, text, "CN_ADDRESS") == [expected]


@pytest.mark.parametrize("text", ["文新街道某社区儿童主任走访", "家住西湖区", "3号上午走访", "学院路小学三年级"])
def test_address_not_at_community_level(text, analyzer):
    assert spans(analyzer, text, "CN_ADDRESS") == []


def test_address_recognizer_alone():
    assert rec_spans(CnAddressRecognizer(), "家住学院路88号") == ["学院路88号"]


# -- PERSON -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,names", [
    ("奶奶王秀英今年七十二岁", ["王秀英"]),
    ("父亲王强打工在宁波", ["王强"]),
    ("监护人：李芳，联系电话13800000000", ["李芳"]),
    ("张老师说小明妈妈已离家", ["张", "小明"]),
    ("王某某反映情况", ["王某某"]),
    ("班主任林老师反映在校表现良好", ["林"]),
    ("孩子目前跟随爷爷刘德华生活", ["刘德华"]),
    ("姐姐欧阳娜娜在杭州读大学", ["欧阳娜娜"]),
])
def test_person_names(text, names, analyzer):
    assert spans(analyzer, text, "PERSON") == names


@pytest.mark.parametrize("text", [
    "走访时监护人不在家，邻居反映奶奶和孩子住在一起，家里比较困难，已申请低保。",
    "孩子常一个人在家，向老师反映，班主任说情况好转",
    "文新街道某社区儿童主任走访，余杭区仁和街道江某村",
    "奶奶高兴地说孩子成绩提高了，周末回家",
    "各位老师、同班同学和音乐老师都很关心他",
])
def test_person_no_false_positives_in_ordinary_sentences(text, analyzer):
    assert spans(analyzer, text, "PERSON") == []


def test_nfkc_offsets_map_back_to_original():
    text = "電話：１３８　００００　００００"
    norm, offsets = normalize_with_offsets(text)
    assert len(norm) == len(text) and offsets is None  # one-to-one: identity offsets
    text2 = "㈱公司身份证" + RIC  # ㈱ expands to (株) under NFKC
    norm2, offsets2 = normalize_with_offsets(text2)
    assert norm2.startswith("(株)") and offsets2 is not None
    (r,) = CnRicRecognizer().analyze(text2, ["CN_RIC"])
    assert text2[r.start:r.end] == RIC
