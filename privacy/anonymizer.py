"""Free-text anonymization of visit notes and case summaries (DESIGN §5 "Free text").

:class:`NoteAnonymizer` combines

1. Presidio :class:`~presidio_analyzer.AnalyzerEngine` results for Chinese (:func:`privacy.analyzer.
   shared_analyzer`: checksum-validated identifiers, phones, addresses, names), and
2. **record-aware** exact matches: the names, IDs, phones and addresses already known for the people
   on the record are searched for in the note — names including 2-character names and the given name
   of a 3-character name (王小明 → 小明), IDs in any written form (full-width, spaced, lower-case x,
   the legacy 15-digit form), phones with any separators and +86, addresses with or without their
   district prefix,

merges overlapping spans (the union is replaced, labelled by its longest, most specific member) and
replaces each span by a typed placeholder numbered within the note: ``<PERSON_1>`` … ``<PERSON_1>``,
``<PERSON_2>``, ``<CN_RIC>``, ``<PHONE_NUMBER>``, ``<LOCATION>``, ``<BANK_CARD>``. The same value gets
the same placeholder; persons are always numbered, other types only when a note holds two different
values of that type (``<PHONE_NUMBER_1>``, ``<PHONE_NUMBER_2>``).

The record's names are found before the analysis and handed to the person recognizer
(:data:`privacy.recognizers.person.KNOWN_NAME_SPANS`): its CRF skips them, as it skips pattern
matches, so the clauses around a child's name recur across notes and are decoded once (speed).

Presidio's interfaces are kept (recognizers, ``AnalyzerEngine``, ``RecognizerResult``); the replacement
is a small function instead of ``AnonymizerEngine`` because numbering needs the whole note, and for
speed. One engine per process is built once and reused; each note is segmented once.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from presidio_analyzer import AnalyzerEngine, RecognizerResult

from privacy.analyzer import DEFAULT_SCORE_THRESHOLD, shared_analyzer
from privacy.identifiers import normalize_phone, validate_ric
from privacy.identities import KINDS, KnownIdentities, address_variants, id_variants, normalize_name
from privacy.recognizers._base import normalize_with_offsets, to_original
from privacy.recognizers.person import KNOWN_NAME_SPANS, surname_length
from privacy.scanner import other_id_entity

#: Placeholder label per entity (others use the entity name).
PLACEHOLDER_LABELS = {"CN_ADDRESS": "LOCATION", "CN_BANK_CARD": "BANK_CARD"}

#: Tie-break when two overlapping spans have the same length: more specific first.
_SPECIFICITY = {
    "CN_DISABILITY_CERT": 9, "CN_STUDENT_NUMBER": 8, "CN_RIC": 7, "CN_BANK_CARD": 6, "CN_USCC": 6,
    "PHONE_NUMBER": 5, "EMAIL_ADDRESS": 5, "CN_PASSPORT": 4, "CN_HMT_PERMIT": 3, "CN_LICENSE_PLATE": 4,
    "CN_ADDRESS": 2, "PERSON": 1, "OTHER_ID": 6,
}

_DIGIT = re.compile(r"[0-9０-９]")
_DIGIT_ENTITIES = ["CN_RIC", "PHONE_NUMBER", "CN_BANK_CARD", "CN_USCC", "CN_PASSPORT", "CN_HMT_PERMIT",
                   "CN_DISABILITY_CERT", "CN_STUDENT_NUMBER"]
_PLATE_HINT = re.compile(r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领][A-Za-zＡ-Ｚａ-ｚ]")
_ADDRESS_HINT = re.compile(r"[0-9０-９一二三四五六七八九十百零〇两]\s?(?:号|组|栋|幢|室|单元|弄)")
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_BOUND = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ._")
_SEP_RUN = re.compile(r"[0-9A-Za-z]+(?:[ \-()+]+[0-9A-Za-z]+)*")
_ALNUM = re.compile(r"[0-9A-Za-z]+")
_DIGIT_RUN = re.compile(r"[0-9](?:[0-9Xx]|[ \-()](?=[0-9(+]))*")


@lru_cache(maxsize=65536)
def _normalized(kind: str, value: str):
    """``(target kind, normalized value, embedded resident ID or None)`` of one known value, ``()``
    when it normalizes to nothing (cached: :meth:`KnownIdentities.add` for one str value)."""
    ki = KnownIdentities().add(kind, [value])
    for k in KINDS:
        vals = getattr(ki, k)
        if vals and k != "id_numbers":
            return (k, next(iter(vals)), next(iter(ki.id_numbers), None))
    if ki.id_numbers:
        return ("id_numbers", next(iter(ki.id_numbers)), None)
    return ()


_norm_name = lru_cache(maxsize=65536)(normalize_name)
_id_variants = lru_cache(maxsize=65536)(lambda v: tuple(sorted(id_variants(v))))
_address_variants = lru_cache(maxsize=65536)(lambda v: tuple(sorted(address_variants(v))))


@dataclass(frozen=True)
class Span:
    """One span to replace: ``[start, end)`` in the original text, its entity, score, source
    ("analyzer" or "record") and ``key`` (the normalized value: equal keys share a placeholder)."""

    start: int
    end: int
    entity_type: str
    score: float
    source: str
    key: str


def _value_key(entity: str, value: str) -> str:
    if entity in ("CN_RIC",):
        r = validate_ric(value)
        return r.normalized if r.valid else re.sub(r"\W", "", value).upper()
    if entity == "PHONE_NUMBER":
        return normalize_phone(value).normalized or re.sub(r"\D", "", value)
    return re.sub(r"\s+", "", value)


class _KnownIndex:
    """The record's known values prepared for searching one note."""

    def __init__(self, known):
        if known is None:
            known = {}
        if not isinstance(known, KnownIdentities):
            ki = KnownIdentities()
            for kind in KINDS:
                vals = known.get(kind) if isinstance(known, Mapping) else None
                if vals:
                    for v in ([vals] if isinstance(vals, str) else vals):
                        # normalizing is cached per value (the same people recur across notes)
                        n = _normalized(kind, v) if isinstance(v, str) else None
                        if n is None:
                            ki.add(kind, [v])
                        elif n:
                            getattr(ki, n[0]).add(n[1])
                            if n[2]:
                                ki.id_numbers.add(n[2])
            known = ki
        self.names: dict[str, str] = {}
        for name in known.names:
            self.names[name] = name
            if len(name) >= 3:
                # the given name alone (王小明 → 小明; 欧阳欣琪 → 欣琪, and 阳欣琪 as a clerk may cut
                # it): the record says these are names, no surname knowledge needed
                self.names.setdefault(name[1:], name)
                k = surname_length(name)
                if len(name) >= 4 and len(name) - 2 >= 2:
                    self.names.setdefault(name[2:], name)
                elif k and len(name) - k >= 2:
                    self.names.setdefault(name[k:], name)
        self.digits: dict[str, tuple[str, str]] = {}
        for idn in known.id_numbers:
            for v in _id_variants(idn):
                self.digits[v] = ("CN_RIC", idn)
        for ph in known.phones:
            self.digits[ph] = ("PHONE_NUMBER", ph)
        self.addresses: dict[str, str] = {}
        for addr in known.addresses:
            for v in _address_variants(addr):
                self.addresses[v] = addr
        self.others: dict[str, str] = {oid: other_id_entity(oid) for oid in known.other_ids}

    def __bool__(self):
        return bool(self.names or self.digits or self.addresses or self.others)


