"""CN_ADDRESS: street addresses down to the house number / room (住址)."""

from __future__ import annotations

from typing import ClassVar

import regex
from presidio_analyzer import AnalysisExplanation, Pattern, RecognizerResult

from privacy.recognizers._base import (
    HAN,
    ChinesePatternRecognizer,
    normalize_with_offsets,
    to_original,
    token_list,
)

#: A number written in digits or Chinese numerals (三组, 十二号).
NUM = r"(?:\d{1,5}|[一二三四五六七八九十百零〇两]{1,4})"
#: Units below the house number: building, entrance, floor, room.
UNIT = rf"(?:[-之]?\s?{NUM}\s?(?:号楼|栋|幢|座|单元|层|楼|室|号房|户|号))"
ROAD = r"(?:路|街|巷|弄|大道|胡同|里)"
ESTATE = r"(?:小区|花园|新村|家园|公寓|大厦|苑|园|城|广场|社区|村|庄|屯|湾|坊)"
#: The place words an address may begin with (longest first).
ADMIN = r"(?:自治区|省|市|区|县|镇|乡|街道|村|社区)"

#: Words just before an address that are not part of it (家住学院路… → 学院路…). The span starts after
#: the last of them.
_TRIGGER = regex.compile(
    r"家住|住址|地址|住在|住于|居住在|居住于|居住|现住|现居|位于|户籍地|籍贯|搬到|搬至|搬往|迁至|迁往|迁入|"
    r"回到|来自|前往|去往|送至|送到|租住|暂住|寄住|借住|在|住|到|至|从|往|是|为|的|与|及|或|"
    r"[\s,，。;；:：、()（）\[\]【】“”\"'!！?？]"
)


def _is_han(c: str) -> bool:
    return "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf"


#: The fine parts the address analysis is anchored on: (regex, score, pattern name); each needs Han
#: characters (the place chain) right before it.
_TAILS = [
    (regex.compile(rf"{ROAD}\s?{NUM}\s?(?:号|弄)(?:{NUM}号)?{UNIT}*"), 0.6, "road + number"),
    (regex.compile(rf"{ESTATE}\s?{NUM}\s?(?:号楼|栋|幢|座|号|组){UNIT}*"), 0.55, "estate + building"),
    (regex.compile(rf"{NUM}\s?(?:栋|幢|号楼){UNIT}+"), 0.5, "building/unit/room"),
]


class CnAddressRecognizer(ChinesePatternRecognizer):
    """Recognize Chinese street addresses that reach a house number, building, room or village group.

    An address is a chain of place units, coarse to fine: 省/自治区, 市, 区/县, 镇/乡/街道, 村/社区,
    a road (路/街/巷/弄/大道/胡同) or an estate (小区/花园/新村/苑…), then 号, 栋/幢/号楼, 单元, 层, 室,
    or for villages 村 + 组 (``余杭区某村3组``). Only addresses that reach this fine level are personal
    data here: a community or township name alone (文新街道某社区) is a quasi-identifier that the
    pipeline keeps (DESIGN §5), so it is not matched.

    Regex/segmentation hybrid: the patterns find the fine part and the text before it; the start is then
    moved past the last trigger word (家住, 地址, 在, punctuation…) so that the span holds the place chain
    only; with NLP artifacts, leading tokens that are prepositions, pronouns, adverbs, time words or
    role words (孩子, 奶奶) are dropped too.
    Digits may be full-width (NFKC).

    References
    ----------
    GB/T 23705-2009 数字城市地理信息公共平台地名/地址编码规则; 民政部 《地名管理条例》 (2022).
    """

    ENTITY = "CN_ADDRESS"
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("road + number", rf"{HAN}{{1,30}}?{ROAD}\s?{NUM}\s?(?:号|弄)(?:{NUM}号)?{UNIT}*", 0.6),
        Pattern("estate + building", rf"{HAN}{{1,30}}?{ESTATE}\s?{NUM}\s?(?:号楼|栋|幢|座|号|组){UNIT}*", 0.55),
        Pattern("building/unit/room", rf"{HAN}{{1,30}}?{NUM}\s?(?:栋|幢|号楼){UNIT}+", 0.5),
    ]
    CONTEXT: ClassVar[list[str]] = ["住址", "地址", "家住", "住在", "户籍地", "居住", "现住", "家庭住址", "住"]

    _LEADING_TAGS = ("p", "r", "d", "t", "c", "u", "x", "y", "e")

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None,
                regex_flags: int | None = None) -> list[RecognizerResult]:
        """Addresses in ``text`` (spans in original coordinates), start moved past trigger words.

        Equivalent to running :attr:`PATTERNS` (leftmost match, lazy place-name part) but anchored on
        the fine part: the regex engine starts only where a road/estate suffix or a building number
        is, and the place chain is the run of Han characters (at most 30) before it.
        """
        normalized, offsets = normalize_with_offsets(text)
        found: dict[tuple[int, int], tuple[float, str]] = {}
        for regex_, score, name in _TAILS:
            for m in regex_.finditer(normalized):
                s = m.start()
                k = 0
                while k < 30 and s - k - 1 >= 0 and _is_han(normalized[s - k - 1]):
                    k += 1
                if k == 0:
                    continue
                start = self._trim_start(normalized, s - k, m.end())
                if m.end() - start < 4:
                    continue
                key = (start, m.end())
                if key not in found or found[key][0] < score:
                    found[key] = (score, name)
        # a match inside a longer one (e.g. "3幢2单元301室" inside the full address) is dropped
        results: list[RecognizerResult] = []
        last_end = -1
        for s, e in sorted(found, key=lambda x: (x[0], -x[1])):
            if e <= last_end:
                continue
            last_end = e
            score, name = found[(s, e)]
            os_, oe = to_original(offsets, s, e)
            results.append(self._result(os_, oe, score, name))
        if nlp_artifacts is not None:
            self._drop_leading_tokens(results, nlp_artifacts)
        return [r for r in results if r.end - r.start >= 4]

    def _result(self, start: int, end: int, score: float, how: str) -> RecognizerResult:
        explanation = AnalysisExplanation(recognizer=self.name, original_score=score, pattern_name=how,
                                          pattern=None, validation_result=None)
        return RecognizerResult(
            entity_type=self.ENTITY, start=start, end=end, score=score, analysis_explanation=explanation,
            recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                                  RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id},
        )

    @staticmethod
    def _trim_start(text: str, start: int, end: int) -> int:
        # the fine part starts at the first digit/numeral unit; triggers are looked for before it
        m = regex.search(rf"{ROAD}|{ESTATE}|{NUM}\s?(?:号|栋|幢|号楼|组)", text[start:end])
        limit = start + (m.start() if m else end - start)
        last = start
        for t in _TRIGGER.finditer(text, start, limit):
            last = t.end()
        return last

    def _drop_leading_tokens(self, results: list[RecognizerResult], nlp_artifacts) -> None:
        from privacy.recognizers.lexicon import ROLES_BEFORE

        roles = set(ROLES_BEFORE)
        tokens = token_list(nlp_artifacts)
        for r in results:
            for s, e, w, tag in tokens:
                if e <= r.start:
                    continue
                if s >= r.end or s < r.start:
                    break
                leading = (tag.startswith(self._LEADING_TAGS) and not tag.startswith("ns")) or w in roles
                if leading and e < r.end:
                    r.start = e
                    continue
                break
