"""Passwords, sessions and CSRF for the review app.

* Passwords: argon2id (:mod:`argon2`, RFC 9106 parameters of argon2-cffi's defaults); a hash with
  outdated parameters is re-hashed at the next sign-in. Five failed sign-ins lock an account for 15
  minutes (GB/T 22239-2019 等级保护 2.0, 8.1.4.1 b: login-failure handling).
* Sessions: a random 256-bit id stored server side (:class:`serving.app.db.AppSession`), sent as a
  cookie signed with :mod:`itsdangerous`, ``HttpOnly``, ``SameSite=Strict``, ``Secure`` over https;
  logout deletes the row, so a copied cookie dies with it. Lifetime :attr:`AppSettings.session_max_age_s`.
* CSRF: a per-session token in a hidden field of every form and checked on every POST (constant-time
  comparison); before sign-in, a signed double-submit cookie protects the login form (OWASP CSRF
  Prevention Cheat Sheet, "synchronizer token" and "signed double-submit cookie").
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, URLSafeTimedSerializer

from serving.app.db import AppSession, User, utcnow

__all__ = [
    "LOCK_AFTER_FAILURES",
    "LOCK_MINUTES",
    "MIN_PASSWORD_LENGTH",
    "SESSION_COOKIE",
    "CookieSigner",
    "check_password",
    "csrf_ok",
    "hash_password",
    "new_session",
    "validate_password",
]

SESSION_COOKIE = "humiao_session"
LOGIN_CSRF_COOKIE = "humiao_login_csrf"
MIN_PASSWORD_LENGTH = 10
LOCK_AFTER_FAILURES = 5
LOCK_MINUTES = 15

_hasher = PasswordHasher()


def validate_password(password: str) -> None:
    """Raise ValueError (Chinese message) when a password is too weak: at least 10 characters, not
    all one character class."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符")
    if password.isdigit() or password.isalpha():
        raise ValueError("密码不能只含数字或只含字母")


def hash_password(password: str) -> str:
    """argon2id hash of ``password`` (encoded string with salt and parameters)."""
    return _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    """True when ``password`` matches; re-hashes in place when the parameters are outdated."""
    try:
        _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return True


class CookieSigner:
    """Sign and verify cookie values (session ids, the login CSRF token) with a timestamp.

    Parameters
    ----------
    secret : bytes
        The app's session secret (≥ 32 bytes).
    max_age_s : int
        Signatures older than this are rejected.
    """

    def __init__(self, secret: bytes, max_age_s: int):
        self._s = URLSafeTimedSerializer(secret, salt="humiao-app-cookie")
        self.max_age_s = max_age_s

    def __repr__(self) -> str:
        return "CookieSigner(secret=<hidden>)"

    def sign(self, value: str) -> str:
        return self._s.dumps(value)

    def unsign(self, signed: str | None) -> str | None:
        """The value, or None when missing, forged or expired."""
        if not signed:
            return None
        try:
            value = self._s.loads(signed, max_age=self.max_age_s)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None


def new_session(db, user: User, max_age_s: int) -> AppSession:
    """Create and add a session row for ``user`` (random id and CSRF token, 256 bits each)."""
    s = AppSession(
        id=secrets.token_urlsafe(32),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=utcnow(),
        expires_at=utcnow() + dt.timedelta(seconds=max_age_s),
    )
    db.add(s)
    return s


def csrf_ok(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of CSRF tokens; False when either is missing."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())
