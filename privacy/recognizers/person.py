"""PERSON: Chinese personal names in free text."""

from __future__ import annotations

from contextvars import ContextVar
from functools import lru_cache
from typing import ClassVar

import regex
from presidio_analyzer import AnalysisExplanation, Pattern, RecognizerResult

from privacy.recognizers._base import HAN, ChinesePatternRecognizer, token_list
from privacy.recognizers.lexicon import (
    COMPOUND_SURNAMES,
    FUNCTION_SURNAMES,
    HONORIFICS_AFTER,
    KIN_AFTER,
    NEVER_NAMES,
    NOT_IN_GIVEN_NAME,
    PLACE_SUFFIXES,
    ROLES_BEFORE,
    SINGLE_SURNAMES,
)


def _alt(words) -> str:
    return "|".join(sorted(set(words), key=lambda w: (-len(w), w)))


_SUR = f"(?:{_alt(COMPOUND_SURNAMES)}|[{''.join(sorted(SINGLE_SURNAMES))}])"
_SUR_STRICT = f"(?:{_alt(COMPOUND_SURNAMES)}|[{''.join(sorted(SINGLE_SURNAMES - FUNCTION_SURNAMES))}])"
_GIVEN = f"(?:(?![{''.join(sorted(NOT_IN_GIVEN_NAME))}]){HAN})"
_PLACE = _alt(PLACE_SUFFIXES)

#: A "given name" that is really a role, honorific or kinship word (李阿姨, 张老师, 王小明妈妈).
_NOT_GIVEN = frozenset(set(HONORIFICS_AFTER) | set(KIN_AFTER) | set(ROLES_BEFORE))

#: Look-ahead words of the kinship/honorific patterns (see CnPersonRecognizer._matches).
_ANCHORS = {
    "name + kinship": regex.compile(f"(?:{_alt(KIN_AFTER)})"),
    "nickname + kinship": regex.compile(f"(?:{_alt(KIN_AFTER)})"),
    "surname + honorific": regex.compile(f"(?:{_alt(HONORIFICS_AFTER)})"),
}

SCORE_NR_TOKEN = 0.5
#: ``(start, end)`` spans of names the caller already knows in the text being analyzed (the record's
#: own names: :class:`privacy.anonymizer.NoteAnonymizer` sets it around each analysis). The CRF skips
#: them like pattern matches; nothing else changes. Empty by default.
KNOWN_NAME_SPANS: ContextVar[tuple] = ContextVar("humiao_known_name_spans", default=())

#: A name of the CRF (:mod:`privacy.name_model`) that no pattern found.
SCORE_CRF = 0.6
#: A segmentation candidate is kept only when the CRF gives one of its characters at least this
#: marginal probability of being part of a name. Chosen on the simulated notes
#: (benchmarks/name_recognition.py): the lowest value at which none of jieba's false "nr" words comes
#: back (0.05 lets 陈述 "statement" through); it keeps 99 % of the notes' names. On MSRA it drops
#: two of three false segmentation candidates (文明, 安全性, 权威).
CRF_SUPPORT = 0.1
SCORE_OOV_TOKEN = 0.35
#: An unknown surname-initial token in a person's slot (clause start, before a verb, after a verb).
SCORE_OOV_SUBJECT = 0.45
_CLAUSE_START = frozenset("，。；：！？、,.;:!?（(「“\"\n ")


_PLACE_SET = frozenset(PLACE_SUFFIXES)
#: Suffixes of administrative-division names (GB/T 2260: 余杭区, 淳安县, 杭州市, 浙江省).
_ADMIN_SUFFIXES = frozenset("区县市省")


@lru_cache(maxsize=65536)
def surname_length(word: str) -> int:
    """Length of the surname ``word`` starts with (2 for a compound surname, 1, or 0 for none)."""
    if word[:2] in COMPOUND_SURNAMES:
        return 2
    return 1 if word[:1] in SINGLE_SURNAMES else 0


@lru_cache(maxsize=65536)
def is_given_name(chars: str) -> bool:
    """True when every character may occur in a given name."""
    return bool(chars) and all(
        ("\u3400" <= c <= "\u9fff") and c not in NOT_IN_GIVEN_NAME for c in chars
    )


