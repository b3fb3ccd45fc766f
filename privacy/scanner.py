"""The leak scanner: is there raw personal information where there must be none? (DESIGN §5, §11.1)

Deliberately *not* the anonymizer (it must not share its blind spots) and deliberately narrow (it must
not fire on ordinary Chinese words), it looks for two things only:

1. **Validated identifier patterns** — checksum-valid resident IDs (18-digit, 15-digit legacy), mobile
   and landline numbers, bank cards (Luhn over 16–19 digits, not a resident ID), disability
   certificate numbers (ID + category + grade) and student numbers (G + ID). Digit runs are bounded
   by ``[0-9A-Za-z._]`` on both sides (§11.1; ``_`` added so the hex part of a token ``P_k1_3fa9…`` is
   never a run), so digits inside tokens, hashes and decimals are not identifiers, nor is a run that is
   one link of a longer hyphenated chain of letters and digits (UUIDs such as ``04d7b7a3-0424-4629-9308-
   e473ced52b6c`` in Dagster's event logs, whose middle groups look like a 4-4-4 phone); groups separated by
   spaces/dashes count only in the written forms of phones (3-4-4, +86), landlines (0571-…), IDs
   (6-8-4) and cards (4-4-4-4), so dates and amounts never join into a number.
2. **The known identities** (:class:`privacy.identities.KnownIdentities`) everywhere: IDs (and their
   15-digit legacy form), phones and other identifiers as whole runs of ``[0-9A-Za-z_]``, looked up
   by 64-bit hash in a sorted array; addresses (and their tails without district prefix, when they
   reach a house number) with one Aho–Corasick key per address (pyahocorasick; its shortest form,
   widened to the longest known form that ends there); names of 3+ characters in the same
   automaton; 2-character names only in free text and not when the name is a common word or place
   name (a skip list: the caller's words plus jieba dictionary words that are not person names).
   Finding for finding this is what one automaton of every written form gave; at 2,000,000 children
   (5.8 M IDs, 15 M identifier forms, 5.8 M address forms) it takes 1.5 GB built in 60 s instead of
   8.3 GB in 134 s (issue 8).

Findings carry the location, column, row and entity type and a **masked** value
(``3301**********1236``, ``王*明``, ``138****0000``), never the value itself.

One scanner for asset checks, tests and the CLI: :meth:`LeakScanner.scan_dataframe` (each unique
value scanned once, all values of a column in one regex and one automaton pass),
:meth:`LeakScanner.scan_path` (CSV in UTF-8 or GB18030, XLSX, Parquet, JSON, YAML, HTML, Markdown,
text/logs, SQLite databases such as the MLflow store and the Dagster run/event-log databases —
compressed BLOB cells (Dagster snapshots) are decompressed and scanned —, gzip/bz2/xz files and zip
archives member by member, LightGBM text models; binary files are skipped and listed in
``LeakScanner.skipped``) and :func:`scan_paths`.
"""

from __future__ import annotations

import bisect
import html
import itertools
import json
import os
import re
import sqlite3
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from privacy.identifiers import LANDLINE, MOBILE, luhn_valid, normalize_phone, validate_ric
from privacy.identities import KnownIdentities, address_variants, legacy_id, normalize_name
from privacy.tokens import is_token

# ------------------------------------------------------------------------------------------ findings


@dataclass(frozen=True)
class Finding:
    """One piece of personal information found.

    Attributes
    ----------
    location : str
        File path (``path::table`` for an SQLite table, ``path#sheet`` for a workbook sheet) or the
        name given to :meth:`LeakScanner.scan_dataframe`.
    column : str or None
        Column (JSON/YAML: the key path); None for plain text files.
    row : int or None
        0-based row position in the table (DataFrame ``iloc``; the first data row of a CSV/XLSX is 0),
        0-based line index in a text file; None for a column name.
    entity_type : str
        CN_RIC, PHONE_NUMBER, CN_BANK_CARD, CN_DISABILITY_CERT, CN_STUDENT_NUMBER, OTHER_ID (a known
        household number or other identifier), PERSON or CN_ADDRESS.
    masked : str
        The value with its middle masked; never the full value.
    """

    location: str
    column: str | None
    row: int | None
    entity_type: str
    masked: str


def mask(entity_type: str, value: str) -> str:
    """Mask ``value`` for a report: IDs/cards keep 4+4 characters, phones 3+4, names the first and
    last character (2-character names the first), addresses the first 3."""
    v = value.strip()
    if entity_type == "PERSON":
        return v[0] + "*" if len(v) <= 2 else v[0] + "*" * (len(v) - 2) + v[-1]
    if entity_type == "CN_ADDRESS":
        return v[:3] + "*" * max(len(v) - 3, 3)
    d = "".join(c for c in v if c.isalnum())
    if entity_type == "PHONE_NUMBER":
        if d.startswith("86") and len(d) == 13:
            d = d[2:]
        return d[:3] + "*" * max(len(d) - 7, 1) + d[-4:]
    if len(d) <= 8:
        return d[:2] + "*" * max(len(d) - 2, 1)
    if len(d) <= 14:  # household numbers and other short identifiers: at most 4 characters shown
        return d[:2] + "*" * (len(d) - 4) + d[-2:]
    return d[:4] + "*" * (len(d) - 8) + d[-4:]


# ------------------------------------------------------------------------------ identifier patterns

_B = "0-9A-Za-z._"
_CANDIDATE = re.compile(
    rf"(?<![{_B}+])(?<![{_B}]-)(?:\+|00)?\(?[0-9][0-9Xx]*(?:(?:[ \-]|\)[ \-]?)[0-9][0-9Xx]*)*(?![{_B}])(?!-[{_B}])"
)
_STUDENT = re.compile(rf"(?<![{_B}])[GL]([0-9]{{17}}[0-9X])(?![{_B}])")
_SEP = re.compile(r"[ \-()]+")
_GROUP_SHAPES = {
    (3, 4, 4): "PHONE", (2, 3, 4, 4): "PHONE", (4, 3, 4, 4): "PHONE",  # mobile, 86/0086 + mobile
    (3, 8): "PHONE", (4, 8): "PHONE", (4, 7): "PHONE", (3, 7): "PHONE",  # landline area-subscriber
    (4, 4, 4): "PHONE",
    (6, 8, 4): "ID", (6, 4, 4, 4): "ID",
    (4, 4, 4, 4): "CARD", (4, 4, 4, 4, 1): "CARD", (4, 4, 4, 4, 2): "CARD", (4, 4, 4, 4, 3): "CARD",
    (6, 13): "CARD", (6, 12): "CARD",
}
_CARD_MII = frozenset("234569")


