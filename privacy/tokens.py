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
import re

import numpy as np
import pandas as pd

__all__ = ["KINDS", "TOKEN_RE", "Pseudonymizer", "is_token"]

KINDS = frozenset({"P", "H", "S", "R"})
"""Token kinds: P person (resident ID), H household number, S student number, R a department's record
number (警情编号, 走访编号, 登记编号): record numbers can be looked up in the department's own system, so
they leave the ingest only as keyed tokens that still join and de-duplicate."""
TOKEN_RE = re.compile(r"^[PHSR]_k\d+_[0-9a-f]{20}$")
_TOKEN_EXACT = re.compile(r"[PHSR]_k[0-9]{1,4}_[0-9a-f]{20}")


def is_token(value: str) -> bool:
    """True when ``value`` is exactly a token as :meth:`Pseudonymizer.token` writes it (kind, ASCII key
    version, 20 lower-case hex digits; no surrounding characters, not even a newline): a keyed hash, which
    the leak scanner need not read (:meth:`privacy.scanner.LeakScanner.scan_dataframe`)."""
    return 25 <= len(value) <= 28 and value[1:3] == "_k" and _TOKEN_EXACT.fullmatch(value) is not None
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

    __slots__ = ("_inner", "_key", "_outer", "key_version")

    def __init__(self, key: bytes, key_version: int):
        if not isinstance(key, (bytes, bytearray)) or len(key) < _MIN_KEY_BYTES:
            raise ValueError(f"pseudonym key must be at least {_MIN_KEY_BYTES} bytes")
        if not isinstance(key_version, int) or key_version < 1:
            raise ValueError("key_version must be a positive int")
        self._key = bytes(key)
        self.key_version = key_version
        k = self._key if len(self._key) <= 64 else hashlib.sha256(self._key).digest()
        k = k.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in k))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in k))

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
        # HMAC-SHA256 (RFC 2104) from the key's inner/outer hash states prepared once in __init__:
        # the same digest as hmac.new(key, msg, sha256), without re-deriving the padded keys per call
        i = self._inner.copy()
        i.update(f"{kind}:{value}".encode())
        o = self._outer.copy()
        o.update(i.digest())
        return f"{kind}_k{self.key_version}_{o.hexdigest()[:20]}"

    def tokens(self, kind: str, values: pd.Series) -> pd.Series:
        """Vectorized :meth:`token`: each distinct value hashed once; null/empty stays null.

        Returns
        -------
        pandas.Series
            ``str`` dtype, same index and name as ``values``.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown token kind {kind!r}")
        fast = self._tokens_arrow(kind, values)
        if fast is not None:
            return fast
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        out = np.empty(len(uniques) + 1, dtype=object)
        out[-1] = None
        out[:-1] = self._hash_many(kind, uniques.tolist() if hasattr(uniques, "tolist") else list(uniques))
        return pd.Series(out[codes], index=values.index, name=values.name, dtype="str")

    def _tokens_arrow(self, kind: str, values: pd.Series) -> pd.Series | None:
        """Arrow path for string columns (the ingest's normalized IDs): dictionary-encode in C, hash
        the dictionary, ``take`` the tokens back — no Python object per cell. None when ``values`` is
        not an Arrow-backed string column (the caller falls back to ``pd.factorize``)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = values.array
        if not isinstance(getattr(values, "dtype", None), pd.StringDtype) or not hasattr(arr, "_pa_array"):
            return None
        enc = pc.dictionary_encode(arr._pa_array)
        chunks = enc.chunks if isinstance(enc, pa.ChunkedArray) else [enc]
        out_chunks = []
        for ch in chunks:
            toks = pa.array(self._hash_many(kind, ch.dictionary.to_pylist()), type=pa.large_string())
            out_chunks.append(toks.take(ch.indices))
        res = pa.chunked_array(out_chunks, type=pa.large_string())
        dtype = pd.Series([], dtype="str").dtype
        return pd.Series(res.to_pandas(types_mapper=lambda t: dtype), index=values.index, name=values.name)

    def _hash_many(self, kind: str, values: list) -> list:
        """:meth:`token` of each value (None for non-str/empty values)."""
        token = self.token
        return [token(kind, v) if isinstance(v, str) and v else None for v in values]

    def token_map(self, kind: str, values) -> dict[str, str]:
        """``{value: token}`` for distinct non-empty values (used for id_attributes and rotation maps)."""
        return {
            v: self.token(kind, v)
            for v in pd.unique(pd.Series(list(values), dtype=object))
            if isinstance(v, str) and v
        }
