"""Side-by-side benchmark (issue 8): ours vs the obvious way, measured in the same run. Not a test.

Run (from the repository root, by hand)::

    .venv/bin/python benchmarks/side_by_side.py                     # all three comparisons
    .venv/bin/python benchmarks/side_by_side.py --rows 5000          # fix N instead of calibrating it
    .venv/bin/python benchmarks/side_by_side.py --only features --dates 3 --dates 12

Input: the small simulated city of ``data/`` (20,000 children), used read-only. What is needed is
copied to a temporary folder first (the pseudonymized tables, the MLflow registry database); nothing is
written under ``data/`` or ``out/``. Output: one table on stdout and the raw figures in
``benchmarks/results/side_by_side_<UTC stamp>.json`` (load averages from ``uptime`` before/after, CPU
count, versions, git HEAD and dirty files, and the exact inputs: files with SHA-256, row counts, dates,
model versions).

1. **Structured pseudonymization**, per raw table (household registry, child registry; the same first
   N rows on both sides):

   * *ours* — :meth:`privacy.ingest.IngestSession.add_raw` on the table as read by
     :func:`privacy.readers.read_table` (every column validated and normalized once per distinct value,
     resident IDs / household numbers HMAC-tokenized, names / phones / addresses dropped to the vault
     rows); and ``add_raw`` + :meth:`~privacy.ingest.IngestSession.finish` (fail-closed leak scan of every
     non-token column against the identity index, Parquet, Fernet vault and identity index written).
   * *per-cell Presidio* — presidio-structured's default way. ``presidio-structured`` is **not installed**
     (no dependency was added), so its default code path is emulated with presidio_analyzer +
     presidio_anonymizer, following presidio-structured's source: ``PandasAnalysisBuilder
     .generate_analysis(df)`` with ``n=None`` shuffles all rows (``df.sample(len(df))``) and runs
     ``BatchAnalyzerEngine.analyze_iterator`` — i.e. ``AnalyzerEngine.analyze`` — on every cell of every
     column, keeps each column's most common first entity (average score ≥ the engine's default
     threshold); ``StructuredEngine.anonymize`` (``PandasDataProcessor``) then walks
     ``df.itertuples()`` for every PII column and writes ``operator.operate(cell)`` with ``df.at``.
     The AnalyzerEngine is ours (:func:`privacy.analyzer.build_analyzer`: Chinese NLP engine and all
     humiao recognizers; Presidio's English default finds nothing in Chinese tables). The operator is
     ``hash`` (SHA-256, fixed salt: a deterministic pseudonym, the closest to our HMAC tokens). Cells
     are handed over as strings (``None`` → ``""``, xlsx dates → ``str``), as ``pd.read_csv(dtype=str,
     keep_default_na=False)`` would give them (``analyze_iterator`` rejects datetimes); that
     conversion is not timed. Its start-up (building the analyzer, ~4 s) is reported, not counted.

   N is chosen so that the Presidio loop takes about ``--presidio-seconds`` per table (calibrated on
   ``--calibrate-rows`` rows first; the calibration is a warm-up, not a result), capped at the table's
   size, or set with ``--rows``. Ours is the median of ``--repeat`` runs (after a warm-up), the
   Presidio loop runs once. Nothing is extrapolated.

2. **Features**: :func:`features.build.build_features` (DuckDB, called as the pipeline calls it) vs the
   naive pandas loop :func:`benchmarks.naive_pandas.naive_features` on the same K monthly as-of dates
   (each ``--dates`` value; default K = 3 and K = 12), one run each, interleaved. Row counts are
   compared, and every column the naive loop computes (it covers only the child-level aggregations,
   so it does less work) is compared value by value with ours (``np.isclose``, NaN = NaN).

3. **Explanations**: :func:`models.scoring.score_cycle` as ``humiao.stages.score_targets`` calls it
   (champion of each target from a copy of the MLflow registry, downloaded into the temporary folder,
   the pipeline's features at the scoring as-of date, the target's cohort at that date,
   capacity from the configuration; every child scored, TreeSHAP ``pred_contrib`` + reason phrases for
   each community's shortlist, ``rank <= 3 × K``) vs the same call with ``shortlist_factor=inf`` (every
   child of the cohort explained). Also the bare LightGBM calls: predict all, ``pred_contrib`` on the
   shortlist, ``pred_contrib`` on everyone. Loading the model and computing the cohort are the same on
   both sides and not timed.

Repeats: a fast variant is the median of ``--repeat`` runs; a variant is not run again once its runs
took 20 s (the slow baselines then count 1–2 runs; the ``runs`` column says how many).

Wall seconds decide; CPU seconds of this process (all its threads, ``time.process_time``) are given too
because the machine is shared (2 cores; other jobs raise the wall time, much less the CPU time).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

RESULTS = REPO / "benchmarks" / "results"
DATA = REPO / "data"
PSEUDO = DATA / "work" / "pseudonymized"
FEATURES_DIR = DATA / "work" / "assets" / "features"
MLFLOW_DB = REPO / "out" / "mlflow" / "mlflow.db"
RAW_TABLES = {
    "household_registry": DATA / "raw" / "public_security" / "household_registry.csv",
    "child_registry": DATA / "raw" / "civil_affairs" / "child_registry.xlsx",
}
#: Benchmark keys (not the pipeline's): tokens are not compared with anything.
PSEUDONYM_KEY = b"side-by-side-benchmark-key-32by!"
HASH_SALT = "side-by-side-benchmark-salt-32by"
#: Last as-of date of the feature comparison (monthly dates end here; the city's data run 2023-01 … 2025-12).
LAST_AS_OF = dt.date(2025, 6, 1)


# ------------------------------------------------------------------------------------------ helpers


class Clock:
    """Wall and CPU seconds of a block."""

    def __enter__(self):
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.w
        self.cpu = time.process_time() - self.c


#: A variant is repeated (up to ``--repeat`` times) only while its runs so far took less than this.
REPEAT_BUDGET_S = 20.0


def median_runs(fn, repeat: int) -> tuple[float, float, list[float], object]:
    """Median wall and CPU seconds of up to ``repeat`` calls of ``fn`` (and the last result); no further
    call once the calls so far took :data:`REPEAT_BUDGET_S` (slow variants run fewer times)."""
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        with Clock() as c:
            out = fn()
        walls.append(c.wall)
        cpus.append(c.cpu)
        if sum(walls) >= REPEAT_BUDGET_S:
            break
    return statistics.median(walls), statistics.median(cpus), walls, out


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def uptime() -> dict:
    try:
        text = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        text = ""
    return {"uptime": text, "loadavg": list(os.getloadavg()), "utc": dt.datetime.now(dt.UTC).isoformat()}


def git_state() -> dict:
    def run(*args):
        r = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return r.stdout.rstrip()

    dirty = run("status", "--porcelain", "--", "privacy", "features", "models", "humiao", "benchmarks")
    return {"head": run("rev-parse", "HEAD").strip(), "dirty_files": dirty.splitlines()}


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for p in ("presidio-analyzer", "presidio-anonymizer", "presidio-structured", "pandas", "numpy",
              "duckdb", "lightgbm", "mlflow"):
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = None
    return out


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024  # KiB → GiB


# ------------------------------------------------------------------- 1. structured pseudonymization


def head_raw(raw, n: int):
    """The first ``n`` data rows of a :class:`privacy.readers.RawFrame`."""
    return dataclasses.replace(
        raw,
        data=raw.data.iloc[:n].reset_index(drop=True),
        source_row=raw.source_row[:n],
        malformed=None if raw.malformed is None else raw.malformed[:n],
        extra=None if raw.extra is None else raw.extra.iloc[:n].reset_index(drop=True),
        coded=None if raw.coded is None else {k: c.take(np.arange(min(n, len(c)))) for k, c in raw.coded.items()},
    )


def as_strings(df: pd.DataFrame) -> pd.DataFrame:
    """Cells as ``pd.read_csv(dtype=str, keep_default_na=False)`` would give them."""
    def cell(v):
        if v is None or (isinstance(v, float) and v != v):
            return ""
        return v if isinstance(v, str) else str(v)

    return df.map(cell)


def presidio_structured_default(df: pd.DataFrame, analyzer, operators: dict, seed: int = 0):
    """presidio-structured's default path, emulated (see the module docstring). Returns
    ``(anonymized frame, column → entity, analysis seconds, anonymization seconds)``."""
    from presidio_analyzer import BatchAnalyzerEngine
    from presidio_anonymizer.operators import OperatorsFactory, OperatorType

    t0 = time.perf_counter()
    # PandasAnalysisBuilder.generate_analysis(df, n=None): df.sample(len(df)) then _find_most_common_entity
    sample = df.sample(len(df), random_state=seed)
    batch = BatchAnalyzerEngine(analyzer_engine=analyzer)
    mapping: dict[str, str] = {}
    for column in sample.columns:
        results = batch.analyze_iterator([v for v in sample[column]], language="zh")
        if all(len(r) == 0 for r in results):
            continue  # NON_PII
        most = Counter(r[0].entity_type for r in results if r).most_common(1)[0][0]
        scores = [r[0].score for r in results if r and r[0].entity_type == most]
        if sum(scores) / len(scores) >= analyzer.default_score_threshold:  # _remove_low_scores
            mapping[column] = most
    t1 = time.perf_counter()
    # StructuredEngine(PandasDataProcessor()).anonymize(df, analysis, operators)
    data = df.copy()
    factory = OperatorsFactory()
    for key, entity in mapping.items():
        cfg = operators.get(entity, operators.get("DEFAULT"))
        op = factory.create_operator_class(cfg.operator_name, OperatorType.Anonymize)
        for row in data.itertuples(index=True):
            data.at[row.Index, key] = op.operate(params=cfg.params, text=getattr(row, key))
    return data, mapping, t1 - t0, time.perf_counter() - t1


def bench_pseudonymization(args, tmp: Path, inputs: dict) -> list[dict]:
    from cryptography.fernet import Fernet
    from presidio_anonymizer.entities import OperatorConfig

    from humiao.config import load_config
    from humiao.stages import ingest_as_of
    from privacy.analyzer import build_analyzer
    from privacy.contracts import load_contracts
    from privacy.ingest import IngestSession
    from privacy.readers import read_table
    from privacy.tokens import Pseudonymizer

    contracts = load_contracts(REPO / "contracts")
    as_of = ingest_as_of(load_config())
    vault_key = Fernet.generate_key()
    operators = {"DEFAULT": OperatorConfig("hash", {"hash_type": "sha256", "salt": HASH_SALT})}
    with Clock() as c:
        analyzer = build_analyzer()
    startup = {"build_analyzer_wall_s": c.wall, "build_analyzer_cpu_s": c.cpu}
    print(f"[pseudonymization] AnalyzerEngine built in {c.wall:.1f} s (not counted)", flush=True)
    inputs["pseudonymization"] = {"ingest_as_of": as_of.isoformat(), "operator": "hash sha256 (fixed salt)",
                                  "analyzer": "privacy.analyzer.build_analyzer()", "tables": {}, **startup}
    rows_out = []
    run_id = 0

    def ours(raw_n, rel, finish: bool):
        nonlocal run_id
        run_id += 1
        out = tmp / "ingest" / str(run_id)
        session = IngestSession(pseudonymizer=Pseudonymizer(PSEUDONYM_KEY, 1), vault_key=vault_key,
                                out_dir=out, quarantine_dir=out / "quarantine", as_of=as_of)
        frep = session.add_raw(raw_n, rel)
        if finish:
            session.finish()
        shutil.rmtree(out, ignore_errors=True)
        return frep

    for name, path in RAW_TABLES.items():
        table = contracts[name]
        rel = f"{table.department}/{path.name}"
        with Clock() as c:
            raw = read_table(path, table)
        total = len(raw.data)
        # warm-up of ours (imports, the scanner's analyzer) and calibration of the Presidio loop
        ours(head_raw(raw, min(200, total)), rel, finish=True)
        cal_n = min(args.calibrate_rows, total)
        with Clock() as cal:
            presidio_structured_default(as_strings(raw.data.iloc[:cal_n]), analyzer, operators)
        if args.rows:
            n = min(args.rows, total)
        else:
            n = min(total, max(cal_n, int(args.presidio_seconds / (cal.wall / cal_n))))
        raw_n = head_raw(raw, n)
        cells = n * raw_n.data.shape[1]
        print(f"[pseudonymization] {name}: {total:,} rows read in {c.wall:.1f} s; calibration "
              f"{cal_n} rows in {cal.wall:.1f} s → N = {n:,} rows ({cells:,} cells)", flush=True)

        w_add, c_add, walls_add, frep = median_runs(lambda raw_n=raw_n, rel=rel: ours(raw_n, rel, False),
                                                    args.repeat)
        w_fin, c_fin, walls_fin, _ = median_runs(lambda raw_n=raw_n, rel=rel: ours(raw_n, rel, True),
                                                 args.repeat)
        df_str = as_strings(raw_n.data)
        with Clock() as p:
            anon, mapping, t_an, t_op = presidio_structured_default(df_str, analyzer, operators)
        assert len(anon) == n
        print(f"[pseudonymization] {name}: ours add_raw {w_add:.2f} s, +finish {w_fin:.2f} s; "
              f"Presidio loop {p.wall:.1f} s; its column → entity: {mapping}", flush=True)
        inputs["pseudonymization"]["tables"][name] = {
            "file": str(path.relative_to(REPO)), "sha256": sha256(path), "rows_in_file": total,
            "rows_used": n, "rows_used_are": f"data rows 1..{n} as read (source_row "
            f"{int(raw_n.source_row[0])}..{int(raw_n.source_row[-1])})", "columns": list(raw_n.data.columns),
            "read_seconds": c.wall, "calibration_rows": cal_n, "calibration_wall_s": cal.wall,
        }
        common = {"comparison": "pseudonymization", "table": name, "rows": n, "cells": cells}
        rows_out += [
            {**common, "variant": "ours: add_raw (validate, normalize, tokenize, vault rows)", "wall_s": w_add,
             "cpu_s": c_add, "walls": walls_add, "runs": len(walls_add), "baseline": False,
             "rows_passed": frep.rows_passed, "rows_quarantined": frep.rows_quarantined,
             "rows_duplicate": frep.rows_duplicate},
            {**common, "variant": "ours: add_raw + finish (leak scan, Parquet, vault, index)", "wall_s": w_fin,
             "cpu_s": c_fin, "walls": walls_fin, "runs": len(walls_fin), "baseline": False},
            {**common, "variant": "per-cell Presidio (presidio-structured default, emulated)", "wall_s": p.wall,
             "cpu_s": p.cpu, "runs": 1, "baseline": True, "analysis_s": t_an, "anonymize_s": t_op,
             "entity_mapping": mapping},
        ]
    return rows_out


# ------------------------------------------------------------------------------------------ 2. features


def monthly_dates(k: int) -> list[dt.date]:
    from features.timechop import add_months

    return [add_months(LAST_AS_OF, -i) for i in reversed(range(k))]


def compare_features(ours: pd.DataFrame, naive: pd.DataFrame) -> dict:
    key = ["child_token", "as_of_date"]
    a = ours.assign(as_of_date=pd.to_datetime(ours["as_of_date"]))
    b = naive.assign(as_of_date=pd.to_datetime(naive["as_of_date"]))
    cols = [c for c in b.columns if c not in key and c in a.columns]
    m = b[key + cols].merge(a[key + cols], on=key, how="inner", suffixes=("_naive", "_ours"))
    differing = {}
    for c in cols:
        x = pd.to_numeric(m[c + "_naive"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        y = pd.to_numeric(m[c + "_ours"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        bad = ~np.isclose(x, y, rtol=1e-5, atol=1e-6, equal_nan=True)
        if bad.any():
            differing[c] = int(bad.sum())
    return {
        "rows_ours": len(a), "rows_naive": len(b), "rows_matched_on_key": len(m),
        "same_row_count": len(a) == len(b) == len(m),
        "columns_ours": a.shape[1], "columns_naive": b.shape[1],
        "columns_compared": len(cols), "columns_equal": len(cols) - len(differing),
        "columns_differing": differing, "columns_only_in_naive": [c for c in b.columns if c not in a.columns],
    }


def bench_features(args, tmp: Path, inputs: dict) -> list[dict]:
    from naive_pandas import naive_features

    from features.build import build_features

    pseudo = tmp / "pseudonymized"
    rows_out = []
    inputs["features"] = {"pseudonymized_copy_of": str(PSEUDO.relative_to(REPO)), "runs": {}}
    for k in args.dates:
        dates = monthly_dates(k)
        with Clock() as cn:
            naive = naive_features(pseudo, dates)
        with Clock() as co:
            ours = build_features(pseudo, dates)
        cmp = compare_features(ours, naive)
        print(f"[features] K={k}: naive {cn.wall:.1f} s, ours {co.wall:.1f} s; rows {cmp['rows_ours']:,} / "
              f"{cmp['rows_naive']:,}; {cmp['columns_equal']}/{cmp['columns_compared']} naive columns equal",
              flush=True)
        inputs["features"]["runs"][f"K={k}"] = {"as_of_dates": [d.isoformat() for d in dates], **cmp}
        common = {"comparison": "features", "table": f"K={k} as-of dates", "rows": cmp["rows_ours"],
                  "as_of_dates": k, "runs": 1}
        rows_out += [
            {**common, "variant": f"ours: build_features (DuckDB, {cmp['columns_ours']} columns)", "wall_s": co.wall, "cpu_s": co.cpu,
             "baseline": False, "columns": cmp["columns_ours"]},
            {**common, "variant": f"naive pandas loop ({cmp['columns_naive']} columns, child-level only)",
             "wall_s": cn.wall, "cpu_s": cn.cpu, "baseline": True, "rows": cmp["rows_naive"],
             "columns": cmp["columns_naive"]},
        ]
        del naive, ours
    return rows_out


# -------------------------------------------------------------------------------------- 3. explanations


def load_champion_readonly(target: str, dst: Path):
    """:func:`models.tracking.load_champion`, but the model is downloaded into ``dst``: with a local
    artifact store MLflow otherwise hands back the stored folder itself and writes its
    ``registered_model_meta`` file there (under ``out/``)."""
    import mlflow
    import mlflow.lightgbm
    from mlflow import MlflowClient

    from models.tracking import CHAMPION, model_name
    from models.train import Calibrator

    name = model_name(target)
    mv = MlflowClient().get_model_version_by_alias(name, CHAMPION)
    dst.mkdir(parents=True, exist_ok=True)
    booster = mlflow.lightgbm.load_model(f"models:/{name}@{CHAMPION}", dst_path=str(dst))
    cal = mlflow.artifacts.load_dict(f"runs:/{mv.run_id}/calibrator.json")
    return booster, Calibrator.from_dict(cal), str(mv.version)


def bench_explanations(args, tmp: Path, inputs: dict) -> list[dict]:
    import mlflow

    from features.cohorts import cohort
    from features.dictionary import feature_dictionary
    from humiao.config import load_config
    from humiao.stages import TARGETS, _level_ranges, capacity_for
    from models.explain import contributions
    from models.scoring import score_cycle
    from models.train import to_float32

    db = tmp / "mlflow" / "mlflow.db"
    uri = f"sqlite:///{db}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    cfg = load_config()
    plan = json.loads((DATA / "work" / "assets" / "cycle_plan.json").read_text(encoding="utf-8"))
    as_of = dt.date.fromisoformat(plan["scoring_as_of_date"])
    feats_path = FEATURES_DIR / f"{as_of.isoformat()}.parquet"
    features = pd.read_parquet(feats_path)
    f = features[pd.to_datetime(features["as_of_date"]).dt.date == as_of].copy()
    dictionary = feature_dictionary()
    levels = _level_ranges(cfg)
    inputs["explanations"] = {"scoring_as_of_date": as_of.isoformat(), "features_file": str(feats_path.relative_to(REPO)),
                              "features_sha256": sha256(feats_path), "features_rows": len(f),
                              "mlflow_db_copy_of": str(MLFLOW_DB.relative_to(REPO)), "targets": {}}
    rows_out = []
    for target in TARGETS:
        members = cohort(tmp / "pseudonymized", [as_of], target, rural_hukou_only=cfg.rural_hukou_only)
        rows = f[f["child_token"].isin(members["child_token"])]
        cap = capacity_for(cfg, f, target).set_index("community")["capacity"]
        booster, calibrator, version = load_champion_readonly(target, tmp / "models" / target)

        def run(factor, rows=rows, cap=cap, booster=booster, calibrator=calibrator, target=target):
            return score_cycle(booster, calibrator, rows, cap, dictionary, levels, target=target,
                               exploration_share=cfg.capacity.exploration_share,
                               exploration_seed=cfg.models.seed, shortlist_factor=factor)

        run(3.0)  # warm-up
        w_s, c_s, walls_s, short_out = median_runs(lambda run=run: run(3.0), args.repeat)
        w_a, c_a, walls_a, all_out = median_runs(lambda run=run: run(float("inf")), args.repeat)
        n_short = int(short_out["reasons"].map(len).gt(0).sum())
        shortlist = short_out["rank_in_community"] <= 3.0 * short_out["capacity"]
        n_shortlist = int(shortlist.sum())
        same = short_out.loc[shortlist, "reasons"].tolist() == all_out.loc[shortlist, "reasons"].tolist()
        # the bare LightGBM calls
        names = list(booster.feature_name())
        X = to_float32(rows, names)
        order = short_out.set_index("child_token").loc[rows["child_token"], "rank_in_community"].to_numpy()
        k_row = short_out.set_index("child_token").loc[rows["child_token"], "capacity"].to_numpy()
        Xs = np.ascontiguousarray(X[order <= 3.0 * k_row])
        w_p, c_p, walls_p, _ = median_runs(lambda X=X, b=booster: b.predict(X, num_threads=2), args.repeat)
        w_cs, c_cs, walls_cs, _ = median_runs(lambda Xs=Xs, b=booster: contributions(b, Xs, num_threads=2),
                                              args.repeat)
        w_ca, c_ca, walls_ca, _ = median_runs(lambda X=X, b=booster: contributions(b, X, num_threads=2),
                                              args.repeat)
        n = len(rows)
        print(f"[explanations] {target}: cohort {n:,}, shortlist {n_shortlist:,}; score+shortlist {w_s:.2f} s, "
              f"score+everyone {w_a:.2f} s", flush=True)
        inputs["explanations"]["targets"][target] = {
            "model": f"humiao_{target}@champion", "model_version": version, "trees": booster.num_trees(),
            "features": len(names), "cohort_rows": n, "communities": int(rows["community"].nunique()),
            "capacity_total": int(cap.reindex(rows["community"].unique()).sum()), "shortlist_factor": 3.0,
            "shortlist_rows": n_shortlist, "rows_with_reasons_shortlist_run": n_short,
            "shortlist_reasons_identical_in_both_runs": bool(same),
        }
        common = {"comparison": "explanations", "table": target, "rows": n, "shortlist_rows": n_shortlist}
        rows_out += [
            {**common, "variant": "ours: score_cycle, reasons for shortlist (rank <= 3K)", "wall_s": w_s,
             "cpu_s": c_s, "walls": walls_s, "runs": len(walls_s), "baseline": False},
            {**common, "variant": "score_cycle, reasons for every child", "wall_s": w_a, "cpu_s": c_a,
             "walls": walls_a, "runs": len(walls_a), "baseline": True},
            {**common, "variant": "  bare: predict, every child", "wall_s": w_p, "cpu_s": c_p, "walls": walls_p,
             "runs": len(walls_p), "baseline": None},
            {**common, "variant": "  bare: pred_contrib, shortlist", "wall_s": w_cs, "cpu_s": c_cs,
             "walls": walls_cs, "runs": len(walls_cs), "baseline": None, "rows": len(Xs)},
            {**common, "variant": "  bare: pred_contrib, every child", "wall_s": w_ca, "cpu_s": c_ca,
             "walls": walls_ca, "runs": len(walls_ca), "baseline": None},
        ]
    return rows_out


# ------------------------------------------------------------------------------------------------ main


def add_ratios(rows: list[dict]) -> None:
    """``ratio`` = baseline seconds / this row's seconds, for ours rows, within (comparison, table)."""
    base = {(r["comparison"], r["table"]): r for r in rows if r.get("baseline") is True}
    for r in rows:
        b = base.get((r["comparison"], r["table"]))
        if r.get("baseline") is False and b is not None:
            r["speedup_wall"] = b["wall_s"] / r["wall_s"] if r["wall_s"] > 0 else None
            r["speedup_cpu"] = b["cpu_s"] / r["cpu_s"] if r["cpu_s"] > 0 else None
        r["rows_per_s"] = r["rows"] / r["wall_s"] if r["wall_s"] > 0 else None
    # bare pred_contrib: everyone vs shortlist
    for r in rows:
        if r["variant"].strip() == "bare: pred_contrib, shortlist":
            every = next(x for x in rows if x["table"] == r["table"]
                         and x["variant"].strip() == "bare: pred_contrib, every child")
            r["speedup_wall"] = every["wall_s"] / r["wall_s"] if r["wall_s"] > 0 else None
            r["speedup_cpu"] = every["cpu_s"] / r["cpu_s"] if r["cpu_s"] > 0 else None


