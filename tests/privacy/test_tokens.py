"""privacy.tokens: format (interfaces §2), stability per key, vectorized hashing."""

import hashlib
import hmac

import pandas as pd
import pytest

from privacy.identifiers import validate_ric
from privacy.tokens import TOKEN_RE, Pseudonymizer

KEY_A, KEY_B = b"a" * 32, b"b" * 32


def test_format_matches_interfaces():
    pz = Pseudonymizer(KEY_A, 3)
    t = pz.token("P", "330106201501011236")
    digest = hmac.new(KEY_A, b"P:330106201501011236", hashlib.sha256).hexdigest()[:20]
    assert t == f"P_k3_{digest}" and TOKEN_RE.match(t)


def test_stable_per_key_different_across_keys_and_kinds():
    a1, a2, b = Pseudonymizer(KEY_A, 1), Pseudonymizer(KEY_A, 1), Pseudonymizer(KEY_B, 1)
    v = "330106201501011236"
    assert a1.token("P", v) == a2.token("P", v)
    assert a1.token("P", v) != b.token("P", v)
    assert a1.token("P", v)[5:] != a1.token("H", v)[5:]  # kind is part of the HMAC input
    assert Pseudonymizer(KEY_A, 2).token("P", v).startswith("P_k2_")


def test_legacy_and_lowercase_forms_share_a_token():
    pz = Pseudonymizer(KEY_A, 1)
    n15 = validate_ric("110105800101123").normalized
    n18 = validate_ric("110105198001011238").normalized
    assert pz.token("P", n15) == pz.token("P", n18)
    assert pz.token("P", validate_ric("33010620150202109x").normalized) == pz.token("P", "33010620150202109X")


def test_vectorized_hashes_each_value_once(monkeypatch):
    pz = Pseudonymizer(KEY_A, 1)
    calls = []
    orig = Pseudonymizer.token
    monkeypatch.setattr(Pseudonymizer, "token", lambda self, k, v: calls.append(v) or orig(self, k, v))
    s = pd.Series(["x1", "x2", "x1", None, "x2", ""] * 1000)
    out = pz.tokens("S", s)
    assert sorted(calls) == ["x1", "x2"]
    assert out.iloc[0] == orig(pz, "S", "x1") and pd.isna(out.iloc[3]) and pd.isna(out.iloc[5])
    assert len(out) == len(s) and (out.index == s.index).all()


def test_bad_inputs_and_key_hidden():
    with pytest.raises(ValueError):
        Pseudonymizer(b"short", 1)
    with pytest.raises(ValueError):
        Pseudonymizer(KEY_A, 0)
    pz = Pseudonymizer(KEY_A, 1)
    with pytest.raises(ValueError):
        pz.token("X", "1")
    assert "aaaa" not in repr(pz)
