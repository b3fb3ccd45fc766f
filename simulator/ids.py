"""Synthetic identifiers: resident ID numbers (GB 11643-1999), phones, household numbers.

Resident ID [S14]: 6-digit address code + 8-digit birth date + 3-digit sequence (odd = male) + a
check character by ISO 7064 MOD 11-2 (weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2, remainder
0..10 -> ``10X98765432``). A legacy 15-digit number is the 18-digit one without the century "19" and
without the check character. All functions are vectorized over numpy arrays.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CHECK_CHARS",
    "IdLedger",
    "check_char",
    "id15_from_id18",
    "id_body_keys",
    "in_sorted",
    "is_valid_id18",
    "make_id_numbers",
    "make_phones",
    "wrong_check_char",
]

WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
CHECK_CHARS = "10X98765432"

# Mobile prefixes in use in mainland China (incl. 16x/19x segments), ⚠ weights are a judgment.
MOBILE_PREFIXES = np.array(
    [
        "130",
        "131",
        "132",
        "133",
        "134",
        "135",
        "136",
        "137",
        "138",
        "139",
        "150",
        "151",
        "152",
        "153",
        "155",
        "156",
        "157",
        "158",
        "159",
        "166",
        "173",
        "177",
        "180",
        "181",
        "182",
        "183",
        "185",
        "186",
        "187",
        "188",
        "189",
        "191",
        "193",
        "195",
        "198",
        "199",
    ]
)


def check_char(body17: str) -> str:
    """Check character of a 17-digit body (ISO 7064 MOD 11-2).

    >>> check_char("34052419800101001")
    'X'
    """
    s = sum(int(c) * int(w) for c, w in zip(body17, WEIGHTS, strict=True))
    return CHECK_CHARS[s % 11]


def is_valid_id18(value: str) -> bool:
    """True when ``value`` is 17 digits plus the correct check character (upper-case X only)."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    return check_char(value[:17]) == value[17]


def _check_chars_vec(bodies: np.ndarray) -> np.ndarray:
    """Check characters for an array of 17-digit body strings."""
    digits = np.frombuffer("".join(bodies.tolist()).encode("ascii"), dtype=np.uint8).reshape(-1, 17) - 48
    r = (digits.astype(np.int64) @ WEIGHTS) % 11
    return np.array(list(CHECK_CHARS))[r]


def in_sorted(values: np.ndarray, sorted_: np.ndarray | None) -> np.ndarray:
    """Boolean mask: which ``values`` occur in the ascending array ``sorted_`` (None = empty)."""
    if sorted_ is None or len(sorted_) == 0 or len(values) == 0:
        return np.zeros(len(values), dtype=bool)
    i = np.minimum(np.searchsorted(sorted_, values), len(sorted_) - 1)
    return sorted_[i] == values


class IdLedger:
    """Identifiers already handed out by earlier shards of one city (see ``simulate(shard_children=)``).

    A sharded city is simulated one sub-population at a time; the ledger keeps, across shards, every
    value that must stay unique city-wide, so the next shard redraws any collision:

    - ``id``: 17-digit ID bodies (area + birth date + sequence) as int64 — the check character follows;
    - ``phone``: 11-digit mobile numbers as int64; ``hh``: 9-digit household numbers (户号);
    - ``student``: the 17 digits of ``L…`` student numbers (学籍号 of children without an ID-based one);

    and the running record numbers: ``registry_seq`` (登记编号 HZ<year><seq>), ``visit_seq`` (走访编号
    ZF<yyyymm><seq>), ``incident_seq`` ((district code, day) → last 警情编号 sequence of that day).
    Values are kept as int64 arrays (about 8 bytes per person).
    """

    KINDS = ("id", "phone", "hh", "student")

    def __init__(self) -> None:
        self._parts: dict[str, list[np.ndarray]] = {k: [] for k in self.KINDS}
        self._sorted: dict[str, np.ndarray] = {k: np.zeros(0, dtype=np.int64) for k in self.KINDS}
        self.registry_seq = 0
        self.visit_seq = 0
        self.incident_seq: dict = {}

    def taken(self, kind: str) -> np.ndarray:
        """Ascending int64 array of the values of ``kind`` handed out so far."""
        if self._parts[kind]:
            self._sorted[kind] = np.unique(np.concatenate([self._sorted[kind], *self._parts[kind]]))
            self._parts[kind] = []
        return self._sorted[kind]

    def add(self, kind: str, values: np.ndarray) -> None:
        """Record ``values`` (int64, shape (n,)) as handed out."""
        self._parts[kind].append(np.asarray(values, dtype=np.int64))


