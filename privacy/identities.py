"""The known identities: every name, ID, phone and address seen in the raw input (DESIGN §5, §11.3).

Built at pseudonymization, encrypted at rest like the vault, opened only by the leak scanner (and
handed, per record, to the note anonymizer for record-aware recognition). It is not a
re-identification path: it holds values, not the link from a token to a person.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from privacy.identifiers import (
    LANDLINE,
    MOBILE,
    SERVICE,
    canonical_ric_valid,
    normalize_phone,
    normalize_text,
    validate_ric,
)

KINDS = ("names", "id_numbers", "phones", "addresses", "other_ids")
#: How a Chinese place name ends (administrative units, villages, residents' committees, estates).
PLACE_SUFFIX = re.compile(r"(?:省|市|区|县|旗|镇|乡|街道|社区|村|居委会|村委会|居民委员会|村民委员会|小区|新村|家园|花园|苑)$")
_FORMAT_VERSION = 1
_WS = re.compile(r"\s+")
_NAME_DOTS = str.maketrans({"•": "·", "・": "·", "．": "·", "‧": "·"})


def normalize_name(value: str) -> str:
    """NFKC, no white space, one kind of middle dot (阿卜杜·热合曼)."""
    return _WS.sub("", normalize_text(value)).translate(_NAME_DOTS)


def normalize_address(value: str) -> str:
    """NFKC, trimmed, inner white space removed (addresses are matched without spaces)."""
    return _WS.sub("", normalize_text(value))


def normalize_id_number(value: object) -> str | None:
    """The 18-character form of a valid ID (15-digit upgraded); for an invalid ID that still looks
    like one (15–18 alphanumerics, e.g. a wrong check digit) the cleaned string, else None. A
    mistyped ID is still personal data."""
    if not isinstance(value, str):
        return None
    r = validate_ric(value)
    if r.valid:
        return r.normalized
    cleaned = re.sub(r"[\s\-]", "", normalize_text(value)).upper()
    if 15 <= len(cleaned) <= 18 and cleaned[:15].isdigit() and cleaned.isalnum():
        return cleaned
    return None


def normalize_phone_value(value: object) -> str | None:
    """Digits of a mobile/landline (normalize_phone); service numbers are not personal → None;
    an unparseable number with 8+ digits is kept as its digits."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    r = normalize_phone(value)
    if r.kind in (MOBILE, LANDLINE):
        return r.normalized
    if r.kind == SERVICE:
        return None
    digits = re.sub(r"\D", "", normalize_text(str(value)))
    return digits if len(digits) >= 8 else None


_OTHER_ID_CLEAN = re.compile(r"[\s\-_/]+")
#: Shortest other identifier kept: shorter digit strings (a 5-digit postcode, a house number) are
#: ordinary numbers in outputs; the 户号 of the household registers have 9+ digits.
MIN_OTHER_ID_LENGTH = 6


