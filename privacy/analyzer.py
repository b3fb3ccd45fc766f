"""A Presidio :class:`~presidio_analyzer.AnalyzerEngine` configured for Chinese (language "zh").

Presidio's defaults do not fit Chinese: its spaCy engine needs a downloaded model, its context
enhancer compares lemmas that a blank ``zh`` pipeline never fills (case-14), and its
``PhoneRecognizer`` skips mainland numbers (case-13). :func:`build_analyzer` wires the
:class:`privacy.nlp.ChineseNlpEngine`, the :class:`privacy.nlp.ChineseContextEnhancer` and every
recognizer of :mod:`privacy.recognizers`, registered for "zh" only.

References
----------
Presidio docs: "Analyzer engine", "Customizing the NLP model", "Recognizer registry",
"Leveraging context words".
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from presidio_analyzer import AnalyzerEngine, EntityRecognizer
from presidio_analyzer.recognizer_registry import RecognizerRegistry

from privacy.nlp import LANGUAGE, ChineseContextEnhancer, ChineseNlpEngine
from privacy.recognizers import chinese_recognizers

#: Default minimum score for a span to count as personal information in free text.
DEFAULT_SCORE_THRESHOLD = 0.4

_LOCK = threading.Lock()
_SHARED: dict = {}


def build_analyzer(
    nlp_engine: ChineseNlpEngine | None = None,
    extra_recognizers: Iterable[EntityRecognizer] = (),
    default_score_threshold: float = 0.0,
) -> AnalyzerEngine:
    """Build an AnalyzerEngine for Chinese with all humiao recognizers registered for "zh".

    Parameters
    ----------
    nlp_engine : ChineseNlpEngine, optional
        Defaults to a new :class:`~privacy.nlp.ChineseNlpEngine` (jieba, dictionary POS tags).
    extra_recognizers : iterable of EntityRecognizer
        Added to the registry (their ``supported_language`` must be "zh").
    default_score_threshold : float
        Passed to the engine; callers usually pass ``score_threshold`` per call.

    Returns
    -------
    AnalyzerEngine
        ``supported_languages == ["zh"]``; ``analyze(text, language="zh")`` returns
        :class:`~presidio_analyzer.RecognizerResult` spans in original-text coordinates.
    """
    engine = nlp_engine or ChineseNlpEngine()
    engine.load()
    registry = RecognizerRegistry(supported_languages=[LANGUAGE])
    for rec in [*chinese_recognizers(), *extra_recognizers]:
        registry.add_recognizer(rec)
    return AnalyzerEngine(
        registry=registry,
        nlp_engine=engine,
        supported_languages=[LANGUAGE],
        context_aware_enhancer=ChineseContextEnhancer(),
        default_score_threshold=default_score_threshold,
    )


def shared_analyzer() -> AnalyzerEngine:
    """One analyzer per process (building one costs ~1 s: the jieba dictionary and the regexes)."""
    with _LOCK:
        if "analyzer" not in _SHARED:
            _SHARED["analyzer"] = build_analyzer()
        return _SHARED["analyzer"]
