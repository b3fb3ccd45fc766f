"""Large CSVs are read and ingested chunk by chunk (issue 8: a 2,000,000-child city's social-insurance
export is about 3.6 GB). Forcing every CSV through the chunked path, with chunks of a few dozen bytes,
must change nothing: the same records and row numbers, the same report, quarantine and output."""

from __future__ import annotations

import codecs
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _messy_harness import ingest_files, outcome

import privacy.ingest as ingest_mod
import privacy.readers as readers
from privacy.readers import (
    EncodingError,
    decode_bytes,
    detect_encoding_streamed,
    encoding_label,
    iter_csv_chunks,
    read_csv_text,
)
from simulator.mess import write_messy
from tests.privacy.test_ingest_corpus import EXPECT, HERE

CSV_CASES = [("generated", k) for k in EXPECT["generated"] if k.endswith((".csv", ".txt", ".tsv"))] + [
    ("hand", k) for k in EXPECT["hand"] if k.endswith((".csv", ".txt", ".tsv"))
]

TRICKY = (
    "某区困境儿童台账（截至2025年6月）\r\n"
    "\r\n"
    "姓名,备注,金额\r\n"
    '王䶮,"走访时说：""家里没人""，\r\n第二行",1\r\n'
    "\r\n"
    '李四,"多行\n笔记\n三行",2\r\n'
    '赵六,普通,3,多余\r\n'
    '"钱七","含逗号,的备注",4\r\n'
    "孙八,,5\r\n"
    "合计,,15\r\n"
)


def _stream(monkeypatch, chunk: int) -> None:
    monkeypatch.setattr(readers, "CSV_STREAM_BYTES", 0)
    monkeypatch.setattr(readers, "CSV_CHUNK_BYTES", chunk)
    monkeypatch.setattr(readers, "CSV_TAIL_LINES", 8)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "utf-16"])
@pytest.mark.parametrize("chunk", [1, 7, 16, 33, 64, 10_000])
def test_chunks_give_the_whole_read(tmp_path, encoding, chunk, monkeypatch):
    monkeypatch.setattr(readers, "CSV_TAIL_LINES", 1)
    path = tmp_path / "t.csv"
    path.write_bytes(TRICKY.encode(encoding))
    text, enc = decode_bytes(path.read_bytes(), path.name)
    header, cols, lines, bad = read_csv_text(text, path.name, header_line=3)
    got = list(iter_csv_chunks(path, enc, header_line=3, chunk_bytes=chunk))
    assert got[-1][4] is True and not any(c[4] for c in got[:-1])
    assert all(c[0] == header for c in got)
    assert [[v for c in got for v in c[1][i]] for i in range(len(header))] == cols
    assert np.concatenate([c[2] for c in got]).tolist() == lines.tolist()
    assert np.concatenate([c[3] for c in got]).tolist() == bad.tolist()
    # the record starting on line 6 (after a blank line) and its three-line note are whole
    assert lines.tolist() == [4, 7, 10, 11, 12, 13] and cols[1][1] == "多行\n笔记\n三行"
    assert bad.tolist() == [False, False, True, False, False, False]
    if chunk < 40:
        assert len(got) > 3  # it really was read in pieces


@pytest.mark.parametrize(
    "data",
    [
        "姓名\n王䶮\n".encode("gb18030"),
        "姓名\n张三\n".encode("gbk"),
        "姓名\n张三\n".encode(),
        codecs.BOM_UTF8 + "姓名\n张三\n".encode(),
        "姓名\n张三\n".encode("utf-16"),
        b"name\n" + b"a" * 100 + b"\xff\xfe\xfa\n",
        codecs.BOM_UTF8 + b"name\n\xff\n",
    ],
)
def test_streamed_encoding_as_whole_file(tmp_path, data):
    path = tmp_path / "e.csv"
    path.write_bytes(data)
    try:
        _, enc = decode_bytes(data, path.name)
    except EncodingError as e:
        with pytest.raises(EncodingError) as got:
            detect_encoding_streamed(path, block=3)
        assert str(got.value) == str(e)  # same message, same byte offset
        return
    assert detect_encoding_streamed(path, block=3) == (enc, encoding_label(data, enc))


