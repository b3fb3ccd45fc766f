"""Encrypted files written and read chunk by chunk: the vault, the identity index, the scanner index and
the note cache (DESIGN.md §5; issue 8).

Fernet (AES-128-CBC + HMAC-SHA256) encrypts one message at once, and its intermediate copies (padding, the
ciphertext, the base64 text) are each as large as the message: a 2,000,000-child city's vault is about
1.2 GB of JSON, so encrypting it whole took several gigabytes beyond the plaintext at the end of the
ingest. A sealed file is instead

    HUMIAO-SEALED-1\\n
    <Fernet token of  file_id:0:n:chunk 0>\\n
    <Fernet token of  file_id:1:n:chunk 1>\\n
    ...

with chunks of :data:`CHUNK_BYTES`. Every chunk is authenticated by Fernet, and carries the file's random
``file_id``, its index and the chunk count, so chunks cannot be dropped, reordered, repeated or taken from
another sealed file without :func:`unseal` refusing the file. The key is the one the file always had
(:func:`privacy.keys.load_vault_key`).

Files written before sealing (one Fernet token, no header) are still read.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

__all__ = ["CHUNK_BYTES", "MAGIC", "seal", "unseal", "write_private_chunks"]

MAGIC = b"HUMIAO-SEALED-1\n"
#: Plaintext bytes per chunk: each chunk's Fernet copies are a few times this (tens of MB), not the file.
CHUNK_BYTES = 16 * 2**20


def write_private_chunks(path: str | os.PathLike, chunks: Iterable[bytes]) -> Path:
    """Write ``chunks`` one after another to ``path`` atomically with mode 0600: a temporary file of its own
    in the same folder (removed if the write fails), then a rename. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def seal(path: str | os.PathLike, data, fernet_key: bytes, *, chunk_bytes: int = CHUNK_BYTES) -> Path:
    """Encrypt ``data`` (bytes, bytearray or a memoryview, e.g. ``BytesIO.getbuffer()``: it is not copied
    whole) chunk by chunk into the sealed file ``path`` (mode 0600, atomic). Returns the path.

    Raises
    ------
    ValueError
        ``chunk_bytes`` < 1.
    """
    if chunk_bytes < 1:
        raise ValueError(f"chunk_bytes must be positive, got {chunk_bytes}")
    fernet = Fernet(fernet_key)
    view = memoryview(data).cast("B")
    n = max(1, -(-len(view) // chunk_bytes))
    file_id = os.urandom(16).hex().encode()

    def lines():
        yield MAGIC
        for i in range(n):
            part = view[i * chunk_bytes:(i + 1) * chunk_bytes]
            yield fernet.encrypt(b"%s:%d:%d:%s" % (file_id, i, n, part)) + b"\n"

    try:
        return write_private_chunks(path, lines())
    finally:
        view.release()


def unseal(path: str | os.PathLike, fernet_key: bytes) -> bytearray:
    """The plaintext of a file written by :func:`seal` (or of a file that is one Fernet token, as written
    before sealing).

    Raises
    ------
    cryptography.fernet.InvalidToken
        Wrong key, or the file was altered: a chunk modified, dropped, repeated, reordered, taken from
        another file, or the file cut short.
    """
    fernet = Fernet(fernet_key)
    with open(path, "rb") as fh:
        head = fh.read(len(MAGIC))
        if head != MAGIC:
            return bytearray(fernet.decrypt(head + fh.read()))
        out = bytearray()
        file_id, count, i = None, None, 0
        for line in fh:
            plain = fernet.decrypt(line.rstrip(b"\n"))
            try:
                fid, idx, n, body = plain.split(b":", 3)
                idx, n = int(idx), int(n)
            except ValueError:
                raise InvalidToken from None
            if file_id is None:
                file_id, count = fid, n
            if fid != file_id or idx != i or n != count:
                raise InvalidToken
            out += body
            del plain, body
            i += 1
        if count is None or i != count:
            raise InvalidToken
    return out