def print_table(rows: list[dict], load0: dict, load1: dict) -> None:
    head = (f"{'comparison':<17}{'input':<20}{'variant':<62}{'rows':>8}{'runs':>5}{'wall s':>9}{'CPU s':>8}"
            f"{'rows/s':>10}{'×wall':>8}{'×CPU':>7}")
    print("\n" + head)
    print("-" * len(head))
    prev = None
    for r in rows:
        key = (r["comparison"], r["table"])
        if prev is not None and key != prev:
            print()
        prev = key

        def fmt(x, spec):
            return format(x, spec) if x is not None else ""

        print(f"{r['comparison']:<17}{r['table']:<20}{r['variant'][:61]:<62}{r['rows']:>8,}{r['runs']:>5}{r['wall_s']:>9.2f}"
              f"{r['cpu_s']:>8.2f}{fmt(r.get('rows_per_s'), ',.0f'):>10}{fmt(r.get('speedup_wall'), '.1f'):>8}"
              f"{fmt(r.get('speedup_cpu'), '.1f'):>7}")
    print("\n×wall / ×CPU: how many times faster ours is than the baseline of its block (the row without a "
          "ratio);\nfor 'bare: pred_contrib, shortlist' against 'bare: pred_contrib, every child'.")
    print(f"load before: {load0['uptime']}\nload after:  {load1['uptime']}\nCPUs: {os.cpu_count()}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", choices=["pseudonymization", "features", "explanations"],
                    help="run only these comparisons (repeatable; default all)")
    ap.add_argument("--rows", type=int, default=None, help="N rows per raw table (default: calibrated)")
    ap.add_argument("--presidio-seconds", type=float, default=75.0,
                    help="target duration of the Presidio loop per table when N is calibrated")
    ap.add_argument("--calibrate-rows", type=int, default=150)
    ap.add_argument("--dates", type=int, action="append", default=None, help="K as-of dates (repeatable; ≥ 3)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of the fast variants (median reported)")
    ap.add_argument("--keep-tmp", action="store_true")
    args = ap.parse_args(argv)
    args.dates = args.dates or [3, 12]
    if min(args.dates) < 3:
        ap.error("--dates must be ≥ 3")
    parts = args.only or ["pseudonymization", "features", "explanations"]

    load0 = uptime()
    print(f"load before: {load0['uptime']}  (CPUs: {os.cpu_count()})", flush=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    tmp = Path(tempfile.mkdtemp(prefix="side_by_side_"))
    inputs: dict = {"pseudonymized": {p.name: sha256(p) for p in sorted(PSEUDO.glob("*.parquet"))}}
    rows: list[dict] = []
    t0 = time.perf_counter()
    try:
        shutil.copytree(PSEUDO, tmp / "pseudonymized")
        (tmp / "mlflow").mkdir()
        shutil.copy2(MLFLOW_DB, tmp / "mlflow" / "mlflow.db")
        if "pseudonymization" in parts:
            rows += bench_pseudonymization(args, tmp, inputs)
        if "features" in parts:
            rows += bench_features(args, tmp, inputs)
        if "explanations" in parts:
            rows += bench_explanations(args, tmp, inputs)
    finally:
        if args.keep_tmp:
            print(f"temporary folder kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    load1 = uptime()
    add_ratios(rows)
    print_table(rows, load0, load1)

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"side_by_side_{stamp}.json"
    out.write_text(json.dumps({
        "command": " ".join([sys.executable, *sys.argv]),
        "args": vars(args),
        "started_utc": load0["utc"], "total_seconds": time.perf_counter() - t0,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "peak_rss_gb": peak_rss_gb()},
        "load": {"before": load0, "after": load1},
        "versions": versions(), "git": git_state(),
        "notes": [
            "presidio-structured is not installed; its default path (PandasAnalysisBuilder.generate_analysis "
            "with n=None + StructuredEngine/PandasDataProcessor) is emulated with presidio_analyzer and "
            "presidio_anonymizer, with our Chinese AnalyzerEngine (privacy.analyzer.build_analyzer).",
            "speedup = baseline seconds / ours seconds, measured in this run; the machine is shared.",
            "the naive pandas loop computes only the child-level aggregations (fewer columns than ours).",
        ],
        "inputs": inputs, "results": rows,
    }, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    print(f"raw JSON: {out.relative_to(REPO)}   peak RSS {peak_rss_gb():.2f} GB")


if __name__ == "__main__":
    main()
