"""Key rotation (old→new map over every store, audit log untouched) and retention purge (PIPL art. 47)."""

from __future__ import annotations

import json
import sqlite3
from datetime import date

import pandas as pd
import pytest
from cryptography.fernet import Fernet

from privacy.identifiers import ric_check_char
from privacy.retention import due_for_purge, purge_rows, purge_vault
from privacy.rotation import RotationError, rotate, rotation_map
from privacy.tokens import Pseudonymizer
from privacy.vault import Vault, read_encrypted, verify_audit_log

OLD = Pseudonymizer(b"o" * 32, 1)
NEW = Pseudonymizer(b"n" * 32, 2)


def _rid(body17: str) -> str:
    return body17 + ric_check_char(body17)


CHILD = _rid("33010620150101123")     # born 2015
ADULT_CHILD = _rid("33010620050301123")  # born 2005-03-01: 18 on 2023-03-01
GUARDIAN = _rid("33010619800101123")


@pytest.fixture
def stores(tmp_path):
    key = Fernet.generate_key()
    people = {
        CHILD: {"name": "王小明", "community": "文新社区", "township": "文新街道"},
        ADULT_CHILD: {"name": "李大华", "community": "文新社区", "township": "文新街道"},
        GUARDIAN: {"name": "王秀英", "community": "文新社区", "township": "文新街道"},
    }
    records = {OLD.token("P", i): {"id_number": i, **r} for i, r in people.items()}
    Vault.write(tmp_path / "vault.bin", records, key)
    audit = tmp_path / "audit.jsonl"
    v = Vault(tmp_path / "vault.bin", key, audit)
    v.reidentify("director1", {"community": "文新社区"}, "home visit", OLD.token("P", CHILD))
    pseudo = tmp_path / "pseudonymized"
    pseudo.mkdir()
    hh = "100441314"
    pd.DataFrame({"child_token": [OLD.token("P", CHILD), OLD.token("P", ADULT_CHILD)],
                  "guardian_token": [OLD.token("P", GUARDIAN), None],
                  "household_token": [OLD.token("H", hh)] * 2,
                  "note": ["ok", "P_k1_not_a_token"]}).to_parquet(pseudo / "registry.parquet")
    assets = tmp_path / "assets"
    assets.mkdir()
    pd.DataFrame({"child_token": [OLD.token("P", CHILD)], "score": [0.7]}).to_parquet(assets / "scores.parquet")
    (assets / "card.json").write_text(json.dumps({"top": [OLD.token("P", CHILD)], "n": 1}))
    db = tmp_path / "feedback.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE outcomes (child_token TEXT, outcome TEXT)")
    con.execute("INSERT INTO outcomes VALUES (?, 'visited')", (OLD.token("P", CHILD),))
    con.commit()
    con.close()
    return {"key": key, "tmp": tmp_path, "audit": audit, "hh": hh, "pseudo": pseudo, "assets": assets, "db": db}


def test_rotation_round_trip(stores):
    s = stores
    audit_before = s["audit"].read_bytes()
    rep = rotate(vault_path=s["tmp"] / "vault.bin", vault_key=s["key"], old=OLD, new=NEW,
                 stores=[s["pseudo"], s["assets"], s["db"]], audit_log_path=s["audit"],
                 extra_values={"H": [s["hh"]]})
    assert rep.vault_records == 3 and rep.unmapped_tokens == 0
    reg = pd.read_parquet(s["pseudo"] / "registry.parquet")
    scores = pd.read_parquet(s["assets"] / "scores.parquet")
    assert reg["child_token"].tolist() == [NEW.token("P", CHILD), NEW.token("P", ADULT_CHILD)]
    assert reg["household_token"].iloc[0] == NEW.token("H", s["hh"])
    assert reg["note"].tolist() == ["ok", "P_k1_not_a_token"]  # not a token: untouched
    assert pd.isna(reg["guardian_token"].iloc[1])
    # joins survive across stores
    assert scores.merge(reg, on="child_token").shape[0] == 1
    assert json.loads((s["assets"] / "card.json").read_text())["top"] == [NEW.token("P", CHILD)]
    con = sqlite3.connect(s["db"])
    assert con.execute("SELECT child_token FROM outcomes").fetchone()[0] == NEW.token("P", CHILD)
    con.close()
    # vault re-keyed; the audit log is byte-for-byte unchanged and still verifies
    recs = read_encrypted(s["tmp"] / "vault.bin", s["key"])["records"]
    assert set(recs) == {NEW.token("P", i) for i in (CHILD, ADULT_CHILD, GUARDIAN)}
    assert s["audit"].read_bytes() == audit_before
    assert verify_audit_log(s["audit"])
    assert OLD.token("P", CHILD) in audit_before.decode()  # history keeps the version-tagged token
    v = Vault(s["tmp"] / "vault.bin", s["key"], s["audit"])
    assert v.reidentify("director1", {"community": "文新社区"}, "visit", NEW.token("P", CHILD))["name"] == "王小明"