class CnPersonRecognizer(ChinesePatternRecognizer):
    """Recognize Chinese personal names (entity ``PERSON``): patterns, segmentation and a CRF.

    Signals, each a candidate with its own score (Presidio's context enhancer adds +0.35 when a role
    word such as 奶奶/监护人/老师 stands within ten characters before):

    * **role + name** (0.85): a kinship/role word, then a surname and one or two given-name characters —
      ``奶奶王秀英``, ``监护人：李芳``;
    * **name + kinship** (0.75): ``王小明妈妈``, ``李华的奶奶``; **nickname + kinship** (0.7): ``小明妈妈``;
    * **surname + 某某** (0.85): ``王某某``, ``李某`` (not before a place word: 江某村);
    * **surname + honorific** (0.6): ``张老师`` → the surname ``张``.

    Surname characters that are also frequent function words (向, 和, 于, 常 …) start a pattern match
    only through segmentation, never through a pattern (向老师 = "to the teacher", 同学和音乐老师);
    * **segmentation** (needs the NLP artifacts of :class:`privacy.nlp.ChineseNlpEngine`): a token of
      2–4 Han characters that starts with a surname and is tagged ``nr`` in jieba's dictionary (0.5),
      or is unknown to the dictionary (``oov``, 0.35: passes a 0.4 threshold only with context); a
      surname token followed by a one- or two-character given-name token is joined.

    * **CRF** (:class:`privacy.name_model.PersonNameTagger`, a character-level CRF that the build step
      trains on the MSRA corpus; never on simulator data): it tags the text outside the pattern
      matches. A name it finds that nothing else found scores :data:`SCORE_CRF` (0.6) — transliterated
      foreign names (克林顿), names whose surname is not in the lexicon, names after a title
      (总经理 + name). It is also the judge of the segmentation candidates: one is kept only where
      the CRF gives one of its characters a name probability ≥ :data:`CRF_SUPPORT` (jieba tags many
      ordinary words ``nr``: 文明, 陈述), and raised to 0.6 when the CRF finds exactly that span.

    The end of a name is moved to a jieba token boundary (父亲王强打工 → 王强). A candidate is dropped
    when it is a dictionary word with another part of speech (高兴, 余杭), one of the role/kinship words,
    or followed by a place suffix (文新街道, 王家村).

    Surnames are the common single and compound surnames of the Hundred Family Surnames (public
    knowledge, :mod:`privacy.recognizers.lexicon`).

    Parameters
    ----------
    tagger : privacy.name_model.PersonNameTagger, optional
        Default :func:`privacy.name_model.shared_tagger` (the model of ``make setup``).
    **kwargs
        Passed to :class:`~privacy.recognizers._base.ChinesePatternRecognizer`.

    Raises
    ------
    privacy.name_model.ModelMissingError
        If the model file is missing (the message names the build command).
    privacy.name_model.StaleModelError
        If the model was built with other features or another surname lexicon.

    References
    ----------
    GB/T 28039-2011 中国人名汉语拼音字母拼写规则 (name structure: surname + given name);
    公安部户政管理研究中心 annual surname statistics; Presidio docs "Adding recognizers";
    SIGHAN 2006 bakeoff MSRA NER corpus (see :mod:`privacy.name_model`).
    """

    ENTITY = "PERSON"
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("role + name", rf"(?:{_alt(ROLES_BEFORE)})[:：\s]{{0,2}}(?P<name>{_SUR}{_GIVEN}{{1,2}})", 0.85),
        Pattern("name + kinship", rf"{_SUR_STRICT}{_GIVEN}{{1,2}}(?=的?(?:{_alt(KIN_AFTER)}))", 0.75),
        Pattern("nickname + kinship", rf"(?:小|阿){_GIVEN}(?=的?(?:{_alt(KIN_AFTER)}))", 0.7),
        Pattern("surname + 某某", rf"{_SUR}某某?(?!(?:{_PLACE}))", 0.85),
        Pattern("surname + honorific", rf"{_SUR_STRICT}(?=(?:{_alt(HONORIFICS_AFTER)}))", 0.6),
    ]
    CONTEXT: ClassVar[list[str]] = sorted(set(ROLES_BEFORE) | {"姓名", "名字", "叫"})

    def __init__(self, tagger=None, **kwargs):
        super().__init__(**kwargs)
        from privacy.name_model import shared_tagger
        from privacy.nlp import word_tags

        self._tags = word_tags()
        self._crf = tagger if tagger is not None else shared_tagger()

    # -- candidates ---------------------------------------------------------------------------------
    def is_common_word(self, word: str) -> bool:
        """True when ``word`` is a role/common word or a jieba dictionary word that is not a name."""
        if word in NEVER_NAMES:
            return True
        tag = self._tags.get(word)
        return tag is not None and not tag.startswith("nr")

    def _followed_by_place(self, text: str, end: int) -> bool:
        rest = text[end:end + 3]
        return rest[:1] in _PLACE_SET or rest[:2] in _PLACE_SET or rest in _PLACE_SET

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None,
                regex_flags: int | None = None) -> list[RecognizerResult]:
        """Names found by the patterns, by segmentation and by the CRF (spans in ``text`` coordinates).

        Pattern matches are kept as they are. Segmentation candidates are kept only where the CRF
        supports them (a CRF name overlaps them, or a character's name probability is at least
        :data:`CRF_SUPPORT`). CRF names found by nothing else are added (:data:`SCORE_CRF`) when they
        pass :meth:`_crf_name_ok`. The CRF skips the pattern matches and :data:`KNOWN_NAME_SPANS`.
        """
        tokens = token_list(nlp_artifacts)
        patterns: list[RecognizerResult] = []
        seen = set()
        # The patterns are run here rather than by PatternRecognizer.analyze, whose duplicate removal
        # would drop 林 (surname + honorific) inside 林老师 (role + name) before the latter is rejected.
        for pattern in self.patterns:
            if pattern.compiled_regex is None:
                pattern.compiled_regex = regex.compile(pattern.regex, flags=self.global_regex_flags)
            for m in self._matches(pattern, text):
                # "role + name" consumes the role word and captures the name (a look-behind over
                # a hundred alternatives at every position is several times slower)
                start, end = m.span("name") if "name" in pattern.compiled_regex.groupindex else m.span()
                span = self._snap(text, start, end, tokens, pattern.name)
                if span is None or span in seen:
                    continue
                seen.add(span)
                patterns.append(self._result(span[0], span[1], pattern.score, pattern.name))
        # The CRF decides the text outside the pattern matches and the caller's known names (they are
        # names already; cutting them out also makes the clauses around them recur across notes, so
        # those are decoded once).
        skip = [(r.start, r.end) for r in patterns]
        skip.extend(KNOWN_NAME_SPANS.get())
        crf = self._crf.tag(text, skip)
        crf_spans = set(crf)
        named = bytearray(len(text))
        for s, e in crf:
            named[s:e] = b"\x01" * (e - s)
        results = patterns
        for s, e, score, how in self._token_candidates(text, tokens):
            if (s, e) in seen:
                continue
            seen.add((s, e))
            if (s, e) in crf_spans:
                results.append(self._result(s, e, max(score, SCORE_CRF), f"{how} + crf"))
            elif any(named[s:e]) or self._crf.span_probability(text, s, e, skip) >= CRF_SUPPORT:
                results.append(self._result(s, e, score, how))
        for s, e in crf:
            if (s, e) not in seen and self._crf_name_ok(text, s, e):
                seen.add((s, e))
                results.append(self._result(s, e, SCORE_CRF, "crf"))
        return results

    def _crf_name_ok(self, text: str, s: int, e: int) -> bool:
        """Lexical checks on a CRF name: not a role/common word of :data:`NEVER_NAMES`, not followed by
        a place suffix (文新|街道, 王家|村), and no administrative-division suffix (区, 县, 市, 省) after
        its first character (the CRF, trained on news, takes 余杭区仁 in 余杭区仁和街道 for a name).
        jieba's dictionary is not consulted: many names are also dictionary words (黎明, 高峰)."""
        word = text[s:e]
        return (word not in NEVER_NAMES and not self._followed_by_place(text, e)
                and not any(c in _ADMIN_SUFFIXES for c in word[1:]))

    def _matches(self, pattern: Pattern, text: str):
        """``pattern``'s matches in ``text``; the patterns that end in a look-ahead on a kinship word
        or honorific run only in small windows before each occurrence of such a word (the look-ahead
        word is found first with one small regex; a name is at most 4 characters + 的), which finds
        every match a full scan finds at a fraction of the cost (a full scan tries a surname at every
        position)."""
        anchor = _ANCHORS.get(pattern.name)
        if anchor is None:
            yield from pattern.compiled_regex.finditer(text)
            return
        last = -1
        for a in anchor.finditer(text):
            p = a.start()
            lo = max(0, p - 5, last)
            for m in pattern.compiled_regex.finditer(text, lo, a.end()):
                if m.end() <= p and m.start() >= last:
                    last = m.end()
                    yield m

    def _bad_given(self, given: str) -> bool:
        """True when the "given name" is really a role, honorific or kinship word (李阿姨, 张老师)."""
        return given in _NOT_GIVEN or given[:2] in _NOT_GIVEN or given[:1] in ("某",)

    def _proper_noun(self, word: str) -> bool:
        """A dictionary proper noun (place/organisation name, 马东 ns) right after a role word is taken
        for a name; common words (NEVER_NAMES) never are."""
        return word not in NEVER_NAMES and self._tags.get(word, "")[:2] in ("ns", "nz", "nt")

    @staticmethod
    def _surname_in_word(tokens: list, s: int, k: int) -> bool:
        """True when the token starting at ``s`` is a dictionary word longer than the surname whose
        part of speech is never a name's (简单 a, 关心 v, 常常 d, 和睦 …: adjectives, adverbs,
        conjunctions, prepositions, particles, verbs, pronouns): the surname character belongs to
        that word. Nouns and time words are not evidence against a name (周天|骏)."""
        for ts, te, _w, tag in tokens:
            if ts == s:
                return (te - ts > k and tag != "oov"
                        and tag[:1] in ("a", "d", "c", "p", "u", "v", "r", "y", "e", "o", "z"))
            if ts > s:
                break
        return False

    def _rest_is_word(self, text: str, tokens: list, x: int) -> bool:
        """True when the token around ``x`` is a name character glued to a word by the segmenter:
        its part after ``x`` is itself a dictionary word of 2+ characters (王晨|可交谈 → 可 + 交谈)."""
        for ts, te, _w, _tag in tokens:
            if ts < x < te:
                rest = text[x:te]
                return len(rest) >= 2 and rest in self._tags
            if ts >= x:
                break
        return False

    def _splits_word(self, tokens: list, x: int) -> bool:
        """True when position ``x`` falls strictly inside a token that is a dictionary word."""
        for s, e, _w, tag in tokens:
            if s < x < e:
                return tag != "oov"
            if s >= x:
                break
        return False

    def _snap(self, text: str, s: int, e: int, tokens: list, how: str) -> tuple[int, int] | None:
        role = how == "role + name"
        if not role and self._splits_word(tokens, s):
            return None  # starts inside a word (邻居李阿姨: not 居李); after a role word the role
            # itself marks the start (外公文杰: jieba cuts 外/公文/杰)
        word = text[s:e]
        if how == "surname + honorific":
            tail = text[e:e + 3]
            if any(self.is_common_word(word + tail[:k]) and (word + tail[:k]) not in HONORIFICS_AFTER
                   for k in (2, 3)):
                return None  # 班主任: a word, not 班 + 主任
            return s, e
        if how in ("surname + 某某", "nickname + kinship"):
            return (s, e) if not self.is_common_word(word) else None
        k = surname_length(word) or 1
        if self._surname_in_word(tokens, s, k):
            return None  # 孩子简单聊: 简单 is a word, not the surname 简 + a given name
        for x in range(e, s + k, -1):
            if self._splits_word(tokens, x) and not self._rest_is_word(text, tokens, x):
                continue  # the name must not end inside a word (父亲王强打工 → 王强)
            cand = text[s:x]
            if k == 1 and len(cand) >= 3 and cand[0] in FUNCTION_SURNAMES and self.is_common_word(cand[1:]):
                continue  # 同学和音乐老师: the conjunction 和 + the word 音乐, not a name
            if ((not self.is_common_word(cand) or (role and self._proper_noun(cand)))
                    and not self._bad_given(cand[k:])
                    and not self._followed_by_place(text, x)):
                return s, x
        return None

    def _token_candidates(self, text: str, tokens: list):
        """Names from the segmentation: a surname-initial token tagged ``nr`` (0.5) or unknown to the
        dictionary (``oov``, 0.35: needs a context word) — raised to :data:`SCORE_OOV_SUBJECT` when
        the token stands where a person usually does: at the start of a clause (after punctuation or
        at the start of the text: ``王怡雨因外伤就诊``) or right before a preposition/verb/adverb
        token (``秦浩毅在家中``, ``林铭打伤``), or right after a verb token (``殴打秦乐一``). A
        two-character surname token is extended by a following single given-name character that
        the segmenter split off (林轩|一 → 林轩一)."""
        n = len(tokens)
        i = 0
        while i < n:
            s, e, w, tag = tokens[i]
            k = surname_length(w)
            if (k and 2 <= len(w) <= 4 and is_given_name(w[k:]) and tag in ("nr", "nrfg", "nrt", "oov")
                    and len(w) - k <= 2):  # a given name has 1–2 characters (关系融洽 is not a name)
                if (not self.is_common_word(w) and not self._bad_given(w[k:])
                        and not self._followed_by_place(text, e)):
                    if len(w) - k == 1 and i + 1 < n and self._lone_given_char(tokens, i + 1):
                        e = tokens[i + 1][1]  # 林轩|一被父亲 → 林轩一
                        i += 1
                    # jieba's dictionary tags many ordinary two-character words nr (文明, 明白, 智慧, 陈述):
                    # a two-character nr word is weak evidence, like an unknown token
                    weak = tag == "oov" or len(w) == 2
                    score = SCORE_NR_TOKEN if not weak else (
                        SCORE_OOV_SUBJECT if self._person_slot(text, tokens, i, s) else SCORE_OOV_TOKEN)
                    yield s, e, score, f"token {tag}"
            elif k == len(w) and i + 1 < n:
                s2, e2, w2, tag2 = tokens[i + 1]
                if (1 <= len(w2) <= 2 and s2 == e and is_given_name(w2)
                        and tag2 in ("nr", "nrfg", "nrt", "oov") and not self.is_common_word(w + w2)
                        and not self._bad_given(w2)
                        and not self._followed_by_place(text, e2)):
                    score = SCORE_NR_TOKEN if tag2 != "oov" else (
                        SCORE_OOV_SUBJECT if self._person_slot(text, tokens, i + 1, s) else SCORE_OOV_TOKEN)
                    yield s, e2, score, "surname + token"
                    i += 2
                    continue
            i += 1

    @staticmethod
    def _lone_given_char(tokens: list, j: int) -> bool:
        """Token ``j`` is one Han character that may end a given name (一, 然 …), split off by the
        segmenter, and what follows it is punctuation, the end, or a preposition/verb."""
        s, e, w, tag = tokens[j]
        if e - s != 1 or not is_given_name(w) or tag not in ("m", "oov", "nr", "ng", "a", "n"):
            return False
        if j + 1 >= len(tokens):
            return True
        nxt = tokens[j + 1][3]
        return nxt == "x" or nxt[:1] in ("p", "v")

    @staticmethod
    def _person_slot(text: str, tokens: list, i: int, start: int) -> bool:
        """The token ending at index ``i`` (starting at ``start``) stands where a person does."""
        if start == 0 or text[start - 1] in _CLAUSE_START:
            return True
        if i + 1 < len(tokens) and tokens[i + 1][3][:1] in ("p", "v", "d"):
            return True
        j = i
        while j >= 0 and tokens[j][0] >= start:
            j -= 1
        return j >= 0 and tokens[j][3][:1] == "v" and tokens[j][1] == start

    def _result(self, start: int, end: int, score: float, how: str) -> RecognizerResult:
        explanation = AnalysisExplanation(
            recognizer=self.name, original_score=score, pattern_name=how, pattern=None,
            validation_result=None,
        )
        return RecognizerResult(
            entity_type=self.ENTITY, start=start, end=end, score=score,
            analysis_explanation=explanation,
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )
