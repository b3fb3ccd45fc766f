"""CN_BANK_CARD: payment card numbers (银行卡号)."""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import Pattern

from privacy.identifiers import luhn_valid, validate_ric
from privacy.recognizers._base import ChinesePatternRecognizer, L, R


class CnBankCardRecognizer(ChinesePatternRecognizer):
    """Recognize bank card numbers (UnionPay 62…, Visa, Mastercard, JCB, domestic 9…): 16–19 digits.

    The last digit is a Luhn check digit (ISO/IEC 7812-1). The first digit is the major industry
    identifier; 2–6 and 9 are banking/financial, so runs starting with 1 (timestamps) or 7–8 are not
    cards. A number that is a valid resident ID is *not* a card (an 18-digit ID passes Luhn one time in
    ten; it is reported as CN_RIC by :class:`CnRicRecognizer`). Groups of four separated by spaces or
    dashes are accepted. Luhn-valid numbers score 1.0; a Luhn-invalid run keeps 0.3 and needs a context
    word such as 银行卡 (some older domestic cards carry no Luhn digit).

    References
    ----------
    ISO/IEC 7812-1:2017 (identification cards — numbering system, Luhn check);
    China UnionPay card numbering (BIN 62).
    """

    ENTITY = "CN_BANK_CARD"
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("Card 16-19 digits", rf"{L}[2-69]\d{{15,18}}{R}", 0.3),
        Pattern("Card grouped", rf"{L}[2-69]\d{{3}}(?:[ -]\d{{4}}){{3}}(?:[ -]?\d{{1,3}})?{R}", 0.3),
    ]
    CONTEXT: ClassVar[list[str]] = ["银行卡", "卡号", "账号", "帐号", "银行", "储蓄卡", "借记卡", "信用卡", "社保卡", "账户"]

    def validate_result(self, pattern_text: str) -> bool | None:
        """True when Luhn-valid and not a resident ID; False for resident IDs; else None."""
        d = self.digits(pattern_text)
        if not d.isdigit() or not 16 <= len(d) <= 19:
            return False
        if len(d) == 18 and validate_ric(d).valid:
            return False
        return True if luhn_valid(d) else None