def test_hash_set_is_a_set():
    rng = np.random.default_rng(1)
    hs, ref = ingest_mod._HashSet(), set()
    for _ in range(40):
        h = rng.integers(0, 5000, size=int(rng.integers(0, 300)), dtype=np.uint64)
        assert hs.contains(h).tolist() == [int(x) in ref for x in h]
        hs.add(h)
        ref.update(int(x) for x in h)
    assert len(hs.levels) < 10  # merged by size, not one array per call
    assert sorted(set(np.concatenate(hs.levels).tolist())) == sorted(ref)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    d = tmp_path_factory.mktemp("messy_streamed")
    write_messy(d / "gen", seed=7)
    return d / "gen"


def _outputs(root) -> dict:
    out = {}
    for p in sorted((root / "work" / "pseudonymized").glob("*.parquet")):
        out[p.name] = pd.read_parquet(p)
    for p in sorted((root / "q").glob("*.csv")):
        out[p.name] = pd.read_csv(p, dtype=str, encoding="utf-8-sig")
    return out


@pytest.mark.parametrize(("kind", "name"), CSV_CASES, ids=[n for _, n in CSV_CASES])
def test_corpus_streamed_changes_nothing(kind, name, generated, tmp_path, monkeypatch):
    path = (generated if kind == "generated" else HERE / "hand") / name
    whole = ingest_files(tmp_path / "whole", [path])
    _stream(monkeypatch, 61)
    parts = []
    add_raw = ingest_mod.IngestSession.add_raw
    monkeypatch.setattr(ingest_mod.IngestSession, "add_raw",
                        lambda self, *a, **kw: parts.append(kw.get("part", 0)) or add_raw(self, *a, **kw))
    streamed = ingest_files(tmp_path / "streamed", [path])
    lines = path.read_bytes().count(b"\n")
    if lines > 20 and whole.files[0].status not in ("failed", "unrecognized"):
        assert max(parts) >= 1, "a file of more than 20 lines is read in several chunks"
    assert outcome(streamed, name) == outcome(whole, name)
    a, b = _outputs(tmp_path / "whole"), _outputs(tmp_path / "streamed")
    assert a.keys() == b.keys()
    for k in a:
        pd.testing.assert_frame_equal(a[k], b[k], obj=k)
    for f in streamed.files:
        assert f.reconciled, f.label
    assert not (tmp_path / "streamed" / "work" / ".ingest_chunks").exists()  # spilled chunks removed


def _big_roster(n: int) -> str:
    """A social-insurance export of ``n`` valid rows (GB 11643 check characters)."""
    lines = ["公民身份号码,参保地,缴费月份,单位名称"]
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    for i in range(n):
        body = f"33010619850101{i % 1000:03d}"
        s = sum(int(c) * w for c, w in zip(body, weights, strict=True))
        lines.append(f"{body}{'10X98765432'[s % 11]},杭州市,20250{1 + i % 6},第{i % 7}建筑有限公司")
    return "\n".join(lines) + "\n"


def test_phone_in_a_late_chunk_refuses_the_whole_table(tmp_path, monkeypatch):
    """Undeclared personal information found in a late chunk: nothing of the table is written (the
    chunks already scanned were written to a temporary file, which is removed)."""
    lines = _big_roster(400).split("\n")
    lines[380] = lines[380].replace("建筑有限公司", "建筑有限公司 联系13812345678")  # near the end
    src = tmp_path / "src" / "social_insurance.csv"
    src.parent.mkdir()
    src.write_text("\n".join(lines), encoding="utf-8")
    _stream(monkeypatch, 997)
    rep = ingest_files(tmp_path, [src])
    t = rep.tables["social_insurance"]
    assert t.status == "failed" and t.undeclared
    assert not list((tmp_path / "work" / "pseudonymized").glob("social_insurance*"))
    assert len({e["code"] for f in rep.files for e in f.errors}) == 1  # one UNDECLARED_PII per file
    assert sum(1 for f in rep.files for e in f.errors if e["code"] == "UNDECLARED_PII") == 1


def test_expectations_cover_csv_cases():
    assert len(CSV_CASES) >= 10


