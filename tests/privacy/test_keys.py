"""privacy.keys: DESIGN §5 / §11.16 key rules."""

import base64
import stat

import pytest

from privacy.keys import KeyConfigurationError, load_pseudonym_key, load_vault_key

HEX = "ab" * 32


def test_env_key_hex_and_base64(tmp_path):
    key, ver, src = load_pseudonym_key(
        "production",
        tmp_path / "repo",
        tmp_path / "s",
        {"HUMIAO_PSEUDONYM_KEY": HEX, "HUMIAO_PSEUDONYM_KEY_VERSION": "4"},
    )
    assert key == bytes.fromhex(HEX) and ver == 4 and src == "env:HUMIAO_PSEUDONYM_KEY"
    b64 = base64.b64encode(b"z" * 40).decode()
    assert load_pseudonym_key("demo", tmp_path, tmp_path / "s", {"HUMIAO_PSEUDONYM_KEY": b64})[0] == b"z" * 40


def test_short_or_garbage_key_refused_without_echo(tmp_path):
    for bad in ("abcd", "not a key!!", base64.b64encode(b"x" * 16).decode()):
        with pytest.raises(KeyConfigurationError) as e:
            load_pseudonym_key("demo", tmp_path, tmp_path / "s", {"HUMIAO_PSEUDONYM_KEY": bad})
        assert bad not in str(e.value)


def test_production_refuses_without_key(tmp_path):
    with pytest.raises(KeyConfigurationError, match="production"):
        load_pseudonym_key("production", tmp_path, tmp_path / "s", {})
    with pytest.raises(KeyConfigurationError, match="production"):
        load_vault_key("production", tmp_path, tmp_path / "s", {})
    assert not (tmp_path / "s").exists()  # nothing created in production


def test_production_refuses_key_file_inside_repo(tmp_path):
    repo = tmp_path / "repo"
    (repo / "conf").mkdir(parents=True)
    inside = repo / "conf" / "pseudonym.key"
    inside.write_text(HEX)
    inside.chmod(0o600)
    with pytest.raises(KeyConfigurationError, match="inside the repository") as e:
        load_pseudonym_key("production", repo, tmp_path / "s", {"HUMIAO_PSEUDONYM_KEY_FILE": str(inside)})
    assert HEX not in str(e.value)
    # a symlink outside pointing inside is still inside
    link = tmp_path / "link.key"
    link.symlink_to(inside)
    with pytest.raises(KeyConfigurationError, match="inside the repository"):
        load_pseudonym_key("production", repo, tmp_path / "s", {"HUMIAO_PSEUDONYM_KEY_FILE": str(link)})
    outside = tmp_path / "keys" / "pseudonym.key"
    outside.parent.mkdir()
    outside.write_text(HEX)
    outside.chmod(0o600)
    key, _, src = load_pseudonym_key(
        "production", repo, tmp_path / "s", {"HUMIAO_PSEUDONYM_KEY_FILE": str(outside)}
    )
    assert key == bytes.fromhex(HEX) and src.startswith("file:")
    outside.chmod(0o644)
    with pytest.raises(KeyConfigurationError, match="other users"):
        load_pseudonym_key("production", repo, tmp_path / "s", {"HUMIAO_PSEUDONYM_KEY_FILE": str(outside)})
    # demo accepts a key file inside the repo
    assert load_pseudonym_key("demo", repo, tmp_path / "s", {"HUMIAO_PSEUDONYM_KEY_FILE": str(inside)})[0]


def test_demo_creates_once_owner_only(tmp_path, caplog):
    secrets = tmp_path / ".secrets"
    k1, v1, s1 = load_pseudonym_key("demo", tmp_path, secrets, {})
    assert "created" in s1 and v1 == 1 and len(k1) == 32
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    assert stat.S_IMODE((secrets / "pseudonym.key").stat().st_mode) == 0o600
    k2, _, s2 = load_pseudonym_key("demo", tmp_path, secrets, {})
    assert k2 == k1 and "created" not in s2
    vk, vs = load_vault_key("demo", tmp_path, secrets, {}, pseudonym_key=k1)
    assert "created" in vs and stat.S_IMODE((secrets / "vault.key").stat().st_mode) == 0o600
    assert load_vault_key("demo", tmp_path, secrets, {})[0] == vk and base64.urlsafe_b64decode(vk) != k1
    text = caplog.text + s1 + s2 + vs
    assert k1.hex() not in text and vk.decode() not in text


def test_vault_key_must_differ(tmp_path):
    with pytest.raises(KeyConfigurationError, match="differ"):
        load_vault_key(
            "demo", tmp_path, tmp_path / "s", {"HUMIAO_VAULT_KEY": HEX}, pseudonym_key=bytes.fromhex(HEX)
        )


def test_the_same_key_file_for_both_uses_is_refused(tmp_path, monkeypatch):
    """New-user finding: HUMIAO_VAULT_KEY_FILE pointing at the pseudonym key file was accepted."""
    from humiao.config import load_config
    from humiao.stages import vault_key_from_config

    key_file = tmp_path / "one.key"
    key_file.write_text(HEX, encoding="ascii")
    key_file.chmod(0o600)
    monkeypatch.setenv("HUMIAO_PSEUDONYM_KEY_FILE", str(key_file))
    monkeypatch.setenv("HUMIAO_VAULT_KEY_FILE", str(key_file))
    monkeypatch.delenv("HUMIAO_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("HUMIAO_VAULT_KEY", raising=False)
    cfg = load_config(None, **{"paths.secrets_dir": str(tmp_path / "s")})
    with pytest.raises(KeyConfigurationError, match="differ"):
        vault_key_from_config(cfg)
