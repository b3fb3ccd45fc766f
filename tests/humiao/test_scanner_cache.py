"""The scanner's derived index kept beside the identity index (issue 8): a process that scans loads
it instead of deriving it again; it is used only while it matches the identity index."""

from __future__ import annotations

import stat

import pytest
from cryptography.fernet import Fernet

from humiao.config import load_config
from humiao.stages import load_scanner_index, output_scanner, vault_key_from_config
from privacy.identities import KnownIdentities, scanner_cache_path
from privacy.scanner import LeakScanner, ScannerIndex

TEXTS = ["身份证330106201501011235", "电话+8613812345678", "户号HZ20200001", "住乔司街道长安路232号4幢3单元301室",
         "王小明来过", "李芳说", "康乐一区一社区", "学籍号g330106201501011236"]


def _known():
    k = KnownIdentities()
    k.add("names", ["王小明", "李芳", "康乐一"])
    k.add("id_numbers", ["330106201501011235", "110105198001011238"])
    k.add("phones", ["13812345678"])
    k.add("other_ids", ["HZ20200001", "G330106201501011236"])
    k.add("addresses", ["杭州市临平区乔司街道长安路232号4幢3单元301室"])
    k.add_places(["康乐一区一社区"])
    return k


def test_saved_index_scans_like_the_derived_one(tmp_path):
    key = Fernet.generate_key()
    index = ScannerIndex(_known())
    path = index.save(tmp_path / "idx.scanner", key, "digest-1")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"13812345678" not in path.read_bytes() and "王小明".encode() not in path.read_bytes()
    loaded, source = ScannerIndex.load(path, key)
    assert source == "digest-1"
    direct, again = LeakScanner(_known(), skip_words=["李芳"]), LeakScanner(skip_words=["李芳"], index=loaded)
    for text in TEXTS:
        for free in (False, True):
            assert again.scan_text(text, free_text=free) == direct.scan_text(text, free_text=free), text
    assert any(direct.scan_text(t) for t in TEXTS)
    with pytest.raises(ValueError, match="wrong key or altered"):
        ScannerIndex.load(path, Fernet.generate_key())


def test_pipeline_scanner_writes_then_reuses_the_index_until_the_identity_index_changes(tmp_path, monkeypatch):
    (tmp_path / "humiao.yaml").write_text(
        f"paths: {{work_dir: {tmp_path / 'work'}, secrets_dir: {tmp_path / 'secrets'}}}\n", encoding="utf-8")
    monkeypatch.setenv("HUMIAO_VAULT_KEY", "22" * 32)
    monkeypatch.setenv("HUMIAO_PSEUDONYM_KEY", "11" * 32)
    cfg = load_config(tmp_path / "humiao.yaml")
    assert load_scanner_index(cfg) is None  # no ingest yet
    key = vault_key_from_config(cfg)
    index_path = cfg.path("work_dir") / "identity_index.bin"
    _known().save(index_path, key)
    cache = scanner_cache_path(index_path)
    assert not cache.exists()
    assert output_scanner(cfg).scan_text("电话13812345678")
    assert cache.exists()
    written = cache.stat().st_mtime_ns
    assert [e for e, _, _ in output_scanner(cfg).scan_text("身份证330106201501011235")] == ["CN_RIC"]
    assert cache.stat().st_mtime_ns == written  # read, not derived again

    # a new identity index (a new ingest): the derived file goes with the old index
    k = _known()
    k.add("phones", ["13900000000"])
    k.save(index_path, key)
    assert not cache.exists()
    assert output_scanner(cfg).scan_text("电话13900000000")

    # a derived file of another identity index is not used
    other = ScannerIndex(KnownIdentities())
    other.save(cache, key, "not-this-index")
    assert output_scanner(cfg).scan_text("电话13900000000")
    # nor one that cannot be decrypted
    cache.write_bytes(b"garbage")
    assert output_scanner(cfg).scan_text("电话13900000000")
    assert ScannerIndex.load(cache, key)[0].runs.set.lookup is not None  # written again, readable


def test_ingest_writes_the_scanner_index_of_its_identity_index(tmp_path):
    """The ingest has derived the scanner index to scan its own output: it keeps it beside the identity
    index it writes, so the pipeline's first scan loads it (at 2M: seconds instead of a minute)."""
    import tests.privacy.test_ingest as ti
    from privacy.ingest import ingest_folder
    from privacy.scanner import file_digest
    from privacy.tokens import Pseudonymizer

    raw = tmp_path / "raw"
    ti.build_raw(raw)
    known_cls, scanner_cls, anonymizer = ti._components()
    key = Fernet.generate_key()
    ingest_folder(raw, ti.CONTRACTS, pseudonymizer=Pseudonymizer(b"k" * 32, 1), vault_key=key,
                  out_dir=tmp_path / "work", quarantine_dir=tmp_path / "q", as_of=ti.AS_OF, anonymizer=anonymizer,
                  scanner_factory=scanner_cls, known_factory=known_cls, raise_on_error=False, raise_on_undeclared=False)
    index_path = tmp_path / "work" / "identity_index.bin"
    cache = scanner_cache_path(index_path)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    loaded, source = ScannerIndex.load(cache, key)
    assert source == file_digest(index_path)
    known = KnownIdentities.load(index_path, key)
    derived, again = LeakScanner(known), LeakScanner(index=loaded)
    texts = [f"{v}。" for kind in ("names", "id_numbers", "phones", "addresses", "other_ids")
             for v in sorted(getattr(known, kind))[:20]]
    assert len(texts) > 30
    assert [again.scan_text(t) for t in texts] == [derived.scan_text(t) for t in texts]
    assert sum(bool(derived.scan_text(t)) for t in texts) > 30
