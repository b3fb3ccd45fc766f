"""CN_RIC: resident identity number (公民身份号码)."""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import Pattern

from privacy.identifiers import validate_ric
from privacy.recognizers._base import ChinesePatternRecognizer, L, R

_DATE18 = r"(?:18|19|20)\d{2}[ -]?(?:0[1-9]|1[0-2])[ -]?(?:0[1-9]|[12]\d|3[01])"
_DATE15 = r"\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"


class CnRicRecognizer(ChinesePatternRecognizer):
    """Recognize the Chinese resident identity number (公民身份号码), 18-digit and legacy 15-digit.

    Format (GB 11643-1999): a 6-digit address code (GB/T 2260), the birth date YYYYMMDD, a 3-digit
    sequence (odd = male) and one check character computed with ISO 7064:1983 MOD 11-2 (``0-9`` or
    ``X``). Numbers issued before 1999 have 15 digits (YYMMDD, no check character).

    Validation is :func:`privacy.identifiers.validate_ric`: province code, real birth date, check
    character; new county codes such as 330113 (临平区) and 330114 (钱塘区) are accepted because the
    county part is never looked up in a table (shared/cases case-01). A valid 18-digit number scores
    1.0; a 15-digit number with a valid province and date keeps its pattern score (0.4) and needs a
    context word to be certain; anything else is dropped.

    Digit runs are bounded with ASCII look-arounds (case-12: ``\\b`` fails after 号码), so a number
    inside ``订单号A330106…`` or inside a longer run is not matched. Groups separated by one space or
    dash (``330106 20150101 1236``) are accepted.

    References
    ----------
    GB 11643-1999 公民身份号码; ISO 7064:1983; GB/T 2260; shared/cases case-01, case-12, case-14.
    """

    ENTITY = "CN_RIC"
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("CN_RIC 18 digits", rf"{L}[1-9]\d{{5}}[ -]?{_DATE18}[ -]?\d{{3}}[0-9Xx]{R}", 0.5),
        Pattern("CN_RIC 15 digits (legacy)", rf"{L}[1-9]\d{{5}}{_DATE15}\d{{3}}{R}", 0.4),
    ]
    CONTEXT: ClassVar[list[str]] = ["身份证", "身份证号", "身份证号码", "公民身份号码", "证件号", "证件号码", "身份号码", "id"]

    def validate_result(self, pattern_text: str) -> bool | None:
        """True for a valid 18-character ID, None for a plausible 15-digit one, else False."""
        r = validate_ric(pattern_text)
        if not r.valid:
            return False
        return None if r.upgraded else True
