"""End-to-end benchmark of the real pipeline at several city sizes (issue 8): one table per run.

For each size it simulates a city (``humiao simulate``) and then runs the whole Dagster pipeline on it
(``humiao run``: the same two runs, assets and checks as ``make run``), each in its own subprocess,
in a folder of its own (``benchmarks/_work/city_<children>``, a copy of ``humiao.yaml`` with every
path pointed there). Nothing is mocked or skipped: ingest, pseudonymization, the leak checks, features
for every as-of date of the cycle plan, training with the configured grid and bootstrap, model cards,
scores with explanations, visit lists and the final privacy audit all run.

    .venv/bin/python benchmarks/city_scale.py --children 20000 --children 200000

What is measured
- Wall time of each Dagster step, from the instance's event log (``STEP_START`` → ``STEP_SUCCESS``);
  ``models`` also records the seconds of each target in its metadata (``seconds_<target>``).
- Memory: the proportional set size (PSS) summed over the process tree (the pipeline process and its
  workers: anonymizer processes; DuckDB is in-process), sampled every second from ``/proc``; PSS splits
  the pages a forked worker shares with its parent instead of counting them in each process. A step's
  peak is the largest sample inside its time window; ``peak_rss_gb`` of a command is its largest sample.
- End to end = the wall time of ``humiao run`` (simulation excluded), including start-up.
- Load averages before and after (the machine has two cores; other jobs distort every figure).

Raw output: ``benchmarks/results/city_scale_<timestamp>.json``; with several sizes the table also shows
how each stage grows (seconds per 1,000 children, and the ratio to the previous size).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "benchmarks" / "_work"
RESULTS = REPO / "benchmarks" / "results"
HUMIAO = [sys.executable, "-m", "humiao.cli"]
SAMPLE_S = 1.0  # smaps_rollup walks the page tables: ~0.3 of a core at 0.2 s on a 17 GB process


# ------------------------------------------------------------------------------------------ memory
def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def _rss_bytes(pid: int) -> int:
    """Proportional set size of ``pid`` (``/proc/<pid>/smaps_rollup`` ``Pss``): pages shared with forked
    workers are split between them, not counted once per process as RSS would."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(pid: int) -> int:
    """Memory of ``pid`` and all its descendants (sum of proportional set sizes, Linux ``/proc``)."""
    total, stack, seen = 0, [pid], set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        total += _rss_bytes(p)
        stack += _children(p)
    return total


def run_sampled(cmd: list[str], *, env: dict, log: Path) -> dict:
    """Run ``cmd``, sampling its tree's RSS; returns wall seconds, samples [(unix time, bytes)], rc."""
    samples: list[tuple[float, int]] = []
    t0 = time.time()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sample():
            while not done.is_set():
                samples.append((time.time(), tree_rss(proc.pid)))
                done.wait(SAMPLE_S)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        rc = proc.wait()
        done.set()
        th.join()
    return {"seconds": time.time() - t0, "rc": rc, "samples": samples,
            "peak_rss_gb": max((b for _, b in samples), default=0) / 2**30}


def peak_between(samples: list[tuple[float, int]], start: float, end: float) -> float:
    """Largest RSS sample (GB) in [start, end] (the nearest sample when none falls inside)."""
    inside = [b for t, b in samples if start <= t <= end]
    if not inside and samples:
        inside = [min(samples, key=lambda s: abs(s[0] - (start + end) / 2))[1]]
    return max(inside, default=0) / 2**30


