"""Settings of the review app: where its inputs are, its database, its keys (DESIGN.md §3 "one
configuration object", §5 keys).

The app reads no configuration file itself: :func:`settings_from_config` takes the already loaded
:class:`humiao.config.Config` (the CLI loads it with :func:`humiao.config.load_config`) and the keys
come through :mod:`privacy.keys`, as ``humiao/stages.py`` does.

Environment
-----------
``HUMIAO_APP_DATABASE_URL``
    SQLAlchemy URL of the app database (e.g. ``postgresql+psycopg://humiao@db/humiao``); default a
    SQLite file ``<work_dir>/app/humiao_app.sqlite``.
``HUMIAO_APP_SECRET`` / ``HUMIAO_APP_SECRET_FILE``
    The cookie-signing secret (hex or base64, ≥ 32 bytes). Production refuses to start without one;
    the demo creates ``<secrets_dir>/app_session.key`` once (mode 0600).
``HUMIAO_APP_SECURE_COOKIES``
    ``1`` marks cookies ``Secure`` even when the app sees plain http (behind a TLS proxy that does not
    forward the scheme). Requests arriving over https always get ``Secure`` cookies.
``HUMIAO_MLFLOW_UI_URL``
    Base URL of the MLflow UI shown to the data team (default ``http://localhost:5000``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from privacy.keys import KeyConfigurationError, decode_key

__all__ = ["DATABASE_URL_ENV", "SECRET_ENV", "SECRET_FILE_ENV", "AppSettings", "load_session_secret",
           "settings_from_config"]

DATABASE_URL_ENV = "HUMIAO_APP_DATABASE_URL"
SECRET_ENV = "HUMIAO_APP_SECRET"
SECRET_FILE_ENV = "HUMIAO_APP_SECRET_FILE"
SECURE_COOKIES_ENV = "HUMIAO_APP_SECURE_COOKIES"
MLFLOW_UI_ENV = "HUMIAO_MLFLOW_UI_URL"


@dataclass
class AppSettings:
    """Everything the review app needs, as explicit values.

    Parameters
    ----------
    work_dir, out_dir : Path
        ``paths.work_dir`` (vault, ingest report, pseudonymized tables) and ``paths.out_dir`` (visit
        lists, model cards, MLflow store).
    database_url : str
        SQLAlchemy URL of the app database.
    vault_key : bytes or None
        Fernet key of ``vault.bin`` (:func:`privacy.keys.load_vault_key`); None disables
        re-identification (names are then never shown).
    session_secret : bytes
        Secret for signing the session and CSRF cookies (≥ 32 bytes).
    env : str
        ``"demo"`` or ``"production"``.
    mlflow_tracking_uri : str or None
        e.g. ``sqlite:///out/mlflow/mlflow.db``; None hides the governance and MLflow sections.
    mlflow_ui_url : str
        Link target for the data team.
    session_max_age_s : int
        Session lifetime in seconds (default 8 h, one working day).
    secure_cookies : bool
        Always mark cookies ``Secure`` (they are anyway when the request came over https).
    """

    work_dir: Path
    out_dir: Path
    database_url: str
    vault_key: bytes | None
    session_secret: bytes = field(repr=False)
    env: str = "demo"
    mlflow_tracking_uri: str | None = None
    mlflow_ui_url: str = "http://localhost:5000"
    session_max_age_s: int = 8 * 3600
    secure_cookies: bool = False

    def __post_init__(self):
        self.work_dir = Path(self.work_dir)
        self.out_dir = Path(self.out_dir)
        if len(self.session_secret) < 32:
            raise KeyConfigurationError("the app's session secret must be at least 32 bytes")

    @property
    def app_dir(self) -> Path:
        """``<work_dir>/app``: the default SQLite database and the audit log."""
        return self.work_dir / "app"

    @property
    def vault_path(self) -> Path:
        return self.work_dir / "vault.bin"

    @property
    def identity_index_path(self) -> Path:
        return self.work_dir / "identity_index.bin"

    @property
    def audit_log_path(self) -> Path:
        """The hash-chained re-identification and access audit log (:mod:`privacy.vault`)."""
        return self.app_dir / "audit.log"

    @property
    def visit_lists_dir(self) -> Path:
        return self.out_dir / "visit_lists"

    @property
    def model_cards_dir(self) -> Path:
        return self.out_dir / "model_cards"

    @property
    def ingest_report_path(self) -> Path:
        return self.work_dir / "ingest_report.json"

    @property
    def feedback_dir(self) -> Path:
        """``<work_dir>/feedback``: visit outcomes exported for the next cycle's labels."""
        return self.work_dir / "feedback"

    def __repr__(self) -> str:  # never show keys
        return f"AppSettings(work_dir={str(self.work_dir)!r}, out_dir={str(self.out_dir)!r}, env={self.env!r})"


