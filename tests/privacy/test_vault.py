"""privacy.vault: scoped re-identification, hash-chained audit log (DESIGN §5, §8)."""

import json
import stat

import pytest
from cryptography.fernet import Fernet

from privacy.vault import Vault, VaultError, verify_audit_log

REC = {
    "P_k1_aaaaaaaaaaaaaaaaaaaa": {
        "name": "王小明",
        "id_number": "330106201501011236",
        "phone": None,
        "address": "文三路1号",
        "community": "文新社区",
        "township": "文新街道",
    },
    "P_k1_bbbbbbbbbbbbbbbbbbbb": {
        "name": "李小红",
        "id_number": "330110201603152468",
        "phone": "13812345678",
        "address": None,
        "community": "绿洲社区",
        "township": "三墩镇",
    },
}


@pytest.fixture
def vault(tmp_path):
    key = Fernet.generate_key()
    assert Vault.write(tmp_path / "vault.bin", REC, key) == 2
    return Vault(tmp_path / "vault.bin", key, tmp_path / "audit" / "audit.log"), tmp_path


def test_encrypted_at_rest(vault):
    _, tmp = vault
    blob = (tmp / "vault.bin").read_bytes()
    assert "王小明".encode() not in blob and b"330106201501011236" not in blob
    assert stat.S_IMODE((tmp / "vault.bin").stat().st_mode) == 0o600
    with pytest.raises(VaultError):
        Vault(tmp / "vault.bin", Fernet.generate_key(), tmp / "x.log").reidentify(
            "a", {"community": "文新社区"}, "p", "P_k1_aaaaaaaaaaaaaaaaaaaa"
        )


def test_scope_enforced_and_every_lookup_logged(vault):
    v, tmp = vault
    log = tmp / "audit" / "audit.log"
    assert (
        v.reidentify("dir_wx", {"community": "文新社区"}, "入户走访", "P_k1_aaaaaaaaaaaaaaaaaaaa")["name"]
        == "王小明"
    )
    with pytest.raises(PermissionError):
        v.reidentify("dir_wx", {"community": "文新社区"}, "入户走访", "P_k1_bbbbbbbbbbbbbbbbbbbb")
    assert (
        v.reidentify("sup_sd", {"township": "三墩镇"}, "督导", "P_k1_bbbbbbbbbbbbbbbbbbbb")["phone"]
        == "13812345678"
    )
    with pytest.raises(PermissionError):
        v.reidentify("data_team", {}, "分析", "P_k1_aaaaaaaaaaaaaaaaaaaa")  # no scope: never
    with pytest.raises(KeyError):
        v.reidentify("dir_wx", {"community": "文新社区"}, "入户走访", "P_k1_cccccccccccccccccccc")
    lines = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]
    assert [x["outcome"] for x in lines] == ["allowed", "refused", "allowed", "refused", "not_found"]
    assert [x["seq"] for x in lines] == [1, 2, 3, 4, 5]
    text = log.read_text(encoding="utf-8")
    assert "王小明" not in text and "330106201501011236" not in text and "13812345678" not in text
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert verify_audit_log(log) and verify_audit_log(log).lines == 5


@pytest.mark.parametrize("attack", ["edit", "edit_middle", "delete", "swap"])
def test_tampering_detected(vault, attack):
    v, tmp = vault
    log = tmp / "audit" / "audit.log"
    for _ in range(2):
        v.reidentify("dir_wx", {"community": "文新社区"}, "入户走访", "P_k1_aaaaaaaaaaaaaaaaaaaa")
    with pytest.raises(PermissionError):
        v.reidentify("dir_wx", {"community": "文新社区"}, "入户走访", "P_k1_bbbbbbbbbbbbbbbbbbbb")
    lines = log.read_text(encoding="utf-8").splitlines()
    if attack == "edit":  # hide the refused look-up
        lines[2] = lines[2].replace('"refused"', '"allowed"')
    elif attack == "edit_middle":
        lines[1] = lines[1].replace("dir_wx", "dir_xx")
    elif attack == "delete":
        del lines[1]
    else:
        lines[0], lines[1] = lines[1], lines[0]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = verify_audit_log(log)
    assert not res and res.first_bad_line is not None


def test_missing_log_is_empty_and_intact(tmp_path):
    assert verify_audit_log(tmp_path / "none.log").ok


def test_write_frame_is_the_same_vault_as_write(tmp_path, monkeypatch):
    """The ingest writes the vault from its frame with pandas' JSON writer, in pieces (issue 8): the document
    is the one Vault.write makes of the same records — text escaped the same, missing values and columns None,
    non-text values as text — across piece boundaries; a repeated token is refused."""
    import json
    import random

    import pandas as pd
    from cryptography.fernet import Fernet

    from privacy.sealed import unseal
    from privacy.vault import FIELDS, Vault

    monkeypatch.setattr(Vault, "FRAME_PIECE_ROWS", 7)
    rng = random.Random(3)
    alphabet = ["张", "三", "村", '"', "\\", "/", "\n", "\x01", "\u2028", "é", "😀", "a", "1", " "]
    rows = []
    for i in range(40):
        rec = {f: "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for f in FIELDS if f != "phone"}
        rec["name"] = None if i % 5 == 0 else rec["name"]
        rec["id_number"] = 3301062010 + i if i % 7 == 0 else rec["id_number"]  # not text: written as text
        rows.append({"token": f"P_{i:03d}" if i != 9 else 'P_"9', **rec})
    frame = pd.DataFrame(rows).set_index("token")
    frame.loc[frame.index[3], "township"] = float("nan")
    key = Fernet.generate_key()
    assert Vault.write_frame(tmp_path / "a.bin", frame, key) == 40
    Vault.write(tmp_path / "b.bin", [{"token": t, **{k: (None if pd.isna(v) else v) for k, v in r.items()}}
                                     for t, r in frame.iterrows()], key)
    a, b = json.loads(unseal(tmp_path / "a.bin", key)), json.loads(unseal(tmp_path / "b.bin", key))
    assert a == b and len(a["records"]) == 40
    assert a["records"]['P_"9'] and a["records"]["P_000"]["name"] is None and a["records"]["P_001"]["phone"] is None
    assert a["records"]["P_007"]["id_number"] == "3301062017"
    assert a["records"][frame.index[3]]["township"] is None
    with pytest.raises(ValueError, match="appears twice"):
        Vault.write_frame(tmp_path / "c.bin", pd.concat([frame.head(2), frame.head(1)]), key)
    assert Vault.write_frame(tmp_path / "d.bin", frame.head(0), key) == 0
    assert json.loads(unseal(tmp_path / "d.bin", key)) == {"version": 1, "records": {}}
