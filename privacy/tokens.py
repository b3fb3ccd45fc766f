"""Keyed pseudonyms (DESIGN.md §5; interfaces §2).

``token = f"{kind}_k{version}_{hex20}"`` with ``hex20`` the first 20 hex characters (80 bits) of
``HMAC-SHA256(key, kind + ":" + normalized_value)``. ``kind`` is ``P`` (person, a normalized resident
ID), ``H`` (household number) or ``S`` (student number). The same key gives the same token in every
department, so one person's rows meet; without the key a token cannot be reversed or recomputed (a
plain hash of an 18-digit ID could be brute-forced: the ID space is small). Presidio's ``hash`` operator
salts randomly since 2.2.361 and cannot be used for joins.

Pseudonymized data is still personal information (PIPL art. 51/73; GB/T 37964-2019): tokens are
protected like the data itself.
"""

from __future__ import annotations

import hashlib
import hmac
import re

import numpy as np
import pandas as pd

__all__ = ["KINDS", "TOKEN_RE", "Pseudonymizer"]

KINDS = frozenset({"P", "H", "S"})
TOKEN_RE = re.compile(r"^[PHS]_k\d+_[0-9a-f]{20}$")
_MIN_KEY_BYTES = 32


class Pseudonymizer:
    """HMAC-SHA256 pseudonymizer with a versioned key.

    Parameters
    ----------
    key : bytes
        The secret key, at least 32 bytes (see :mod:`privacy.keys`). Never logged, not in ``repr``.
    key_version : int
        Version written into every token (``k{version}``), so rotated keys give distinguishable tokens.

    Raises
    ------
    ValueError
        If the key is shorter than 32 bytes or the version is not a positive int.
    """

    __slots__ = ("_key", "key_version")

    def __init__(self, key: bytes, key_version: int):
        if not isinstance(key, (bytes, bytearray)) or len(key) < _MIN_KEY_BYTES:
            raise ValueError(f"pseudonym key must be at least {_MIN_KEY_BYTES} bytes")
        if not isinstance(key_version, int) or key_version < 1:
            raise ValueError("key_version must be a positive int")
        self._key = bytes(key)
        self.key_version = key_version

    def __repr__(self) -> str:  # never the key
        return f"Pseudonymizer(key=<hidden>, key_version={self.key_version})"

    def token(self, kind: str, value: str) -> str:
        """Token of one already-normalized value.

        Parameters
        ----------
        kind : {"P", "H", "S"}
        value : str
            Normalized value (e.g. the 18-character resident ID from ``validate_ric``). The caller
            normalizes: this function hashes exactly what it is given.

        Raises
        ------
        ValueError
            Unknown kind or an empty/non-str value.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown token kind {kind!r}")
        if not isinstance(value, str) or not value:
            raise ValueError("value must be a non-empty str")
        digest = hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
        return f"{kind}_k{self.key_version}_{digest[:20]}"

    def tokens(self, kind: str, values: pd.Series) -> pd.Series:
        """Vectorized :meth:`token`: each distinct value hashed once; null/empty stays null.

        Returns
        -------
        pandas.Series
            ``str`` dtype, same index and name as ``values``.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown token kind {kind!r}")
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        out = np.empty(len(uniques) + 1, dtype=object)
        out[-1] = None
        for i, u in enumerate(uniques):
            out[i] = self.token(kind, u) if isinstance(u, str) and u else None
        return pd.Series(out[codes], index=values.index, name=values.name, dtype="str")

    def token_map(self, kind: str, values) -> dict[str, str]:
        """``{value: token}`` for distinct non-empty values (used for id_attributes and rotation maps)."""
        return {
            v: self.token(kind, v)
            for v in pd.unique(pd.Series(list(values), dtype=object))
            if isinstance(v, str) and v
        }
