"""CN_DISABILITY_CERT: disability certificate numbers (残疾人证号)."""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import Pattern

from privacy.identifiers import validate_ric
from privacy.recognizers._base import ChinesePatternRecognizer, L, R


class CnDisabilityCertRecognizer(ChinesePatternRecognizer):
    """Recognize the number of the second-generation disability certificate (第二代残疾人证).

    The number is the holder's 18-character resident ID followed by the disability category
    (1 视力 vision, 2 听力 hearing, 3 言语 speech, 4 肢体 physical, 5 智力 intellectual, 6 精神 mental,
    7 多重 multiple) and the grade (1–4): 20 characters. Validated through the ID part
    (:func:`privacy.identifiers.validate_ric`), so it scores 1.0 or is dropped.

    References
    ----------
    中国残联 《第二代中华人民共和国残疾人证》 (2008); GB/T 26341-2010 残疾人残疾分类和分级;
    GB 11643-1999.
    """

    ENTITY = "CN_DISABILITY_CERT"
    PATTERNS: ClassVar[list[Pattern]] = [Pattern("ID + category + grade", rf"{L}[1-9]\d{{16}}[0-9Xx][1-7][1-4]{R}", 0.5)]
    CONTEXT: ClassVar[list[str]] = ["残疾证", "残疾人证", "残疾证号", "残疾人证号"]

    def validate_result(self, pattern_text: str) -> bool | None:
        """True when the first 18 characters are a valid resident ID."""
        return validate_ric(pattern_text[:18]).valid