def classify_digits(d: str) -> str | None:
    """Entity of a continuous digit string (upper-case X allowed at ID check positions), or None."""
    n = len(d)
    if n == 20 and d[18] in "1234567" and d[19] in "1234" and validate_ric(d[:18]).valid:
        return "CN_DISABILITY_CERT"
    if n == 18:
        if validate_ric(d).valid:
            return "CN_RIC"
        return "CN_BANK_CARD" if d.isdigit() and d[0] in _CARD_MII and luhn_valid(d) else None
    if not d.isdigit():
        return None
    if n == 15 and validate_ric(d).valid:
        return "CN_RIC"
    if n in (16, 17, 19):
        return "CN_BANK_CARD" if d[0] in _CARD_MII and luhn_valid(d) else None
    if 10 <= n <= 15 and normalize_phone(d).kind in (MOBILE, LANDLINE):
        if n >= 13 and not (d.startswith("86") or d.startswith("0086")):
            return None
        return "PHONE_NUMBER"
    return None


def _classify_candidate(s: str, start: int):
    """Yield (entity, start, end) for one candidate run of the normalized text."""
    if len(s) < 10 and not _SEP.search(s):
        return
    plus = s.startswith("+")
    body = s[1:] if plus else s
    offset = start + (1 if plus else 0)
    if not _SEP.search(body):
        d = body.upper()
        ent = classify_digits(d)
        if ent is None and (d.startswith("86") or d.startswith("0086")):
            rest = d[2:] if d.startswith("86") else d[4:]
            ent = "PHONE_NUMBER" if classify_digits(rest) == "PHONE_NUMBER" else None
        if ent:
            yield ent, start, start + len(s)
        return
    parts = [(m.start(), m.end()) for m in re.finditer(r"[0-9Xx]+", body)]
    i = 0
    while i < len(parts):
        for w in (5, 4, 3, 2, 1):  # the longest written form starting at group i, else the group alone
            window = parts[i:i + w]
            if len(window) < w:
                continue
            ent = _classify_groups(body, window, plus and i == 0)
            if ent:
                b, e = window[0][0], window[-1][1]
                yield ent, (start if plus and i == 0 else offset + b), offset + e
                i += w
                break
        else:
            i += 1


def _classify_groups(body: str, window: list, plus: bool) -> str | None:
    """Entity of consecutive digit groups written in one of the known forms (or of one group)."""
    if len(window) == 1:
        b, e = window[0]
        return classify_digits(body[b:e].upper())
    kind = _GROUP_SHAPES.get(tuple(e - b for b, e in window))
    if kind is None:
        return None
    digits = "".join(body[b:e] for b, e in window).upper()
    if kind == "PHONE":
        text = ("+" if plus else "") + body[window[0][0]:window[-1][1]]
        return "PHONE_NUMBER" if normalize_phone(text).kind in (MOBILE, LANDLINE) else None
    if kind == "ID":
        return "CN_RIC" if validate_ric(digits).valid else None
    ok = digits.isdigit() and digits[0] in _CARD_MII and luhn_valid(digits) and not validate_ric(digits).valid
    return "CN_BANK_CARD" if ok else None


def find_identifiers(norm: str) -> list[tuple[str, int, int]]:
    """Validated identifiers in an NFKC-normalized string: ``(entity, start, end)``."""
    out = []
    for m in _CANDIDATE.finditer(norm):
        out.extend(_classify_candidate(m.group(), m.start()))
    for m in _STUDENT.finditer(norm):
        if validate_ric(m.group(1)).valid:
            out.append(("CN_STUDENT_NUMBER", m.start(), m.end()))
    return out


# ------------------------------------------------------------------------------------- the scanner

#: A line of a LightGBM text model that holds only numbers: ``key=1 2.5 -3e-05 …`` (or no key).
_NUMERIC_LINE = re.compile(r"^(?:[a-z_]+=)?[-+0-9.eE ]*$")

_BOUND_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._")
_RUN = r"\dA-Za-z_"


def _hashes(values) -> np.ndarray:
    """64-bit hashes (int64) of strings: pandas' SipHash with its fixed key, so they are the same in
    every process (:func:`pandas.util.hash_array`)."""
    arr = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    if len(arr) == 0:
        return np.empty(0, dtype=np.int64)
    return pd.util.hash_array(arr, categorize=False).view(np.int64)


class _SortedHashes:
    """A set of 64-bit string hashes with a small code per member: a sorted ``int64`` array searched
    with :func:`numpy.searchsorted` (8 + 1 bytes a member, against an Aho–Corasick path of some
    hundred bytes: at 2,000,000 children the known identifiers are 15 M written forms; issue 8).

    Two different strings share a hash with probability about n / 2**64 per lookup (1e-12 at 15 M);
    such a collision reports a finding where there is none — the scanner fails closed."""

    def __init__(self, hashes: np.ndarray, codes: np.ndarray):
        order = np.argsort(hashes, kind="stable")
        h, c = hashes[order], codes[order]
        last = np.ones(len(h), dtype=bool)  # for a repeated hash the member added last wins
        last[:-1] = h[1:] != h[:-1]
        self.hashes, self.codes = h[last], c[last]

    @classmethod
    def sorted(cls, hashes: np.ndarray, codes: np.ndarray) -> _SortedHashes:
        """Members already sorted and unique (from :attr:`hashes` and :attr:`codes` of another set)."""
        self = cls.__new__(cls)
        self.hashes, self.codes = hashes, codes
        return self

    def __len__(self) -> int:
        return len(self.hashes)

    def lookup(self, query: np.ndarray) -> np.ndarray:
        """The code of each queried hash, -1 for a hash that is not a member."""
        out = np.full(len(query), -1, dtype=np.int16)
        if len(self.hashes) == 0 or len(query) == 0:
            return out
        i = np.searchsorted(self.hashes, query)
        i[i == len(self.hashes)] = 0
        hit = self.hashes[i] == query
        out[hit] = self.codes[i[hit]]
        return out


