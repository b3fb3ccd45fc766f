"""Data contracts: ``contracts/<department>.yaml`` loaded into typed objects.

A contract says, for every column a department exports, its Chinese header (and synonyms seen in other
exports), its English name, its type and its privacy class (DESIGN.md §4; contracts/README.md). This
module

* loads and checks the YAML (:func:`load_contracts`, :func:`load_contract_file`),
* resolves a file's header row against a table (:func:`resolve_headers`), tolerant of the ways clerks'
  exports differ (NFKC, BOM, surrounding/inner whitespace, full-width brackets ``（）`` = ``()``), and
* generates the pandera schema of the *pseudonymized* frame (:func:`output_schema`, interfaces §2),
  used as the last self-check of the ingest.

Errors
------
:class:`ContractError` (a malformed contract), :class:`HeaderError` (a file whose header lacks required
columns or maps two headers to one column; the message names the file and the missing columns, never a
cell value), :class:`ContractViolation` (the pseudonymized frame breaks the schema: names file, row and
column).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

__all__ = [
    "DIRECT",
    "FREE_TEXT",
    "PRIVACY_CLASSES",
    "QUASI",
    "TOKEN_KINDS",
    "TYPES",
    "Column",
    "ContractError",
    "ContractViolation",
    "Formats",
    "HeaderError",
    "KnowledgeDate",
    "Table",
    "load_contract_file",
    "load_contracts",
    "normalize_header",
    "output_schema",
    "resolve_headers",
    "validate_output",
]

DIRECT = "direct_identifier"
QUASI = "quasi_identifier"
FREE_TEXT = "free_text"
ATTRIBUTE = "attribute"
PRIVACY_CLASSES = frozenset({DIRECT, QUASI, FREE_TEXT, ATTRIBUTE})

TYPES = frozenset(
    {
        "string",
        "resident_id",
        "household_number",
        "student_number",
        "certificate_number",
        "person_name",
        "phone",
        "address",
        "date",
        "datetime",
        "month",
        "int",
        "float",
        "amount",
        "category",
        "bool",
        "text",
    }
)

#: Token kind (interfaces §2) of each tokenizable identifier type.
TOKEN_KINDS = {"resident_id": "P", "household_number": "H", "student_number": "S"}


class ContractError(ValueError):
    """A contract file is malformed (unknown type/privacy class, duplicate names, bad pseudonym)."""


class HeaderError(ValueError):
    """A raw file's header does not satisfy its contract. The message names the file and columns."""

    def __init__(
        self,
        message: str,
        *,
        file: str = "",
        missing: Sequence[str] = (),
        code: str = "REQUIRED_COLUMN_MISSING",
        columns: Sequence[str] = (),
    ):
        super().__init__(message)
        self.file = file
        self.missing = list(missing)
        self.code = code  # REQUIRED_COLUMN_MISSING | COLUMN_TWICE | NO_HEADER
        self.columns = list(columns)  # the header texts concerned (expected ones, or the two found)


class ContractViolation(ValueError):
    """The pseudonymized frame breaks the contract schema (file, source row and column named)."""


@dataclass(frozen=True)
class KnowledgeDate:
    """When the bureau knew a row's fact (DESIGN §6): ``column`` + ``lag_days``; for month columns
    with ``month_end`` the last day of the month + ``lag_days``."""

    column: str
    lag_days: int = 0
    month_end: bool = False


#: Format options of a table (``formats:`` in a contract, per table or as department ``defaults:``).
#: The values below are only the fallback for ad-hoc tables built in code (tests); the shipped
#: contracts state their own (contracts/README.md "Format options").
DEFAULT_FORMATS: dict = {
    "blank_values": ["无", "/", "-", "--", "—", "——", "空", "NULL", "null", "Null", "None", "none",
                     "NaN", "nan", "N/A", "n/a", "#N/A"],
    "amount_units": ["元", "¥", "￥", "人民币"],
    "count_units": ["天", "人", "次", "个"],
    "thousands_separators": [",", "，"],
    "max_text_length": 5000,
    "max_string_length": 500,
}