def id_body_keys(ids: np.ndarray) -> np.ndarray:
    """int64 keys of the 17-digit bodies of 18-digit IDs (shape (n,)), the values :class:`IdLedger` keeps."""
    if len(ids) == 0:
        return np.zeros(0, dtype=np.int64)
    raw = np.frombuffer("".join(x[:17] for x in np.asarray(ids).tolist()).encode("ascii"), dtype=np.uint8)
    digits = raw.reshape(-1, 17).astype(np.int64) - 48
    return digits @ (10 ** np.arange(16, -1, -1, dtype=np.int64))


def make_id_numbers(
    rng: np.random.Generator,
    area: np.ndarray,
    birth: np.ndarray,
    male: np.ndarray,
    taken: np.ndarray | None = None,
) -> np.ndarray:
    """Unique, checksum-valid 18-digit resident IDs.

    Parameters
    ----------
    rng : numpy.random.Generator
    area : ndarray of str, shape (n,)
        Six-digit address codes.
    birth : ndarray of datetime64[D], shape (n,)
    male : ndarray of bool, shape (n,)
        Sex; the sequence number's last digit is odd for men [S14].
    taken : ndarray of int64, optional
        Ascending 17-digit bodies already in use (earlier shards, :meth:`IdLedger.taken`); an ID that
        would repeat one gets a new sequence number of the same parity. None or empty: no draw changes.

    Returns
    -------
    ndarray of str, shape (n,)
        IDs, unique within the call and disjoint from ``taken``.
    """
    n = len(area)
    ymd = np.datetime_as_string(birth.astype("datetime64[D]"), unit="D")
    date8 = np.char.replace(ymd, "-", "")
    key_prefix = (area.astype(np.int64) * 10**8 + date8.astype(np.int64)) * 1000
    seq = np.zeros(n, dtype=np.int64)
    todo = np.arange(n)
    for _ in range(50):
        s = rng.integers(0, 500, size=len(todo)) * 2 + np.where(male[todo], 1, 0)
        seq[todo] = s
        keys = key_prefix + seq
        _, first = np.unique(keys, return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        if taken is not None and len(taken):
            dup |= in_sorted(keys, taken)
        todo = np.flatnonzero(dup)
        if len(todo) == 0:
            break
    else:  # pragma: no cover - astronomically unlikely
        raise RuntimeError("could not make unique ID numbers")
    bodies = np.char.add(np.char.add(area.astype(str), date8), np.char.zfill(seq.astype(str), 3))
    return np.char.add(bodies, _check_chars_vec(bodies)).astype(object)


def id15_from_id18(ids: np.ndarray) -> np.ndarray:
    """Legacy 15-digit form (drop the century and the check character) of 18-digit IDs born in 19xx."""
    s = ids.astype(str)
    return np.char.add(np.char.add(_slice(s, 0, 6), _slice(s, 8, 17)), "").astype(object)


def _slice(a: np.ndarray, start: int, stop: int) -> np.ndarray:
    return np.array([x[start:stop] for x in a.tolist()], dtype=object).astype(str)


def wrong_check_char(ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same IDs with a deliberately wrong check character (for quarantine tests)."""
    out = []
    for v in ids.tolist():
        good = v[17].upper()
        choices = [c for c in "0123456789X" if c != good]
        out.append(v[:17] + choices[int(rng.integers(0, len(choices)))])
    return np.array(out, dtype=object)


def make_phones(rng: np.random.Generator, n: int, taken: np.ndarray | None = None) -> np.ndarray:
    """``n`` synthetic 11-digit mobile numbers with real prefixes (incl. 16x/19x).

    With ``taken`` (ascending int64 numbers already in use, :meth:`IdLedger.taken`; sharded cities
    only) the numbers are also unique within the call and disjoint from ``taken``; without it (the
    unsharded default) they are independent draws, as before.
    """
    pre_i = rng.integers(0, len(MOBILE_PREFIXES), size=n)
    tail = rng.integers(0, 10**8, size=n)
    if taken is not None:
        pre_num = MOBILE_PREFIXES.astype(np.int64) * 10**8
        for _ in range(50):
            keys = pre_num[pre_i] + tail
            _, first = np.unique(keys, return_index=True)
            dup = np.ones(n, dtype=bool)
            dup[first] = False
            dup |= in_sorted(keys, taken)
            k = int(dup.sum())
            if k == 0:
                break
            pre_i[dup] = rng.integers(0, len(MOBILE_PREFIXES), size=k)
            tail[dup] = rng.integers(0, 10**8, size=k)
        else:  # pragma: no cover - astronomically unlikely
            raise RuntimeError("could not make unique phone numbers")
    pre = MOBILE_PREFIXES[pre_i]
    return np.char.add(pre, np.char.zfill(tail.astype(str), 8)).astype(object)
