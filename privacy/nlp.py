"""A Presidio NLP engine for Chinese: jieba segmentation into a spaCy ``Doc``, no model download.

Presidio's default :class:`~presidio_analyzer.nlp_engine.SpacyNlpEngine` needs a trained pipeline
(``zh_core_web_*``), which humiao never downloads (DESIGN §5). This engine keeps Presidio's
:class:`~presidio_analyzer.nlp_engine.NlpEngine` interface and does only what the Chinese recognizers
need:

* **segmentation** with jieba (the default tokenizer, which spaCy's jieba segmenter loads anyway;
  humiao adds no words to it), on the NFKC form of the text when NFKC keeps its length, so that
  full-width digits stay one token (shared/cases case-16, jieba #769); token offsets point into the
  original text;
* **lemmas = token text**: a blank ``zh`` pipeline has no lemmatizer, so every ``lemma_`` is ``''``
  and Presidio's context words never fire (case-14; Presidio #682, spaCy #1259). Filling the lemma
  with the token text makes ``LemmaContextAwareEnhancer`` work;
* **part-of-speech tags** from jieba's dictionary (``jieba.posseg``'s word → tag table; ``nr`` = person
  name) as ``token.tag_``; tokens the dictionary does not know (jieba's HMM found them) are tagged
  ``oov``. The full HMM tagger (``jieba.posseg.cut``) is ~10× slower (2.7 ms for a 120-character note);
  it is available with ``pos="hmm"``;
* no NER: ``entities`` is empty; names and addresses are found by recognizers.

:class:`ChineseContextEnhancer` additionally matches context words on the raw text just before a
match (and a little after), because jieba splits compound context words (身份证号 → 身份证/号码) and a
lemma comparison cannot look inside tokens (Presidio #2216).

References
----------
Presidio docs, "Customizing the NLP model" and "NLP engines";
https://github.com/data-privacy-stack/presidio/pull/682 ; https://github.com/explosion/spaCy/issues/1259 ;
https://github.com/data-privacy-stack/presidio/issues/2216 ; https://github.com/fxsjy/jieba
"""

from __future__ import annotations

import bisect
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from functools import lru_cache

from presidio_analyzer import RecognizerResult
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine

LANGUAGE = "zh"

_LOCK = threading.Lock()
_SHARED: dict = {}


def _jieba():
    """jieba's default tokenizer (shared with spaCy's jieba segmenter: one dictionary load per process)
    and the dictionary's word → POS tag table, read from the dictionary file (importing
    ``jieba.posseg`` costs ~3 s for its HMM tables, which the default "dict" mode does not need)."""
    with _LOCK:
        if "tk" not in _SHARED:
            import logging

            import jieba

            jieba.setLogLevel(logging.WARNING)
            tk = jieba.dt
            tk.initialize()
            tags: dict = {}
            with tk.get_dict_file() as f:
                for raw in f:
                    parts = raw.decode("utf-8").split()
                    if len(parts) >= 3:
                        tags[parts[0]] = parts[2]
            _SHARED["tk"] = tk
            _SHARED["tags"] = tags
        return _SHARED["tk"], _SHARED["tags"]


def _posseg():
    with _LOCK:
        if "pos" not in _SHARED:
            import jieba.posseg

            _SHARED["pos"] = jieba.posseg.POSTokenizer(jieba_tokenizer())
        return _SHARED["pos"]


def jieba_tokenizer():
    """The jieba tokenizer used by humiao (``jieba.dt``; humiao adds no words to it)."""
    return _jieba()[0]


def word_tags() -> dict:
    """jieba's dictionary word → part-of-speech tag table (``nr`` person, ``ns`` place, …)."""
    return _jieba()[1]