def normalize_other_id(value: object) -> str | None:
    """A direct identifier other than a resident ID, phone, name or address — a student number
    (G + ID), a household number (户号), a disability certificate number (ID + category + grade), a
    passport number: NFKC, without spaces/dashes/underscores/slashes, upper-case. Kept when it has
    at least :data:`MIN_OTHER_ID_LENGTH` characters, only ASCII letters and digits, and at least 5
    digits (so a word or a code such as 男/农业家庭户口 never becomes an identifier); else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        return None
    s = _OTHER_ID_CLEAN.sub("", normalize_text(value)).upper()
    if len(s) < MIN_OTHER_ID_LENGTH or not s.isascii() or not s.isalnum():
        return None
    if sum(c.isdigit() for c in s) < 5:
        return None
    return s


def embedded_ric(other_id: str) -> str | None:
    """The resident ID inside an other identifier: a student number G/L/J + ID, or a disability
    certificate number ID + category + grade (None when there is none)."""
    for cand in (other_id[1:19] if len(other_id) == 19 and other_id[0].isalpha() else None,
                 other_id[:18] if len(other_id) == 20 else None):
        if cand:
            r = validate_ric(cand)
            if r.valid:
                return r.normalized
    return None


_NORMALIZERS = {
    "names": lambda v: (normalize_name(v) or None) if isinstance(v, str) else None,
    "id_numbers": normalize_id_number,
    "phones": normalize_phone_value,
    "addresses": lambda v: (normalize_address(v) or None) if isinstance(v, str) else None,
    "other_ids": normalize_other_id,
}


def scanner_cache_path(index_path: str | os.PathLike) -> Path:
    """Where the scanner's derived index (:class:`privacy.scanner.ScannerIndex`) of an identity index is
    kept: beside it, ``<name>.scanner``. Writing the identity index removes it."""
    p = Path(index_path)
    return p.with_name(p.name + ".scanner")


#: From this many ID numbers on, :meth:`KnownIdentities.add` checks those already in normalized form in
#: bulk (:func:`privacy.identifiers.canonical_ric_valid`); fewer go one by one. The bulk check's fixed
#: cost (~40 µs of numpy set-up) made up 12 % of note anonymization at 2,000,000 children, where each
#: note's own record adds one or two IDs (py-spy of a note worker; issue 8). Same result either way.
BULK_MIN_IDS = 64


@dataclass
class KnownIdentities:
    """Sets of normalized personal values seen in the raw input.

    Attributes
    ----------
    names, id_numbers, phones, addresses : set of str
        Normalized as by :meth:`add` (names NFKC without spaces; IDs 18 characters upper-case X;
        phones digits without country code; addresses NFKC without spaces).
    other_ids : set of str
        Every other direct identifier seen in the raw input (student numbers, household numbers,
        disability certificate numbers, …; :func:`normalize_other_id`), matched exactly by the
        scanner (DESIGN §5: the index holds *every* direct identifier). Values given as
        ``id_numbers`` that are not resident IDs land here (the ingest hands every identifier column
        in as ``id_numbers``); the resident ID inside a student or disability certificate number is
        added to ``id_numbers`` too.
    """

    names: set = field(default_factory=set)
    id_numbers: set = field(default_factory=set)
    phones: set = field(default_factory=set)
    addresses: set = field(default_factory=set)
    other_ids: set = field(default_factory=set)
    places: set = field(default_factory=set)

    def add_places(self, values: Iterable) -> KnownIdentities:
        """Add the city's place names (the district, township and community values delivered in place
        columns; NFKC, no spaces). They are not personal data: the scanner does not report a known name
        that lies inside one of them (康乐一区一社区 is a community, not 康乐一 — at 2,000,000 children
        the names and the communities of a city overlap; issue 8). Only values ending as a place does
        (:data:`PLACE_SUFFIX`) are kept, so a name written into a community column stays a finding."""
        for v in dict.fromkeys(values):
            if isinstance(v, str):
                n = _WS.sub("", normalize_text(v))
                if len(n) >= 3 and PLACE_SUFFIX.search(n):
                    self.places.add(n)
        return self


    def add(self, kind: str, values: Iterable) -> KnownIdentities:
        """Normalize and add ``values`` of one ``kind``; None/NaN/empty/invalid values are skipped.

        Parameters
        ----------
        kind : {"names", "id_numbers", "phones", "addresses", "other_ids"}
        values : iterable
            Raw cells (str; phones may be int/float from a numeric Excel cell).

        Returns
        -------
        KnownIdentities
            ``self``, for chaining.

        Raises
        ------
        ValueError
            If ``kind`` is not one of :data:`KINDS`.
        """
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        norm = _NORMALIZERS[kind]
        target: set = getattr(self, kind)
        values = list(dict.fromkeys(values))
        if kind == "id_numbers" and len(values) >= BULK_MIN_IDS:  # normalized IDs checked in bulk (issue 8)
            cells = np.empty(len(values), dtype=object)
            cells[:] = values
            canonical = canonical_ric_valid(cells)
            target.update(cells[canonical].tolist())
            values = cells[~canonical].tolist()
        for v in values:
            if kind == "other_ids":
                self._add_other(v)
                continue
            n = norm(v)
            if n and (kind != "names" or len(n) >= 2):
                target.add(n)
            elif kind == "id_numbers" and not n:
                self._add_other(v)
        return self

    def _add_other(self, value) -> None:
        n = normalize_other_id(value)
        if n:
            self.other_ids.add(n)
            ric = embedded_ric(n)
            if ric:
                self.id_numbers.add(ric)

    def merge(self, other: KnownIdentities) -> KnownIdentities:
        """Add every value of ``other`` to ``self`` (in place); returns ``self``."""
        for kind in KINDS:
            getattr(self, kind).update(getattr(other, kind))
        self.places.update(getattr(other, "places", ()))
        return self

    def as_dict(self) -> dict:
        """``{"names": [...], "id_numbers": [...], "phones": [...], "addresses": [...],
        "other_ids": [...]}`` (sorted)."""
        return {kind: sorted(getattr(self, kind)) for kind in KINDS}

    def __len__(self) -> int:
        return sum(len(getattr(self, k)) for k in KINDS)

    # -- encrypted storage ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, fernet_key: bytes) -> Path:
        """Write the identities encrypted (Fernet: AES-128-CBC + HMAC-SHA256, chunk by chunk:
        :func:`privacy.sealed.seal`), file mode 0600.

        The JSON is zlib-compressed before encryption; the write is atomic (temporary file in the
        same directory, then rename).

        Parameters
        ----------
        path : path-like
        fernet_key : bytes
            A key from :meth:`cryptography.fernet.Fernet.generate_key` (kept apart from the pseudonym
            key).
        """
        from privacy.sealed import seal

        path = Path(path)
        scanner_cache_path(path).unlink(missing_ok=True)  # derived from the index being replaced
        payload = json.dumps({"version": _FORMAT_VERSION, **self.as_dict(), "places": sorted(self.places)},
                             ensure_ascii=False)
        return seal(path, zlib.compress(payload.encode("utf-8"), 6), fernet_key)

    @classmethod
    def load(cls, path: str | os.PathLike, fernet_key: bytes) -> KnownIdentities:
        """Read identities written by :meth:`save`.

        Raises
        ------
        ValueError
            If the key is wrong or the file was altered (Fernet authentication fails), or the format
            version is unknown.
        """
        from cryptography.fernet import InvalidToken

        from privacy.sealed import unseal

        try:
            raw = zlib.decompress(unseal(path, fernet_key))
        except InvalidToken as exc:
            raise ValueError(f"cannot decrypt {path}: wrong key or altered file") from exc
        obj = json.loads(raw.decode("utf-8"))
        if obj.get("version") != _FORMAT_VERSION:
            raise ValueError(f"{path}: unknown identity-index version {obj.get('version')!r}")
        return cls(**{k: set(obj.get(k, ())) for k in KINDS}, places=set(obj.get("places", ())))


# -- variants of known values (how the same value is written elsewhere) ---------------------------------

_ADMIN_CUT = re.compile(r"(?:自治区|省|自治州|市|区|县|旗|镇|乡|街道|社区|村)")
_FINE = re.compile(r"[0-9一二三四五六七八九十百零〇两]\s*(?:号|室|栋|幢|单元|组|弄|层|楼|户)")


def legacy_id(id_number: str) -> str | None:
    """The legacy 15-digit form of a normalized 18-character ID of someone born 1900–1999 (GB
    11643-1999: drop the century "19" and the check character); None for anyone else."""
    if len(id_number) == 18 and id_number[6:8] == "19" and id_number[:17].isdigit():
        return id_number[:6] + id_number[8:17]
    return None


def id_variants(id_number: str) -> set[str]:
    """Written forms of one normalized ID: itself and its :func:`legacy_id` form."""
    legacy = legacy_id(id_number)
    return {id_number, legacy} if legacy else {id_number}


def is_fine_address(address: str) -> bool:
    """True when the address reaches a house number, building, room or village group (号/室/组…);
    a community-level place (文新街道某社区) is a quasi-identifier, not a personal address."""
    return bool(_FINE.search(address))


def address_variants(address: str, min_length: int = 5) -> set[str]:
    """The address and its tails after each administrative unit (省/市/区/县/镇/乡/街道/社区/村), as
    notes often omit the district: 西湖区文新街道学院路88号 → 文新街道学院路88号, 学院路88号. Only tails
    that still reach a house number or room and have ``min_length`` characters are kept."""
    a = normalize_address(address)
    out = {a} if is_fine_address(a) else set()
    for m in _ADMIN_CUT.finditer(a):
        tail = a[m.end():]
        if len(tail) >= min_length and is_fine_address(tail):
            out.add(tail)
    return out
