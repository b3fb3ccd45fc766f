"""Sealed files (privacy.sealed): encrypted chunk by chunk, every chunk bound to its file, index and count."""

from __future__ import annotations

import json
import os

import pytest
from cryptography.fernet import Fernet, InvalidToken

from privacy.sealed import MAGIC, seal, unseal
from privacy.vault import Vault, VaultError, read_encrypted, write_encrypted

KEY = Fernet.generate_key()
DATA = os.urandom(1000) + "张三 330106201001011234".encode() * 50


def _lines(path):
    return path.read_bytes().split(b"\n")


@pytest.mark.parametrize("chunk", [1, 7, 64, 10**6])
def test_round_trip_in_any_chunk_size(tmp_path, chunk):
    path = seal(tmp_path / "f.bin", DATA, KEY, chunk_bytes=chunk)
    assert unseal(path, KEY) == DATA
    body = path.read_bytes()
    assert body.startswith(MAGIC) and b"330106" not in body and "张三".encode() not in body
    assert len(_lines(path)) - 2 == -(-len(DATA) // chunk)  # header line, one line a chunk, final newline
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_empty_and_memoryview(tmp_path):
    assert unseal(seal(tmp_path / "e.bin", b"", KEY), KEY) == b""
    buf = bytearray(DATA)
    assert unseal(seal(tmp_path / "m.bin", memoryview(buf), KEY, chunk_bytes=100), KEY) == DATA


def test_a_file_of_one_fernet_token_is_still_read(tmp_path):
    """Files written before sealing (one token for the whole plaintext) open as before."""
    path = tmp_path / "old.bin"
    path.write_bytes(Fernet(KEY).encrypt(DATA))
    assert unseal(path, KEY) == DATA


def _altered(tmp_path, how):
    path = seal(tmp_path / "f.bin", DATA, KEY, chunk_bytes=100)
    head, *chunks, last = _lines(path)
    assert last == b"" and len(chunks) > 3
    other = _lines(seal(tmp_path / "g.bin", DATA, KEY, chunk_bytes=100))[1:-1]
    chunks = {
        "dropped_last": chunks[:-1],
        "dropped_middle": chunks[:2] + chunks[3:],
        "reordered": [chunks[1], chunks[0], *chunks[2:]],
        "repeated": [chunks[0], *chunks],
        "from_another_file": [chunks[0], other[1], *chunks[2:]],
        "flipped_byte": [chunks[0][:-5] + bytes([chunks[0][-5] ^ 1]) + chunks[0][-4:], *chunks[1:]],
        "nothing_after_header": [],
    }[how]
    path.write_bytes(b"\n".join([head, *chunks, b""]))
    return path


@pytest.mark.parametrize("how", ["dropped_last", "dropped_middle", "reordered", "repeated", "from_another_file",
                                 "flipped_byte", "nothing_after_header"])
def test_altered_file_is_refused(tmp_path, how):
    with pytest.raises(InvalidToken):
        unseal(_altered(tmp_path, how), KEY)


def test_wrong_key_is_refused(tmp_path):
    with pytest.raises(InvalidToken):
        unseal(seal(tmp_path / "f.bin", DATA, KEY), Fernet.generate_key())


def test_vault_and_encrypted_documents_are_sealed(tmp_path, monkeypatch):
    """The vault (written from its JSON buffer), and every document of write_encrypted, are sealed files that
    read back the same; an altered one is a VaultError."""
    import privacy.sealed as sealed

    monkeypatch.setattr(sealed.seal, "__kwdefaults__", {"chunk_bytes": 64})  # many chunks for a small vault
    records = {f"P_{i}": {"name": f"测试{i}", "id_number": f"33010620100101{i:04d}", "community": "青溪村"}
               for i in range(20)}
    path = tmp_path / "vault.bin"
    assert Vault.write(path, records, KEY) == 20
    assert path.read_bytes().startswith(MAGIC) and len(_lines(path)) > 10
    doc = json.loads(unseal(path, KEY))
    assert doc["records"]["P_3"]["name"] == "测试3" and doc["records"]["P_3"]["phone"] is None
    write_encrypted(tmp_path / "d.bin", {"a": [1, 2, "三"]}, KEY)
    assert read_encrypted(tmp_path / "d.bin", KEY) == {"a": [1, 2, "三"]}
    lines = _lines(path)
    path.write_bytes(b"\n".join([lines[0], *lines[2:]]))
    with pytest.raises(VaultError, match="cannot decrypt"):
        read_encrypted(path, KEY)
