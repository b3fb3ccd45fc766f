"""EMAIL_ADDRESS in Chinese text: Presidio's EmailRecognizer with ASCII look-arounds."""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import Pattern
from presidio_analyzer.predefined_recognizers import EmailRecognizer

from privacy.recognizers._base import LANGUAGE, normalize_with_offsets, to_original

_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"


class ChineseEmailRecognizer(EmailRecognizer):
    """Presidio's :class:`EmailRecognizer` for Chinese text.

    Presidio's pattern is wrapped in ``\\b`` and uses ``\\w``, which includes CJK characters, so in
    ``邮箱abc@qq.com请回复`` it either misses the address or swallows the Chinese around it (case-12).
    This subclass keeps the entity, context and interface and replaces the pattern with an ASCII
    RFC 5322 subset bounded by look-arounds; the top-level domain must be alphabetic (2–24 letters).
    ``validate_result`` does not call ``tldextract`` (which may fetch the public-suffix list online).
    Full-width ``＠`` and letters are NFKC-normalized first.

    References
    ----------
    RFC 5322 §3.4.1 (addr-spec); RFC 1035 §2.3.1 (labels); Presidio ``EmailRecognizer``.
    """

    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern(
            "Email (ASCII bounded)",
            rf"(?<![A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]){_LOCAL}@(?:{_LABEL}\.)+[A-Za-z]{{2,24}}(?![A-Za-z0-9-])",
            0.5,
        )
    ]
    CONTEXT: ClassVar[list[str]] = ["邮箱", "电子邮件", "邮件", "email", "e-mail", "mail"]

    def __init__(self, supported_language: str = LANGUAGE, **kwargs):
        kwargs.setdefault("patterns", self.PATTERNS)
        kwargs.setdefault("context", self.CONTEXT)
        super().__init__(supported_language=supported_language, **kwargs)

    def validate_result(self, pattern_text: str) -> bool | None:
        """Structurally valid by the pattern; keep the pattern score (no online suffix list)."""
        return None

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
        """Match on the NFKC form; spans in original-text coordinates."""
        normalized, offsets = normalize_with_offsets(text)
        results = super().analyze(normalized, entities, nlp_artifacts, regex_flags)
        if offsets is not None:
            for r in results:
                r.start, r.end = to_original(offsets, r.start, r.end)
        return results
