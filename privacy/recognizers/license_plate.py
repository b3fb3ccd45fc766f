"""CN_LICENSE_PLATE: motor-vehicle number plates (机动车号牌)."""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import Pattern

from privacy.recognizers._base import ChinesePatternRecognizer

#: Province abbreviations used on plates, plus 使/领 (embassy/consulate).
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领"
_LETTER = "A-HJ-NP-Z"  # no I or O on plates
_SEP = r"[·•.\- ]?"


class CnLicensePlateRecognizer(ChinesePatternRecognizer):
    """Recognize mainland licence plates, including 8-character new-energy plates.

    * Regular (GA 36-2018): province abbreviation + issuing-authority letter + 5 characters (letters
      other than I/O, digits; at most two letters), optionally ending in 挂/学/警/港/澳;
    * New energy: province + letter + 6 characters, ``D``/``F`` first (small vehicles: D electric,
      F plug-in hybrid) or last (large vehicles).

    A separator (``浙A·12345``) is accepted. Plates identify an owner, so they are personal data.

    References
    ----------
    GA 36-2018 中华人民共和国机动车号牌; 公安部 新能源汽车专用号牌 (2016).
    """

    ENTITY = "CN_LICENSE_PLATE"
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern(
            "New-energy plate",
            rf"[{PROVINCES}][{_LETTER}]{_SEP}(?:[DF][{_LETTER}0-9]\d{{4}}|\d{{5}}[DF])(?![0-9A-Za-z])",
            0.6,
        ),
        Pattern(
            "Regular plate",
            rf"[{PROVINCES}][{_LETTER}]{_SEP}[{_LETTER}0-9]{{4}}[{_LETTER}0-9挂学警港澳](?![0-9A-Za-z])",
            0.5,
        ),
    ]
    CONTEXT: ClassVar[list[str]] = ["车牌", "车牌号", "号牌", "车辆", "驾驶", "轿车", "电动车", "摩托"]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        import regex

        # Plates are upper-case: keep Presidio's flags but drop IGNORECASE (浙a12345 is not written).
        self.global_regex_flags = regex.DOTALL | regex.MULTILINE

    def validate_result(self, pattern_text: str) -> bool | None:
        """False when the serial part has more than two letters (not issued), else None."""
        serial = [c for c in pattern_text[2:] if c.isalnum() and c.isascii()]
        letters = sum(c.isalpha() for c in serial)
        return False if letters > 2 else None