def _repeating_roster(months: int = 6) -> str:
    """Social insurance as departments export it: the same people every month (rows ordered by month), so
    consecutive chunks repeat the same resident IDs, among them a legacy 15-digit number, a wrong check
    character, a full-width and a lower-case-x form, each in every month."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)

    def rid(body: str) -> str:
        s = sum(int(c) * w for c, w in zip(body, weights, strict=True))
        return body + "10X98765432"[s % 11]

    people = [rid(f"33010619850101{i:03d}") for i in range(40)]
    people.append("330106850101123")  # legacy 15 digits: upgraded, counted in every row
    people.append(people[0][:17] + ("0" if people[0][17] != "0" else "1"))  # wrong check character
    people.append("".join(chr(ord(c) + 0xFEE0) for c in people[1]))  # full-width digits
    x = next(p for p in people if p.endswith("X"))
    people.append(x[:-1] + "x")
    lines = ["公民身份号码,参保地,缴费月份,单位名称"]
    for m in range(1, months + 1):
        lines += [f"{p},杭州市,2025{m:02d},第{i % 3}建筑有限公司" for i, p in enumerate(people)]
    return "\n".join(lines) + "\n"


def test_repeated_values_across_chunks_change_nothing(tmp_path, monkeypatch):
    """Chunks of a monthly export repeat the same people; each chunk validates only the IDs the previous
    chunk did not have (privacy.ingest._ChunkMemo). The report, warnings, quarantine and output are those
    of the whole-file read, and the ID validation really ran fewer times."""
    src = tmp_path / "src" / "social_insurance.csv"
    src.parent.mkdir()
    src.write_text(_repeating_roster(12), encoding="utf-8")
    calls, bulk = [], []  # cells validated one by one; cells checked in bulk (IDs already normalized)
    validate = ingest_mod._u_resident_id
    monkeypatch.setattr(ingest_mod, "_u_resident_id", lambda *a: calls.append(a[0]) or validate(*a))
    make = ingest_mod._unchanged_func

    def counting(*a):
        f = make(*a)
        return None if f is None else (lambda cells: bulk.append(len(cells)) or f(cells))

    monkeypatch.setattr(ingest_mod, "_unchanged_func", counting)
    whole = ingest_files(tmp_path / "whole", [src])
    whole_calls, whole_bulk = len(calls), sum(bulk)
    calls.clear()
    bulk.clear()
    _stream(monkeypatch, 5000)  # ~2 months a chunk, as 64 MB hold several months of a city
    parts = []
    add_raw = ingest_mod.IngestSession.add_raw
    monkeypatch.setattr(ingest_mod.IngestSession, "add_raw",
                        lambda self, *a, **kw: parts.append(kw.get("part", 0)) or add_raw(self, *a, **kw))
    streamed = ingest_files(tmp_path / "streamed", [src])
    assert max(parts) >= 3
    # 44 distinct ID cells: checked once each in the whole file (40 in bulk, the 4 others one by one);
    # chunked, once per chunk that has a cell the previous chunk did not (without the memo: once per
    # chunk, ≥ 44 × 5)
    assert whole_bulk == 44 and whole_calls == 4
    assert 44 <= sum(bulk) < 2 * 44, sum(bulk)
    assert 4 <= len(calls) < 2 * 4, len(calls)
    w, s = whole.files[0], streamed.files[0]
    assert s.to_dict() | {"seconds": 0} == w.to_dict() | {"seconds": 0}
    assert w.legacy_ids_upgraded == 12 and w.reasons == {"INVALID_ID_CHECKSUM": 12}
    assert w.rows_passed == 12 * 43 and w.rows_quarantined == 12
    a, b = _outputs(tmp_path / "whole"), _outputs(tmp_path / "streamed")
    assert a.keys() == b.keys()
    for k in a:
        pd.testing.assert_frame_equal(a[k], b[k], obj=k)


def test_map_unique_with_memo_is_map_unique():
    """The memo gives the same values and reasons, chunk after chunk, as validating every chunk afresh."""
    rng = np.random.default_rng(5)
    pool = np.array([f"v{i}" for i in range(300)], dtype=object)
    memo = ingest_mod._ChunkMemo()

    def func(u):
        return (u.upper(), None) if int(u[1:]) % 7 else (None, "BAD")

    for _ in range(12):
        chunk = pd.Series(rng.choice(pool, size=int(rng.integers(0, 200))), dtype=object)
        chunk[rng.random(len(chunk)) < 0.1] = None
        got, want = ingest_mod._map_unique(chunk, func, memo), ingest_mod._map_unique(chunk, func)
        for g, x in zip(got, want, strict=True):
            assert g.tolist() == x.tolist()
        lens = memo.carry("len", len, dtype=np.int64)
        assert lens.tolist() == [len(u) for u in memo.uniques]
        assert memo.codes.tolist() == pd.factorize(chunk)[0].tolist()
        asked = []  # carry_many computes only the cells the previous chunk did not have, in bulk

        def compute(pos, asked=asked):
            asked.append(pos)
            return np.array([f"T{memo.uniques[i]}" for i in pos], dtype=object)

        tok = memo.carry_many("tok", compute)
        assert tok.tolist() == [f"T{u}" for u in memo.uniques]
        assert sum(len(p) for p in asked) == len(memo.new) <= len(memo.uniques)


def test_row_hashes_are_pandas_row_hashes():
    """Duplicate rows are found by hashing each column once per distinct cell; the numbers are those of
    ``pd.util.hash_pandas_object(df.astype(str))`` on the whole frame, for coded CSV columns and typed
    (xlsx) columns alike, where ``1``, ``"1"`` and ``True`` are different cells only as their text is."""
    import pyarrow as pa

    rng = np.random.default_rng(3)
    pool = np.array(["330105201103209259", "1", "", " ", "王小明", "None", "nan"], dtype=object)
    a = rng.choice(pool, 500)
    typed = pd.Series(rng.choice(np.array([1, "1", True, 1.0, None, 2.5, "x"], dtype=object), 500), dtype=object)
    b = pd.Series(rng.choice(pool, 500), dtype=object)
    b[rng.random(500) < 0.2] = None
    df = pd.DataFrame({"a": pd.Series(a, dtype=object), "t": typed, "b": b})
    want = pd.util.hash_pandas_object(df.astype(str), index=False).to_numpy()
    coded = readers.CodedColumn.from_arrow(pa.array(a.tolist(), type=pa.string()))
    assert len(coded.uniques) == len(set(a)) and list(coded) == a.tolist()
    got = ingest_mod._row_hashes([coded, df["t"], df["b"]])
    assert got.tolist() == want.tolist()
    assert len(set(want.tolist())) > 100  # not a constant
    assert ingest_mod._row_hashes([]).tolist() == []


def test_csv_columns_are_coded_as_the_csv_module_reads_them():
    """The fast CSV path gives each column as codes into its distinct cells: the same cells as the csv
    module's; after blank rows and a trailing 合计 row are dropped, the distinct cells still used stay."""
    import csv
    import io

    rng = np.random.default_rng(9)
    names = ["张三", "李四", " ", "", "王五 ", "赵六"]
    lines = ["姓名,金额,备注"]
    for i in range(400):
        lines.append(",,") if i % 97 == 5 else lines.append(f"{rng.choice(names)},{int(rng.integers(0, 9))},n{i % 13}")
    lines.append("合计,1234,")
    text = "\n".join(lines) + "\n"
    header, cols, rows, bad = read_csv_text(text, "t.csv")
    assert header == ["姓名", "金额", "备注"]
    assert all(isinstance(c, readers.CodedColumn) for c in cols)
    ref = list(csv.reader(io.StringIO(text)))[1:]
    for i, c in enumerate(cols):
        assert list(c) == [r[i] for r in ref]
        assert c.values().tolist() == [r[i] for r in ref]
    kept, kept_rows, _, n_blank, n_summary = readers._drop_blank_and_summary(cols, rows, bad)
    assert (n_blank, n_summary) == (5, 1)  # rows 5, 102, 199, 296, 393
    assert kept_rows.tolist() == [k + 2 for k, r in enumerate(ref) if any(x.strip() for x in r)][:-1]
    assert list(kept[0]) == [r[0] for r in ref if any(x.strip() for x in r)][:-1]
    assert "合计" not in kept[0].uniques.tolist() and "1234" not in kept[1].uniques.tolist()
    assert sorted(kept[1].uniques.tolist()) == sorted(set(kept[1]))