_WORKER: NoteAnonymizer | None = None  # set in the parent just before forking workers


def _work_chunk(chunk):
    texts, known = chunk
    return _WORKER._sequential(texts, known)


#: Below this many notes a batch from a multi-threaded process stays in this process: a spawned worker
#: imports Presidio, jieba and the name model again (about 3 s), which pays off only on large batches.
SPAWN_MIN_TEXTS = 20_000


def _default_signals() -> None:
    """Initializer of a forked worker: the parent's signal handlers (e.g. Dagster's, which turn SIGTERM
    into an exception with a traceback) do not apply to a worker."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and terminates the pool


def _init_spawned(skip_words: frozenset, score_threshold: float, fast: bool) -> None:
    """Initializer of a spawned worker: its own anonymizer, built like the parent's."""
    global _WORKER
    _WORKER = NoteAnonymizer(skip_words, score_threshold=score_threshold, fast=fast)


#: Notes per task of :class:`BackgroundAnonymizer`: small enough that finished tasks free their notes
#: as the batch goes, large enough that sending them costs little (~1.5 s of work on one core).
BACKGROUND_TASK_NOTES = 2_500


class BackgroundAnonymizer:
    """Anonymize batches of notes in spawned worker processes while the caller goes on (issue 8).

    The ingest reads the visit records (1.64 M notes at 2,000,000 children, ~900 CPU-seconds) before
    the large structured tables, whose validation runs on one core: handed to workers here, the notes
    are anonymized on the other core while the ingest reads on. Workers are spawned, not forked: a
    forked worker would keep a copy of every page the ingest rewrites later (its memory grows to
    gigabytes), and fork is unsafe in a process with other threads. Each worker builds the same
    anonymizer as the parent's (:func:`_init_spawned`: its skip words, threshold and mode; the default
    analyzer, which is why :meth:`usable` requires it). Results are those of
    :meth:`NoteAnonymizer.anonymize_many` in the parent.

    Parameters
    ----------
    anonymizer : NoteAnonymizer
        The parent's anonymizer (:meth:`usable`).
    n_jobs : int
        Worker processes (-1: every core).

    Raises
    ------
    ValueError
        For an anonymizer that is not :meth:`usable`.
    """

    def __init__(self, anonymizer: NoteAnonymizer, n_jobs: int = -1):
        if not self.usable(anonymizer):
            raise ValueError("BackgroundAnonymizer needs a NoteAnonymizer on the default analyzer")
        self.n_jobs = (os.cpu_count() or 1) if n_jobs == -1 else max(1, n_jobs)
        ctx = mp.get_context("spawn")
        self._pool = ctx.Pool(self.n_jobs, initializer=_init_spawned,
                              initargs=(anonymizer.skip_words, anonymizer.score_threshold, anonymizer.fast))

    @staticmethod
    def usable(anonymizer) -> bool:
        """Whether spawned workers can rebuild ``anonymizer``: a :class:`NoteAnonymizer` on the process-wide
        default analyzer (a custom analyzer, e.g. a test's, cannot be sent to a new interpreter)."""
        return isinstance(anonymizer, NoteAnonymizer) and anonymizer.analyzer is shared_analyzer()

    def submit(self, texts: Sequence[str | None], known: Sequence[Mapping | None]):
        """Queue one batch (``known[i]`` belongs to ``texts[i]``); returns at once with a handle for
        :meth:`ready` and :meth:`result`.

        Raises
        ------
        ValueError
            If ``known`` has a different length than ``texts``.
        """
        texts, known = list(texts), list(known)
        if len(known) != len(texts):
            raise ValueError(f"known has {len(known)} entries for {len(texts)} texts")
        size = BACKGROUND_TASK_NOTES
        chunks = [(texts[i:i + size], known[i:i + size]) for i in range(0, len(texts), size)]
        return self._pool.map_async(_work_chunk, chunks, chunksize=1)

    @staticmethod
    def ready(handle) -> bool:
        """Whether the batch of ``handle`` is done (without waiting)."""
        return handle.ready()

    @staticmethod
    def result(handle) -> list[str | None]:
        """The anonymized notes of the batch of ``handle``, in order (waits; re-raises a worker's error)."""
        return [x for part in handle.get() for x in part]

    def close(self) -> None:
        """Let the workers finish their queued batches and exit."""
        self._pool.close()
        self._pool.join()

    def terminate(self) -> None:
        """Stop the workers at once (the ingest failed: their results are not needed)."""
        self._pool.terminate()
        self._pool.join()