class _KnownRuns:
    """The known identifiers written in ASCII letters and digits — resident IDs (and their legacy
    15-digit form), phones, other identifiers — found as whole runs of ``[0-9A-Za-z_]`` by hash lookup.

    A known identifier only ever counts as a whole run (DESIGN §11.1, :meth:`LeakScanner._digit_bounded`,
    :meth:`LeakScanner._strictly_bounded`), so the text's runs of a possible length are looked up,
    not searched for every identifier. The one match inside a run is a known phone after the country
    code (``86``/``0086``, also glued to it: ``8613800000000``).

    Parameters
    ----------
    known : KnownIdentities
        Its ``id_numbers``, ``phones`` and ``other_ids`` (the strings themselves are not kept).
    """

    ENTITIES = ("CN_RIC", "PHONE_NUMBER", "OTHER_ID", "CN_STUDENT_NUMBER", "CN_DISABILITY_CERT")

    def __init__(self, known: KnownIdentities):
        ids = [i.upper() for i in known.id_numbers]
        ids += [v for v in map(legacy_id, ids) if v]  # :func:`privacy.identities.id_variants`
        phones = list(known.phones)
        self.phone_lengths = sorted({len(ph) for ph in phones})
        others = list(getattr(known, "other_ids", ()))
        other_codes = [self.ENTITIES.index(other_id_entity(o)) if len(o) in (19, 20) else 2 for o in others]
        others += [o.lower().replace("x", "X") for o in others]  # as the text reads after x → X
        other_codes += other_codes
        lengths = [n for part in (ids, phones, others) if part for n in (min(map(len, part)), max(map(len, part)))]
        # added in this order, an identifier that is also an other identifier is reported as the latter
        self.set = _SortedHashes(
            np.concatenate([_hashes(ids), _hashes(phones), _hashes(others)]),
            np.concatenate([np.zeros(len(ids), np.int8), np.ones(len(phones), np.int8),
                            np.asarray(other_codes, dtype=np.int8)]))
        del ids, phones, others
        self.lengths = (min(lengths), max(lengths)) if lengths else None
        self._compile()

    def _compile(self) -> None:
        lo_hi = self.lengths
        self._run = re.compile(rf"(?<![{_RUN}])[{_RUN}]{{{lo_hi[0]},{lo_hi[1]}}}(?![{_RUN}])") if lo_hi else None
        self._after_cc = [re.compile(rf"86([0-9]{{{n}}})(?![{_RUN}])") for n in self.phone_lengths]

    def state(self) -> dict:
        """What :meth:`from_state` needs (hashes and lengths: no identifier itself)."""
        return {"hashes": self.set.hashes, "codes": self.set.codes, "phone_lengths": self.phone_lengths,
                "lengths": self.lengths}

    @classmethod
    def from_state(cls, state: dict) -> _KnownRuns:
        self = cls.__new__(cls)
        self.set = _SortedHashes.sorted(state["hashes"], state["codes"])
        self.phone_lengths = list(state["phone_lengths"])
        self.lengths = tuple(state["lengths"]) if state["lengths"] else None
        self._compile()
        return self

    def __len__(self) -> int:
        return len(self.set)

    def find(self, target: str) -> list[tuple[str, int, int]]:
        """``(entity, start, end)`` of each known identifier in ``target`` (NFKC, ``x`` → ``X``)."""
        if self._run is None:
            return []
        out: list[tuple[str, int, int]] = []
        runs = self._run.findall(target)
        if runs:
            codes = self.set.lookup(_hashes(runs))
            hits = np.flatnonzero(codes >= 0)
            if len(hits):
                wanted = dict(zip(hits.tolist(), codes[hits].tolist(), strict=True))
                for i, m in enumerate(self._run.finditer(target)):
                    code = wanted.get(i)
                    if code is not None:
                        self._keep(out, target, code, m.start(), m.end())
        for pattern in self._after_cc:
            found = [(m.start(1), m.end(1), m.group(1)) for m in pattern.finditer(target)]
            if found:
                codes = self.set.lookup(_hashes([f[2] for f in found]))
                for (start, end, _), code in zip(found, codes.tolist(), strict=True):
                    if code == 1:
                        self._keep(out, target, code, start, end)
        return out

    def _keep(self, out: list, target: str, code: int, start: int, end: int) -> None:
        entity = self.ENTITIES[code]
        if code >= 2:
            if LeakScanner._strictly_bounded(target, start, end):
                out.append((entity, start, end))
        elif LeakScanner._digit_bounded(target, start, end, entity):
            out.append((entity, start, end))


