"""Which contract table is this file (or sheet)? Recognition from headers, a mapping file, the layout.

Departments rename their exports ("民政导出0630.xlsx", "新建 Microsoft Excel 工作表.xlsx"), so a file's
name is not trusted. Each readable unit — a CSV, or one worksheet of an xlsx — is recognized from its
header cells (the contract's ``header`` and ``synonyms``, matched after :func:`normalize_header`):

* **score** of a table = F1 of (share of the file's header cells that are contract columns of the
  table, share of the table's columns present in the file). A file with exactly the table's columns
  scores 1.0; extra columns or missing optional columns lower it a little.
* the header row is the candidate row (title rows above it skipped, two-row merged headers combined)
  with the best score over all tables;
* ``recognized`` when the best table scores at least ``min_score`` and no other table is within
  ``margin`` of it (unless only one of the close ones has all its required columns); ``ambiguous``
  when two tables are that close (reported with both scores, never guessed); ``unrecognized`` below
  ``min_score``.

Pins, strongest first:

1. a **mapping file** ``humiao_mapping.yaml`` in the input folder (or given explicitly)::

       files:
         "民政导出0630.xlsx": child_registry          # bare file name, relative path, or glob
         "教育/*.csv": student_enrollment
         "台账汇总.xlsx":
           sheets: {低保: subsistence_allowance, 填表说明: ignore}
         "README.csv": ignore

2. the **layout** ``<department>/<file>`` of the contract (``civil_affairs/child_registry.xlsx``, or
   the same stem with .csv/.xlsx) — the historic layout keeps working;
3. the headers.

A pinned sheet is still located by its headers (title rows skipped); a missing required column then
fails the file with a clear error instead of a guess. In a multi-sheet workbook pinned to one table,
sheets that do not look like the table (a 填表说明 sheet) are reported and skipped. Hidden sheets
(drop-down lookup lists) are reported and skipped.

Files skipped and reported as ``ignored``: hidden files, Excel lock files (``~$…``), the mapping file,
the simulator's ``manifest.json`` and anything that is not .csv/.txt/.tsv/.xlsx/.xlsm/.xls.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import yaml

from privacy.contracts import Table, header_lookup, normalize_header
from privacy.readers import CSV_SUFFIXES, XLSX_SUFFIXES, RawReadError, Source, locate_header, open_sources

__all__ = [
    "MAPPING_FILE",
    "Candidate",
    "FolderPlan",
    "MappingError",
    "PlannedSource",
    "load_mapping",
    "plan_folder",
    "recognize_source",
    "score_headers",
]

MAPPING_FILE = "humiao_mapping.yaml"
IGNORE = "ignore"
MIN_SCORE = 0.5
MARGIN = 0.1
DATA_SUFFIXES = (*CSV_SUFFIXES, *XLSX_SUFFIXES, ".xls", ".et")
SKIP_NAMES = frozenset({MAPPING_FILE, "humiao_mapping.yml", "manifest.json"})


class MappingError(ValueError):
    """The mapping file is malformed or names a table that no contract defines."""


@dataclass(frozen=True)
class Candidate:
    """How well a header row fits one table."""

    table: str
    score: float
    matched: int
    columns: int
    required_missing: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {
            "table": self.table,
            "score": round(self.score, 3),
            "matched": self.matched,
            "columns": self.columns,
            "required_missing": list(self.required_missing),
        }


def score_headers(names: list[object], table: Table, lookup: Mapping[str, str] | None = None) -> Candidate:
    """Score a header row against a table (see module docstring)."""
    lookup = lookup if lookup is not None else header_lookup(table)
    cells = [k for k in (normalize_header(h) for h in names) if k]
    if not cells:
        return Candidate(table.name, 0.0, 0, len(table.columns))
    matched = {lookup[k] for k in cells if k in lookup}
    m = len(matched)
    if m == 0:
        return Candidate(table.name, 0.0, 0, len(table.columns))
    precision = m / len(cells)
    recall = m / len(table.columns)
    score = 2 * precision * recall / (precision + recall)
    missing = tuple(c.header for c in table.columns if c.required and c.name not in matched)
    return Candidate(table.name, score, m, len(table.columns), missing)


@dataclass
class PlannedSource:
    """One file or sheet and what it was recognized as."""

    path: Path
    rel: str
    sheet: str | None
    status: str  # recognized | ambiguous | unrecognized | empty | ignored | failed
    table: str | None = None
    how: str | None = None  # mapping | layout | headers
    score: float = 0.0
    header_rows: tuple[int, ...] = ()
    names: list[str] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    source: Source | None = None
    error: Exception | None = None
    reason: str | None = None  # for ignored/unrecognized: a reason code

    @property
    def label(self) -> str:
        return f"{self.rel}#{self.sheet}" if self.sheet else self.rel


@dataclass
class FolderPlan:
    """Everything found in an input folder."""

    sources: list[PlannedSource] = field(default_factory=list)
    ignored: list[dict] = field(default_factory=list)  # {"file", "reason"}
    mapping_file: str | None = None
    unused_mapping_rules: list[str] = field(default_factory=list)


def recognize_source(
    src: Source,
    tables: Mapping[str, Table],
    *,
    pinned: str | None = None,
    min_score: float = MIN_SCORE,
    margin: float = MARGIN,
) -> tuple[str, str | None, float, tuple[int, ...], list[str], list[Candidate]]:
    """Recognize one source.

    Returns
    -------
    (status, table, score, header_rows, names, candidates)
        ``status`` is ``recognized``, ``ambiguous``, ``unrecognized`` or ``empty``; ``candidates``
        the best three tables at the chosen header row.
    """
    if src.is_empty:
        return "empty", None, 0.0, (), [], []
    lookups = {n: header_lookup(t) for n, t in tables.items()}
    if pinned is not None:
        t = tables[pinned]
        sc, rows, names = locate_header(src, lambda h: score_headers(h, t, lookups[pinned]).score)
        cand = score_headers(names, t, lookups[pinned]) if names else Candidate(pinned, 0.0, 0, len(t.columns))
        return "recognized", pinned, sc, rows, names, [cand]

    def best(h):
        return max(score_headers(h, t, lookups[n]).score for n, t in tables.items())

    sc, rows, names = locate_header(src, best)
    if sc <= 0:
        return "unrecognized", None, 0.0, (), [], []
    cands = sorted(
        (score_headers(names, t, lookups[n]) for n, t in tables.items()), key=lambda c: (-c.score, c.table)
    )
    cands = [c for c in cands if c.score > 0][:3]
    top = cands[0]
    if top.score < min_score:
        return "unrecognized", None, top.score, rows, names, cands
    close = [c for c in cands if c.score >= top.score - margin]
    if len(close) > 1:
        complete = [c for c in close if not c.required_missing]
        if len(complete) == 1:
            return "recognized", complete[0].table, complete[0].score, rows, names, cands
        return "ambiguous", None, top.score, rows, names, cands
    return "recognized", top.table, top.score, rows, names, cands


# --------------------------------------------------------------------------------------- mapping


def load_mapping(spec: Path | Mapping | None, tables: Mapping[str, Table]) -> dict[str, object]:
    """Read a mapping (file path or dict) into ``{pattern: table | "ignore" | {sheet: table}}``.

    Raises
    ------
    MappingError
        Malformed, or a table name that no contract defines (the message lists the known ones).
    """
    if spec is None:
        return {}
    where = "mapping"
    if not isinstance(spec, Mapping):
        where = Path(spec).name
        try:
            spec = yaml.safe_load(Path(spec).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as e:
            raise MappingError(f"{where}：无法读取（{type(e).__name__}: {e}） / {where}: cannot be read "
                               f"({type(e).__name__}: {e})") from None
    if not isinstance(spec, Mapping):
        raise MappingError(f"{where}：应为“文件 → 表名”的映射 / {where}: expected a mapping of file → table")
    files = spec.get("files", spec) if "files" in spec else spec
    out: dict[str, object] = {}

    def check(name: object, key: str) -> str:
        name = str(name)
        if name != IGNORE and name not in tables:
            known = ", ".join(sorted(tables))
            raise MappingError(
                f"{where}：{key!r} 对应的表 {name!r} 不存在；已知的表：{known} / "
                f"{where}: {key!r} is mapped to unknown table {name!r}; known tables: {known}"
            )
        return name

    for key, val in (files or {}).items():
        key = str(key)
        if isinstance(val, Mapping):
            if "sheets" in val:
                out[key] = {str(sh): check(t, f"{key}#{sh}") for sh, t in (val["sheets"] or {}).items()}
            elif "table" in val:
                out[key] = check(val["table"], key)
            else:
                raise MappingError(f"{where}：{key!r} 的值应为表名、{{table: …}} 或 {{sheets: …}} / "
                                   f"{where}: {key!r}: expected a table name, {{table: …}} or {{sheets: …}}")
        else:
            out[key] = check(val, key)
    return out


def _mapping_rule(rules: Mapping[str, object], rel: str) -> tuple[str | None, object]:
    name = PurePosixPath(rel).name
    for key, val in rules.items():  # exact path, then bare name, then glob
        if key == rel:
            return key, val
    for key, val in rules.items():
        if key == name:
            return key, val
    for key, val in rules.items():
        if fnmatch.fnmatch(rel, key) or fnmatch.fnmatch(name, key):
            return key, val
    return None, None


def _layout_table(rel: str, tables: Mapping[str, Table]) -> str | None:
    p = PurePosixPath(rel)
    for name, t in tables.items():
        if rel == t.relative_path:
            return name
    for name, t in tables.items():
        tp = PurePosixPath(t.relative_path)
        if p.parent == tp.parent and p.stem == tp.stem and p.suffix.lower() in (".csv", ".xlsx"):
            return name
    return None


# ------------------------------------------------------------------------------------------ plan


def _walk(raw_dir: Path) -> list[Path]:
    out = []
    for p in sorted(raw_dir.rglob("*")):
        if p.is_file():
            out.append(p)
    return out


def plan_folder(
    raw_dir: Path,
    tables: Mapping[str, Table],
    mapping: Path | Mapping | None = None,
    *,
    min_score: float = MIN_SCORE,
    margin: float = MARGIN,
    use_layout: bool = True,
) -> FolderPlan:
    """Recognize every file/sheet under ``raw_dir`` (sub-folders included).

    Parameters
    ----------
    mapping
        A mapping file or dict (see module docstring); default ``<raw_dir>/humiao_mapping.yaml`` when
        present.
    use_layout
        Pin ``<department>/<file>`` paths to their contract table (the historic layout).

    Raises
    ------
    MappingError
        A malformed mapping or a mapping to an unknown table (before anything is read).
    """
    raw_dir = Path(raw_dir)
    plan = FolderPlan()
    if mapping is None:
        for cand in (raw_dir / MAPPING_FILE, raw_dir / "humiao_mapping.yml"):
            if cand.exists():
                mapping = cand
                break
    if mapping is not None and not isinstance(mapping, Mapping):
        plan.mapping_file = Path(mapping).name
    rules = load_mapping(mapping, tables)
    used: set[str] = set()
    for path in _walk(raw_dir):
        rel = path.relative_to(raw_dir).as_posix()
        name = path.name
        if any(part.startswith(".") for part in PurePosixPath(rel).parts):
            plan.ignored.append({"file": rel, "reason": "HIDDEN_FILE"})
            continue
        if name.startswith("~$"):
            plan.ignored.append({"file": rel, "reason": "LOCK_FILE"})
            continue
        if name in SKIP_NAMES or (mapping is not None and not isinstance(mapping, Mapping)
                                  and path.resolve() == Path(mapping).resolve()):
            plan.ignored.append({"file": rel, "reason": "CONTROL_FILE"})
            continue
        key, rule = _mapping_rule(rules, rel)
        if key is not None:
            used.add(key)
        if rule == IGNORE:
            plan.ignored.append({"file": rel, "reason": "MAPPING_IGNORE"})
            continue
        if path.suffix.lower() not in DATA_SUFFIXES:
            plan.ignored.append({"file": rel, "reason": "NOT_A_DATA_FILE"})
            continue
        try:
            sources = open_sources(path)
        except RawReadError as e:
            plan.sources.append(PlannedSource(path, rel, None, "failed", error=e))
            continue
        if not sources:
            plan.sources.append(PlannedSource(path, rel, None, "empty", reason="EMPTY_FILE"))
            continue
        file_pin, how = None, None
        if isinstance(rule, str):
            file_pin, how = rule, "mapping"
        elif use_layout and rule is None:
            lt = _layout_table(rel, tables)
            if lt is not None:
                file_pin, how = lt, "layout"
        multi = len(sources) > 1
        planned: list[PlannedSource] = []
        for src in sources:
            ps = PlannedSource(path, rel, src.sheet, "unrecognized", source=src)
            pin, pin_how = file_pin, how
            if isinstance(rule, Mapping):
                sheet_rule = rule.get(src.sheet or "")
                if sheet_rule == IGNORE:
                    plan.ignored.append({"file": ps.label, "reason": "MAPPING_IGNORE"})
                    continue
                if sheet_rule is not None:
                    pin, pin_how = str(sheet_rule), "mapping"
            if src.hidden and pin_how != "mapping":
                plan.ignored.append({"file": ps.label, "reason": "HIDDEN_SHEET"})
                continue
            if multi and src.is_empty:
                plan.ignored.append({"file": ps.label, "reason": "EMPTY_SHEET"})
                continue
            status, table, score, rows, names, cands = recognize_source(
                src, tables, pinned=pin, min_score=min_score, margin=margin
            )
            ps.status, ps.table, ps.score, ps.header_rows, ps.names, ps.candidates = (
                status, table, score, rows, names, cands,
            )
            ps.how = pin_how if pin is not None else ("headers" if status == "recognized" else None)
            if status == "empty":
                ps.reason = "EMPTY_FILE"
            elif status == "unrecognized":
                ps.reason = "TABLE_UNRECOGNIZED"
            elif status == "ambiguous":
                ps.reason = "TABLE_AMBIGUOUS"
            planned.append(ps)
        # a workbook pinned as a whole: side sheets that do not look like the table are skipped
        if multi and file_pin is not None:
            pinned = [p for p in planned if p.how == how and p.table == file_pin]
            if len(pinned) > 1 or (pinned and max(p.score for p in pinned) >= min_score):
                good = [p for p in pinned if p.score >= min_score] or [max(pinned, key=lambda p: p.score)]
                for p in pinned:
                    if p not in good:
                        plan.ignored.append({"file": p.label, "reason": "SHEET_NOT_THE_TABLE"})
                        planned.remove(p)
        plan.sources.extend(planned)
    plan.unused_mapping_rules = [k for k in rules if k not in used]
    return plan
