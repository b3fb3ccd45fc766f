"""Managing accounts of the review app (``humiao users add|list|disable|password``)."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.engine import Engine

from serving.app.db import ROLES, User, make_sessionmaker
from serving.app.security import hash_password, validate_password

__all__ = ["add_user", "list_users", "set_active", "set_password"]

_USERNAME = re.compile(r"^[A-Za-z0-9_.\-]{3,64}$")


def add_user(
    engine: Engine,
    username: str,
    password: str,
    role: str,
    *,
    community: str | None = None,
    township: str | None = None,
    display_name: str | None = None,
) -> User:
    """Create an account.

    Parameters
    ----------
    engine : Engine
        The app database (:func:`serving.app.db.make_engine`).
    username : str
        3–64 characters of ``A–Z a–z 0–9 _ . -``.
    password : str
        Checked by :func:`serving.app.security.validate_password`; stored only as an argon2 hash.
    role : str
        One of ``director`` (needs community and township), ``supervisor`` (needs township),
        ``reviewer``, ``data_team`` (neither).
    community, township, display_name : str, optional

    Returns
    -------
    User

    Raises
    ------
    ValueError
        Bad username, role, scope or password, or the username exists (Chinese message).
    """
    if not _USERNAME.match(username or ""):
        raise ValueError("用户名需为 3–64 个字母、数字或 _ . -")
    if role not in ROLES:
        raise ValueError(f"未知角色 {role!r}；可选：{', '.join(ROLES)}")
    community = (community or "").strip() or None
    township = (township or "").strip() or None
    if role == "director" and not (community and township):
        raise ValueError("儿童主任账号需要 --community（村/社区）和 --township（乡镇/街道）")
    if role == "supervisor" and not township:
        raise ValueError("儿童督导员账号需要 --township（乡镇/街道）")
    if role == "supervisor":
        community = None
    if role in ("reviewer", "data_team") and (community or township):
        raise ValueError("审查员和数据专班账号不属于任何村/社区，不能带 --community/--township")
    validate_password(password)
    Session = make_sessionmaker(engine)
    with Session.begin() as db:
        if db.scalar(select(User).where(User.username == username)):
            raise ValueError(f"用户名 {username} 已存在")
        user = User(username=username, password_hash=hash_password(password), role=role,
                    community=community, township=township, display_name=display_name, active=True)
        db.add(user)
    return user


def list_users(engine: Engine) -> list[User]:
    """Every account, by username."""
    with make_sessionmaker(engine)() as db:
        return list(db.scalars(select(User).order_by(User.username)))


def set_active(engine: Engine, username: str, active: bool) -> None:
    """Enable or disable an account (a disabled account cannot sign in; its sessions end)."""
    from serving.app.db import AppSession

    with make_sessionmaker(engine).begin() as db:
        user = db.scalar(select(User).where(User.username == username))
        if user is None:
            raise ValueError(f"没有用户 {username}")
        user.active = active
        if not active:
            for s in db.scalars(select(AppSession).where(AppSession.user_id == user.id)):
                db.delete(s)


def set_password(engine: Engine, username: str, password: str) -> None:
    """Replace a password (ends the account's sessions, clears a lock)."""
    from serving.app.db import AppSession

    validate_password(password)
    with make_sessionmaker(engine).begin() as db:
        user = db.scalar(select(User).where(User.username == username))
        if user is None:
            raise ValueError(f"没有用户 {username}")
        user.password_hash = hash_password(password)
        user.failed_logins = 0
        user.locked_until = None
        for s in db.scalars(select(AppSession).where(AppSession.user_id == user.id)):
            db.delete(s)
