"""CN_PASSPORT and CN_HMT_PERMIT: passports and Hong Kong / Macau / Taiwan travel permits."""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import Pattern

from privacy.recognizers._base import ChinesePatternRecognizer, L, R


class CnPassportRecognizer(ChinesePatternRecognizer):
    """Recognize PRC passport numbers (护照号码).

    Ordinary electronic passports: ``E`` + 8 digits, or ``E`` + a letter + 7 digits once the digit
    series ran out (2017–); older ordinary passports ``G`` + 8 digits; diplomatic/service/public-affairs
    passports ``D``/``S``/``P`` + 7–8 digits. The shape alone is weak evidence (any letter + 8 digits),
    so the base score is low and a context word (护照) is needed to pass a 0.4 threshold.

    References
    ----------
    中华人民共和国护照法 (2006); ICAO Doc 9303 (machine readable travel documents), part 4.
    """

    ENTITY = "CN_PASSPORT"
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("Passport E (medium-weak)", rf"{L}E(?:\d{{8}}|[A-HJ-NP-Z]\d{{7}}){R}", 0.3),
        Pattern("Passport G/D/S/P (weak)", rf"{L}[GDSP]\d{{7,8}}{R}", 0.1),
    ]
    CONTEXT: ClassVar[list[str]] = ["护照", "passport", "护照号", "出境", "签证"]


class CnHmtPermitRecognizer(ChinesePatternRecognizer):
    """Recognize Hong Kong, Macau and Taiwan travel permits (港澳台通行证), entity ``CN_HMT_PERMIT``.

    * 往来港澳通行证 (mainland residents to HK/Macau): ``C`` + 8 characters (letter or digit, then digits);
    * 港澳居民来往内地通行证 (回乡证): ``H``/``M`` + 8 digits (+2 digits on older cards);
    * 大陆居民往来台湾通行证: ``L`` + 8 digits;
    * 台湾居民来往大陆通行证 (台胞证): 8 digits — only with a context word (score 0.05).

    References
    ----------
    中国公民因私事往来香港地区或者澳门地区的暂行管理办法; 中国公民往来台湾地区管理办法 (国务院令 第93号, 2015 修订);
    National Immigration Administration permit specifications.
    """

    ENTITY = "CN_HMT_PERMIT"
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("HK/Macau permit (mainland)", rf"{L}C[0-9A-HJ-NP-Z]\d{{7}}{R}", 0.2),
        Pattern("Home-return permit", rf"{L}[HM]\d{{8}}(?:\d{{2}})?{R}", 0.2),
        Pattern("Taiwan permit (mainland)", rf"{L}L\d{{8}}{R}", 0.15),
        Pattern("Taiwan compatriot permit", rf"{L}\d{{8}}{R}", 0.05),
    ]
    CONTEXT: ClassVar[list[str]] = ["通行证", "港澳", "台湾", "回乡证", "台胞证", "来往内地", "往来港澳", "往来台湾", "证件号"]
