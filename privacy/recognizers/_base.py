"""Shared pieces of the Chinese recognizers: NFKC with an offset map, ASCII look-arounds, a base class.

Two facts about Chinese text drive this module (DESIGN §5, shared/cases case-12 and case-16):

* ``\\b`` does not separate a CJK character from a digit (both are word characters in Python's Unicode
  regex), so ``身份证号码330106…`` never matches ``\\b\\d{17}…``. Every digit pattern here is bounded by
  ASCII look-arounds instead: ``(?<![0-9A-Za-z.])…(?![0-9A-Za-z.])`` (DESIGN §11.1: a digit run glued
  to letters, digits or a decimal point is part of a token, a hash or a number, not an identifier).
* Clerks type full-width digits (``１３８``) and ideographic spaces. Text is NFKC-normalized before
  matching, and every span is mapped back to the *original* text through an offset map, so that
  placeholders replace exactly what was written.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import ClassVar

from presidio_analyzer import PatternRecognizer, RecognizerResult

#: Left/right bounds of a digit run (DESIGN §11.1; case-12). Never ``\b``.
L = r"(?<![0-9A-Za-z.])"
R = r"(?![0-9A-Za-z.])"

#: A CJK unified ideograph (basic block + extension A), used by the name and address patterns.
HAN = r"[\u3400-\u4dbf\u4e00-\u9fff]"

LANGUAGE = "zh"


@lru_cache(maxsize=512)
def normalize_with_offsets(text: str) -> tuple[str, tuple[int, ...] | None]:
    """NFKC-normalize ``text`` and return an offset map back to the original.

    Parameters
    ----------
    text : str
        The original text.

    Returns
    -------
    normalized : str
        The NFKC form (per character, so that offsets stay traceable).
    offsets : tuple of int or None
        ``offsets[i]`` is the index in ``text`` of the character that produced ``normalized[i]``,
        with one extra entry ``len(text)`` at the end. None when the text is already normalized
        (the identity map: the text is normalized already, or NFKC kept its length, i.e. mapped
        full-width characters one to one).

    Notes
    -----
    Per-character NFKC differs from whole-string NFKC only for combining sequences, which do not
    occur in the identifiers recognized here. Cached: every recognizer of one analysis calls it with
    the same note.
    """
    if unicodedata.is_normalized("NFKC", text):
        return text, None
    normalized = unicodedata.normalize("NFKC", text)
    if len(normalized) == len(text):
        # Full-width punctuation/digits and the ideographic space map one character to one: identity
        # offsets (the usual case: every note with "，" takes this path).
        return normalized, None
    out: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        n = unicodedata.normalize("NFKC", ch) if not ch.isascii() else ch
        out.append(n)
        offsets.extend([i] * len(n))
    offsets.append(len(text))
    return "".join(out), tuple(offsets)


def to_original(offsets: tuple[int, ...] | None, start: int, end: int) -> tuple[int, int]:
    """Map a ``[start, end)`` span of the normalized text back to the original text."""
    if offsets is None:
        return start, end
    if end <= start:
        return offsets[start], offsets[start]
    return offsets[start], offsets[end - 1] + 1


def token_list(nlp_artifacts) -> list[tuple[int, int, str, str]]:
    """``(start, end, text, tag)`` of every token of ``nlp_artifacts`` (empty without artifacts).

    Uses the plain list :class:`privacy.nlp.ChineseNlpEngine` attaches (``.token_spans``) when present,
    else iterates the spaCy ``Doc``.
    """
    if nlp_artifacts is None:
        return []
    spans = getattr(nlp_artifacts, "token_spans", None)
    if spans is not None:
        return spans
    doc = getattr(nlp_artifacts, "tokens", None)
    if doc is None:
        return []
    return [(t.idx, t.idx + len(t.text), t.text, t.tag_) for t in doc]


class ChinesePatternRecognizer(PatternRecognizer):
    """A :class:`~presidio_analyzer.PatternRecognizer` for Chinese text.

    Subclasses declare ``PATTERNS``, ``CONTEXT``, ``ENTITY`` and ``validate_result`` exactly as
    Presidio's own country recognizers do (e.g. ``KrRrnRecognizer``). This base adds one thing:
    patterns run on the NFKC form of the text and spans are mapped back to the original, so full-width
    digits and ideographic spaces are recognized where they were written.
    """

    ENTITY = "UNKNOWN"
    PATTERNS: ClassVar[list] = []
    CONTEXT: ClassVar[list[str]] = []

    def __init__(self, patterns=None, context=None, supported_language: str = LANGUAGE,
                 supported_entity: str | None = None, name: str | None = None):
        super().__init__(
            supported_entity=supported_entity or self.ENTITY,
            patterns=patterns if patterns is not None else [p for p in self.PATTERNS],
            context=context if context is not None else list(self.CONTEXT),
            supported_language=supported_language,
            name=name,
        )

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None,
                regex_flags: int | None = None) -> list[RecognizerResult]:
        """Run the patterns on the NFKC form of ``text``; return spans in ``text`` coordinates."""
        normalized, offsets = normalize_with_offsets(text)
        results = super().analyze(normalized, entities, nlp_artifacts, regex_flags)
        if offsets is not None:
            for r in results:
                r.start, r.end = to_original(offsets, r.start, r.end)
        return results

    @staticmethod
    def digits(value: str) -> str:
        """``value`` without spaces, dashes, dots and brackets (upper-case)."""
        return "".join(c for c in value if c.isalnum()).upper()
