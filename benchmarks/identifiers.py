"""Benchmark: identifier recognition in free text — recall and precision. Not a test.

Run ``.venv/bin/python benchmarks/identifiers.py`` (after ``benchmarks/name_recognition.py`` has
simulated ``benchmarks/_work/sim2``, or it simulates it).

1. **Simulated notes** (visit notes, police summaries): truth = every occurrence in the raw note of a
   phone or address of the city's population (all raw ``phone``/``address`` columns; phones matched
   on their digits whatever the separators) plus every validated identifier that the independent
   leak scanner finds in the raw note (a carer's phone not exported in any table is still a phone).
   Measured twice: with the record's known identities (as
   the ingest runs it) and *without* (the general recognizers alone). An occurrence is recalled when
   every character lies inside a replaced span; precision = share of identifier spans (not PERSON)
   overlapping a true occurrence.
2. **Hand-written hard cases** (:data:`CASES`): full-width digits, +86/0086, spaces and dashes, 0571
   landlines, IDs after 号码 without a space, lower-case x, new area codes 330113/330114, 15-digit IDs,
   bank cards (Luhn) vs IDs that pass Luhn, USCC, passports/permits with context, plates, e-mail,
   student and disability certificate numbers; and negatives that must not match (order numbers,
   timestamps, tokens, hashes, decimals, 400 service numbers, wrong check characters, 12-digit
   strings). Targets: recall 1.00, precision ≥ 0.99.
"""

from __future__ import annotations

import os
import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from privacy.identifiers import ric_check_char  # noqa: E402


def _rid(body17: str) -> str:
    return body17 + ric_check_char(body17)


R1 = _rid("33011320150101123")   # 临平 (2021)
R2 = _rid("33011420180202456")   # 钱塘
R3 = _rid("33010619850505111")
R15 = "330106850505111"          # legacy form of R3's person (different check; valid 15-digit)
XID = next(_rid(f"33010620100101{i:03d}") for i in range(1000) if _rid(f"33010620100101{i:03d}").endswith("X"))
LUHN_ID = next(r for r in (_rid(f"33010620120303{i:03d}") for i in range(1000))
               if sum(int(d) if k % 2 == 0 else (int(d) * 2 - 9 if int(d) * 2 > 9 else int(d) * 2)
                      for k, d in enumerate(reversed(r)) if d.isdigit()) % 10 == 0 and r[-1].isdigit())


def _luhn_card(prefix: str, length: int) -> str:
    body = prefix + "0" * (length - len(prefix) - 1)
    for c in "0123456789":
        n = body + c
        s = sum(int(d) if k % 2 == 0 else (int(d) * 2 - 9 if int(d) * 2 > 9 else int(d) * 2)
                for k, d in enumerate(reversed(n)))
        if s % 10 == 0:
            return n
    raise AssertionError


CARD = _luhn_card("6222021234567", 19)
FW = str.maketrans("0123456789", "０１２３４５６７８９")

#: (text, [expected substrings that must be replaced]) — empty list: nothing may be replaced.
CASES = [
    (f"身份证号码{R1}已核实", [R1]),
    (f"身份证号：{R2}，户籍临平", [R2]),
    (f"证件号 {R3.lower()} 请复核", [R3.lower()]),
    (f"身份证{XID[:-1]}x", [XID[:-1] + "x"]),
    (f"身份证号{R1.translate(FW)}", [R1.translate(FW)]),
    (f"身份证 {R3[:6]} {R3[6:14]} {R3[14:]}", [f"{R3[:6]} {R3[6:14]} {R3[14:]}"]),
    (f"老身份证号{R15}", [R15]),
    (f"儿童身份证号码{LUHN_ID}", [LUHN_ID]),
    ("手机13800000000联系", ["13800000000"]),
    ("电话+86 138-0000-0000", ["+86 138-0000-0000"]),
    ("联系电话0086 13900001111", ["0086 13900001111"]),
    ("手机１３９００００２２２２", ["１３９００００２２２２"]),
    ("座机0571-88880000转123", ["0571-88880000转123"]),
    ("电话(0571)8888 0000", ["(0571)8888 0000"]),
    ("号码19212345678、16712345678、17012345678", ["19212345678", "16712345678", "17012345678"]),
    (f"银行卡号{CARD}", [CARD]),
    (f"卡号 {CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:16]} {CARD[16:]}", [f"{CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:16]} {CARD[16:]}"]),
    ("统一社会信用代码91330106MA2B0P1X2F", []),  # check character wrong on purpose: not a code
    ("护照号码E12345678，已出境", ["E12345678"]),
    ("往来港澳通行证C12345678", ["C12345678"]),
    ("车牌浙A12345，新能源浙AD12345", ["浙A12345", "浙AD12345"]),
    ("邮箱zhang.san@example.com请回复", ["zhang.san@example.com"]),
    (f"学籍号G{R1}", ["G" + R1]),
    (f"残疾证号{R2}42", [R2 + "42"]),
    ("家住西湖区文新街道学院路88号3幢2单元301室", ["学院路88号3幢2单元301室"]),
    # negatives
    (f"订单号A{R1}", []),
    (f"流水号{R1}9", []),
    ("客服电话400-800-0000", []),
    ("时间戳1718000000000", []),
    ("token P_k1_3fa9c2e1b0d4a5f6e7c8", []),
    ("金额12345678.90元", []),
    ("编号123456789012", []),
    (f"身份证{R1[:-1]}{'0' if R1[-1] != '0' else '1'}", []),
    ("2025年3月1日 10:05 走访，共3人，体温36.5度", []),
    ("sha256 9f2c4e1a7b3d5c6e8f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e", []),
]


