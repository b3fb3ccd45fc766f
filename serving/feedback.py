"""What the review app gives back to the pipeline: visit outcomes as visit records, the override rate
for the model card, and the children whose data is under correction (DESIGN.md §5, §6, §11.12).

* :func:`visit_outcomes_table` / :func:`export_visit_outcomes` — outcomes recorded by directors, in
  **exactly** the schema of the pseudonymized ``visit_records`` table (:data:`VISIT_RECORDS_SCHEMA`,
  docs/interfaces.md §2), ``visit_id`` prefixed ``APP-``, ``source_file = "review_app"``, written to
  ``<work_dir>/feedback/visit_outcomes.parquet`` so that features and labels can union it with the
  bureau's visit records, de-duplicated by ``visit_id`` ("one source of labels, not two", DESIGN §6).
  A visit where the child was not seen (未见到儿童) carries no guardianship assessment, which the
  contract requires (contracts/civil_affairs.yaml: 良好/一般/监护不当/监护缺失), so it is not exported.
* :func:`override_rate` — share of recorded outcomes where the director disagreed with the ranking
  (a human-oversight figure for the card: PIPL art. 24, UK ATRS "human review").
* :func:`tokens_under_correction` — children shown as 数据更正中 on lists until the request is
  resolved (DESIGN §5 "Retention and correction").

Only SQLAlchemy and pyarrow are needed (no FastAPI), so the pipeline can import this module.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.engine import Engine

from serving.app.db import (
    CORRECTION_OPEN,
    NOT_SEEN,
    CorrectionRequest,
    VisitOutcome,
    make_engine,
    make_sessionmaker,
)

__all__ = [
    "APP_SOURCE_FILE",
    "CORRECTION_FLAG",
    "REDACTED_NOTE",
    "VISIT_ID_PREFIX",
    "VISIT_RECORDS_SCHEMA",
    "export_feedback",
    "export_visit_outcomes",
    "override_rate",
    "tokens_under_correction",
    "visit_outcomes_table",
]

VISIT_ID_PREFIX = "APP-"
APP_SOURCE_FILE = "review_app"
CORRECTION_FLAG = "数据更正中"
#: Replaces a note in which the leak scanner still finds personal information (DESIGN §11.2).
REDACTED_NOTE = "〔备注含可识别信息，已隐去〕"

#: The pseudonymized visit_records schema (docs/interfaces.md §2; data/work/pseudonymized/visit_records.parquet).
VISIT_RECORDS_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("source_row", pa.int64()),
        ("visit_id", pa.string()),
        ("visit_date", pa.date32()),
        ("child_token", pa.string()),
        ("visit_mode", pa.string()),
        ("guardianship_assessment", pa.string()),
        ("notes", pa.string()),
        ("filed_date", pa.date32()),
        ("knowledge_date", pa.date32()),
    ],
    metadata={"humiao.table": "visit_records", "humiao.source": APP_SOURCE_FILE},
)

_TOKEN_RE = re.compile(r"^[A-Z]_k\d+_[0-9a-f]{20}$")


def _engine(db: Engine | str) -> Engine:
    return make_engine(db) if isinstance(db, str) else db


def visit_outcomes_table(db: Engine | str, *, scanner=None) -> pa.Table:
    """Recorded visit outcomes as visit records (:data:`VISIT_RECORDS_SCHEMA`).

    Parameters
    ----------
    db : Engine or str
        The app database (engine or SQLAlchemy URL).
    scanner : privacy.scanner.LeakScanner, optional
        Re-checks every note (default: a scanner of validated identifier patterns); a note with a
        finding is replaced by :data:`REDACTED_NOTE` (DESIGN §11.2).

    Returns
    -------
    pyarrow.Table
        One row per outcome with a contract assessment (not 未见到儿童), sorted by ``visit_id``;
        ``source_row`` is the outcome's database id, ``filed_date = knowledge_date`` = the day it was
        recorded (UTC).

    Raises
    ------
    ValueError
        A ``child_token`` that is not a pseudonymous token or a ``visit_id`` without the ``APP-``
        prefix (fail closed: nothing is returned).
    """
    if scanner is None:
        from privacy.scanner import LeakScanner

        scanner = LeakScanner()
    with make_sessionmaker(_engine(db))() as s:
        rows = list(s.scalars(select(VisitOutcome).where(VisitOutcome.assessment != NOT_SEEN)
                              .order_by(VisitOutcome.visit_id)))
    cols: dict[str, list] = {f.name: [] for f in VISIT_RECORDS_SCHEMA}
    for r in rows:
        if not _TOKEN_RE.match(r.child_token or ""):
            raise ValueError(f"visit_outcomes id {r.id}: child_token is not a pseudonymous token")
        if not str(r.visit_id).startswith(VISIT_ID_PREFIX):
            raise ValueError(f"visit_outcomes id {r.id}: visit_id must start with {VISIT_ID_PREFIX}")
        note = r.note
        if note and scanner.scan_text(note, free_text=True):
            note = REDACTED_NOTE
        filed = r.recorded_at.date() if isinstance(r.recorded_at, dt.datetime) else r.recorded_at
        cols["source_file"].append(APP_SOURCE_FILE)
        cols["source_row"].append(int(r.id))
        cols["visit_id"].append(r.visit_id)
        cols["visit_date"].append(r.visit_date)
        cols["child_token"].append(r.child_token)
        cols["visit_mode"].append(r.visit_mode)
        cols["guardianship_assessment"].append(r.assessment)
        cols["notes"].append(note)
        cols["filed_date"].append(filed)
        cols["knowledge_date"].append(filed)
    return pa.Table.from_pydict(cols, schema=VISIT_RECORDS_SCHEMA)


def _write_atomic(table: pa.Table, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path


def export_visit_outcomes(db: Engine | str, feedback_dir: Path | str) -> Path:
    """Write ``<feedback_dir>/visit_outcomes.parquet`` (atomically) from :func:`visit_outcomes_table`.

    Parameters
    ----------
    db : Engine or str
    feedback_dir : path-like
        ``<work_dir>/feedback``.

    Returns
    -------
    Path
    """
    return _write_atomic(visit_outcomes_table(db), Path(feedback_dir) / "visit_outcomes.parquet")


def tokens_under_correction(db: Engine | str, *, community: str | None = None) -> set[str]:
    """Child tokens with an open data-correction request (shown as :data:`CORRECTION_FLAG`).

    Parameters
    ----------
    db : Engine or str
    community : str, optional
        Only this community's children.

    Returns
    -------
    set of str
    """
    q = select(CorrectionRequest.child_token).where(CorrectionRequest.status == CORRECTION_OPEN)
    if community is not None:
        q = q.where(CorrectionRequest.community == community)
    with make_sessionmaker(_engine(db))() as s:
        return set(s.scalars(q))


OPEN_CASE_FLAG = "转介处理中"
"""List flag of a child with an open referral (a need referred to a service and not yet completed)."""


def tokens_with_open_referral(db: Engine | str) -> set[str]:
    """Child tokens with a referral whose status is not 已完成 (an open case, marked on lists)."""
    from serving.app.db import Referral

    q = select(Referral.child_token).where(Referral.status != "已完成")
    with make_sessionmaker(_engine(db))() as s:
        return set(s.scalars(q))


def export_feedback(db: Engine | str, feedback_dir: Path | str) -> dict[str, Path]:
    """Both exports: ``visit_outcomes.parquet`` and ``under_correction.parquet`` (``child_token``).

    Returns
    -------
    dict
        ``{"visit_outcomes": path, "under_correction": path}``.
    """
    engine = _engine(db)
    feedback_dir = Path(feedback_dir)
    tokens = sorted(tokens_under_correction(engine))
    corr = pa.Table.from_pydict({"child_token": tokens}, schema=pa.schema([("child_token", pa.string())]))
    open_cases = pa.Table.from_pydict({"child_token": sorted(tokens_with_open_referral(engine))},
                                      schema=pa.schema([("child_token", pa.string())]))
    return {
        "visit_outcomes": export_visit_outcomes(engine, feedback_dir),
        "under_correction": _write_atomic(corr, feedback_dir / "under_correction.parquet"),
        "open_cases": _write_atomic(open_cases, feedback_dir / "open_cases.parquet"),
    }


def override_rate(
    db: Engine | str,
    *,
    target: str | None = None,
    cycle: str | None = None,
    since: dt.date | None = None,
) -> dict:
    """Share of recorded outcomes where the director disagreed with the ranking.

    Parameters
    ----------
    db : Engine or str
    target : str, optional
        ``guardianship_risk`` or ``left_behind_risk`` (the list section the child was on); default all
        sections, event alerts included.
    cycle : str, optional
        e.g. ``"2026-01"``.
    since : date, optional
        Only visits on or after this date.

    Returns
    -------
    dict
        ``{"outcomes": n, "disagreed": d, "rate": d / n (None when n == 0), "by_reason_given": r}``
        where ``r`` counts disagreements that carry a reason. Counts under 10 must be suppressed on a
        card shown outside the data team (DESIGN §5 "Small cells"): ``"suppressed"`` is True then.
    """
    q = select(VisitOutcome)
    if target is not None:
        q = q.where(VisitOutcome.section == target)
    if cycle is not None:
        q = q.where(VisitOutcome.cycle == cycle)
    if since is not None:
        q = q.where(VisitOutcome.visit_date >= since)
    with make_sessionmaker(_engine(db))() as s:
        rows = list(s.scalars(q))
    n = len(rows)
    d = sum(1 for r in rows if not r.agrees_with_ranking)
    with_reason = sum(1 for r in rows if not r.agrees_with_ranking and (r.disagreement_reason or "").strip())
    return {"outcomes": n, "disagreed": d, "rate": (d / n) if n else None,
            "by_reason_given": with_reason, "suppressed": n < 10}