@dataclass(frozen=True)
class Formats:
    """How a department writes values (contract ``formats:``): tokens that mean "blank", units and
    thousands separators stripped from numbers, and the longest credible text cell.

    Attributes
    ----------
    blank_values
        Cell texts (after NFKC + trim) that mean "no value" — in addition to empty/whitespace-only
        (incl. the ideographic space U+3000).
    amount_units, count_units
        Suffixes/prefixes stripped from ``amount``/``float`` and ``int`` cells (``1,200元``, ``3天``).
    thousands_separators
        Characters removed inside numbers (``1,200.50``).
    max_text_length, max_string_length
        A ``text``/free-text cell (resp. any other text cell) longer than this is quarantined
        ``TEXT_TOO_LONG``: usually an unclosed quote that swallowed the following rows.
    """

    blank_values: tuple[str, ...] = tuple(DEFAULT_FORMATS["blank_values"])
    amount_units: tuple[str, ...] = tuple(DEFAULT_FORMATS["amount_units"])
    count_units: tuple[str, ...] = tuple(DEFAULT_FORMATS["count_units"])
    thousands_separators: tuple[str, ...] = tuple(DEFAULT_FORMATS["thousands_separators"])
    max_text_length: int = DEFAULT_FORMATS["max_text_length"]
    max_string_length: int = DEFAULT_FORMATS["max_string_length"]

    @classmethod
    def from_dict(cls, d: Mapping | None, where: str = "") -> Formats:
        d = dict(d or {})
        known = {f for f in cls.__dataclass_fields__}
        bad = set(d) - known
        if bad:
            raise ContractError(f"{where}: unknown format option(s) {sorted(bad)}; known: {sorted(known)}")
        kw: dict = {}
        for k, v in d.items():
            if k.startswith("max_"):
                if not isinstance(v, int) or v <= 0:
                    raise ContractError(f"{where}: format option {k} must be a positive integer")
                kw[k] = v
            else:
                if not isinstance(v, (list, tuple)):
                    raise ContractError(f"{where}: format option {k} must be a list")
                kw[k] = tuple(str(x) for x in v)
        return cls(**kw)


@dataclass(frozen=True)
class Column:
    """One contract column (contracts/README.md)."""

    name: str
    header: str
    type: str
    privacy: str
    synonyms: tuple[str, ...] = ()
    required: bool = False
    unique: bool = False
    values: tuple[str, ...] | None = None
    pseudonym: str | None = None
    identity_of: str | None = None
    generalize: str | None = None
    max_length: int | None = None  # overrides the table's max_text_length/max_string_length
    not_after_as_of: bool = False  # a date that cannot lie after the ingest's as-of date (birth dates)
    person_attribute: str | None = None  # birth_date | sex: checked against the person's ID number
    keyed: bool = False  # a department's record number (警情编号, 走访编号): replaced by a keyed R_ token

    @property
    def headers(self) -> tuple[str, ...]:
        """The header and its synonyms, in the contract's order."""
        return (self.header, *self.synonyms)

    @property
    def is_token_source(self) -> bool:
        """True for a direct identifier that becomes a token column (``pseudonym:``)."""
        return self.privacy == DIRECT and self.pseudonym is not None

    @property
    def token_kind(self) -> str | None:
        return TOKEN_KINDS.get(self.type) if self.is_token_source else None


@dataclass(frozen=True)
class Table:
    """One contract table: the file a department delivers and its columns."""

    name: str
    department: str
    file: str
    columns: tuple[Column, ...]
    title_zh: str = ""
    encoding: str | None = None
    knowledge_date: KnowledgeDate | None = None
    source: str = ""  # the contract file it came from, for messages
    formats: Formats = field(default_factory=Formats)
    max_quarantine_share: float | None = None  # the ingest fails when a larger share is quarantined
    department_zh: str = ""

    @property
    def relative_path(self) -> str:
        """Path of the raw file relative to the raw folder: ``<department>/<file>``."""
        return f"{self.department}/{self.file}"

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def token_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.is_token_source)

    @property
    def output_columns(self) -> list[str]:
        """Columns of the pseudonymized frame, in order (interfaces §2)."""
        cols = ["source_file", "source_row"]
        for c in self.columns:
            if c.privacy == DIRECT:
                if c.pseudonym is not None:
                    cols.append(c.pseudonym)
            else:
                cols.append(c.name)
        cols.append("knowledge_date")
        return cols