class _KnownAddresses:
    """Known addresses: one Aho–Corasick key per address — its shortest written form (the tail every
    other form ends with, :func:`privacy.identities.address_variants`) — and the hashes of all the
    forms, so that a match is widened to the longest known form ending there (the span the full
    automaton of every form gave, at a quarter of its keys)."""

    def __init__(self, known: KnownIdentities | None = None):
        self.tails: dict[str, tuple[int, ...]] = {}
        if known is None:  # :meth:`from_state`
            return
        forms: list[str] = []
        lengths: dict[str, set] = {}
        for addr in known.addresses:
            variants = address_variants(addr)
            if not variants:
                continue
            forms.extend(variants)
            lengths.setdefault(min(variants, key=len), set()).update(len(v) for v in variants)
        self._set_tails(lengths, (sorted(ns, reverse=True) for ns in lengths.values()))
        self.set = _SortedHashes(_hashes(forms), np.zeros(len(forms), dtype=np.int8))

    def _set_tails(self, tails, lengths) -> None:
        """``tails`` → their lengths (longest first), one tuple object per distinct set of lengths."""
        shared: dict[tuple, tuple] = {}
        self.tails = {t: shared.setdefault(tuple(n), tuple(n)) for t, n in zip(tails, lengths, strict=True)}

    def state(self) -> dict:
        return {"tails": list(self.tails), "lengths": list(self.tails.values()), "hashes": self.set.hashes}

    @classmethod
    def from_state(cls, state: dict) -> _KnownAddresses:
        self = cls()
        self._set_tails(state["tails"], state["lengths"])
        self.set = _SortedHashes.sorted(state["hashes"], np.zeros(len(state["hashes"]), dtype=np.int8))
        return self

    def widest(self, target: str, end: int, lengths: tuple[int, ...]) -> int:
        """Length of the longest known form ending at ``target[end]`` (inclusive) among ``lengths``
        (longest first; the last is the tail itself, always known)."""
        cands = [target[end + 1 - n:end + 1] for n in lengths[:-1] if n <= end + 1]
        if cands:
            hit = self.set.lookup(_hashes(cands)) >= 0
            for c, h in zip(cands, hit.tolist(), strict=True):
                if h:
                    return len(c)
        return lengths[-1]


class ScannerIndex:
    """What the scanner derives from the known identities, apart from the caller's skip words: the
    hashed identifiers (:class:`_KnownRuns`), the address keys (:class:`_KnownAddresses`), the names
    and the place names.

    Deriving it takes about a minute at 2,000,000 children; :meth:`save` keeps it encrypted beside the
    identity index and :meth:`load` reads it back in seconds, so that every process that scans (a
    Dagster step in a process of its own, the CLI) does not derive it again (issue 8). It holds the
    same personal data as the identity index (names, addresses; identifiers as unkeyed hashes, which
    a dictionary of IDs would reverse): the same key, the same file mode (0600).

    Parameters
    ----------
    known : KnownIdentities, optional
        Derive from these (None: empty).
    """

    #: Bumped whenever what is derived changes (variants, hashing), so that an older file is rebuilt.
    VERSION = 1

    def __init__(self, known: KnownIdentities | None = None):
        known = known or KnownIdentities()
        self.runs = _KnownRuns(known)
        self.addresses = _KnownAddresses(known)
        self.names = sorted(n for n in known.names if len(n) >= 2)
        self.places = sorted(getattr(known, "places", ()))

    def save(self, path: str | os.PathLike, fernet_key: bytes, source: str) -> Path:
        """Write the index encrypted (Fernet, chunk by chunk: :func:`privacy.sealed.seal`), mode 0600, atomically. ``source`` names what it was
        derived from (:func:`file_digest` of the identity index); :meth:`load` returns it to compare."""
        import pickle

        from privacy.sealed import seal

        payload = pickle.dumps({"version": self.VERSION, "source": source, "runs": self.runs.state(),
                                "addresses": self.addresses.state(), "names": self.names,
                                "places": self.places}, protocol=5)
        try:
            return seal(path, payload, fernet_key)
        finally:
            del payload

    @classmethod
    def load(cls, path: str | os.PathLike, fernet_key: bytes) -> tuple[ScannerIndex, str]:
        """``(index, source)`` from a file written by :meth:`save`.

        Raises
        ------
        ValueError
            Wrong key or altered file (Fernet authentication), or another :attr:`VERSION`.
        """
        import pickle

        from cryptography.fernet import InvalidToken

        from privacy.sealed import unseal

        try:
            payload = unseal(path, fernet_key)
        except InvalidToken as exc:
            raise ValueError(f"cannot decrypt {path}: wrong key or altered file") from exc
        obj = pickle.loads(payload)  # authenticated above: written by this code with this key
        del payload
        if obj.get("version") != cls.VERSION:
            raise ValueError(f"{path}: scanner index version {obj.get('version')!r}, expected {cls.VERSION}")
        self = cls.__new__(cls)
        self.runs = _KnownRuns.from_state(obj["runs"])
        self.addresses = _KnownAddresses.from_state(obj["addresses"])
        self.names, self.places = obj["names"], obj["places"]
        return self, obj["source"]


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (hex), read in 16 MB blocks."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 24), b""):
            h.update(block)
    return h.hexdigest()


def other_id_entity(value: str) -> str:
    """Entity reported for a known other identifier: CN_STUDENT_NUMBER (letter + resident ID),
    CN_DISABILITY_CERT (resident ID + category + grade), else OTHER_ID (household numbers …)."""
    from privacy.identities import embedded_ric

    if embedded_ric(value):
        return "CN_STUDENT_NUMBER" if len(value) == 19 else "CN_DISABILITY_CERT"
    return "OTHER_ID"



def _default_skip(name: str) -> bool:
    """A 2-character name that is a jieba dictionary word with another part of speech (高兴, 余杭)."""
    from privacy.nlp import word_tags

    tag = word_tags().get(name)
    return tag is not None and not tag.startswith("nr")


