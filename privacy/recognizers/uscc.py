"""CN_USCC: unified social credit code (统一社会信用代码)."""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import Pattern

from privacy.identifiers import validate_ric
from privacy.recognizers._base import ChinesePatternRecognizer, L, R

#: Code characters of GB 32100-2015: digits and upper-case letters except I, O, Z, S, V.
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(body17: str) -> str:
    """Check character of a unified social credit code (GB 32100-2015 §5: MOD 31 over 17 characters)."""
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(body17, USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - total % 31) % 31]


def is_valid_uscc(value: str) -> bool:
    """True when ``value`` (18 characters) is a valid unified social credit code."""
    v = value.upper()
    if len(v) != 18 or any(c not in USCC_CHARS for c in v) or not v[2:8].isdigit():
        return False
    return uscc_check_char(v[:17]) == v[17]


class CnUsccRecognizer(ChinesePatternRecognizer):
    """Recognize the unified social credit code of organisations and individual businesses.

    Format (GB 32100-2015): registration authority (1 char), organisation category (1 char),
    administrative division code (6 digits, GB/T 2260), organisation code (9 chars, GB 11714) and a
    check character (MOD 31, weights 3^i mod 31). Letters I, O, Z, S, V are never used. An individual
    business (个体工商户) is a person, so the code is personal information there. A valid code scores
    1.0; a string that is also a valid resident ID is left to CN_RIC.

    References
    ----------
    GB 32100-2015 法人和其他组织统一社会信用代码编码规则; GB 11714-1997.
    """

    ENTITY = "CN_USCC"
    PATTERNS: ClassVar[list[Pattern]] = [Pattern("USCC", rf"{L}[0-9A-HJ-NPQRTUWXY]{{2}}\d{{6}}[0-9A-HJ-NPQRTUWXY]{{10}}{R}", 0.3)]
    CONTEXT: ClassVar[list[str]] = ["统一社会信用代码", "信用代码", "营业执照", "工商", "单位代码", "社会信用"]

    def validate_result(self, pattern_text: str) -> bool | None:
        """True for a valid code that is not a resident ID, else False."""
        v = pattern_text.upper()
        if validate_ric(v).valid:
            return False
        return is_valid_uscc(v)
