"""KnownIdentities: normalization and the encrypted identity index."""

from __future__ import annotations

import os
import stat

import pytest
from cryptography.fernet import Fernet

from privacy.identities import KnownIdentities, address_variants, id_variants


def test_add_normalizes():
    k = KnownIdentities()
    k.add("id_numbers", ["３３０１０６２０１５０１０１１２３６", "110105800101123", "33010620150202109x", None, float("nan")])
    k.add("phones", ["+86 138-0000-0000", 13900000000.0, "400-800-0000", "0571-88880000"])
    k.add("names", [" 王 小明 ", "阿卜杜•热合曼", "", "王"])
    k.add("addresses", ["西湖区  学院路88号"])
    assert k.id_numbers == {"330106201501011236", "110105198001011238", "33010620150202109X"}
    assert k.phones == {"13800000000", "13900000000", "057188880000"}
    assert k.names == {"王小明", "阿卜杜·热合曼"}
    assert k.addresses == {"西湖区学院路88号"}
    with pytest.raises(ValueError):
        k.add("emails", ["a@b.cn"])


def test_merge_and_variants():
    a = KnownIdentities(names={"王小明"})
    b = KnownIdentities(phones={"13800000000"})
    assert a.merge(b) is a and a.phones == {"13800000000"} and len(a) == 2
    assert id_variants("110105198001011238") == {"110105198001011238", "110105800101123"}
    assert id_variants("330106201501011236") == {"330106201501011236"}
    assert "学院路88号3幢" in address_variants("浙江省杭州市西湖区文新街道学院路88号3幢")
    assert address_variants("西湖区文新街道某社区") == set()


def test_save_load_round_trip_is_encrypted(tmp_path):
    key = Fernet.generate_key()
    k = KnownIdentities().add("names", ["王小明", "李秀英"]).add("id_numbers", ["330106201501011236"])
    path = k.save(tmp_path / "sub" / "identity_index.bin", key)
    data = path.read_bytes()
    for raw in ["王小明".encode(), "李秀英".encode(), b"330106201501011236", "王小明".encode("gb18030")]:
        assert raw not in data
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    loaded = KnownIdentities.load(path, key)
    assert loaded == k
    with pytest.raises(ValueError, match="wrong key"):
        KnownIdentities.load(path, Fernet.generate_key())