def test_raw_rows_of_unique_keys_wait_on_disk_and_still_reach_quarantine(tmp_path, monkeypatch):
    """A visit number used twice, in two chunks of one file: both rows go to quarantine (DUPLICATE_KEY)
    with their raw cells, as when the file is read whole. Those raw cells, and the vault's rows, wait
    in the staging folder (mode 0600) while the tables are scanned, not in memory, and are gone after."""
    src = tmp_path / "src"
    src.mkdir()
    head = "走访编号,走访日期,儿童公民身份号码,儿童姓名,走访人,走访方式,监护评估,走访情况,录入日期"
    ids = [line.split(",")[0] for line in _big_roster(30).splitlines()[1:]]
    rows = [f"ZF{i:06d},2025-03-0{1 + i % 9},{ids[i]},王小{'一二三四五六七八九十'[i % 10]},李老师,入户走访,良好,"
            f"家中正常{i},2025-03-15" for i in range(30)]
    rows.append(rows[3].replace("家中正常", "补录：家中正常"))  # ZF000003 again, a different row, near the end
    (src / "visit_records.csv").write_text("\n".join([head, *rows]) + "\n", encoding="utf-8")
    whole = ingest_files(tmp_path / "whole", [src / "visit_records.csv"])
    seen = {}
    finish = ingest_mod.IngestSession.finish

    def spying_finish(self, **kw):
        scanner_factory = self.scanner_factory

        def factory(known):  # the moment the scan starts: what is held, what waits on disk
            seen["raw_ok_in_memory"] = any(p._raw_ok is not None for p in self.pending)
            seen["raw_ok_files"] = len(list(self.spill_dir.glob("*.raw_ok.pkl"))) == len(self.pending)
            seen["modes"] = {oct(f.stat().st_mode & 0o777) for f in self.spill_dir.iterdir()}
            seen["vault_in_memory"] = bool(self.vault_frames)
            seen["vault_file"] = (self.spill_dir / "vault_rows.pkl").exists()
            seen["person_ids"] = len(self.person_ids)
            return scanner_factory(known)

        self.scanner_factory = factory
        return finish(self, **kw)

    monkeypatch.setattr(ingest_mod.IngestSession, "finish", spying_finish)
    _stream(monkeypatch, 400)
    rep = ingest_files(tmp_path / "streamed", [src / "visit_records.csv"])
    assert len(rep.files) == 1 and rep.files[0].rows_read == 31
    assert seen == {"raw_ok_in_memory": False, "raw_ok_files": True, "modes": {"0o600"},
                    "vault_in_memory": False, "vault_file": True, "person_ids": 0}
    for r in (whole, rep):
        t = r.tables["visit_records"]
        assert t.rows_passed == 29 and t.rows_quarantined == 2
    a, b = _outputs(tmp_path / "whole"), _outputs(tmp_path / "streamed")
    q = b["visit_records.csv"]
    assert sorted(q["走访编号"]) == ["ZF000003", "ZF000003"] and set(q["reason_code"]) == {"DUPLICATE_KEY"}
    assert sorted(q["走访情况"]) == sorted(a["visit_records.csv"]["走访情况"]) == ["家中正常3", "补录：家中正常3"]
    pd.testing.assert_frame_equal(a["visit_records.parquet"], b["visit_records.parquet"])
    assert not (tmp_path / "streamed" / "work" / ".ingest_chunks").exists()
    attrs = pd.read_parquet(tmp_path / "streamed" / "work" / "pseudonymized" / "id_attributes.parquet")
    assert len(attrs) == rep.persons >= 29  # written before the scan, from every person seen