def _spacy_vocab():
    with _LOCK:
        if "nlp" not in _SHARED:
            import spacy

            # The blank Chinese pipeline with the jieba segmenter: no download, no trained component.
            _SHARED["nlp"] = spacy.blank(LANGUAGE, config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
        return _SHARED["nlp"]


@lru_cache(maxsize=4096)
def _is_punct(word: str) -> bool:
    return bool(word) and all(unicodedata.category(c)[0] in "PZ" or c.isspace() for c in word)


#: jieba's own block split (``jieba.re_han_default`` / ``re_skip_default``): jieba segments each block
#: of Han characters/alphanumerics independently, so a block's words can be cached and reused.
_RE_HAN = re.compile("([\u4E00-\u9FD5a-zA-Z0-9+#&\\._%\\-]+)", re.U)
_RE_SKIP = re.compile(r"(\r\n|\s)", re.U)
_BLOCK_CACHE_MAX = 200_000
_BLOCKS: dict = {}


def _tag_of(w: str, tags: dict) -> str:
    tag = tags.get(w)
    if tag is None:
        c = w[0]
        if c.isdigit():
            tag = "m"
        elif c.isspace():
            tag = "x"
        elif "\u3400" <= c <= "\u9fff":
            tag = "oov"
        elif c.isascii() and c.isalpha():
            tag = "eng"
        else:
            tag = "x"
    return tag


def _block_words(blk: str, hmm: bool) -> tuple:
    """``((word, tag), …)`` of one jieba block, cached (notes repeat most of their clauses)."""
    key = (blk, hmm)
    hit = _BLOCKS.get(key)
    if hit is not None:
        return hit
    tk, tags = _jieba()
    if _RE_HAN.match(blk):
        words = tk.cut(blk, HMM=hmm)
    else:
        words = []
        for x in _RE_SKIP.split(blk):
            if _RE_SKIP.match(x):
                words.append(x)
            else:
                words.extend(x)
    out = tuple((w, _tag_of(w, tags)) for w in words if w)
    if len(_BLOCKS) >= _BLOCK_CACHE_MAX:
        _BLOCKS.clear()
    _BLOCKS[key] = out
    return out


#: A run of ASCII letters/digits (jieba's ``finalseg.re_skip``): jieba never joins it with Han
#: characters except in three dictionary words (4S店, 4s店, 1号店), so a block is cut on both sides of
#: such runs before the cache look-up; the Han clauses around a phone number or a date then recur.
_RE_ALNUM = re.compile(r"([a-zA-Z0-9]+(?:\.\d+)?%?)")
_ALNUM_WORDS = ("4S店", "4s店", "1号店")


def _pieces(blk: str, hmm: bool):
    if len(blk) <= 2 or not _RE_ALNUM.search(blk) or any(w in blk for w in _ALNUM_WORDS):
        yield from _block_words(blk, hmm)
        return
    for piece in _RE_ALNUM.split(blk):
        if piece:
            yield from _block_words(piece, hmm)


def segment_tagged(text: str, hmm: bool = True) -> list[tuple[str, int, int, str]]:
    """``(word, start, end, tag)`` for ``text``: jieba's segmentation with dictionary tags.

    Same words as ``jieba.cut(text, HMM=hmm)`` (jieba cuts each block of Han characters and
    alphanumerics on its own; this function caches the words of each block, so a clause that recurs
    across notes — "父母外出打工" — is segmented once per process). Segments the NFKC form when NFKC
    keeps the length (full-width digits stay one token), words sliced from the original ``text``.
    """
    norm = unicodedata.normalize("NFKC", text)
    base = norm if len(norm) == len(text) else text
    out = []
    pos = 0
    for blk in _RE_HAN.split(base):
        if not blk:
            continue
        for w, tag in _pieces(blk, hmm):
            end = pos + len(w)
            out.append((text[pos:end], pos, end, tag))
            pos = end
    return out


def segment(text: str, hmm: bool = True) -> list[tuple[str, int, int]]:
    """Segment ``text`` with jieba; return ``(word, start, end)`` in ``text`` coordinates.

    When NFKC keeps the length (full-width digits/letters, ideographic space), the normalized text is
    segmented so that ``１３８０…`` is one token, and words are sliced from the original.
    """
    return [(w, s, e) for w, s, e, _ in segment_tagged(text, hmm)]


class ChineseNlpEngine(NlpEngine):
    """Presidio NLP engine for Chinese built on ``spacy.blank("zh")`` + jieba (segmentation only).

    Parameters
    ----------
    pos : {"dict", "hmm"}
        "dict" (default): tags from jieba's dictionary, unknown words tagged ``oov``; "hmm": the full
        ``jieba.posseg`` tagger (slower, tags unseen names ``nr``).
    cache_size : int
        Number of recent texts whose artifacts are kept (the same note is often analyzed twice).

    Notes
    -----
    Only language "zh" is supported. ``load()`` is cheap after the first engine in a process.
    """

    engine_name = "humiao_zh_jieba"
    is_available = True

    def __init__(self, pos: str = "dict", cache_size: int = 256):
        if pos not in ("dict", "hmm"):
            raise ValueError(f"pos must be 'dict' or 'hmm', got {pos!r}")
        self.pos = pos
        self.nlp = None
        self._cache: OrderedDict = OrderedDict()
        self._cache_size = cache_size
        self._stop: frozenset = frozenset()

    # -- NlpEngine interface -------------------------------------------------------------------------
    def load(self) -> None:
        """Load the blank zh pipeline (vocabulary, stop words) and the jieba dictionary."""
        nlp = _spacy_vocab()
        _jieba()
        from spacy.lang.zh.stop_words import STOP_WORDS

        self._stop = frozenset(STOP_WORDS)
        self.nlp = {LANGUAGE: nlp}

    def is_loaded(self) -> bool:
        """True once :meth:`load` ran."""
        return self.nlp is not None

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        """Segment ``text`` and return Presidio artifacts (tokens, offsets, lemmas = token text)."""
        self._check(language)
        hit = self._cache.get(text)
        if hit is not None:
            self._cache.move_to_end(text)
            return hit
        art = self._artifacts(text)
        self._cache[text] = art
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return art

    def process_batch(self, texts: Iterable[str], language: str, batch_size: int = 1,
                      n_process: int = 1, **kwargs) -> Iterator[tuple[str, NlpArtifacts]]:
        """Artifacts for each text (sequentially; parallelism is the caller's choice)."""
        for text in texts:
            text = str(text)
            yield text, self.process_text(text, language)

    def is_stopword(self, word: str, language: str) -> bool:
        """spaCy's Chinese stop-word list."""
        return word in self._stop

    def is_punct(self, word: str, language: str) -> bool:
        """True when every character is punctuation or white space."""
        return _is_punct(word)

    def get_supported_entities(self) -> list[str]:
        """No NER in this engine."""
        return []

    def get_supported_languages(self) -> list[str]:
        """Only "zh"."""
        return [LANGUAGE]

    # -- internals ------------------------------------------------------------------------------------
    def _check(self, language: str) -> None:
        if language != LANGUAGE:
            raise ValueError(f"ChineseNlpEngine supports only 'zh', got {language!r}")
        if self.nlp is None:
            self.load()

    def tag_words(self, text: str) -> list[tuple[str, int, int, str]]:
        """``(word, start, end, tag)`` for ``text``; see the class docstring for the tags."""
        if self.pos == "hmm":
            pos_tk = _posseg()
            norm = unicodedata.normalize("NFKC", text)
            base = norm if len(norm) == len(text) else text
            out, p = [], 0
            for pair in pos_tk.cut(base):
                e = p + len(pair.word)
                out.append((text[p:e], p, e, pair.flag))
                p = e
            return out
        return segment_tagged(text)

    def _artifacts(self, text: str) -> NlpArtifacts:
        words = self.tag_words(text)
        ws = [w for w, _, _, _ in words]
        vocab = self.nlp[LANGUAGE].vocab

        def build_doc():
            from spacy.tokens import Doc

            if not ws:
                return Doc(vocab, words=[])
            return Doc(vocab, words=ws, spaces=[False] * len(ws), lemmas=ws, tags=[t for *_, t in words])

        art = LazyDocNlpArtifacts(
            entities=[],
            tokens=build_doc,
            tokens_indices=[s for _, s, _, _ in words],
            lemmas=ws,
            nlp_engine=self,
            language=LANGUAGE,
        )
        # Plain-Python copies for the recognizers (iterating a spaCy Doc builds a Token per step).
        art.text = text
        art.token_spans = [(s, e, w, tag) for w, s, e, tag in words]
        return art


class LazyDocNlpArtifacts(NlpArtifacts):
    """:class:`NlpArtifacts` whose spaCy ``Doc`` (``tokens``) is built on first access.

    The humiao recognizers and :class:`ChineseContextEnhancer` read ``token_spans``/``lemmas``; building
    the ``Doc`` (with its lexemes) costs about as much as segmenting, so it is built only for code that
    asks for it (e.g. a spaCy-based recognizer added by a user).
    """

    def __init__(self, *args, language: str = LANGUAGE, **kwargs):
        self.language = language
        super().__init__(*args, language=language, **kwargs)

    @staticmethod
    def set_keywords(nlp_engine, lemmas, language):
        """Deferred: the keywords are computed on first access (only the context enhancer reads them)."""
        return None

    @property
    def keywords(self):
        if self._keywords is None:
            self._keywords = NlpArtifacts.set_keywords(self.nlp_engine, self.lemmas, self.language)
        return self._keywords

    @keywords.setter
    def keywords(self, value):
        self._keywords = value

    @property
    def tokens(self):
        if callable(self._tokens):
            self._tokens = self._tokens()
        return self._tokens

    @tokens.setter
    def tokens(self, value):
        self._tokens = value


class ChineseContextEnhancer(LemmaContextAwareEnhancer):
    """Presidio's lemma context enhancer, plus raw-text windows around the match, made fast.

    The surrounding words are the lemmas (token texts) Presidio collects — the ``context_prefix_count``
    keywords before the match — and in addition the ``prefix_chars`` characters before and
    ``suffix_chars`` after the match as one string; with Presidio's default "substring" matching a
    context word such as 身份证号 is found inside ``儿童身份证号码`` even when jieba cut it in two
    (case-14; Presidio #2216).

    Same scoring as :class:`~presidio_analyzer.context_aware_enhancers.LemmaContextAwareEnhancer`
    (+``context_similarity_factor``, at least ``min_score_with_context_similarity``, at most 1.0, the
    supportive word recorded in the explanation), without its per-call deep copy of the results (the
    analyzer creates them fresh for each call) and without iterating the spaCy ``Doc`` per result.
    """

    def __init__(self, prefix_chars: int = 10, suffix_chars: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.prefix_chars = prefix_chars
        self.suffix_chars = suffix_chars

    def enhance_using_context(self, text, raw_results, nlp_artifacts, recognizers, context=None):
        """Raise the score of results with a context word nearby (in place; returns the list)."""
        by_id = {r.id: r for r in recognizers}
        extra = [w.lower() for w in context] if context else []
        if nlp_artifacts is None:
            return raw_results
        for result in raw_results:
            meta = result.recognition_metadata or {}
            rec = by_id.get(meta.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY))
            if rec is None or not rec.context or meta.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY):
                continue
            words = self._surrounding(text, nlp_artifacts, result.start, result.end)
            words.extend(extra)
            haystack = "\x00".join(words)
            word = next((w for w in rec.context if w.lower() in haystack), "")
            if word:
                # rounded: 0.3 + 0.35 is 0.6499999999999999 in binary floating point
                result.score = round(min(max(result.score + self.context_similarity_factor,
                                             self.min_score_with_context_similarity), self.MAX_SCORE), 6)
                if result.analysis_explanation is not None:
                    result.analysis_explanation.set_supportive_context_word(word)
                    result.analysis_explanation.set_improved_score(result.score)
        return raw_results

    def _surrounding(self, text: str, nlp_artifacts: NlpArtifacts, start: int, end: int) -> list[str]:
        words: list[str] = []
        lemmas = nlp_artifacts.lemmas or []
        idx = nlp_artifacts.tokens_indices or []
        if lemmas and len(idx) == len(lemmas):
            keywords = set(nlp_artifacts.keywords)
            i = max(bisect.bisect_right(idx, start) - 1, 0)
            j, n = i, self.context_prefix_count + 1
            while j >= 0 and n > 0:
                w = lemmas[j].lower()
                if w in keywords:
                    words.append(w)
                    n -= 1
                j -= 1
            j, n = i, self.context_suffix_count + 1
            while self.context_suffix_count and j < len(lemmas) and n > 0:
                w = lemmas[j].lower()
                if w in keywords:
                    words.append(w)
                    n -= 1
                j += 1
        words.append(text[max(0, start - self.prefix_chars):start].lower())
        if self.suffix_chars:
            words.append(text[end:end + self.suffix_chars].lower())
        return words