# ------------------------------------------------------------------------------------------- loading


def _column_from_dict(d: Mapping, where: str) -> Column:
    try:
        col = Column(
            name=str(d["name"]),
            header=str(d["header"]),
            type=str(d["type"]),
            privacy=str(d["privacy"]),
            synonyms=tuple(str(s) for s in d.get("synonyms") or ()),
            required=bool(d.get("required", False)),
            unique=bool(d.get("unique", False)),
            values=tuple(str(v) for v in d["values"]) if d.get("values") is not None else None,
            pseudonym=d.get("pseudonym"),
            identity_of=d.get("identity_of"),
            generalize=d.get("generalize"),
            max_length=int(d["max_length"]) if d.get("max_length") is not None else None,
            not_after_as_of=bool(d.get("not_after_as_of", False)),
            person_attribute=d.get("person_attribute"),
            keyed=bool(d.get("keyed", False)),
        )
    except KeyError as e:
        raise ContractError(f"{where}: column is missing key {e.args[0]!r}") from None
    if col.type not in TYPES:
        raise ContractError(f"{where}: column {col.name!r} has unknown type {col.type!r}")
    if col.privacy not in PRIVACY_CLASSES:
        raise ContractError(f"{where}: column {col.name!r} has unknown privacy class {col.privacy!r}")
    if col.pseudonym is not None and (col.privacy != DIRECT or col.type not in TOKEN_KINDS):
        raise ContractError(
            f"{where}: column {col.name!r}: pseudonym is allowed only on a direct identifier of type "
            f"{sorted(TOKEN_KINDS)}"
        )
    if col.keyed and (col.privacy != ATTRIBUTE or col.type != "string"):
        raise ContractError(f"{where}: column {col.name!r}: keyed is allowed only on a string attribute "
                            "(a department's record number)")
    if col.type == "category" and not col.values:
        raise ContractError(f"{where}: category column {col.name!r} needs values")
    if col.person_attribute not in (None, "birth_date", "sex"):
        raise ContractError(f"{where}: column {col.name!r}: person_attribute must be birth_date or sex")
    if col.generalize not in (None, "month"):
        raise ContractError(f"{where}: column {col.name!r}: unknown generalize {col.generalize!r}")
    return col


def table_from_dict(
    name: str,
    d: Mapping,
    department: str,
    source: str = "<dict>",
    defaults: Mapping | None = None,
    department_zh: str = "",
) -> Table:
    """Build a :class:`Table` from its YAML mapping (also used by tests for ad-hoc tables).

    ``defaults`` is the department's ``defaults:`` block (``formats`` merged key by key under the
    table's own, ``max_quarantine_share`` used when the table states none).
    """
    where = f"{source}: table {name}"
    defaults = dict(defaults or {})
    bad = set(defaults) - {"formats", "max_quarantine_share"}
    if bad:
        raise ContractError(f"{source}: unknown key(s) in defaults: {sorted(bad)}")
    fmt = {**dict(defaults.get("formats") or {}), **dict(d.get("formats") or {})}
    formats = Formats.from_dict(fmt, where)
    mqs = d.get("max_quarantine_share", defaults.get("max_quarantine_share"))
    if mqs is not None:
        mqs = float(mqs)
        if not 0.0 <= mqs <= 1.0:
            raise ContractError(f"{where}: max_quarantine_share must lie in [0, 1]")
    cols = tuple(_column_from_dict(c, where) for c in d.get("columns") or ())
    if not cols:
        raise ContractError(f"{where}: no columns")
    names = [c.name for c in cols]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ContractError(f"{where}: duplicate column names {sorted(dup)}")
    tokens = [c.pseudonym for c in cols if c.pseudonym]
    dup_tok = {t for t in tokens if tokens.count(t) > 1}
    if dup_tok:
        raise ContractError(f"{where}: two columns share the pseudonym {sorted(dup_tok)} (interfaces §2)")
    clash = set(tokens) & set(names)
    if clash:
        raise ContractError(f"{where}: pseudonym names clash with column names {sorted(clash)}")
    seen: dict[str, str] = {}
    for c in cols:
        for h in c.headers:
            key = normalize_header(h)
            if key in seen and seen[key] != c.name:
                raise ContractError(f"{where}: header {h!r} used by both {seen[key]} and {c.name}")
            seen[key] = c.name
    kd = None
    if d.get("knowledge_date"):
        k = d["knowledge_date"]
        kd = KnowledgeDate(str(k["column"]), int(k.get("lag_days", 0)), bool(k.get("month_end", False)))
        if kd.column not in names:
            raise ContractError(f"{where}: knowledge_date column {kd.column!r} is not a column")
        kcol = next(c for c in cols if c.name == kd.column)
        if kcol.type not in ("date", "datetime", "month"):
            raise ContractError(f"{where}: knowledge_date column {kd.column!r} is not a date")
    if "file" not in d:
        raise ContractError(f"{where}: missing 'file'")
    return Table(
        name=name,
        department=department,
        file=str(d["file"]),
        columns=cols,
        title_zh=str(d.get("title_zh", "")),
        encoding=d.get("encoding"),
        knowledge_date=kd,
        source=source,
        formats=formats,
        max_quarantine_share=mqs,
        department_zh=department_zh,
    )


