"""Where the pseudonym key and the vault key come from (DESIGN.md §5, §11.16).

Two separate secrets:

* the **pseudonym key** (HMAC, ≥ 32 bytes): ``HUMIAO_PSEUDONYM_KEY`` (hex or base64) or a key file named
  by ``HUMIAO_PSEUDONYM_KEY_FILE``; version from ``HUMIAO_PSEUDONYM_KEY_VERSION`` (default 1);
* the **vault / identity-index key** (Fernet): ``HUMIAO_VAULT_KEY`` or ``HUMIAO_VAULT_KEY_FILE``.

``env == "production"``: a missing key, a key file inside the repository, a key file readable by other
users, or the two keys being equal are refused with :class:`KeyConfigurationError`. Any other
environment (demo/test): when no key is configured one is created **once** under ``secrets_dir``
(directory mode 0700, file mode 0600, e.g. the git-ignored ``.secrets/``) and the returned ``source``
says ``created``; later runs reuse it.

No message, log line, ``repr`` or exception ever contains a key (PIPL art. 51: technical measures).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "PSEUDONYM_KEY_ENV",
    "PSEUDONYM_KEY_FILE_ENV",
    "PSEUDONYM_KEY_VERSION_ENV",
    "VAULT_KEY_ENV",
    "VAULT_KEY_FILE_ENV",
    "KeyConfigurationError",
    "decode_key",
    "load_pseudonym_key",
    "load_vault_key",
]

log = logging.getLogger(__name__)

PSEUDONYM_KEY_ENV = "HUMIAO_PSEUDONYM_KEY"
PSEUDONYM_KEY_FILE_ENV = "HUMIAO_PSEUDONYM_KEY_FILE"
PSEUDONYM_KEY_VERSION_ENV = "HUMIAO_PSEUDONYM_KEY_VERSION"
VAULT_KEY_ENV = "HUMIAO_VAULT_KEY"
VAULT_KEY_FILE_ENV = "HUMIAO_VAULT_KEY_FILE"
PRODUCTION = "production"
DEMO_VERSION_FILE = "pseudonym.key.version"
"""Demo only: the version of ``<secrets_dir>/pseudonym.key`` after a rotation (default 1)."""
MIN_KEY_BYTES = 32


class KeyConfigurationError(RuntimeError):
    """The key configuration is unusable or unsafe. The message never contains key material."""


def decode_key(text: str, what: str) -> bytes:
    """Decode a key given as hex (64+ hex digits) or base64 (standard or URL-safe).

    Raises
    ------
    KeyConfigurationError
        Undecodable or shorter than 32 bytes (the message names ``what``, never the value).
    """
    s = text.strip()
    raw: bytes | None = None
    if s and len(s) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in s):
        raw = bytes.fromhex(s)
    else:
        for alt in (None, b"-_"):
            try:
                raw = base64.b64decode(s.encode("ascii") + b"=" * (-len(s) % 4), altchars=alt, validate=True)
                break
            except (binascii.Error, ValueError, UnicodeEncodeError):
                continue
    if raw is None:
        raise KeyConfigurationError(f"{what}: not hex or base64")
    if len(raw) < MIN_KEY_BYTES:
        raise KeyConfigurationError(f"{what}: key must be at least {MIN_KEY_BYTES} bytes, got {len(raw)}")
    return raw


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def _read_key_file(path: Path, what: str, env: str, repo_root: Path) -> bytes:
    path = Path(path).expanduser()
    if env == PRODUCTION and _inside(path, repo_root):
        raise KeyConfigurationError(
            f"{what}: the key file {path} lies inside the repository {repo_root}; in production the key "
            "file must live outside it (DESIGN §11.16)"
        )
    if not path.is_file():
        raise KeyConfigurationError(f"{what}: key file {path} does not exist")
    mode = path.stat().st_mode
    if env == PRODUCTION and mode & (stat.S_IROTH | stat.S_IWOTH):
        raise KeyConfigurationError(f"{what}: key file {path} is readable by other users (chmod 600)")
    return path.read_text(encoding="ascii", errors="strict")


def _create_secret(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(content + "\n")
    os.chmod(path, 0o600)


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def load_pseudonym_key(
    env: str, repo_root: Path, secrets_dir: Path, environ: Mapping[str, str] | None = None
) -> tuple[bytes, int, str]:
    """The HMAC key for :class:`privacy.tokens.Pseudonymizer`.

    Parameters
    ----------
    env
        ``"production"`` or anything else (demo/test).
    repo_root
        The repository root: a production key file must lie outside it.
    secrets_dir
        Demo only: where a key is created once (``<secrets_dir>/pseudonym.key``).
    environ
        Environment mapping (default ``os.environ``); tests pass a dict.

    Returns
    -------
    (key, version, source)
        ``key`` ≥ 32 bytes; ``version`` from ``HUMIAO_PSEUDONYM_KEY_VERSION`` (default 1); ``source``
        describes where it came from (``"env:HUMIAO_PSEUDONYM_KEY"``, ``"file:<path>"``,
        ``"demo:created <path>"`` or ``"demo:<path>"``) and never contains the key.

    Raises
    ------
    KeyConfigurationError
        Production without a key, a production key file inside the repository or readable by others,
        an undecodable or short key, a bad version.
    """
    e = _env(environ)
    what = "pseudonym key"
    try:
        version = int(e.get(PSEUDONYM_KEY_VERSION_ENV, "1"))
    except ValueError:
        raise KeyConfigurationError(f"{PSEUDONYM_KEY_VERSION_ENV} must be an integer") from None
    if version < 1:
        raise KeyConfigurationError(f"{PSEUDONYM_KEY_VERSION_ENV} must be ≥ 1")
    if e.get(PSEUDONYM_KEY_ENV):
        return decode_key(e[PSEUDONYM_KEY_ENV], PSEUDONYM_KEY_ENV), version, f"env:{PSEUDONYM_KEY_ENV}"
    if e.get(PSEUDONYM_KEY_FILE_ENV):
        p = Path(e[PSEUDONYM_KEY_FILE_ENV])
        return decode_key(_read_key_file(p, what, env, repo_root), str(p)), version, f"file:{p}"
    if env == PRODUCTION:
        raise KeyConfigurationError(
            f"production needs a pseudonym key: set {PSEUDONYM_KEY_ENV} or {PSEUDONYM_KEY_FILE_ENV} "
            "(a file outside the repository); refusing to run (DESIGN §5, §11.16)"
        )
    p = Path(secrets_dir) / "pseudonym.key"
    if p.exists():
        vfile = p.with_name(DEMO_VERSION_FILE)
        if PSEUDONYM_KEY_VERSION_ENV not in e and vfile.exists():  # written by `humiao rotate-key` (demo)
            try:
                version = int(vfile.read_text(encoding="ascii").strip())
            except ValueError:
                raise KeyConfigurationError(f"{vfile} must hold the key version, an integer") from None
        return decode_key(_read_key_file(p, what, env, repo_root), str(p)), version, f"demo:{p}"
    _create_secret(p, secrets.token_hex(32))
    log.warning("demo mode: created a new pseudonym key at %s (owner-only); keep it to keep tokens stable", p)
    return decode_key(p.read_text(encoding="ascii"), str(p)), version, f"demo:created {p}"


def _fernet_key(text: str, what: str) -> bytes:
    """Accept a Fernet key (URL-safe base64 of 32 bytes) or 32 bytes in hex; return the Fernet form."""
    raw = decode_key(text, what)
    if len(raw) != 32:
        raise KeyConfigurationError(f"{what}: a vault key must be exactly 32 bytes")
    return base64.urlsafe_b64encode(raw)


def load_vault_key(
    env: str,
    repo_root: Path,
    secrets_dir: Path,
    environ: Mapping[str, str] | None = None,
    pseudonym_key: bytes | None = None,
) -> tuple[bytes, str]:
    """The Fernet key of ``vault.bin`` and ``identity_index.bin`` (separate from the pseudonym key).

    Same rules as :func:`load_pseudonym_key` with ``HUMIAO_VAULT_KEY`` / ``HUMIAO_VAULT_KEY_FILE`` and
    ``<secrets_dir>/vault.key``.

    Returns
    -------
    (fernet_key, source)
        ``fernet_key`` as URL-safe base64 bytes usable by ``cryptography.fernet.Fernet``.

    Raises
    ------
    KeyConfigurationError
        As :func:`load_pseudonym_key`; also when the vault key equals the pseudonym key.
    """
    e = _env(environ)
    what = "vault key"
    if e.get(VAULT_KEY_ENV):
        key, source = _fernet_key(e[VAULT_KEY_ENV], VAULT_KEY_ENV), f"env:{VAULT_KEY_ENV}"
    elif e.get(VAULT_KEY_FILE_ENV):
        p = Path(e[VAULT_KEY_FILE_ENV])
        key, source = _fernet_key(_read_key_file(p, what, env, repo_root), str(p)), f"file:{p}"
    elif env == PRODUCTION:
        raise KeyConfigurationError(
            f"production needs a vault key: set {VAULT_KEY_ENV} or {VAULT_KEY_FILE_ENV} "
            "(a file outside the repository); refusing to run"
        )
    else:
        p = Path(secrets_dir) / "vault.key"
        if p.exists():
            key, source = _fernet_key(_read_key_file(p, what, env, repo_root), str(p)), f"demo:{p}"
        else:
            _create_secret(p, base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii"))
            log.warning("demo mode: created a new vault key at %s (owner-only)", p)
            key, source = _fernet_key(p.read_text(encoding="ascii"), str(p)), f"demo:created {p}"
    if pseudonym_key is not None and base64.urlsafe_b64decode(key) == pseudonym_key[:32]:
        raise KeyConfigurationError(
            "保险库密钥不能与假名化密钥相同：请生成两把不同的密钥 / the vault key must differ from the pseudonym "
            "key: generate two different keys (DESIGN §5)")
    return key, source