class LeakScanner:
    """Scan text, tables and file trees for raw personal information.

    Parameters
    ----------
    known : KnownIdentities, optional
        Every name, ID, phone and address seen in the raw input (the encrypted identity index).
        Without it only validated identifier patterns are found.
    skip_words : iterable of str
        Words that are never reported as 2-character names (community/place names, common words), in
        addition to jieba dictionary words that are not person names.
    index : ScannerIndex, optional
        What was derived from ``known`` before (:meth:`ScannerIndex.load`); ``known`` is then ignored.

    Attributes
    ----------
    skipped : list of str
        Files skipped by the last :meth:`scan_path` / :meth:`scan_paths` call (binary, unreadable).
    index : ScannerIndex
        What the scanner derived from the known identities (or was given).
    """

    COMPRESSED_SUFFIXES = frozenset([".gz", ".bz2", ".xz", ".zip"])
    #: Workbooks, read sheet by sheet (every cell as text) with pandas' ``calamine`` engine
    #: (python-calamine): the same cells as openpyxl at about a twelfth of the time (a 2M city writes
    #: 8,000 visit lists, scanned twice: issue 8), and it also opens the old binary .xls and .ods.
    SPREADSHEET_SUFFIXES = frozenset([".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"])
    MAX_MEMBER_BYTES = 256 * 1024 * 1024
    TEXT_SUFFIXES = frozenset([".txt", ".log", ".md", ".markdown", ".rst", ".html", ".htm", ".xml", ".ini", ".cfg", ".toml", ".sql", ".py", ".j2", ".tsv", ".out", ".err", ".csv", ".yaml", ".yml", ".json", ".jsonl", ".ndjson"])
    BINARY_SUFFIXES = frozenset([".pkl", ".pickle", ".joblib", ".npy", ".npz", ".png", ".jpg", ".jpeg", ".gif", ".pdf", ".7z", ".tar", ".whl", ".so", ".pyc", ".ubj", ".onnx", ".pt", ".bin", ".ico", ".woff", ".woff2", ".ttf", ".otf", ".svgz", ".feather", ".arrow", ".duckdb"])

    def __init__(self, known: KnownIdentities | None = None, skip_words: Iterable[str] = (), *,
                 index: ScannerIndex | None = None):
        import ahocorasick

        self.skip_words = frozenset(normalize_name(w) for w in skip_words if isinstance(w, str))
        self.skipped: list[str] = []
        self._all = ahocorasick.Automaton()
        self._free = ahocorasick.Automaton()
        if index is None:
            index = ScannerIndex(known)
        self.index = index  # what was derived (the ingest saves it beside the identity index)
        self._runs = index.runs
        self._widest = index.addresses.widest
        for tail, lengths in index.addresses.tails.items():
            self._all.add_word(tail, ("CN_ADDRESS", len(tail), lengths))
        for name in index.names:
            if len(name) >= 3:
                self._all.add_word(name, ("PERSON", len(name), None))
            elif len(name) == 2 and name not in self.skip_words and not _default_skip(name):
                self._free.add_word(name, ("PERSON", 2, None))
        self._places = ahocorasick.Automaton()
        for place in index.places:
            self._places.add_word(place, len(place))
        self._has_places = len(self._places) > 0
        if self._has_places:
            self._places.make_automaton()
        self._has_runs = len(self._runs) > 0
        self._has_all = len(self._all) > 0
        self._has_free = len(self._free) > 0
        if self._has_all:
            self._all.make_automaton()
        if self._has_free:
            self._free.make_automaton()

    # -- strings ------------------------------------------------------------------------------------
    def _scan_norm(self, norm: str, free_text: bool) -> list[tuple[str, int, int]]:
        found = find_identifiers(norm)
        if self._has_runs or self._has_all or (free_text and self._has_free):
            target = norm.replace("x", "X")
            if self._has_runs:
                found.extend(self._runs.find(target))
            automata = [self._all] if self._has_all else []
            if free_text and self._has_free:
                automata.append(self._free)
            for a in automata:
                for end, (entity, n, lengths) in a.iter(target):
                    if lengths:  # an address's shortest form: widen to its longest known form here
                        n = self._widest(target, end, lengths)
                    start = end - n + 1
                    if n == 2 and entity == "PERSON" and self._glued_into_words(target, start, end + 1):
                        continue
                    found.append((entity, start, end + 1))
        if self._has_places and any(f[0] == "PERSON" for f in found):
            found = self._outside_places(norm, found)
        if len(found) > 1:
            found = self._dedupe(found)
        return found

    def _outside_places(self, norm: str, found: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
        """Drop the known-name matches that lie inside a place name of the city (康乐一 in 康乐一区一社区;
        :meth:`privacy.identities.KnownIdentities.add_places`); every other finding stays."""
        spans = sorted((end - n + 1, end + 1) for end, n in self._places.iter(norm))
        if not spans:
            return found
        starts = [s for s, _ in spans]
        reach = list(itertools.accumulate((e for _, e in spans), max))  # furthest end of the spans so far
        out = []
        for f in found:
            i = bisect.bisect_right(starts, f[1])  # the spans that start at or before the finding
            if f[0] != "PERSON" or i == 0 or reach[i - 1] < f[2]:
                out.append(f)
        return out

    @staticmethod
    def _strictly_bounded(s: str, start: int, end: int) -> bool:
        """An other identifier counts only as a whole run: no ``[0-9A-Za-z._]`` on either side
        (DESIGN §11.1), so the digits of a household number inside a token, a hash, a decimal or a
        longer number are not a finding."""
        before = s[start - 1] if start > 0 else ""
        after = s[end] if end < len(s) else ""
        return not ((before and before in _BOUND_CHARS) or (after and after in _BOUND_CHARS))

    @staticmethod
    def _digit_bounded(s: str, start: int, end: int, entity: str) -> bool:
        """DESIGN §11.1: a known identifier counts only as a whole digit run — not when an ASCII letter,
        digit or underscore touches it, nor a decimal point between digits (J330106…0001 is an incident
        number, P_k1_… a token, 3.30106… a decimal)."""
        before = s[start - 1] if start > 0 else ""
        after = s[end] if end < len(s) else ""
        if after.isdigit() or (after.isascii() and after.isalpha()) or after == "_" \
                or (after == "." and end + 1 < len(s) and s[end + 1].isdigit()):
            return False
        if before.isdigit():
            return entity == "PHONE_NUMBER" and s[max(0, start - 2):start] == "86"
        return not ((before.isascii() and before.isalpha()) or before == "_" or (before == "." and start >= 2 and s[start - 2].isdigit()))

    @staticmethod
    def _glued_into_words(s: str, start: int, end: int) -> bool:
        """A 2-character name match whose first character ends a dictionary word with the character
        before it, or whose last character starts one with the character after it (儿童|可能 is not the
        name 童可): it straddles word boundaries, so it is ordinary text (DESIGN §11.1 skip rule)."""
        from privacy.nlp import word_tags

        words = word_tags()
        left = s[start - 1:start + 1] if start > 0 else ""
        right = s[end - 1:end + 1] if end < len(s) else ""
        return (len(left) == 2 and left in words) or (len(right) == 2 and right in words)

    @staticmethod
    def _dedupe(found):
        found = sorted(set(found), key=lambda f: (f[1], -f[2]))
        out = []
        for f in found:
            if out and f[1] >= out[-1][1] and f[2] <= out[-1][2]:
                continue  # inside a longer finding
            out.append(f)
        return out

    def scan_text(self, text: str | None, *, free_text: bool = False) -> list[tuple[str, int, int]]:
        """Personal information in one string.

        Parameters
        ----------
        text : str or None
        free_text : bool
            True for prose (notes, summaries): 2-character known names are searched too.

        Returns
        -------
        list of (entity_type, start, end)
            Spans in ``text`` coordinates (full-width digits are matched through NFKC), in order.
        """
        if not text:
            return []
        norm = unicodedata.normalize("NFKC", text)
        found = self._scan_norm(norm, free_text)
        if len(norm) != len(text) and found:
            from privacy.recognizers._base import normalize_with_offsets, to_original

            norm2, offsets = normalize_with_offsets(text)
            found = self._scan_norm(norm2, free_text)
            found = [(e, *to_original(offsets, s, t)) for e, s, t in found]
        return found

    def _scan_values(self, values: list[str], free_text: bool) -> list[tuple[int, str, str]]:
        """Scan many strings in one pass: ``(value index, entity, masked)``."""
        if not values:
            return []
        norm = [v if v.isascii() or unicodedata.is_normalized("NFKC", v) else unicodedata.normalize("NFKC", v)
                for v in values]
        starts, pos = [], 0
        for v in norm:
            starts.append(pos)
            pos += len(v) + 1
        big = "\x00".join(norm)
        out = []
        for entity, s, e in self._scan_norm(big, free_text):
            i = bisect.bisect_right(starts, s) - 1
            if e > starts[i] + len(norm[i]):
                continue  # crosses a separator (cannot happen for the patterns; defensive)
            out.append((i, entity, mask(entity, big[s:e])))
        return out

    # -- tables -------------------------------------------------------------------------------------
    #: Values per column that a ``clean`` memo of :meth:`scan_dataframe` keeps at most (~100 bytes each).
    CLEAN_MEMO_MAX = 3_000_000

    def scan_dataframe(self, df: pd.DataFrame, location: str,
                       free_text_columns: Iterable[str] = (), *,
                       clean: dict[str, set[str]] | None = None) -> list[Finding]:
        """Scan every column (and the column names) of ``df``.

        Each unique value is scanned once; integer columns and integral float columns with 10+ digits
        are scanned as their decimal strings (a phone or ID stored as a number is still a leak);
        datetime and boolean columns are skipped, and so is a cell that is exactly a pseudonymous token
        (``P_k1_`` + 20 lower-case hex digits: an HMAC, DESIGN §5), whatever its column.

        Parameters
        ----------
        df : DataFrame
        location : str
            Reported in each finding (e.g. the asset or file name).
        free_text_columns : iterable of str
            Columns holding prose: 2-character known names are searched there too.
        clean : dict of column name → set of str, optional
            A memo shared by the calls that scan one table in pieces (the as-of date partitions of the
            features, where every partition holds the same child tokens; issue 8): a column's values in
            it were scanned by an earlier call without a finding and are not scanned again, and this
            call adds its own values without a finding (up to :attr:`CLEAN_MEMO_MAX` per column). The
            findings are those of scanning every value: a value is only ever skipped after it was
            scanned clean with the same scanner, and the free-text columns are never memoized.

        Returns
        -------
        list of Finding
            One per (column, row, match), ordered by column then row.
        """
        free = {str(c) for c in free_text_columns}
        findings: list[Finding] = []
        for name in df.columns:
            for _, entity, masked in self._scan_values([str(name)], False):
                findings.append(Finding(location, str(name), None, entity, masked))
        for j, name in enumerate(df.columns):
            col = df.iloc[:, j]
            strings, codes = self._column_strings(col)
            if not strings:
                continue
            prose = str(name) in free
            memo = None if clean is None or prose else clean.setdefault(str(name), set())
            todo = [v if v not in memo else "" for v in strings] if memo else strings  # "": never a finding
            todo = ["" if is_token(v) else v for v in todo]  # keyed hashes (issue 8: most distinct values)
            hits = self._scan_values(todo, prose)
            if memo is not None and len(memo) < self.CLEAN_MEMO_MAX:
                flagged_i = {i for i, _, _ in hits}
                room = self.CLEAN_MEMO_MAX - len(memo)
                memo.update(itertools.islice((v for i, v in enumerate(todo) if v and i not in flagged_i), room))
            if not hits:
                continue
            by_value: dict[int, list[tuple[str, str]]] = {}
            for i, entity, masked in hits:
                by_value.setdefault(i, []).append((entity, masked))
            flagged = np.fromiter(by_value.keys(), dtype=np.int64)
            rows = np.flatnonzero(np.isin(codes, flagged))
            for r in rows:
                for entity, masked in by_value[int(codes[r])]:
                    findings.append(Finding(location, str(name), int(r), entity, masked))
        return findings

    @staticmethod
    def _column_strings(col: pd.Series) -> tuple[list[str], np.ndarray]:
        """Unique values of a column as strings, and each row's index into them (-1: skipped)."""
        dtype = col.dtype
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype) \
                or pd.api.types.is_timedelta64_dtype(dtype):
            return [], np.empty(0, dtype=np.int64)
        if isinstance(dtype, pd.CategoricalDtype):
            cats = [str(c) for c in dtype.categories]
            return cats, np.asarray(col.cat.codes, dtype=np.int64)
        if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
            with np.errstate(invalid="ignore"):
                if not (np.abs(col.to_numpy(dtype="float64", na_value=np.nan)) >= 1e9).any():
                    return [], np.empty(0, dtype=np.int64)  # no value of 10+ digits: nothing to scan
            codes, uniques = pd.factorize(col, use_na_sentinel=True)
            u = np.asarray(uniques, dtype="float64")
            keep = np.isfinite(u) & (np.abs(u) >= 1e9) & (np.floor(u) == u)
            if pd.api.types.is_integer_dtype(dtype):
                vals = np.asarray(uniques)
                strings = [str(int(v)) if k else "" for v, k in zip(vals, keep, strict=True)]
            else:
                strings = [str(int(v)) if k else "" for v, k in zip(u, keep, strict=True)]
            return strings, np.asarray(codes, dtype=np.int64)
        try:
            codes, uniques = pd.factorize(col, use_na_sentinel=True)
        except TypeError:  # list-valued cells (e.g. reasons as list<str>): scan their JSON text
            col = col.map(lambda v: json.dumps(v.tolist() if isinstance(v, np.ndarray) else v,
                                               ensure_ascii=False, default=str)
                          if isinstance(v, (list, tuple, dict, np.ndarray)) else v)
            codes, uniques = pd.factorize(col, use_na_sentinel=True)
        strings = []
        for v in uniques:
            if isinstance(v, str):
                strings.append(v)
            elif isinstance(v, (bytes, bytearray, memoryview)):
                strings.append(_blob_text(bytes(v)))
            elif isinstance(v, (list, tuple, dict, np.ndarray)):
                strings.append(json.dumps(v if not isinstance(v, np.ndarray) else v.tolist(),
                                          ensure_ascii=False, default=str))
            else:
                strings.append(str(v))
        return strings, np.asarray(codes, dtype=np.int64)

    # -- files --------------------------------------------------------------------------------------
    def scan_path(self, path: str | os.PathLike, *, prose_free_text: bool = True) -> list[Finding]:
        """Scan a file or every file under a directory.

        Parameters
        ----------
        path : path-like
        prose_free_text : bool
            Treat prose files (txt, log, md, html) and JSON/YAML strings as free text (2-character
            known names searched). Table columns are never free text here: use
            :meth:`scan_dataframe` with ``free_text_columns`` for that.

        Returns
        -------
        list of Finding
            Binary or unreadable files are skipped and listed in :attr:`skipped`.
        """
        self.skipped = []
        return self._scan_path(Path(path), prose_free_text)

    def scan_paths(self, paths: Iterable[str | os.PathLike], *, prose_free_text: bool = True) -> list[Finding]:
        """:meth:`scan_path` over several paths (``skipped`` accumulates)."""
        self.skipped = []
        out: list[Finding] = []
        for p in paths:
            out.extend(self._scan_path(Path(p), prose_free_text))
        return out

    def _scan_path(self, path: Path, prose: bool) -> list[Finding]:
        if path.is_dir():
            out: list[Finding] = []
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for f in sorted(files):
                    out.extend(self._scan_file(Path(root) / f, prose))
            return out
        return self._scan_file(path, prose)

    def _scan_file(self, path: Path, prose: bool) -> list[Finding]:
        loc = str(path)
        suffix = path.suffix.lower()
        try:
            with open(path, "rb") as f:
                head = f.read(8192)
            if head.startswith(b"SQLite format 3\x00"):
                return self._scan_sqlite(path)
            if suffix == ".parquet" or head.startswith(b"PAR1"):
                return self.scan_dataframe(pd.read_parquet(path), loc)
            if suffix in self.SPREADSHEET_SUFFIXES:
                return self._scan_workbook(path, loc)
            if suffix in self.COMPRESSED_SUFFIXES or head[:2] == b"\x1f\x8b" or head[:4] == b"PK\x03\x04":
                return self._scan_compressed(path, prose)
            if suffix in self.BINARY_SUFFIXES or b"\x00" in head:
                self.skipped.append(loc)
                return []
            text = self._decode(path.read_bytes())
            if text is None:
                self.skipped.append(loc)
                return []
            if suffix in (".csv", ".tsv"):
                try:
                    import io

                    df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                                     sep="\t" if suffix == ".tsv" else ",")
                    return self.scan_dataframe(df, loc)
                except Exception:
                    return self._scan_lines(text, loc, False)
            if suffix in (".json", ".jsonl", ".ndjson", ".yaml", ".yml"):
                structured = self._scan_structured(text, loc, suffix, prose)
                if structured is not None:
                    return structured
            if suffix in (".html", ".htm", ".xml"):
                text = html.unescape(text)
            if suffix in (".lgb", ".txt") and text.startswith("tree\n"):
                return self._scan_lgb(text, loc)
            return self._scan_lines(text, loc, prose and suffix not in (".py", ".sql", ".toml", ".ini", ".cfg"))
        except (OSError, ValueError, sqlite3.Error, ImportError) as exc:
            self.skipped.append(f"{loc} ({type(exc).__name__}: {exc})"[:300])
            return []

    def _scan_workbook(self, path: Path, loc: str) -> list[Finding]:
        """Every sheet of a workbook (hidden ones too), every cell as text, located ``path#sheet``. A
        workbook calamine cannot open is tried with openpyxl (.xlsx/.xlsm) before it is reported in
        :attr:`skipped` (a ValueError/OSError of the caller)."""
        try:
            sheets = pd.read_excel(path, sheet_name=None, dtype=str, engine="calamine")
        except Exception as first:
            if path.suffix.lower() not in (".xlsx", ".xlsm"):
                raise ValueError(f"not a readable workbook ({type(first).__name__})") from None
            try:
                sheets = pd.read_excel(path, sheet_name=None, dtype=str, engine="openpyxl")
            except Exception as second:
                raise ValueError(f"not a readable workbook ({type(second).__name__})") from None
        out: list[Finding] = []
        for sheet, df in sheets.items():
            out.extend(self.scan_dataframe(df, f"{loc}#{sheet}"))
        return out

    def _scan_lgb(self, text: str, loc: str) -> list[Finding]:
        """A LightGBM text model: thousands of lines of space-separated numbers (split thresholds,
        leaf values) where four-digit groups would look like written card/phone numbers. Only the
        lines that can carry text — feature names and infos, categorical values, parameters, any
        line with a letter other than an exponent — are scanned; every line is still searched for
        the known identities."""
        lines = text.splitlines()
        keep = [i for i, line in enumerate(line for line in lines)
                if not _NUMERIC_LINE.match(line)]
        hits = self._scan_values([lines[i] for i in keep], False)
        out = [Finding(loc, None, keep[i], entity, masked) for i, entity, masked in hits]
        if self._has_runs:
            for i in range(len(lines)):
                if _NUMERIC_LINE.match(lines[i]):
                    for entity, start, end in self._runs.find(lines[i]):
                        out.append(Finding(loc, None, i, entity, mask(entity, lines[i][start:end])))
        return out

    def _scan_compressed(self, path: Path, prose: bool) -> list[Finding]:
        """gzip/bz2/xz files (e.g. compressed event logs) and zip archives: each member that is
        text (or a Parquet/SQLite/JSON file) is scanned as ``path!member``; binary members are listed
        in :attr:`skipped`."""
        import bz2
        import gzip
        import lzma
        import tempfile
        import zipfile

        loc = str(path)
        members: list[tuple[str, bytes]] = []
        data = path.read_bytes()
        if data[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(path) as z:
                for info in z.infolist():
                    if not info.is_dir() and info.file_size <= self.MAX_MEMBER_BYTES:
                        members.append((info.filename, z.read(info)))
                    elif not info.is_dir():
                        self.skipped.append(f"{loc}!{info.filename} (too large)")
        else:
            opener = {".bz2": bz2.decompress, ".xz": lzma.decompress}.get(path.suffix.lower(), gzip.decompress)
            inner = path.name[: -len(path.suffix)] if path.suffix else path.name
            members.append((inner, opener(data)))
        out: list[Finding] = []
        for name, blob in members:
            sub = f"{loc}!{name}"
            suffix = Path(name).suffix.lower()
            if blob.startswith(b"PAR1") or blob.startswith(b"SQLite format 3\x00") or suffix in self.SPREADSHEET_SUFFIXES:
                with tempfile.TemporaryDirectory() as d:
                    tmp = Path(d) / (Path(name).name or "member")
                    tmp.write_bytes(blob)
                    out.extend(Finding(f.location.replace(str(tmp), sub), f.column, f.row, f.entity_type, f.masked)
                               for f in self._scan_file(tmp, prose))
                continue
            text = None if b"\x00" in blob[:8192] else self._decode(blob)
            if text is None:
                self.skipped.append(sub)
                continue
            if suffix in (".json", ".jsonl", ".ndjson", ".yaml", ".yml"):
                structured = self._scan_structured(text, sub, suffix, prose)
                if structured is not None:
                    out.extend(structured)
                    continue
            out.extend(self._scan_lines(text, sub, prose and suffix not in (".py", ".sql")))
        return out

    @staticmethod
    def _decode(data: bytes) -> str | None:
        for enc in ("utf-8-sig", "gb18030"):
            try:
                return data.decode(enc)
            except UnicodeDecodeError:
                continue
        return None

    def _scan_lines(self, text: str, loc: str, free_text: bool) -> list[Finding]:
        lines = text.splitlines()
        hits = self._scan_values(lines, free_text)
        return [Finding(loc, None, i, entity, masked) for i, entity, masked in hits]

    def _scan_structured(self, text: str, loc: str, suffix: str, prose: bool) -> list[Finding] | None:
        try:
            if suffix in (".jsonl", ".ndjson"):
                docs = [(i, json.loads(line)) for i, line in enumerate(text.splitlines()) if line.strip()]
            elif suffix == ".json":
                docs = [(None, json.loads(text))]
            else:
                import yaml

                docs = [(None, d) for d in yaml.safe_load_all(text)]
        except Exception:
            return None
        paths, values, rows = [], [], []
        for row, doc in docs:
            for p, v in _walk(doc, "$"):
                paths.append(p)
                values.append(v)
                rows.append(row)
        hits = self._scan_values(values, prose)
        return [Finding(loc, paths[i], rows[i], entity, masked) for i, entity, masked in hits]

    def _scan_sqlite(self, path: Path) -> list[Finding]:
        loc = str(path)
        out: list[Finding] = []
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for t in tables:
                offset = 0
                quoted = '"' + t.replace('"', '""') + '"'
                for chunk in pd.read_sql_query(f"SELECT * FROM {quoted}", con, chunksize=200_000):
                    for f in self.scan_dataframe(chunk, f"{loc}::{t}"):
                        out.append(Finding(f.location, f.column, None if f.row is None else f.row + offset,
                                           f.entity_type, f.masked))
                    offset += len(chunk)
        finally:
            con.close()
        return out


def _blob_text(blob: bytes) -> str:
    """The text inside a binary cell: zlib/gzip-compressed JSON (Dagster's snapshot and event
    blobs), or UTF-8 bytes; "" when it is not text."""
    import zlib

    data = blob
    if blob[:1] in (b"\x78", b"\x1f"):
        try:
            data = zlib.decompress(blob, 47)  # zlib or gzip header
        except zlib.error:
            data = blob
    if b"\x00" in data[:4096]:
        return ""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return ""


def _walk(obj, path: str):
    """(key path, string) for every key and scalar of a parsed JSON/YAML document."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            p = f"{path}.{k}"
            yield p, str(k)
            yield from _walk(v, p)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _walk(v, f"{path}[{i}]")
    elif obj is None or isinstance(obj, bool):
        return
    elif isinstance(obj, float):
        if obj == obj and obj.is_integer() and abs(obj) >= 1e9:
            yield path, str(int(obj))
    else:
        yield path, str(obj)


def scan_paths(paths: Iterable[str | os.PathLike], known: KnownIdentities | None = None,
               skip_words: Iterable[str] = ()) -> list[Finding]:
    """Scan files and directory trees with a new :class:`LeakScanner` (see :meth:`LeakScanner.scan_path`)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    return LeakScanner(known, skip_words).scan_paths(paths)