def test_resident_ids_checked_in_bulk_map_as_one_by_one():
    """A resident-ID column's clean IDs skip the per-cell function (issue 8); the values and reasons
    are those of the per-cell function for every cell, chunk after chunk with the memo, including a
    blank word that looks like an ID, an ID born after the as-of date and the forms normalized first."""
    import datetime as dt

    import numpy as np
    import pandas as pd

    from privacy.contracts import Column, Formats
    from privacy.identifiers import ric_check_char
    from privacy.ingest import _ChunkMemo, _column_func, _Fmt, _map_unique, _unchanged_func

    def rid(body):
        return body + ric_check_char(body)

    odd = rid("33010620000101999")
    fmt = _Fmt(Formats(blank_values=("无", odd)))
    as_of = dt.date(2025, 6, 1)
    col = Column(name="id", header="公民身份号码", type="resident_id", privacy="direct")
    cells = [rid(f"330106201{i % 10}0101{i:03d}") for i in range(300)]
    cells += [odd, rid("33010620250602001"), rid("33010620250601001"), cells[0].lower(), " " + cells[1],
              "330106100101001", "无", "", None, "1.2E+17", rid("99010620000101001")]
    chunks = [pd.Series(cells[i::3] + cells[: i + 5], dtype=object) for i in range(3)]
    memo_a, memo_b = _ChunkMemo(), _ChunkMemo()
    for chunk in chunks:
        va, ra, na = _map_unique(chunk, _column_func(col, as_of, fmt), memo_a)
        vb, rb, nb = _map_unique(chunk, _column_func(col, as_of, fmt), memo_b, _unchanged_func(col, as_of, fmt))
        assert list(va) == list(vb) and list(ra) == list(rb) and (na == nb).all()
    assert _unchanged_func(Column(name="x", header="备注", type="text", privacy="none"), as_of, fmt) is None
    whole = pd.Series(cells, dtype=object)
    v, r, _ = _map_unique(whole, _column_func(col, as_of, fmt), None, _unchanged_func(col, as_of, fmt))
    assert list(v[:300]) == cells[:300] and not any(r[:300])
    assert v[300] is None and r[300] is None  # the blank word
    assert list(r[301:303]) == ["INVALID_BIRTH_DATE", None] and v[303] == cells[0] and v[304] == cells[1]
    assert np.all(v[305:] == [rid("33010619100101001"), None, None, None, None, None])