def hard_cases():
    from privacy.anonymizer import NoteAnonymizer

    a = NoteAnonymizer()
    exp_n = hit = 0
    pred_n = pred_ok = 0
    failures = []
    for text, expected in CASES:
        spans = [s for s in a.find_spans(text) if s.entity_type != "PERSON"]
        cov = bytearray(len(text))
        for s in spans:
            cov[s.start:s.end] = b"\x01" * (s.end - s.start)
        truth = []
        for e in expected:
            i = text.find(e)
            assert i >= 0, (text, e)
            truth.append((i, i + len(e)))
            exp_n += 1
            if all(cov[i:i + len(e)]):
                hit += 1
            else:
                failures.append(f"missed {e!r} in {text!r}")
        for s in spans:
            pred_n += 1
            if any(a_ < s.end and s.start < b for a_, b in truth):
                pred_ok += 1
            else:
                failures.append(f"false {text[s.start:s.end]!r} ({s.entity_type}) in {text!r}")
    return exp_n, hit, pred_n, pred_ok, failures


FALSE: list[str] = []


def simulated(with_known: bool):
    import ahocorasick
    from name_recognition import simulated_frames

    from privacy.anonymizer import NoteAnonymizer
    from privacy.identities import address_variants, normalize_phone_value
    from privacy.scanner import find_identifiers

    frames = simulated_frames(12000, 36, 7)
    phones, addrs = set(), set()
    for t, df in frames.values():
        for c in t.columns:
            if c.name not in df:
                continue
            if c.type == "phone":
                phones.update(p for p in (normalize_phone_value(v) for v in df[c.name].dropna()) if p)
            elif c.type == "address":
                for v in df[c.name].dropna().astype(str):
                    addrs.update(address_variants(v))
    auto = ahocorasick.Automaton()
    for a in addrs:
        auto.add_word(a, a)
    auto.make_automaton()
    a = NoteAnonymizer()
    n_true = n_hit = n_pred = n_ok = 0
    misses = []
    for t, df in frames.values():
        free = [c.name for c in t.columns if c.privacy == "free_text"]
        direct = [(c.name, c.type) for c in t.columns if c.privacy == "direct_identifier" and c.name in df]
        kind = {"person_name": "names", "phone": "phones", "address": "addresses"}
        for col in free:
            for i, note in enumerate(df[col].tolist()):
                if not isinstance(note, str) or not note.strip():
                    continue
                known = {}
                if with_known:
                    for n, ty in direct:
                        v = df[n].iloc[i]
                        if isinstance(v, str) and v:
                            known.setdefault(kind.get(ty, "id_numbers"), []).append(v)
                truth = []
                for m in re.finditer(r"\+?[0-9][0-9 \-]{6,}[0-9]", note):
                    d = re.sub(r"\D", "", m.group())
                    if d in phones or (d.startswith("86") and d[2:] in phones):
                        truth.append(m.span())
                for end, v in auto.iter(note):
                    truth.append((end - len(v) + 1, end + 1))
                # any validated identifier the (independent) leak scanner sees: phones of people
                # outside the exported tables are still phones
                truth.extend((s, e) for _ent, s, e in find_identifiers(unicodedata.normalize("NFKC", note))
                             if len(unicodedata.normalize("NFKC", note)) == len(note))
                truth = sorted(set(truth))
                truth = [x for x in truth if not any(y != x and y[0] <= x[0] and x[1] <= y[1] for y in truth)]
                spans = [s for s in a.find_spans(note, known) if s.entity_type != "PERSON"]
                cov = bytearray(len(note))
                for s in spans:
                    cov[s.start:s.end] = b"\x01" * (s.end - s.start)
                for s, e in truth:
                    n_true += 1
                    ok = all(cov[s:e])
                    n_hit += ok
                    if not ok and len(misses) < 6:
                        misses.append(note[max(0, s - 6):e + 4])
                for s in spans:
                    n_pred += 1
                    good = any(x < s.end and s.start < y for x, y in truth)
                    n_ok += good
                    if not good and len(FALSE) < 8:
                        FALSE.append(f"{note[max(0, s.start - 6):s.start]}[{note[s.start:s.end]}]{note[s.end:s.end + 4]} {s.entity_type}")
    return n_true, n_hit, n_pred, n_ok, misses


def main() -> None:
    print(f"load average: {os.getloadavg()}")
    exp_n, hit, pred_n, pred_ok, failures = hard_cases()
    print(f"hard cases: {len(CASES)} texts, {exp_n} identifiers: recall {hit / exp_n:.4f}, "
          f"precision {pred_ok / max(pred_n, 1):.4f} ({pred_n} spans)  (targets 1.00 / ≥ 0.99)")
    for f in failures:
        print("   ", f)
    for wk in (True, False):
        n_true, n_hit, n_pred, n_ok, misses = simulated(wk)
        label = "with record identities" if wk else "general recognizers only"
        print(f"simulated notes ({label}): {n_true} phone/address occurrences: recall {n_hit / max(n_true, 1):.4f}, "
              f"precision {n_ok / max(n_pred, 1):.4f} ({n_pred} identifier spans)")
        for m in misses:
            print("    missed:", m)
        for m in FALSE:
            print("    not in truth:", m)
        FALSE.clear()


if __name__ == "__main__":
    main()