# ------------------------------------------------------------------------------------------ set-up
def parse_override(text: str) -> tuple[list[str], object]:
    """``"time.training_as_of_date_frequency_months=3"`` → (["time", "training_as_of_date_frequency_months"], 3);
    the value is read as YAML. Raises ``argparse.ArgumentTypeError`` on text without ``=``."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--set wants section.key=value, got {text!r}")
    return key.split("."), yaml.safe_load(value)


def city_config(children: int, months: int, seed: int, overrides: list | None = None) -> Path:
    """``benchmarks/_work/city_<n>/humiao.yaml``: the repository's configuration, every path in that folder,
    then each ``--set`` override (``KeyError`` if its section or key is not in ``humiao.yaml``)."""
    folder = WORK / f"city_{children}"
    folder.mkdir(parents=True, exist_ok=True)
    cfg = yaml.safe_load((REPO / "humiao.yaml").read_text(encoding="utf-8"))
    for key in ("raw_dir", "truth_dir", "work_dir", "quarantine_dir", "out_dir", "secrets_dir", "dagster_home"):
        cfg["paths"][key] = key.removesuffix("_dir").removesuffix("_home")
    cfg["paths"]["contracts_dir"] = str(REPO / "contracts")
    cfg["simulation"].update(children=children, months=months, seed=seed)
    for keys, value in overrides or []:
        node = cfg
        for k in keys[:-1]:
            node = node[k]
        if keys[-1] not in node:
            raise KeyError(f"--set {'.'.join(keys)}: no such key in humiao.yaml")
        node[keys[-1]] = value
    path = folder / "humiao.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------ steps
def step_times(dagster_home: Path, since: float) -> list[dict]:
    """Every step of the runs started after ``since``: run, step key, start, end (unix seconds), and the
    ``seconds_*`` metadata of its materializations."""
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    import dagster as dg

    instance = dg.DagsterInstance.get()
    rows = []
    types = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS,
             dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.ASSET_MATERIALIZATION}
    for run in reversed(instance.get_runs()):
        stats = instance.get_run_stats(run.run_id)
        if not stats.start_time or stats.start_time < since:
            continue
        steps: dict[str, dict] = {}
        for rec in instance.all_logs(run.run_id, of_type=types):
            ev = rec.dagster_event
            s = steps.setdefault(rec.step_key, {"run": run.job_name, "step": rec.step_key, "extra": {}})
            if ev.event_type == dg.DagsterEventType.STEP_START:
                s["start"] = rec.timestamp
            elif ev.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
                s["end"], s["ok"] = rec.timestamp, ev.event_type == dg.DagsterEventType.STEP_SUCCESS
            else:
                mat = ev.event_specific_data.materialization
                if mat.partition:
                    s.setdefault("_partitions", set()).add(mat.partition)
                for k, v in mat.metadata.items():
                    if k.startswith("seconds_") or k == "not_built":  # not_built: placeholders of the range
                        s["extra"][k] = getattr(v, "value", v)
        for s in steps.values():
            if "_partitions" in s:
                s["extra"]["partitions"] = len(s.pop("_partitions"))
        rows += [s for s in steps.values() if "start" in s and "end" in s]
    rows.sort(key=lambda r: r["start"])
    return rows


def measure(children: int, months: int, seed: int, resimulate: bool, overrides: list | None = None) -> dict:
    cfg = city_config(children, months, seed, overrides)
    folder = cfg.parent
    env = {**os.environ, "HUMIAO_CONFIG": str(cfg), "PYTHONPATH": str(REPO)}
    res: dict = {"children": children, "months": months, "seed": seed, "folder": str(folder),
                 "overrides": {".".join(k): v for k, v in overrides or []}}
    raw = folder / "raw"
    if resimulate or not (raw / "manifest.json").exists():
        load0 = os.getloadavg()
        sim = run_sampled([*HUMIAO, "simulate", "--config", str(cfg)], env=env, log=folder / "simulate.log")
        if sim["rc"]:
            raise SystemExit(f"simulate failed: see {folder / 'simulate.log'}")
        res["simulate"] = {"seconds": sim["seconds"], "peak_rss_gb": sim["peak_rss_gb"],
                           "load_before": load0, "load_after": os.getloadavg()}
    else:
        res["simulate"] = {"seconds": None, "note": "reused the city simulated earlier in this folder"}
    res["raw_gb"] = sum(p.stat().st_size for p in raw.rglob("*") if p.is_file()) / 2**30
    for sub in ("work", "out", "dagster", "quarantine"):  # a cold run: nothing reused
        subprocess.run(["rm", "-rf", str(folder / sub)], check=True)
    load0 = os.getloadavg()
    started = time.time()
    run = run_sampled([*HUMIAO, "run", "--config", str(cfg), "--no-simulate-if-missing"], env=env,
                      log=folder / "run.log")
    res["end_to_end"] = {"seconds": run["seconds"], "peak_rss_gb": run["peak_rss_gb"], "rc": run["rc"],
                         "load_before": load0, "load_after": os.getloadavg()}
    steps = step_times(folder / "dagster", started - 1)
    for s in steps:
        s["seconds"] = s["end"] - s["start"]
        s["peak_rss_gb"] = peak_between(run["samples"], s["start"], s["end"])
    res["steps"] = steps
    if run["rc"]:
        print(f"humiao run failed (rc={run['rc']}): see {folder / 'run.log'}", file=sys.stderr)
    return res


# ------------------------------------------------------------------------------------------ table
#: Dagster steps that are assets (the rest are asset checks), in pipeline order, with the issue's stage names.
ASSET_STEPS = {
    "pseudonymize": "ingest + pseudonymize (validate, tokenize, notes, vault, scan)",
    "cycle_plan": "cycle plan",
    "person_spine": "person spine",
    "features_and_labels": "features + labels (every as-of date of the plan)",
    "models": "train, select, calibrate, evaluate, register (both targets)",
    "model_card_guardianship_risk": "model card guardianship_risk",
    "model_card_left_behind_risk": "model card left_behind_risk",
    "risk_scores": "score + shortlist explanations",
    "visit_lists": "visit lists (workbooks + Parquet)",
    "drift": "monitoring (drift, decay)",
    "privacy_audit": "privacy audit of out/ and MLflow",
}


def stage_rows(res: dict) -> list[tuple[str, float | None, float | None]]:
    """(stage, seconds, peak GB) rows of one size, in pipeline order; asset checks summed in one row."""
    rows = [("simulate (not in end to end)", res["simulate"].get("seconds"), res["simulate"].get("peak_rss_gb"))]
    steps = {s["step"]: s for s in res["steps"]}
    for key, label in ASSET_STEPS.items():
        s = steps.get(key)
        if s is None:
            continue
        rows.append((label, s["seconds"], s["peak_rss_gb"]))
        n = (s["extra"].get("partitions") or 0) - int(s["extra"].get("not_built") or 0)  # the dates built
        if key == "features_and_labels" and n > 0:
            rows.append((f"  per as-of date built ({n} dates)", s["seconds"] / n, None))
        for k, v in sorted(s["extra"].items()):
            if k.startswith("seconds_"):
                rows.append((f"  {k.removeprefix('seconds_')}", float(v), None))
    checks = [s for k, s in steps.items() if k not in ASSET_STEPS]
    if checks:
        rows.append((f"asset checks ({len(checks)} steps)", sum(s["seconds"] for s in checks),
                     max(s["peak_rss_gb"] for s in checks)))
    e2e = res["end_to_end"]["seconds"]
    rows.append(("Dagster start-up, two runs, hand-over", e2e - sum(s["seconds"] for s in res["steps"]), None))
    rows.append(("END TO END (humiao run)", e2e, res["end_to_end"]["peak_rss_gb"]))
    return rows


def print_table(results: list[dict]) -> None:
    sizes = [r["children"] for r in results]
    by = [dict((n, (s, g)) for n, s, g in stage_rows(r)) for r in results]
    names = list(dict.fromkeys(n for r in results for n, _, _ in stage_rows(r)))
    w = 62
    head = f"{'stage':<{w}}" + "".join(f"{f'{n:,} children':>26}" for n in sizes)
    if len(sizes) > 1:
        head += f"{'growth (last/first)':>22}"
    print(head)
    for r in results:
        if r.get("overrides"):
            print(f"  {r['children']:,} children, humiao.yaml overridden: "
                  + ", ".join(f"{k}={v}" for k, v in r["overrides"].items()))
    print(f"{'':<{w}}" + "".join(f"{'seconds':>12}{'peak GB':>14}" for _ in sizes))
    for name in names:
        line = f"{name:<{w}}"
        for b in by:
            s, g = b.get(name, (None, None))
            line += f"{s:>12.1f}" if s is not None else f"{'-':>12}"
            line += f"{g:>14.2f}" if g is not None else f"{'':>14}"
        if len(sizes) > 1:
            s0, s1 = by[0].get(name, (None,))[0], by[-1].get(name, (None,))[0]
            if s0 and s1:
                line += f"{s1 / s0:>10.1f}× time / {sizes[-1] / sizes[0]:.0f}× children"
        print(line)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--children", type=int, action="append", help="city size (repeatable); default 20000")
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--resimulate", action="store_true", help="simulate again even if the folder has a city")
    ap.add_argument("--table", type=Path, action="append",
                    help="only print the table of earlier raw JSON files (repeatable: sizes side by side)")
    ap.add_argument("--set", dest="overrides", type=parse_override, action="append", default=[],
                    metavar="SECTION.KEY=VALUE",
                    help="override humiao.yaml for every size (repeatable), e.g. "
                         "time.training_as_of_date_frequency_months=3 models.negative_sample_rate=0.1")
    args = ap.parse_args(argv)
    if args.table:
        results = [r for f in args.table for r in json.loads(f.read_text(encoding="utf-8"))["results"]]
        print_table(sorted(results, key=lambda r: r["children"]))
        return
    results = []
    for n in args.children or [20000]:
        print(f"— {n:,} children …", flush=True)
        results.append(measure(n, args.months, args.seed, args.resimulate, args.overrides))
    for r in results:  # the raw samples stay out of the JSON
        r["end_to_end"].pop("samples", None)
    print()
    print_table(results)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    dest = RESULTS / f"city_scale_{stamp}.json"
    dest.write_text(json.dumps({
        "command": "benchmarks/city_scale.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "memory_gb": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30},
        "results": results,
    }, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    print(f"\nraw JSON: {dest}")


if __name__ == "__main__":
    main()
