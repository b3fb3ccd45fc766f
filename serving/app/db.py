"""The review app's database: users, sessions, visit outcomes, referrals, correction requests.

SQLAlchemy 2 ORM; SQLite file by default (``<work_dir>/app/humiao_app.sqlite``, mode 0600), PostgreSQL
by URL (``HUMIAO_APP_DATABASE_URL``). Every child-related row holds the pseudonymous ``child_token``
and the place it belongs to (community, township) — never a name, ID, phone or address (DESIGN §5).
Free text typed by a person (visit note, disagreement reason, referral need, correction request) is
stored only after :class:`privacy.anonymizer.NoteAnonymizer` (see :mod:`serving.app.notes`).

User accounts are accountable staff and are kept as they are (DESIGN §4, last paragraph).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

__all__ = [
    "ASSESSMENTS",
    "CORRECTION_OPEN",
    "CORRECTION_RESOLVED",
    "DEPARTMENTS",
    "NOT_SEEN",
    "REFERRAL_STATUSES",
    "REQUESTERS",
    "ROLES",
    "SERVICES",
    "VISIT_MODES",
    "AppSession",
    "Base",
    "CorrectionRequest",
    "Referral",
    "User",
    "VisitOutcome",
    "make_engine",
    "make_sessionmaker",
    "utcnow",
]

#: Roles and their Chinese names (DESIGN §1).
ROLES = {
    "director": "儿童主任",
    "supervisor": "儿童督导员",
    "reviewer": "算法治理审查员",
    "data_team": "数据专班",
}
#: 走访方式: the values of the bureau's visit_records contract (contracts/civil_affairs.yaml).
VISIT_MODES = ("入户走访", "电话回访", "视频回访", "学校见面")
NOT_SEEN = "未见到儿童"
#: 监护评估: the contract's four values (DESIGN §2 glossary) plus "child not seen".
ASSESSMENTS = ("良好", "一般", "监护不当", "监护缺失", NOT_SEEN)
#: Services a need found on a visit can be referred to (issue 6).
SERVICES = ("康复", "教育资助", "心理支持", "社会组织")
REFERRAL_STATUSES = ("已转介", "处理中", "已完成")
#: Source departments (DESIGN §4) a correction request is sent to.
DEPARTMENTS = ("民政", "公安", "教育", "卫健", "残联", "人社", "司法")
#: Who asked for a correction — a relationship, never a name.
REQUESTERS = ("儿童本人", "父亲", "母亲", "祖父母/外祖父母", "其他监护人", "其他家庭成员")
CORRECTION_OPEN = "更正中"
CORRECTION_RESOLVED = "已解决"


def utcnow() -> dt.datetime:
    """Timezone-naive UTC now (stored as such in every backend)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


class Base(DeclarativeBase):
    pass


class User(Base):
    """A person who signs in. ``community``/``township`` scope directors and supervisors."""

    __tablename__ = "app_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str | None] = mapped_column(String(64))
    community: Mapped[str | None] = mapped_column(String(64))
    township: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    @property
    def role_zh(self) -> str:
        return ROLES.get(self.role, self.role)

    @property
    def scope(self) -> dict[str, str]:
        """The re-identification scope for :meth:`privacy.vault.Vault.reidentify` ({} for other roles)."""
        if self.role == "director":
            return {"community": self.community or "", "township": self.township or ""}
        if self.role == "supervisor":
            return {"township": self.township or ""}
        return {}


class AppSession(Base):
    """A signed-in session: the cookie carries the signed ``id``; logout deletes the row."""

    __tablename__ = "app_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class VisitOutcome(Base):
    """One recorded visit (or alert verification): becomes a visit_records row (DESIGN §11.12)."""

    __tablename__ = "visit_outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visit_id: Mapped[str] = mapped_column(String(40), unique=True, index=True)
    child_token: Mapped[str] = mapped_column(String(64), index=True)
    community: Mapped[str] = mapped_column(String(64))
    township: Mapped[str] = mapped_column(String(64))
    cycle: Mapped[str | None] = mapped_column(String(16))
    section: Mapped[str | None] = mapped_column(String(32))  # event_alert / guardianship_risk / left_behind_risk
    list_rank: Mapped[int | None] = mapped_column(Integer)
    visit_date: Mapped[dt.date] = mapped_column(Date)
    visit_mode: Mapped[str] = mapped_column(String(16))
    assessment: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)  # anonymized
    agrees_with_ranking: Mapped[bool] = mapped_column(Boolean)
    disagreement_reason: Mapped[str | None] = mapped_column(Text)  # anonymized
    note_redacted: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Referral(Base):
    """A need found on a visit, referred to a service; its status is tracked."""

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    child_token: Mapped[str] = mapped_column(String(64), index=True)
    community: Mapped[str] = mapped_column(String(64))
    township: Mapped[str] = mapped_column(String(64))
    service: Mapped[str] = mapped_column(String(16))
    need: Mapped[str | None] = mapped_column(Text)  # anonymized
    status: Mapped[str] = mapped_column(String(16), default="已转介")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class CorrectionRequest(Base):
    """A family's request to correct data held by a source department (DESIGN §5)."""

    __tablename__ = "correction_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    child_token: Mapped[str] = mapped_column(String(64), index=True)
    community: Mapped[str] = mapped_column(String(64))
    township: Mapped[str] = mapped_column(String(64))
    what: Mapped[str] = mapped_column(Text)  # anonymized
    requested_by: Mapped[str] = mapped_column(String(16))  # a relationship (REQUESTERS)
    department: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(8), default=CORRECTION_OPEN)
    recorded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    resolution: Mapped[str | None] = mapped_column(Text)  # anonymized


def make_engine(database_url: str, *, create: bool = True) -> Engine:
    """An engine for the app database; creates the tables (and a SQLite file with mode 0600).

    Parameters
    ----------
    database_url : str
        SQLAlchemy URL: ``sqlite:///path`` or ``postgresql+psycopg://…``.
    create : bool
        Create missing tables (``Base.metadata.create_all``; no migrations yet).

    Returns
    -------
    sqlalchemy.engine.Engine
    """
    url = make_url(database_url)
    kwargs: dict = {"future": True}
    if url.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        if url.database and url.database != ":memory:":
            path = Path(url.database)
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not path.exists():
                fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
                os.close(fd)
    engine = create_engine(url, **kwargs)
    if url.get_backend_name() == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

    if create:
        Base.metadata.create_all(engine)
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker:
    """``sessionmaker`` with ``expire_on_commit=False`` (objects stay readable after commit)."""
    return sessionmaker(engine, expire_on_commit=False, future=True)
