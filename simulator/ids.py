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
    "check_char",
    "id15_from_id18",
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


def make_id_numbers(
    rng: np.random.Generator, area: np.ndarray, birth: np.ndarray, male: np.ndarray
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

    Returns
    -------
    ndarray of str, shape (n,)
        IDs, unique within the call.
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


def make_phones(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` synthetic 11-digit mobile numbers with real prefixes (incl. 16x/19x)."""
    pre = MOBILE_PREFIXES[rng.integers(0, len(MOBILE_PREFIXES), size=n)]
    tail = np.char.zfill(rng.integers(0, 10**8, size=n).astype(str), 8)
    return np.char.add(pre, tail).astype(object)