def default_database_url(work_dir: Path) -> str:
    """``sqlite:///<work_dir>/app/humiao_app.sqlite``."""
    return f"sqlite:///{Path(work_dir).resolve() / 'app' / 'humiao_app.sqlite'}"


def load_session_secret(env: str, secrets_dir: Path, environ: Mapping[str, str] | None = None) -> bytes:
    """The cookie-signing secret.

    Parameters
    ----------
    env : str
        ``"production"`` refuses to create one.
    secrets_dir : Path
        Demo only: ``<secrets_dir>/app_session.key`` is created once (directory 0700, file 0600).
    environ : mapping, optional
        Default ``os.environ``.

    Returns
    -------
    bytes

    Raises
    ------
    privacy.keys.KeyConfigurationError
        Production without ``HUMIAO_APP_SECRET``/``HUMIAO_APP_SECRET_FILE``; a short or undecodable
        secret. The message never holds the secret.
    """
    e = os.environ if environ is None else environ
    if e.get(SECRET_ENV):
        return decode_key(e[SECRET_ENV], SECRET_ENV)
    if e.get(SECRET_FILE_ENV):
        p = Path(e[SECRET_FILE_ENV])
        if not p.is_file():
            raise KeyConfigurationError(f"{SECRET_FILE_ENV}: {p} does not exist")
        return decode_key(p.read_text(encoding="ascii"), str(p))
    if env == "production":
        raise KeyConfigurationError(
            f"production needs a session secret for the review app: set {SECRET_ENV} or {SECRET_FILE_ENV}"
        )
    p = Path(secrets_dir) / "app_session.key"
    if not p.exists():
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(32) + "\n")
    return decode_key(p.read_text(encoding="ascii"), str(p))


def settings_from_config(cfg, environ: Mapping[str, str] | None = None) -> AppSettings:
    """Build :class:`AppSettings` from a loaded :class:`humiao.config.Config`.

    Parameters
    ----------
    cfg : humiao.config.Config
        From :func:`humiao.config.load_config` (paths ``work_dir``, ``out_dir``, ``secrets_dir``).
    environ : mapping, optional
        Default ``os.environ`` (database URL, secrets, cookie and MLflow-UI settings).

    Returns
    -------
    AppSettings
    """
    from privacy.keys import load_vault_key

    e = os.environ if environ is None else environ
    work = cfg.path("work_dir")
    vault_key, _source = load_vault_key(cfg.env, cfg.root, cfg.path("secrets_dir"), environ=e)
    return AppSettings(
        work_dir=work,
        out_dir=cfg.path("out_dir"),
        database_url=e.get(DATABASE_URL_ENV) or default_database_url(work),
        vault_key=vault_key,
        session_secret=load_session_secret(cfg.env, cfg.path("secrets_dir"), e),
        env=cfg.env,
        mlflow_tracking_uri=cfg.mlflow_tracking_uri,
        mlflow_ui_url=e.get(MLFLOW_UI_ENV, "http://localhost:5000"),
        secure_cookies=e.get(SECURE_COOKIES_ENV, "") in ("1", "true", "yes"),
    )
