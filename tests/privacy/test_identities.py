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


def test_add_ids_in_bulk_keeps_every_outcome():
    """IDs already normalized and valid go in without the per-value path (issue 8); every other value
    still takes it: the index is the one the per-value normalizers give."""
    import random

    from privacy.identifiers import ric_check_char
    from privacy.identities import normalize_id_number, normalize_other_id

    rng = random.Random(3)
    values = []
    for i in range(3000):
        body = f"33{rng.randint(0, 9999):04d}{rng.randint(1990, 2030)}{rng.randint(1, 13):02d}{rng.randint(1, 29):02d}{i % 1000:03d}"
        v = body + ric_check_char(body) if rng.random() < 0.8 else body + "7"
        values.append(rng.choice([v, v.lower(), " " + v, v[:6] + v[8:17], "G" + v, v + "42", "330100123456"]))
    values += [None, float("nan"), 12345678901, ""]
    k = KnownIdentities().add("id_numbers", values)
    want_ids, want_other = set(), set()
    for v in values:
        n = normalize_id_number(v)
        if n:
            want_ids.add(n)
            continue
        o = normalize_other_id(v)
        if o:
            want_other.add(o)
            from privacy.identities import embedded_ric

            if embedded_ric(o):
                want_ids.add(embedded_ric(o))
    assert k.id_numbers == want_ids and k.other_ids == want_other
    assert len(want_ids) > 1000 and len(want_other) > 500
    # a note's record adds one or two IDs at a time, below the bulk threshold: the same index
    few = KnownIdentities()
    for i in range(0, len(values), 2):
        few.add("id_numbers", values[i:i + 2])
    assert few.id_numbers == want_ids and few.other_ids == want_other


def test_few_ids_skip_the_bulk_check(monkeypatch):
    """The bulk check's numpy set-up costs more than it saves on a note's one or two IDs."""
    import privacy.identities as identities_mod

    calls = []
    bulk = identities_mod.canonical_ric_valid
    monkeypatch.setattr(identities_mod, "canonical_ric_valid", lambda cells: calls.append(len(cells)) or bulk(cells))
    one = "11010519491231002X"
    KnownIdentities().add("id_numbers", [one, " " + one])
    assert calls == []
    k = KnownIdentities().add("id_numbers", [one] + [f"{one} {i}" for i in range(identities_mod.BULK_MIN_IDS)])
    assert calls == [identities_mod.BULK_MIN_IDS + 1] and one in k.id_numbers