def test_rotation_strict_refuses_unmapped_and_changes_nothing(stores):
    s = stores
    before = (s["pseudo"] / "registry.parquet").read_bytes()
    vault_before = (s["tmp"] / "vault.bin").read_bytes()
    with pytest.raises(RotationError, match="no mapping"):
        rotate(vault_path=s["tmp"] / "vault.bin", vault_key=s["key"], old=OLD, new=NEW,
               stores=[s["pseudo"]], audit_log_path=s["audit"])  # household token not mapped
    assert (s["pseudo"] / "registry.parquet").read_bytes() == before
    assert (s["tmp"] / "vault.bin").read_bytes() == vault_before
    assert not list(s["pseudo"].glob(".*rotating"))


def test_rotation_new_vault_key(stores):
    s = stores
    new_key = Fernet.generate_key()
    rotate(vault_path=s["tmp"] / "vault.bin", vault_key=s["key"], old=OLD, new=NEW, stores=[],
           new_vault_key=new_key)
    assert len(read_encrypted(s["tmp"] / "vault.bin", new_key)["records"]) == 3


def test_rotation_map_refuses_wrong_key_and_same_version():
    rec = {OLD.token("P", CHILD): {"id_number": CHILD}}
    with pytest.raises(RotationError, match="new version"):
        rotation_map(rec, OLD, Pseudonymizer(b"x" * 32, 1))
    with pytest.raises(RotationError, match="not reproduced"):
        rotation_map(rec, Pseudonymizer(b"z" * 32, 1), NEW)
    with pytest.raises(RotationError, match="no valid resident ID"):
        rotation_map({"P_k1_" + "0" * 20: {"id_number": "123"}}, OLD, NEW)
    m = rotation_map(rec, OLD, NEW)
    assert m == {OLD.token("P", CHILD): NEW.token("P", CHILD)}


def test_rotation_refuses_tampered_audit_log(stores):
    s = stores
    lines = s["audit"].read_text().splitlines()
    s["audit"].write_text(lines[0].replace("home visit", "other") + "\n")
    with pytest.raises(RotationError, match="does not verify"):
        rotate(vault_path=s["tmp"] / "vault.bin", vault_key=s["key"], old=OLD, new=NEW, stores=[],
               audit_log_path=s["audit"])


def test_due_for_purge_rules():
    recs = {OLD.token("P", i): {"id_number": i} for i in (CHILD, ADULT_CHILD, GUARDIAN)}
    children = [OLD.token("P", CHILD), OLD.token("P", ADULT_CHILD)]
    # the day before the 18th birthday: nothing; on it: purged; guardians never by age
    assert due_for_purge(recs, date(2023, 2, 28), child_tokens=children) == {}
    assert due_for_purge(recs, date(2023, 3, 1), child_tokens=children) == {OLD.token("P", ADULT_CHILD): "turned_18"}
    assert due_for_purge(recs, date(2023, 3, 1), child_tokens=children, retention_days=30) == {}
    moved = {OLD.token("P", CHILD): date(2024, 1, 10)}
    due = due_for_purge(recs, date(2024, 2, 9), child_tokens=children, moved_away=moved, retention_days=30)
    assert due == {OLD.token("P", ADULT_CHILD): "turned_18", OLD.token("P", CHILD): "moved_away"}
    assert OLD.token("P", GUARDIAN) not in due_for_purge(recs, date(2060, 1, 1), child_tokens=children)
    with pytest.raises(ValueError):
        due_for_purge(recs, date(2024, 1, 1), child_tokens=children, retention_days=-1)


def test_purge_vault_logs_and_serving_rows(stores):
    s = stores
    children = [OLD.token("P", CHILD), OLD.token("P", ADULT_CHILD)]
    purged = purge_vault(s["tmp"] / "vault.bin", s["key"], s["audit"], date(2024, 6, 30), child_tokens=children)
    assert purged == [OLD.token("P", ADULT_CHILD)]
    recs = read_encrypted(s["tmp"] / "vault.bin", s["key"])["records"]
    assert OLD.token("P", ADULT_CHILD) not in recs and len(recs) == 2
    assert verify_audit_log(s["audit"])
    last = json.loads(s["audit"].read_text().splitlines()[-1])
    assert last["event"] == "retention_purge" and last["count"] == 1 and last["tokens"] == purged
    assert "李大华" not in s["audit"].read_text() and ADULT_CHILD not in s["audit"].read_text()
    removed = purge_rows([s["pseudo"], s["assets"]], purged)
    assert removed == {str(s["pseudo"] / "registry.parquet"): 1}
    assert pd.read_parquet(s["pseudo"] / "registry.parquet")["child_token"].tolist() == [OLD.token("P", CHILD)]
    # a purged person can no longer be re-identified (and the attempt is logged)
    v = Vault(s["tmp"] / "vault.bin", s["key"], s["audit"])
    with pytest.raises(KeyError):
        v.reidentify("director1", {"community": "文新社区"}, "visit", purged[0])
    assert verify_audit_log(s["audit"])