def _find_all(haystack: str, needle: str):
    i = haystack.find(needle)
    while i >= 0:
        yield i
        i = haystack.find(needle, i + 1)


class NoteAnonymizer:
    """Replace personal information in Chinese free text by typed, numbered placeholders.

    Parameters
    ----------
    skip_words : iterable of str
        Words that are never a person's name here (community and place names, common words that a
        name recognizer might take for a name), e.g. the city's community names.
    score_threshold : float
        Minimum Presidio score of an analyzer span (default 0.4: checksum-valid identifiers score 1.0,
        names 0.5–1.0; weak shapes such as a bare passport-like string need a context word).
    analyzer : AnalyzerEngine, optional
        Defaults to the process-wide :func:`privacy.analyzer.shared_analyzer`.
    fast : bool
        True (default): :meth:`analyze` calls the engine's recognizers directly (same interfaces,
        no per-call engine overhead); False: through ``AnalyzerEngine.analyze``.

    Examples
    --------
    >>> anon = NoteAnonymizer()
    >>> anon.anonymize("奶奶王秀英说，孙子小明的电话138-0000-0000", known={"names": ["王小明"]})
    '奶奶<PERSON_1>说，孙子<PERSON_2>的电话<PHONE_NUMBER>'
    """

    def __init__(self, skip_words: Iterable[str] = (), *, score_threshold: float = DEFAULT_SCORE_THRESHOLD,
                 analyzer: AnalyzerEngine | None = None, fast: bool = True):
        self.analyzer = analyzer or shared_analyzer()
        self.fast = fast
        self._recognizers: dict = {}
        self.skip_words = frozenset(normalize_name(w) for w in skip_words if isinstance(w, str) and w.strip())
        self.score_threshold = score_threshold

    # -- public API -----------------------------------------------------------------------------------
    def anonymize(self, text: str | None, known: Mapping | None = None) -> str | None:
        """Anonymize one note.

        Parameters
        ----------
        text : str or None
            The note; None (a missing cell) is returned as None, "" as "".
        known : mapping, optional
            Identities of the people on this record: keys "names", "id_numbers", "phones",
            "addresses" (each a list of raw values, or a :class:`KnownIdentities`).

        Returns
        -------
        str or None
            The note with every span replaced by its placeholder.

        Raises
        ------
        TypeError
            If ``text`` is neither str nor None.
        """
        if text is None:
            return None
        if not isinstance(text, str):
            raise TypeError(f"text must be str or None, got {type(text).__name__}")
        if not text.strip():
            return text
        return self._replace(text, self.find_spans(text, known))

    def anonymize_many(self, texts: Sequence[str | None],
                       known: Sequence[Mapping | None] | None = None, *, n_jobs: int = 1) -> list[str | None]:
        """Anonymize a batch; ``known[i]`` belongs to ``texts[i]`` (or ``known`` is None).

        Identical texts without record identities are processed once.

        Parameters
        ----------
        texts : sequence of str or None
        known : sequence of mapping or None, optional
            Same length as ``texts``.
        n_jobs : int
            Worker processes (fork: the loaded engine is shared copy-on-write, nothing is rebuilt).
            1 (default) runs in this process; -1 uses every CPU. From a process that already runs other
            threads (fork would risk a deadlock) a batch of at least :data:`SPAWN_MIN_TEXTS` notes goes to
            spawned workers that build their own anonymizer (default analyzer only); smaller batches, and
            anonymizers with a custom analyzer, then run in this process.

        Returns
        -------
        list of str or None
            In the order of ``texts``.

        Raises
        ------
        ValueError
            If ``known`` is given with a different length than ``texts``.
        """
        texts = list(texts)
        if known is not None:
            known = list(known)
            if len(known) != len(texts):
                raise ValueError(f"known has {len(known)} entries for {len(texts)} texts")
        else:
            known = [None] * len(texts)
        if n_jobs == -1:
            n_jobs = os.cpu_count() or 1
        # fork only from a single-threaded process: a fork taken while another thread holds a lock (e.g. a
        # JVM gateway of pyspark, a web server, Dagster's) can deadlock the child (seen in CI: a hung
        # worker); from a multi-threaded process, large batches go to spawned workers instead
        if n_jobs > 1 and len(texts) >= 2 * n_jobs:
            if "fork" in mp.get_all_start_methods() and threading.active_count() == 1:
                return self._parallel(texts, known, n_jobs)
            if len(texts) >= SPAWN_MIN_TEXTS and self.analyzer is shared_analyzer():
                return self._parallel(texts, known, n_jobs, spawn=True)
        return self._sequential(texts, known)

    def _sequential(self, texts: list, known: list) -> list[str | None]:
        out: list[str | None] = []
        memo: dict = {}
        for text, k in zip(texts, known, strict=True):
            if k:
                out.append(self.anonymize(text, k))
            elif isinstance(text, str):
                if text not in memo:
                    memo[text] = self.anonymize(text, None)
                out.append(memo[text])
            else:
                out.append(self.anonymize(text, None))
        return out

    def _parallel(self, texts: list, known: list, n_jobs: int, *, spawn: bool = False) -> list[str | None]:
        global _WORKER
        n_chunks = n_jobs * 4
        size = -(-len(texts) // n_chunks)
        chunks = [(texts[i:i + size], known[i:i + size]) for i in range(0, len(texts), size)]
        if spawn:  # fresh interpreters, nothing inherited from this process's threads: each builds its own
            ctx, init, args = mp.get_context("spawn"), _init_spawned, (self.skip_words, self.score_threshold,
                                                                        self.fast)
        else:  # forked workers share this anonymizer copy-on-write
            ctx, init, args = mp.get_context("fork"), _default_signals, ()
            _WORKER = self
        try:
            with ctx.Pool(n_jobs, initializer=init, initargs=args) as pool:
                parts = pool.map(_work_chunk, chunks)
                pool.close()  # workers leave on their own: no SIGTERM at the end of the with-block
                pool.join()
        finally:
            _WORKER = None
        return [x for part in parts for x in part]

    def find_spans(self, text: str, known: Mapping | None = None) -> list[Span]:
        """The merged, non-overlapping spans that :meth:`anonymize` replaces, in text order."""
        spans: list[Span] = []
        entities = self._entities_worth_running(text)
        index = _KnownIndex(known)
        normalized, offsets = normalize_with_offsets(text)
        record = self._record_spans(normalized, offsets, index) if index else []
        # the record's names are names already: the person recognizer's CRF skips them (speed)
        token = KNOWN_NAME_SPANS.set(tuple((s.start, s.end) for s in record if s.entity_type == "PERSON"))
        try:
            results = self.analyze(text, entities)
        finally:
            KNOWN_NAME_SPANS.reset(token)
        for r in results:
            value = text[r.start:r.end]
            if r.entity_type == "PERSON" and _norm_name(value) in self.skip_words:
                continue
            spans.append(Span(r.start, r.end, r.entity_type, r.score, "analyzer",
                              _value_key(r.entity_type, value)))
        spans.extend(record)
        spans.extend(self._propagate_names(text, spans))
        return self._merge(spans)

    def analyze(self, text: str, entities: list[str]) -> list[RecognizerResult]:
        """Presidio analysis of one note, without ``AnalyzerEngine.analyze``'s per-call overhead.

        Does what :meth:`AnalyzerEngine.analyze` does for this use, with the engine's own NLP engine,
        registry recognizers and context enhancer: segment once (cached artifacts), run each
        recognizer of the requested entities through its Presidio ``analyze`` interface, raise scores
        by context words (only results below the threshold can change the outcome: the enhancer
        lifts a result with a context word to at least ``min_score_with_context_similarity`` = 0.4),
        and drop results below ``score_threshold``. Presidio's duplicate removal is not needed: the
        spans are merged afterwards (:meth:`_merge`). ``fast=False`` at construction uses
        ``AnalyzerEngine.analyze`` itself (same spans; kept for comparison and tests).
        """
        if not self.fast:
            return self.analyzer.analyze(text, language="zh", entities=entities,
                                         score_threshold=self.score_threshold)
        key = tuple(entities)
        recs = self._recognizers.get(key)
        if recs is None:
            recs = self.analyzer.registry.get_recognizers(language="zh", entities=list(entities))
            for rec in recs:
                if not rec.is_loaded:
                    rec.load()
                    rec.is_loaded = True
            self._recognizers[key] = recs
        art = self.analyzer.nlp_engine.process_text(text, "zh")
        results: list[RecognizerResult] = []
        for rec in recs:
            found = rec.analyze(text=text, entities=entities, nlp_artifacts=art)
            if found:
                for r in found:
                    meta = r.recognition_metadata
                    if meta is None:
                        r.recognition_metadata = meta = {}
                    if RecognizerResult.RECOGNIZER_IDENTIFIER_KEY not in meta:
                        meta[RecognizerResult.RECOGNIZER_IDENTIFIER_KEY] = rec.id
                        meta[RecognizerResult.RECOGNIZER_NAME_KEY] = rec.name
                results.extend(found)
        thr = self.score_threshold
        low = [r for r in results if r.score < thr]
        if low:
            self.analyzer.context_aware_enhancer.enhance_using_context(
                text=text, raw_results=low, nlp_artifacts=art, recognizers=recs, context=None)
        return [r for r in results if r.score >= thr]

    # -- internals ------------------------------------------------------------------------------------
    @staticmethod
    def _entities_worth_running(text: str) -> list[str]:
        """The entities whose recognizers can match at all (a cheap pre-check per note).

        Each identifier recognizer needs a run of ASCII letters/digits of some length in the NFKC
        text (a pattern match always lies inside such a run): phones 7+ digits (separators allowed),
        resident IDs 15+, bank cards 16+, passports a letter + 7 digits, travel permits 8 characters,
        USCC 18, student numbers 19 (or the word 学籍), disability certificates 20; e-mail needs an @,
        plates a province abbreviation followed by a letter, addresses a number followed by
        号/组/栋/幢/室/单元/弄; names are always looked for.
        """
        entities = ["PERSON"]
        if len(_DIGIT.findall(text)) >= 7:
            norm = normalize_with_offsets(text)[0]
            sep_digits = alnum = 0
            letter8 = False
            for m in _SEP_RUN.finditer(norm):
                g = m.group()
                d = sum(c.isdigit() for c in g)
                sep_digits = max(sep_digits, d)
                for run in _ALNUM.findall(g):
                    n = len(run)
                    if n > alnum:
                        alnum = n
                    if n >= 8 and not run.isdigit():
                        letter8 = True
            if sep_digits >= 7:
                entities.append("PHONE_NUMBER")
            if sep_digits >= 15:
                entities.append("CN_RIC")
            if sep_digits >= 16:
                entities.append("CN_BANK_CARD")
            if alnum >= 18:
                entities.append("CN_USCC")
            if letter8:
                entities.append("CN_PASSPORT")
            if alnum >= 8:
                entities.append("CN_HMT_PERMIT")
            if alnum >= 19 or "学籍" in norm:
                entities.append("CN_STUDENT_NUMBER")
            if alnum >= 20:
                entities.append("CN_DISABILITY_CERT")
        if "@" in text or "＠" in text:
            entities.append("EMAIL_ADDRESS")
        if _PLATE_HINT.search(text):
            entities.append("CN_LICENSE_PLATE")
        if _ADDRESS_HINT.search(text):
            entities.append("CN_ADDRESS")
        return entities

    def _record_spans(self, norm: str, offsets, index: _KnownIndex) -> list[Span]:
        out = []
        for variant, full in index.names.items():
            if variant in self.skip_words and variant != full:
                continue
            for i in _find_all(norm, variant):
                s, e = to_original(offsets, i, i + len(variant))
                out.append(Span(s, e, "PERSON", 1.0, "record", full))
        for variant, full in index.addresses.items():
            for i in _find_all(norm, variant):
                s, e = to_original(offsets, i, i + len(variant))
                out.append(Span(s, e, "CN_ADDRESS", 1.0, "record", full))
        if index.others:
            upper = norm.translate(_ASCII_UPPER)
            for oid, entity in index.others.items():
                for i in _find_all(upper, oid):
                    e = i + len(oid)
                    if (i > 0 and upper[i - 1] in _BOUND) or (e < len(upper) and upper[e] in _BOUND):
                        continue  # inside a token, hash or longer number (DESIGN §11.1)
                    s, e = to_original(offsets, i, e)
                    out.append(Span(s, e, entity, 1.0, "record", oid))
        if index.digits:
            chars, pos = [], []
            for m in _DIGIT_RUN.finditer(norm):
                for j in range(m.start(), m.end()):
                    c = norm[j]
                    if c.isdigit() or c in "Xx":
                        chars.append(c.upper())
                        pos.append(j)
                chars.append("|")
                pos.append(m.end())
            compact = "".join(chars)
            for digits, (entity, key) in index.digits.items():
                for i in _find_all(compact, digits):
                    s, e = to_original(offsets, pos[i], pos[i + len(digits) - 1] + 1)
                    out.append(Span(s, e, entity, 1.0, "record", key))
        return out

    def _propagate_names(self, text: str, spans: list[Span]) -> list[Span]:
        """Every other occurrence, in the same note, of a name already found (2+ characters)."""
        names = {text[s.start:s.end]: s.key for s in spans if s.entity_type == "PERSON"
                 and s.end - s.start >= 2}
        out = []
        for name, key in names.items():
            if _norm_name(name) in self.skip_words:
                continue
            for i in _find_all(text, name):
                out.append(Span(i, i + len(name), "PERSON", 0.9, "note", key))
        return out

    @staticmethod
    def _merge(spans: list[Span]) -> list[Span]:
        if not spans:
            return []
        spans = sorted(spans, key=lambda s: (s.start, -s.end))
        groups: list[list[Span]] = [[spans[0]]]
        end = spans[0].end
        for s in spans[1:]:
            if s.start < end:
                groups[-1].append(s)
                end = max(end, s.end)
            else:
                groups.append([s])
                end = s.end
        merged = []
        for g in groups:
            best = max(g, key=lambda s: (s.end - s.start, s.source == "record",
                                         _SPECIFICITY.get(s.entity_type, 0), s.score))
            start, stop = min(s.start for s in g), max(s.end for s in g)
            merged.append(Span(start, stop, best.entity_type, best.score, best.source, best.key))
        return merged

    @staticmethod
    def _replace(text: str, spans: list[Span]) -> str:
        if not spans:
            return text
        labels = [PLACEHOLDER_LABELS.get(s.entity_type, s.entity_type) for s in spans]
        numbers: dict[tuple[str, str], int] = {}
        per_label: dict[str, int] = {}
        for label, s in zip(labels, spans, strict=True):
            if (label, s.key) not in numbers:
                per_label[label] = per_label.get(label, 0) + 1
                numbers[(label, s.key)] = per_label[label]
        parts, last = [], 0
        for label, s in zip(labels, spans, strict=True):
            parts.append(text[last:s.start])
            if label == "PERSON" or per_label[label] > 1:
                parts.append(f"<{label}_{numbers[(label, s.key)]}>")
            else:
                parts.append(f"<{label}>")
            last = s.end
        parts.append(text[last:])
        return "".join(parts)
