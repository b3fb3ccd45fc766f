"""CN_STUDENT_NUMBER: national student registration numbers (全国学籍号)."""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import Pattern

from privacy.identifiers import validate_ric
from privacy.recognizers._base import ChinesePatternRecognizer, L, R


class CnStudentNumberRecognizer(ChinesePatternRecognizer):
    """Recognize the national student registration number (全国中小学生学籍号).

    The Ministry of Education's student registry assigns ``G`` + the 18-character resident ID to a
    student who has one, and ``L`` + a temporary 18-character number otherwise (``J`` in some provinces'
    older data). A G-number is validated through its ID part (score 1.0); an L/J-number keeps 0.5.
    After the word 学籍号 any 10–19 character number is taken (score 0.6).

    References
    ----------
    教育部 《中小学生学籍管理办法》 (教基一〔2013〕7号) and the 全国中小学生学籍信息管理系统 numbering rules.
    """

    ENTITY = "CN_STUDENT_NUMBER"
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("G/L + 18", rf"{L}[GLJ][1-9]\d{{16}}[0-9Xx]{R}", 0.5),
        Pattern("after 学籍号", rf"(?<=学籍(?:号|号码|编号)[:：\s]{{0,3}})[A-Z]?\d{{9,19}}[0-9Xx]?{R}", 0.6),
    ]
    CONTEXT: ClassVar[list[str]] = ["学籍号", "学籍", "学号", "学籍编号"]

    def validate_result(self, pattern_text: str) -> bool | None:
        """G + valid ID → True; G + invalid ID → False; anything else keeps its pattern score."""
        v = pattern_text.upper()
        if len(v) == 19 and v[0] == "G":
            return validate_ric(v[1:]).valid
        return None