def test_a_frame_cut_after_reading_is_validated_cell_by_cell(tmp_path):
    """The reader's codes describe the frame as read; a frame cut afterwards (a benchmark's first n rows)
    is not matched against them: its output is that of a file holding only those rows."""
    import dataclasses
    import datetime as dt

    from privacy.contracts import load_contracts
    from privacy.identifiers import ric_check_char
    from privacy.ingest import IngestSession
    from privacy.readers import read_table
    from privacy.tokens import Pseudonymizer

    table = load_contracts(Path(__file__).resolve().parents[2] / "contracts")["social_insurance"]
    ids = [b + ric_check_char(b) for b in (f"3301052010{m:02d}15{k:03d}" for m in range(1, 13) for k in (11, 22))]
    lines = [f"{ids[i % len(ids)]},杭州市,2025{1 + i % 12:02d},单位{i % 5}" for i in range(40)]
    head = "公民身份号码,参保地,缴费月份,单位名称\n"
    whole, first = tmp_path / "whole.csv", tmp_path / "first.csv"
    whole.write_text(head + "\n".join(lines) + "\n", encoding="utf-8")
    first.write_text(head + "\n".join(lines[:15]) + "\n", encoding="utf-8")
    raw = read_table(whole, table)
    assert raw.coded and len(raw.coded["id_number"]) == 40
    cut = dataclasses.replace(raw, data=raw.data.iloc[:15].reset_index(drop=True), source_row=raw.source_row[:15],
                              malformed=raw.malformed[:15])

    def output(r):
        s = IngestSession(pseudonymizer=Pseudonymizer(b"k" * 32, 1), vault_key=b"v" * 32, out_dir=tmp_path / "o",
                          quarantine_dir=tmp_path / "q", as_of=dt.date(2026, 6, 30))
        rep = s.add_raw(r, "x.csv")
        return rep.rows_passed, s.pending[0].frame

    (n_cut, a), (n_first, b) = output(cut), output(read_table(first, table))
    assert n_cut == n_first == 15
    pd.testing.assert_frame_equal(a, b)


def test_arrow_strings_go_to_parquet_as_object_strings_do():
    """``_to_arrow`` hands Arrow-backed string columns to Arrow as they are (no Python str per cell);
    the table equals the one built from the same cells as Python objects, nulls and a filtered
    (non-contiguous) frame included."""
    from _messy_harness import CONTRACTS

    table = next(iter(CONTRACTS.values()))
    names = [c.name for c in table.columns if ingest_mod._arrow_type(table, c.name) == ingest_mod.pa.string()][:3]
    assert names, "the contract has string columns"
    rng = np.random.default_rng(3)
    cells = {n: np.where(rng.random(5000) < 0.2, None, rng.integers(0, 900, 5000).astype(str)) for n in names}
    arrow = pd.DataFrame({n: pd.Series(v, dtype="str") for n, v in cells.items()})
    obj = pd.DataFrame({n: pd.Series(v, dtype=object) for n, v in cells.items()})
    assert isinstance(arrow[names[0]].array, pd.arrays.ArrowStringArray)
    keep = rng.random(5000) < 0.5
    for a, o in ((arrow, obj), (arrow[keep], obj[keep])):
        ta, to = ingest_mod._to_arrow(a, table), ingest_mod._to_arrow(o, table)
        assert ta.equals(to)
        assert ta.column(names[0]).null_count == int(a[names[0]].isna().sum()) > 0
        assert ta.column(names[0]).to_pylist() == [None if x is None else x for x in o[names[0]]]
