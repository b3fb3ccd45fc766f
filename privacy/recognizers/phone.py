"""PHONE_NUMBER: mainland mobile and landline numbers."""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import Pattern

from privacy.identifiers import LANDLINE, MOBILE, SERVICE, normalize_phone
from privacy.recognizers._base import ChinesePatternRecognizer, L, R


class CnPhoneRecognizer(ChinesePatternRecognizer):
    """Recognize mainland Chinese mobile and landline numbers (entity ``PHONE_NUMBER``).

    * Mobiles: 11 digits ``1[3-9]x`` (the MIIT numbering plan allocates the whole 13x–19x block and keeps
      opening ranges such as 166/167/170/19x, so no prefix list is kept: case-16), optionally with
      ``+86`` / ``0086`` / ``(+86)`` and groups separated by spaces or dashes (``138-0000-0000``,
      ``+86 139 0000 0000``). Presidio's ``PhoneRecognizer`` parses a fixed set of regions without CN
      and misses the bare mobile ``13800000000`` (case-13; Presidio #746).
    * Landlines: trunk prefix 0, a 2–3 digit area code (010, 02x, 0xxx), a 7–8 digit subscriber number
      starting 2–9, optional extension (``0571-88880000``, ``(0571)8888 0000``, ``…转123``).
    * A bare 7–8 digit local number only counts with a context word (score 0.1 → 0.45 with 电话).

    ``validate_result`` uses :func:`privacy.identifiers.normalize_phone`; service numbers
    (400/800/95xxx) are not personal data and are dropped.

    References
    ----------
    MIIT 电信网编号计划 (telecommunications numbering plan); ITU-T E.164 (country code 86);
    shared/cases case-13, case-16.
    """

    ENTITY = "PHONE_NUMBER"
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern(
            "CN mobile",
            rf"(?<![0-9A-Za-z.+])(?:(?:\+|00)86[ -]?|\(\+?86\)[ -]?|86-)?1[3-9]\d(?:[ -]?\d{{4}}){{2}}{R}",
            0.7,
        ),
        Pattern(
            "CN landline",
            rf"(?<![0-9A-Za-z.+])(?:(?:\+|00)86[ -]?)?(?:\(0\d{{2,3}}\)|0\d{{2,3}})[ -]?[2-9]\d{{2,3}}[ -]?\d{{4}}"
            rf"(?:(?:-|转|ext\.?)\d{{1,5}})?{R}",
            0.6,
        ),
        # not the tail of a longer grouped number (400-800-0000 is a service number)
        Pattern("CN local landline (context only)", rf"(?<![0-9][ -]){L}[2-9]\d{{2,3}}[ -]?\d{{4}}(?![ -]?[0-9]){R}", 0.1),
    ]
    CONTEXT: ClassVar[list[str]] = ["电话", "手机", "联系方式", "联系电话", "座机", "号码", "手机号", "电话号码", "tel", "致电", "来电"]

    def validate_result(self, pattern_text: str) -> bool | None:
        """None (keep the pattern score) for a mobile/landline/local number, False for others."""
        main = pattern_text
        for sep in ("转", "ext"):
            if sep in main:
                main = main.split(sep)[0]
        # a trailing "-123" extension after a full landline
        parts = main.split("-")
        if len(parts) > 2 and len(parts[-1]) <= 5 and main.lstrip("+(").startswith("0"):
            main = "-".join(parts[:-1])
        r = normalize_phone(main)
        if r.kind in (MOBILE, LANDLINE):
            return None
        if r.kind == SERVICE:
            return False
        digits = "".join(c for c in main if c.isdigit())
        if 7 <= len(digits) <= 8 and digits[0] in "23456789":
            return None
        return False
