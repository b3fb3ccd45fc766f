"""The review app (审核与走访应用): FastAPI pages for child directors, child supervisors, governance
reviewers and the data team (DESIGN.md §1, §5, §8; issue 6).

Modules
-------
serving.app.settings
    :class:`AppSettings` (paths, keys, database URL) and :func:`settings_from_config`.
serving.app.db
    SQLAlchemy models (users, sessions, visit outcomes, referrals, correction requests) and
    :func:`make_engine` (SQLite under ``<work_dir>/app/`` by default, PostgreSQL by URL).
serving.app.security
    argon2 password hashing, server-side sessions in signed cookies, CSRF tokens.
serving.app.users
    :func:`add_user`, :func:`list_users`, :func:`set_active` (used by ``humiao users``).
serving.app.main
    :func:`create_app` — the FastAPI application (``humiao serve``).

Only this sub-package imports FastAPI; :mod:`serving.feedback` (exports for the pipeline) needs only
SQLAlchemy and pyarrow. Nothing here imports dagster or reads the configuration file itself.
"""