def load_contract_file(path: Path) -> dict[str, Table]:
    """Load one ``contracts/<department>.yaml``.

    Raises
    ------
    ContractError
        If the file is malformed (the message names the file and the table/column).
    """
    path = Path(path)
    with path.open(encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    if not isinstance(doc, dict) or "department" not in doc or "tables" not in doc:
        raise ContractError(f"{path.name}: expected keys 'department' and 'tables'")
    dep = str(doc["department"])
    defaults = doc.get("defaults") or {}
    dep_zh = str(doc.get("department_zh", ""))
    return {
        name: table_from_dict(name, spec, dep, source=path.name, defaults=defaults, department_zh=dep_zh)
        for name, spec in doc["tables"].items()
    }


def load_contracts(contracts_dir: Path) -> dict[str, Table]:
    """Load every ``*.yaml`` in ``contracts_dir``; tables ordered by department then file order.

    Raises
    ------
    ContractError
        On a malformed file or a table name used twice.
    """
    out: dict[str, Table] = {}
    files = sorted(Path(contracts_dir).glob("*.yaml"))
    if not files:
        raise ContractError(f"no contracts (*.yaml) in {contracts_dir}")
    for p in files:
        for name, t in load_contract_file(p).items():
            if name in out:
                raise ContractError(f"{p.name}: table {name!r} also defined in {out[name].source}")
            out[name] = t
    return out


# ----------------------------------------------------------------------------------- header matching

_WS = re.compile(r"\s+")


def normalize_header(text: object) -> str:
    """Canonical form of a header cell for matching.

    NFKC (full-width letters/digits/brackets ``（）`` → ASCII, ideographic space → space), BOM and
    zero-width characters removed, every whitespace (incl. line breaks inside an xlsx header cell)
    removed. ``None`` → ``""``.
    """
    if text is None:
        return ""
    s = unicodedata.normalize("NFKC", str(text))
    s = s.replace("\ufeff", "").replace("\u200b", "").replace("\u200c", "").replace("\u200d", "")
    return _WS.sub("", s)


def header_lookup(table: Table) -> dict[str, str]:
    """normalized header/synonym → column name."""
    return {normalize_header(h): c.name for c in table.columns for h in c.headers}


def match_count(headers: Iterable[object], table: Table) -> int:
    """How many distinct contract columns a candidate header row matches (header-row detection)."""
    lookup = header_lookup(table)
    return len({lookup[k] for k in (normalize_header(h) for h in headers) if k in lookup})


@dataclass
class HeaderMap:
    """Result of :func:`resolve_headers`: raw column position → contract column name."""

    positions: dict[int, str]
    original: dict[str, str]  # column name → header text as found in the file
    unmapped: list[str] = field(default_factory=list)  # non-empty headers not in the contract
    missing_optional: list[str] = field(default_factory=list)


def resolve_headers(headers: Sequence[object], table: Table, file: str) -> HeaderMap:
    """Map a file's header cells to contract columns.

    Parameters
    ----------
    headers
        The header cells in file order (None/blank allowed).
    table
        The contract table.
    file
        The file name used in error messages.

    Raises
    ------
    HeaderError
        When a required column is missing (message names the file, the missing columns with their
        expected Chinese headers) or two header cells map to the same column.
    """
    lookup = header_lookup(table)
    positions: dict[int, str] = {}
    original: dict[str, str] = {}
    unmapped: list[str] = []
    for i, h in enumerate(headers):
        key = normalize_header(h)
        if not key:
            continue
        name = lookup.get(key)
        if name is None:
            unmapped.append(key)
            continue
        if name in original:
            raise HeaderError(
                f"{file}: columns {original[name]!r} and {key!r} both map to {name!r} "
                f"(table {table.name}); remove one",
                file=file,
                code="COLUMN_TWICE",
                columns=[original[name], key],
            )
        positions[i] = name
        original[name] = key
    missing = [c for c in table.columns if c.required and c.name not in original]
    if missing:
        listed = ", ".join(f"{c.header} ({c.name})" for c in missing)
        raise HeaderError(
            f"{file}: required column(s) missing for table {table.name}: {listed}; "
            f"found headers: {[normalize_header(h) for h in headers if normalize_header(h)]}",
            file=file,
            missing=[c.name for c in missing],
            columns=[c.header for c in missing],
        )
    optional = [c.name for c in table.columns if not c.required and c.name not in original]
    return HeaderMap(positions, original, unmapped, optional)


# ------------------------------------------------------------------------------------ output schema


def _pandera():
    import pandera.pandas as pa

    return pa


def output_schema(table: Table):
    """pandera ``DataFrameSchema`` of the pseudonymized frame of ``table`` (interfaces §2).

    Categories must be in ``values``; required columns are non-null; ``unique`` columns unique;
    token columns match ``{kind}_k{version}_{hex20}``; date columns hold datetimes (pandas reads
    Parquet ``date32`` as datetime64). Raw identifier columns are not allowed (``strict=True``).
    """
    pa = _pandera()
    cols: dict[str, object] = {
        "source_file": pa.Column(str, nullable=False),
        "source_row": pa.Column("Int64", pa.Check.ge(1), nullable=False, coerce=True),
        "knowledge_date": pa.Column("datetime64[us]", nullable=True, coerce=True),
    }
    for c in table.columns:
        if c.privacy == DIRECT:
            if c.pseudonym is not None:
                kind = TOKEN_KINDS[c.type]
                cols[c.pseudonym] = pa.Column(
                    str,
                    pa.Check.str_matches(rf"^{kind}_k\d+_[0-9a-f]{{20}}$"),
                    nullable=not c.required,
                )
            continue
        checks = []
        if c.keyed:
            checks.append(pa.Check.str_matches(r"^R_k\d+_[0-9a-f]{20}$"))
        if c.type == "category" and c.values:
            checks.append(pa.Check.isin(list(c.values)))
        if c.type in ("date", "datetime", "month") or c.generalize == "month":
            dtype = "datetime64[us]"
        elif c.type == "int":
            dtype = "Int64"
        elif c.type in ("float", "amount"):
            dtype = "float64"
        elif c.type == "bool":
            dtype = "boolean"
        else:
            dtype = str
        cols[c.name] = pa.Column(
            dtype,
            checks=checks,
            nullable=not c.required,
            unique=c.unique,
            coerce=dtype not in (str,),
        )
    return pa.DataFrameSchema(cols, strict=True, ordered=False, name=table.name)


def validate_output(df, table: Table, file: str) -> None:
    """Validate a pseudonymized frame against :func:`output_schema`.

    Raises
    ------
    ContractViolation
        Naming the file, the ``source_row`` (as the clerk sees it) and the column of the first
        failures (at most 10 listed). Failure cases are reported by row and check, never by value for
        token columns.
    """
    pa = _pandera()
    try:
        output_schema(table).validate(df, lazy=True)
    except pa.errors.SchemaErrors as e:
        fc = e.failure_cases
        lines = []
        for _, r in fc.head(10).iterrows():
            idx = r.get("index")
            row = None
            if idx is not None and idx == idx and "source_row" in df.columns:
                try:
                    row = int(df["source_row"].loc[idx])
                except (KeyError, TypeError, ValueError):
                    row = None
            lines.append(f"row {row if row is not None else '?'}, column {r.get('column')}: {r.get('check')}")
        raise ContractViolation(f"{file}: {len(fc)} schema failure(s): " + "; ".join(lines)) from None
