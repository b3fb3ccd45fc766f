"""The pipeline's stages as plain functions of the configuration: what each Dagster asset (and the CLI)
calls. Each stage composes library calls from privacy/, features/, models/, serving/; none computes
on its own. No dagster import here.

Re-runs (DESIGN.md §3 "skips stages whose code and inputs have not changed"): every stage has a
fingerprint = SHA-256 of (its code, its configuration, its inputs' fingerprints). The fingerprint is
stored inside the stage's own output (Parquet schema metadata or a JSON key), so output and fingerprint
are written together; a stage whose stored fingerprint equals the new one is not recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import pandas as pd

from humiao.config import REPO_ROOT, Config

TARGETS = ("guardianship_risk", "left_behind_risk")


# ------------------------------------------------------------------------------------------ fingerprints


@lru_cache(maxsize=32)
def code_hash(*packages: str) -> str:
    """SHA-256 over the source files (.py, .yaml, .j2, .html) of the named repository folders."""
    h = hashlib.sha256()
    for pkg in packages:
        base = REPO_ROOT / pkg
        for p in sorted(base.rglob("*")):
            if p.is_file() and p.suffix in {".py", ".yaml", ".j2", ".html", ".css"} and "__pycache__" not in p.parts:
                h.update(p.relative_to(REPO_ROOT).as_posix().encode())
                h.update(p.read_bytes())
    return h.hexdigest()


#: The previous ingest's anonymized notes, by keyed hash (privacy.ingest.ingest_folder's ``note_cache``).
NOTE_CACHE_FILE = "note_cache.parquet"


def anonymizer_version() -> str:
    """What a cached anonymized note depends on: the privacy code and the person-name model file
    (a change to either makes every cached note stale)."""
    from privacy.name_model import model_path

    h = hashlib.sha256(code_hash("privacy").encode())
    if model_path().exists():
        h.update(hashlib.sha256(model_path().read_bytes()).digest())
    return h.hexdigest()[:32]


def fingerprint(*parts: object) -> str:
    """SHA-256 of the JSON of ``parts`` (dates and paths as strings)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


#: Parquet schema metadata key of a stored stage output's fingerprint (pipelines.io_manager writes it).
FP_KEY = b"humiao_fingerprint"

#: Fingerprint prefix of a partition left unbuilt: a month inside a cycle's contiguous partition range
#: that is not an as-of date of its plan (pipelines.partitions). It is stored with no rows, so Dagster
#: can record the range as materialized, and every reader refuses it (:func:`require_built_partitions`).
NOT_BUILT_PREFIX = "not-built|"


def not_built_fingerprint(fp: str) -> str:
    """The fingerprint of the placeholder stored instead of the partition whose fingerprint is ``fp``: it
    never equals ``fp``, so a later plan that uses the date builds the partition."""
    return NOT_BUILT_PREFIX + fp


def partition_built(path: Path) -> bool:
    """Whether the stored partition ``path`` holds built rows (False for a not-built placeholder).

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    """
    import pyarrow.parquet as pq

    fp = (pq.read_schema(path).metadata or {}).get(FP_KEY, b"")
    return not fp.decode().startswith(NOT_BUILT_PREFIX)


def require_built_partitions(folder: Path, keys: Iterable[str], name: str) -> None:
    """Raise unless every partition ``<folder>/<key>.parquet`` of ``keys`` is stored and built.

    Raises
    ------
    FileNotFoundError
        Naming every missing partition, then every not-built placeholder, and what materializes them.
    """
    keys = list(keys)
    missing = [k for k in keys if not (Path(folder) / f"{k}.parquet").exists()]
    if missing:
        raise FileNotFoundError(
            f"{name}: partitions {missing} are not materialized; materialize the cycle's range "
            f"(`humiao run`, or in the Dagster UI: {name}, partitions {keys[0]}…{keys[-1]})")
    unbuilt = [k for k in keys if not partition_built(Path(folder) / f"{k}.parquet")]
    if unbuilt:
        raise FileNotFoundError(
            f"{name}: partitions {unbuilt} were not built: they lay inside the range of a cycle whose plan "
            "does not use them (pipelines.partitions). Run `humiao run` with a plan that uses these dates")


def files_hash(paths: Iterable[Path]) -> str:
    """SHA-256 over the bytes of ``paths`` (sorted), for raw inputs."""
    h = hashlib.sha256()
    for p in sorted(Path(x) for x in paths):
        h.update(p.name.encode())
        with p.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


# ------------------------------------------------------------------------------------------ keys


def pseudonymizer_from_config(cfg: Config):
    """The keyed pseudonymizer (DESIGN.md §5): key from the environment, a key file, or the demo key."""
    from privacy.keys import load_pseudonym_key
    from privacy.tokens import Pseudonymizer

    key, version, _source = load_pseudonym_key(cfg.env, cfg.root, cfg.path("secrets_dir"))
    return Pseudonymizer(key, version)


def vault_key_from_config(cfg: Config) -> bytes:
    """The Fernet key of the vault and the scanner index (separate from the pseudonym key)."""
    from privacy.keys import load_pseudonym_key, load_vault_key

    pseudonym_key, _version, _src = load_pseudonym_key(cfg.env, cfg.root, cfg.path("secrets_dir"))
    key, _source = load_vault_key(cfg.env, cfg.root, cfg.path("secrets_dir"), pseudonym_key=pseudonym_key)
    return key


def key_fingerprint(cfg: Config) -> str:
    """A non-secret fingerprint of the pseudonym key (its token of a fixed string), so a key change
    invalidates every stage holding tokens."""
    return pseudonymizer_from_config(cfg).token("P", "humiao-key-fingerprint")


# ------------------------------------------------------------------------------------------ ingest


def raw_files(raw_dir: Path) -> list[Path]:
    """Every file of the input folder (any name, any sub-folder: files are recognized by their headers,
    or pinned by ``humiao_mapping.yaml``), for the ingest fingerprint and the new-exports sensor."""
    return sorted(p for p in Path(raw_dir).rglob("*") if p.is_file())


def run_ingest(cfg: Config, raw_dir: Path | None = None, *, force: bool = False, mapping: Path | None = None,
               max_quarantine_share: float | None = None, strict: bool = False,
               stored_dir: Path | None = None, note_cache: Path | None = None) -> dict:
    """Validate, normalize and pseudonymize every contract table in ``raw_dir`` (DESIGN.md §4–§5).

    ``stored_dir`` is the folder of pseudonymized tables a delivery is compared with for completeness
    (default ``<work_dir>/pseudonymized``); `humiao ingest`'s check, which works in a scratch folder,
    passes the live one so that it refuses what ``--apply`` would refuse.

    ``note_cache`` is the previous ingest's note cache (default ``<work_dir>/note_cache.parquet``; the
    check passes the live one, read only): notes unchanged since then are not anonymized again
    (:func:`privacy.ingest.ingest_folder`), and the new cache is swapped in with the tables.

    Returns the reconciliation report (``ingest_report.json``) with ``fingerprint`` and ``reused``.

    ``max_quarantine_share`` (default: ``checks.max_quarantine_share`` and per-table
    ``checks.max_quarantine_share_by_table``) fails a table whose share of quarantined rows is larger;
    ``strict`` also fails on files that are not recognized as any contract table.

    Raises
    ------
    privacy.ingest.UndeclaredPersonalInformation
        Personal information in a column not declared for it (fail closed; nothing of that table is written).
    privacy.ingest.IngestFailed
        A file or table failed (unreadable, missing required columns, threshold exceeded…); the report
        (bilingual messages naming file, sheet, row and column) was written first. Also when the
        delivery lacks a table that the stored data has (``DELIVERY_INCOMPLETE``): nothing is changed
        (the refused report is ``<work_dir>/ingest_report_refused.json``).

    The quarantine files are staged like the pseudonymized tables (beside ``quarantine_dir``) and
    swapped in only on success; a refused or failed ingest leaves ``quarantine_dir`` byte-identical.
    """
    from privacy.ingest import ingest_folder

    raw_dir = Path(raw_dir) if raw_dir else cfg.path("raw_dir")
    work = cfg.path("work_dir")
    report_path = work / "ingest_report.json"
    shares = {**{t: float(v) for t, v in cfg.checks.max_quarantine_share_by_table.items()}}
    default_share = cfg.checks.max_quarantine_share if max_quarantine_share is None else max_quarantine_share
    fp = fingerprint("ingest", code_hash("privacy", "contracts"), files_hash(raw_files(raw_dir)),
                     key_fingerprint(cfg), ingest_as_of(cfg).isoformat(), default_share, shares, strict,
                     str(mapping) if mapping else None)
    if not force and report_path.exists():
        old = json.loads(report_path.read_text(encoding="utf-8"))
        if old.get("fingerprint") == fp and (work / "vault.bin").exists():
            old["reused"] = True
            return old
    if not raw_dir.is_dir():
        raise FileNotFoundError(f"输入文件夹不存在 / input folder not found: {raw_dir}")
    if not any(p.suffix.lower() in {".csv", ".xlsx", ".xls", ".txt", ".tsv"} for p in raw_files(raw_dir)):
        raise FileNotFoundError(f"输入文件夹中没有部门导出文件 / no departmental exports in {raw_dir}: "
                                "nothing was changed")
    # Ingest into staging folders; the previous pseudonymized tables, vault, scanner index and
    # quarantine files are replaced only when the whole ingest succeeded (a failed, refused or partial
    # ingest changes nothing: the quarantine folder stays byte-identical).
    staging = work / "_staging"
    quarantine = cfg.path("quarantine_dir")
    q_staging = quarantine.parent / f".{quarantine.name}.staging"  # same file system: swapped by a rename
    for folder in (staging, q_staging):
        if folder.exists():
            shutil.rmtree(folder)
    try:
        report = ingest_folder(
            raw_dir, cfg.path("contracts_dir"), pseudonymizer=pseudonymizer_from_config(cfg),
            vault_key=vault_key_from_config(cfg), out_dir=staging, quarantine_dir=q_staging,
            as_of=ingest_as_of(cfg), mapping=mapping, fail_on_unrecognized=strict,
            max_quarantine_share=_quarantine_limits(cfg, default_share, shares),
            note_cache=Path(note_cache) if note_cache else work / NOTE_CACHE_FILE,
            note_cache_version=anonymizer_version(),
        )
    except BaseException:
        _discard(staging, q_staging)
        raise
    d = report.to_dict()
    if not any(t.get("rows_passed", 0) for t in d["tables"].values()):
        from privacy.ingest import IngestFailed, message

        _discard(staging, q_staging)
        raise IngestFailed([*report.errors, message("NOTHING_RECOGNIZED", file=str(raw_dir))], report)
    # a delivery lacking a table the stored data has would replace that table (and the identities only
    # it held) by nothing: refuse, change nothing (fail closed)
    previous = Path(stored_dir) if stored_dir is not None else work / "pseudonymized"
    lost = [name for name, t in d["tables"].items()
            if t.get("status") == "missing" and (previous / f"{name}.parquet").exists()]
    if lost:
        from privacy.ingest import IngestFailed, message

        _discard(staging, q_staging)
        errors = [message("DELIVERY_INCOMPLETE", file=d["tables"][n].get("file") or n) for n in sorted(lost)]
        d["errors"] = [*d.get("errors", []), *errors]
        (work / "ingest_report_refused.json").write_text(json.dumps(d, ensure_ascii=False, indent=1),
                                                         encoding="utf-8")
        report.errors = [*report.errors, *errors]
        raise IngestFailed(errors, report)
    _swap_in(staging, work, quarantine, q_staging)
    d["fingerprint"] = fp
    report_path.write_text(json.dumps(d, ensure_ascii=False, indent=1), encoding="utf-8")
    history = work / "ingest_history"  # one report per distinct input, for data-quality trends
    history.mkdir(parents=True, exist_ok=True)
    (history / f"{d['as_of']}_{fp[:12]}.json").write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
    d["reused"] = False
    return d


def _discard(*staging: Path) -> None:
    """Remove staging folders of an ingest that will not be swapped in (nothing stored changes)."""
    for folder in staging:
        shutil.rmtree(folder, ignore_errors=True)


def _swap_in(staging: Path, work: Path, quarantine: Path, quarantine_staging: Path) -> None:
    """Replace the pseudonymized folder and the identity stores by the staged ones (renames on one
    file system); the staging folder is removed. The quarantine folder is replaced by
    ``quarantine_staging`` the same way (an empty owner-only folder when the run quarantined nothing);
    its files stay private (0600) and the folder owner-only (0700)."""
    import os

    from privacy.identities import scanner_cache_path

    quarantine_staging.mkdir(parents=True, exist_ok=True)  # nothing quarantined: the old files go too
    os.chmod(quarantine_staging, 0o700)
    q_old = quarantine.parent / f".{quarantine.name}.previous"
    if q_old.exists():
        shutil.rmtree(q_old)
    if quarantine.exists():
        quarantine.rename(q_old)
    quarantine_staging.rename(quarantine)
    shutil.rmtree(q_old, ignore_errors=True)
    old_dir = work / "_previous_pseudonymized"
    if old_dir.exists():
        shutil.rmtree(old_dir)
    work.mkdir(parents=True, exist_ok=True)
    if (work / "pseudonymized").exists():
        (work / "pseudonymized").rename(old_dir)
    (staging / "pseudonymized").rename(work / "pseudonymized")
    for name in ("vault.bin", "identity_index.bin", "ingest_report.json", NOTE_CACHE_FILE):
        if (staging / name).exists():
            (staging / name).replace(work / name)
            if name == "identity_index.bin":  # the scanner index derived from it goes with it
                if scanner_cache_path(staging / name).exists():
                    scanner_cache_path(staging / name).replace(scanner_cache_path(work / name))
                else:
                    scanner_cache_path(work / name).unlink(missing_ok=True)
    shutil.rmtree(old_dir, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)


def _quarantine_limits(cfg: Config, default: float, by_table: dict[str, float]) -> float | dict[str, float]:
    """The scalar limit, or one limit per contract table when some tables have their own."""
    if not by_table:
        return default
    from privacy.contracts import load_contracts

    return {name: by_table.get(name, default) for name in load_contracts(cfg.path("contracts_dir"))}


def ingest_fingerprint(cfg: Config) -> str | None:
    """The fingerprint of the last ingest (in ``ingest_report.json``), or None."""
    p = cfg.path("work_dir") / "ingest_report.json"
    try:
        return json.loads(p.read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, json.JSONDecodeError):
        return None


def ingest_as_of(cfg: Config) -> date:
    """Birth dates after this date are invalid: the day the exports were made (for simulated input the
    end of the simulated period, DESIGN §11.6), else the configured scoring date, else today."""
    from features.timechop import add_months

    manifest = cfg.path("raw_dir") / "manifest.json"
    if manifest.exists():
        end = json.loads(manifest.read_text(encoding="utf-8"))["end_month"]
        return add_months(date.fromisoformat(end + "-01"), 1)
    if cfg.time.scoring_as_of_date:
        return date.fromisoformat(cfg.time.scoring_as_of_date)
    return date.today()


def load_known_identities(cfg: Config):
    """The scanner index written by the last ingest (None when there has been no ingest)."""
    from privacy.identities import KnownIdentities

    path = cfg.path("work_dir") / "identity_index.bin"
    if not path.exists():
        return None
    return KnownIdentities.load(path, vault_key_from_config(cfg))


def load_scanner_index(cfg: Config):
    """The scanner's derived index of the last ingest's identities (:class:`privacy.scanner.ScannerIndex`),
    or None when there has been no ingest.

    Read from ``identity_index.bin.scanner`` when that file was derived from the current
    ``identity_index.bin`` (its SHA-256 matches) and by this code's :attr:`ScannerIndex.VERSION`; else
    derived from the identity index (≈ 1 min at 2,000,000 children) and written there for the next
    process (0600, atomically). A file that cannot be read is derived again, never trusted."""
    import logging

    from privacy.identities import scanner_cache_path
    from privacy.scanner import ScannerIndex, file_digest

    path = cfg.path("work_dir") / "identity_index.bin"
    if not path.exists():
        return None
    key = vault_key_from_config(cfg)
    digest = file_digest(path)
    cache = scanner_cache_path(path)
    if cache.exists():
        try:
            index, source = ScannerIndex.load(cache, key)
            if source == digest:
                return index
        except (ValueError, OSError, EOFError, KeyError) as exc:
            logging.getLogger("humiao").warning("scanner index %s not used (%s); deriving it again", cache.name,
                                                type(exc).__name__)
    index = ScannerIndex(load_known_identities(cfg))
    try:
        index.save(cache, key, digest)
    except OSError as exc:  # a read-only work folder: the next process derives it again
        logging.getLogger("humiao").warning("scanner index not saved (%s)", type(exc).__name__)
    return index


def is_simulated_dir(raw_dir: Path) -> bool:
    """True when the input folder carries the simulator's manifest (DESIGN.md §11.10)."""
    p = Path(raw_dir) / "manifest.json"
    try:
        return json.loads(p.read_text(encoding="utf-8")).get("generator") == "humiao.simulator"
    except (OSError, json.JSONDecodeError):
        return False


def is_simulated(cfg: Config) -> bool:
    """:func:`is_simulated_dir` of the configured input folder."""
    return is_simulated_dir(cfg.path("raw_dir"))


# ------------------------------------------------------------------------------------------ feedback


def feedback_dir(cfg: Config) -> Path:
    """Where the review app's outcomes are exported for the next cycle's labels (DESIGN §11.12)."""
    return cfg.path("work_dir") / "feedback"


def app_database_url(cfg: Config) -> str | None:
    """The review app's database (``HUMIAO_APP_DATABASE_URL`` or the SQLite file under work_dir), or
    None while that SQLite file does not exist (no app yet: opening it would create it)."""
    import os

    from serving.app.settings import default_database_url

    url = os.environ.get("HUMIAO_APP_DATABASE_URL") or default_database_url(cfg.path("work_dir"))
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    return url


def export_feedback(cfg: Config) -> str:
    """Export the review app's visit outcomes and correction flags (when the app has a database) and
    return a hash of the exported files, part of the features' and lists' fingerprints."""
    url = app_database_url(cfg)
    if url is not None:
        from serving.feedback import export_feedback as _export

        _export(url, feedback_dir(cfg))
    import pyarrow.parquet as pq

    files = sorted(feedback_dir(cfg).glob("*.parquet")) if feedback_dir(cfg).exists() else []
    # An empty export (the app's database exists but nobody recorded anything yet) is no feedback: it must
    # not change the features' fingerprint, or the first `humiao serve` would force a retrain.
    files = [p for p in files if pq.read_metadata(p).num_rows > 0]
    return files_hash(files) if files else "no-feedback"


def override_rate_for(cfg: Config, target: str) -> dict:
    """Share of review-app outcomes where the director disagreed with the ranking (for the card)."""
    url = app_database_url(cfg)
    if url is None:
        return {"outcomes": 0, "disagreed": 0, "rate": None, "suppressed": False}
    from serving.feedback import override_rate

    return override_rate(url, target=target)


def tokens_under_correction(cfg: Config, file: str = "under_correction.parquet") -> set[str]:
    """Children whose data a family asked to correct (shown as 数据更正中 on lists until resolved); with
    ``file="open_cases.parquet"``, children with an open referral (转介处理中)."""
    p = feedback_dir(cfg) / file
    return set(pd.read_parquet(p)["child_token"]) if p.exists() else set()


# ------------------------------------------------------------------------------------------ features


def build_feature_frames(cfg: Config, plan) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features for every labelled as-of date and the scoring date, and labels for the labelled dates.

    Training labels use, per split, only events known by the split's test as-of date (DESIGN §11.6):
    ``label_knowledge_cutoff`` is applied in models (per split); here the labels are computed with the
    data horizon and their ``label_knowledge_date`` is kept for that filter.
    """
    from features.build import build_features, build_labels

    pseudo = cfg.pseudonymized_dir
    dates = [*plan.training_as_of_dates, plan.scoring_as_of_date]
    feats = build_features(pseudo, dates, label_timespan_days=cfg.time.label_timespan_days,
                           rural_hukou_only=cfg.rural_hukou_only, engine=cfg.features.engine)
    labels = build_labels(pseudo, plan.training_as_of_dates, cfg.time.label_timespan_days,
                          rural_hukou_only=cfg.rural_hukou_only)
    return feats, labels


def build_partition_frames(cfg: Config, dates: list[date]) -> tuple[dict, dict]:
    """Features and labels of the as-of dates ``dates``, split per date: ``({"YYYY-MM-DD": features},
    {"YYYY-MM-DD": labels})``, all in memory (the pipeline streams instead: :func:`iter_partition_frames`)."""
    return dict(iter_partition_frames(cfg, dates)), build_partition_labels(cfg, dates)


def iter_partition_frames(cfg: Config, dates: list[date]) -> Iterator[tuple[str, pd.DataFrame]]:
    """The features of the as-of dates ``dates`` one date at a time, ``("YYYY-MM-DD", frame)`` in date
    order, computed chunk by chunk (:func:`features.build.iter_features`): the caller writes each frame
    before the next chunk is built, so memory stays that of one chunk (issue 8), not of every date."""
    from features.build import iter_features

    for chunk in iter_features(cfg.pseudonymized_dir, dates, rural_hukou_only=cfg.rural_hukou_only,
                               engine=cfg.features.engine):
        keys = pd.to_datetime(chunk["as_of_date"]).dt.strftime("%Y-%m-%d")
        for k, g in chunk.groupby(keys, sort=True):
            yield k, g.reset_index(drop=True)
        del chunk


def build_partition_labels(cfg: Config, dates: list[date]) -> dict[str, pd.DataFrame]:
    """Labels of the as-of dates ``dates`` per date (one query covers every date; labels are narrow).
    Labels of a date whose window has not closed by the data horizon are partial."""
    from features.build import build_labels

    labels = build_labels(cfg.pseudonymized_dir, dates, cfg.time.label_timespan_days,
                          rural_hukou_only=cfg.rural_hukou_only)
    keys = pd.to_datetime(labels["as_of_date"]).dt.strftime("%Y-%m-%d")
    return {k: g.reset_index(drop=True) for k, g in labels.groupby(keys, sort=True)}


# ------------------------------------------------------------------------------------------ models


def training_matrix(features: pd.DataFrame, labels: pd.DataFrame, target: str,
                    as_of_dates: Iterable[date] | None = None) -> pd.DataFrame:
    """Features ⨝ labels on (child_token, as_of_date), restricted to the target's cohort (interfaces §4).

    Parameters
    ----------
    features, labels : DataFrame
        As the features and labels assets hold them (``as_of_date`` as dates or datetimes).
    as_of_dates : iterable of date, optional
        Keep only these as-of dates (e.g. the plan's training dates); default every date.

    Returns
    -------
    DataFrame
        The features' rows that have a cohort label, in the features' order, with ``as_of_date`` as
        ``datetime.date``, plus ``<target>`` and ``label_knowledge_date``. Only those rows are copied:
        the features table is neither copied whole nor filtered into a second frame first (at 200,000
        children the features of 25 as-of dates are ~3 GB; issue 8).
    """
    import numpy as np

    cohort_col = "in_cohort_guardianship" if target == "guardianship_risk" else "in_cohort_left_behind"
    lab = labels.loc[labels[cohort_col].astype(bool), ["child_token", "as_of_date", target, "label_knowledge_date"]]
    lab = lab.assign(as_of_date=pd.to_datetime(lab["as_of_date"]))
    keys = pd.DataFrame({"child_token": features["child_token"].to_numpy(),
                         "as_of_date": pd.to_datetime(features["as_of_date"]).to_numpy(),
                         "_row": np.arange(len(features))})
    if as_of_dates is not None:
        wanted = pd.to_datetime(pd.Series(list(as_of_dates), dtype="object"))
        keys = keys[keys["as_of_date"].isin(wanted)]
        lab = lab[lab["as_of_date"].isin(wanted)]
    j = keys.merge(lab, on=["child_token", "as_of_date"], how="inner").sort_values("_row", kind="stable")
    m = features.take(j["_row"].to_numpy()).reset_index(drop=True)
    # one date object per distinct as-of date, shared by its rows (not one object per row: 10 M rows × 32 B)
    codes, uniques = pd.factorize(j["as_of_date"], use_na_sentinel=False)
    m["as_of_date"] = np.array([*pd.DatetimeIndex(uniques).date, None], dtype=object)[:-1][codes]
    label_columns = j[[target, "label_knowledge_date"]].reset_index(drop=True)
    return pd.concat([m, label_columns], axis=1)  # not two inserts into a frame of many blocks


def evaluation_columns(columns: Iterable[str], feature_names: Iterable[str], target: str,
                       one_feature: str | None = None) -> list[str] | None:
    """Feature-table columns :func:`models.evaluate.evaluate_target` reads of every training row: every
    column that is not a model feature (identifiers, fairness groups, ``registry_category`` …), the
    one-feature baseline's feature and the expert checklist's indicator features (those present).

    Parameters
    ----------
    columns : iterable of str
        The feature partitions' columns, in their order.
    feature_names : iterable of str
        The feature dictionary's names (the model features).
    target : str
    one_feature : str, optional
        ``models.one_feature`` of the target; None: :data:`models.evaluate.DEFAULT_ONE_FEATURE`.

    Returns
    -------
    list of str in ``columns`` order, or None when the one-feature baseline's feature is absent: then
    evaluation searches every feature on the training rows, and no row may be left unread.
    """
    from models.baselines import ExpertChecklist
    from models.evaluate import DEFAULT_ONE_FEATURE

    columns = list(columns)
    feat = one_feature if one_feature is not None else DEFAULT_ONE_FEATURE.get(target, (None, 1))[0]
    if feat is None or feat not in columns:
        return None
    names = set(feature_names)
    wanted = {c for c in columns if c not in names} | {feat} | set(ExpertChecklist().indicators["feature"])
    return [c for c in columns if c in wanted]


#: The matrix columns training reads besides the features (:func:`models.train.train_target`); the label
#: and ``label_knowledge_date`` come with them.
MATRIX_COLUMNS: tuple[str, ...] = ("child_token", "as_of_date", "community")


@dataclass
class TrainingInputs:
    """What the models stage reads for one target (:func:`read_training_inputs`).

    Attributes
    ----------
    matrix : DataFrame
        The rows LightGBM is fitted on, in :func:`training_matrix` order. With ``X``: without the feature
        columns (they are in ``X``); without read-time sampling it is ``evaluation_rows`` itself (every
        labelled row, the columns evaluation reads); with it, :data:`MATRIX_COLUMNS` and the label columns
        of every row of the dates needed in full and of the positives and sampled negatives of the
        fit-only dates, index = the row's position among every labelled row (``evaluation_rows``), and
        ``matrix.attrs[models.train.SAMPLED_ATTR]`` records rate, seed and sampled dates. Without ``X``
        (the one-feature baseline's feature absent): every column of every labelled row.
    evaluation_rows : DataFrame or None
        Read-time sampling only: every labelled row of every date (index 0..n−1) with the columns of
        :func:`evaluation_columns` and the label columns — what the evaluation reads; None: use ``matrix``.
    capacity_input : DataFrame
        ``as_of_date, community, registry_category`` of every feature row (every child, not only the
        cohort) for :func:`capacity_for`.
    rows_before_sampling : int
        Labelled rows of the cohort over every date (= ``len(matrix)`` without read-time sampling).
    note : str
        Why read-time sampling was not applied, if it was asked for and not applied.
    X : ndarray or None
        The features of ``matrix``'s rows, float32, shape ``(len(matrix), len(feature_names))``,
        row-aligned (``train_target``'s ``X``); None: the features are columns of ``matrix``.
    feature_names : list of str
        The columns of ``X``: the dictionary's features present in the partitions, in dictionary order
        (:func:`models.train.feature_columns`).
    """

    matrix: pd.DataFrame
    evaluation_rows: pd.DataFrame | None
    capacity_input: pd.DataFrame
    rows_before_sampling: int
    note: str = ""
    X: object = None
    feature_names: list[str] = field(default_factory=list)


def _read_partition_frames(folder: Path, keys: list[str], columns: list[str] | None = None,
                           keep_tokens: dict | None = None) -> pd.DataFrame:
    """Partitions ``keys`` of ``folder`` as one frame, converted as :func:`pipelines.io_manager.read_partitions`
    converts them (one Arrow concatenation and one conversion when the partitions' schemas agree, else a
    pandas concatenation), so the dtypes are the same; optionally only ``columns`` and, per key, only the
    rows whose ``child_token`` is in ``keep_tokens[key]`` (an Arrow array; dropped before conversion).
    Raises FileNotFoundError for a partition missing or not built (:func:`require_built_partitions`)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    require_built_partitions(folder, keys, Path(folder).name)
    tables, n_rows = [], []
    for k in keys:
        t = pq.read_table(Path(folder) / f"{k}.parquet", columns=columns)
        n_rows.append(t.num_rows)
        if keep_tokens is not None and k in keep_tokens:
            t = t.filter(pc.is_in(t["child_token"], value_set=keep_tokens[k].cast(t.schema.field("child_token").type)))
        tables.append(t)
    # which partitions count as empty, and so the conversion route, is decided on the unfiltered partitions
    non_empty = [t for t, n in zip(tables, n_rows, strict=True) if n] or tables[:1]
    if all(t.schema.equals(non_empty[0].schema) for t in non_empty[1:]):
        table = pa.concat_tables(non_empty)
        del tables, non_empty
        out = table.to_pandas(self_destruct=True, split_blocks=True)
        del table
        return out
    frames = [t.to_pandas() for t in non_empty]
    del tables, non_empty
    return pd.concat(frames, ignore_index=True)


def read_feature_array(features_dir: Path, key_dates: dict[str, date], rows: pd.DataFrame, keep,
                       feature_names: list[str]):
    """The features of ``rows[keep]`` read straight from the partitions into one float32 array (issue 8:
    the features are never a DataFrame, so they are held once).

    Parameters
    ----------
    features_dir : Path
        Folder of the features partitions ``<key>.parquet``.
    key_dates : dict of str → date
        Partition key → its as-of date, in the order the rows were read (:func:`training_matrix` keeps
        the partitions' order, so each date's rows are one block).
    rows : DataFrame
        ``child_token, as_of_date`` of the labelled rows (:func:`training_matrix` of the partitions).
    keep : ndarray of bool, shape (len(rows),)
        The rows wanted (e.g. :func:`models.train.read_time_keep`).
    feature_names : list of str
        Feature columns, in the array's column order.

    Returns
    -------
    ndarray, float32, C-contiguous, shape ``(keep.sum(), len(feature_names))``, NaN where a feature is
    missing — ``models.train.to_float32`` of the same rows, row for row.

    Raises
    ------
    RuntimeError
        A wanted row is not in its partition, or the rows are not in the partitions' order.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    keep = np.asarray(keep, dtype=bool)
    row_dates = np.asarray(pd.to_datetime(rows["as_of_date"])).astype("datetime64[ns]")
    order = np.array([np.datetime64(d, "ns") for d in key_dates.values()], dtype="datetime64[ns]")
    counts = [int((keep & (row_dates == d)).sum()) for d in order]
    if not np.array_equal(row_dates[keep], np.repeat(order, counts)):
        raise RuntimeError("the labelled rows are not in the partitions' order: the feature array would not line up")
    tokens = pa.array(rows["child_token"], type=pa.large_string())
    X = np.empty((int(keep.sum()), len(feature_names)), dtype=np.float32)
    offset = 0
    for (key, d), n in zip(key_dates.items(), counts, strict=True):
        if not n:
            continue
        wanted = tokens.filter(pa.array(keep & (row_dates == np.datetime64(d, "ns"))))
        path = Path(features_dir) / f"{key}.parquet"
        table = pq.read_table(path, columns=["child_token", *feature_names])
        pos = pc.index_in(wanted, value_set=table["child_token"].cast(pa.large_string()))
        if pos.null_count:
            raise RuntimeError(f"{path}: {pos.null_count} labelled rows not found by child_token")
        table = table.select(feature_names).take(pos)
        block = np.empty((n, len(feature_names)), dtype=np.float32, order="F")  # columns written whole
        for j in range(len(feature_names)):
            block[:, j] = pc.cast(table.column(j), pa.float32(), safe=False).to_numpy(zero_copy_only=False)
        del table
        X[offset:offset + n] = block
        offset += n
        del block
    return X


def read_training_inputs(features_dir: Path, labels_dir: Path, keys: list[str], target: str, *,
                         fit_only_as_of_dates: Iterable[date] = (), negative_sample_rate: float = 1.0,
                         seed: int = 0, feature_names: Iterable[str] = (),
                         one_feature: str | None = None) -> TrainingInputs:
    """Read one target's training inputs from the features and labels partitions ``keys``: the features as
    one float32 array, the other columns as a frame, dropping at read time the negative rows of the
    fit-only dates that fit-time sampling would drop (issue 8).

    The partitions are read twice, narrow then wide:

    1. the :func:`evaluation_columns` (~45 of ~150 columns) of every feature row, joined with the labels
       → ``capacity_input`` and every labelled cohort row (:func:`training_matrix`);
    2. the feature columns of the rows training uses (:func:`read_feature_array`), straight into a
       float32 array ``X``: every labelled row without sampling; with sampling (``negative_sample_rate``
       < 1 and a fit-only date among ``keys``) every row of the dates needed in full (test and
       calibration dates) and the positives and hash-sampled negatives (same hash, seed and rate as
       :func:`models.train.negative_sample_mask`) of the fit-only dates (:func:`models.train.read_time_keep`).

    Fitting on this matrix with the same rate and seed gives the boosters, calibrators and metrics of the
    full matrix (case-control sampling weighted ``1 / rate``, King & Zeng 2001): :func:`models.train.fit_model`
    applies the same mask again, which keeps the same rows in the same order.

    When the one-feature baseline's feature is absent (:func:`evaluation_columns` is None) evaluation
    searches every feature of every training row: every partition is read whole into ``matrix``
    (``training_matrix(features, labels, target)``), with no ``X`` and no sampling at read time.

    Parameters
    ----------
    features_dir, labels_dir : Path
        Folders of the features and labels partitions (``<key>.parquet``).
    keys : list of str
        Partition keys (ISO as-of dates), e.g. the plan's training dates.
    target : str
    fit_only_as_of_dates : iterable of date
        :func:`models.train.fit_only_as_of_dates` of the splits trained on.
    negative_sample_rate : float in (0, 1]
    seed : int
        ``models.seed`` (the seed training samples with).
    feature_names : iterable of str
        The feature dictionary's names (the model features, for :func:`evaluation_columns` and ``X``).
    one_feature : str, optional
        ``models.one_feature`` of the target.

    Returns
    -------
    TrainingInputs

    Raises
    ------
    RuntimeError
        The rows read twice do not line up (a partition changed between the reads).
    FileNotFoundError
        A partition of ``keys`` is missing or was not built (:func:`require_built_partitions`).
    """
    import numpy as np
    import pyarrow.parquet as pq

    from models.train import SAMPLED_ATTR, read_time_keep

    features_dir, labels_dir = Path(features_dir), Path(labels_dir)
    key_dates = {k: date.fromisoformat(k) for k in keys}
    fit_only = sorted({pd.Timestamp(d).date() for d in fit_only_as_of_dates} & set(key_dates.values()))
    sampling = negative_sample_rate < 1 and bool(fit_only)
    require_built_partitions(features_dir, keys, "features")
    labels = _read_partition_frames(labels_dir, keys)
    feature_names = list(feature_names)
    schema = pq.read_schema(features_dir / f"{keys[0]}.parquet").names
    cols = evaluation_columns(schema, feature_names, target, one_feature)
    if cols is None:
        note = ("negative sampling at fit time only: the one-feature baseline's feature is not among the "
                "features, so evaluation searches every feature of every training row") if sampling else ""
        features = _read_partition_frames(features_dir, keys)
        capacity_input = features[["as_of_date", "community", "registry_category"]]
        matrix = training_matrix(features, labels, target)
        return TrainingInputs(matrix, None, capacity_input, len(matrix), note)

    narrow = _read_partition_frames(features_dir, keys, columns=cols)
    capacity_input = narrow[["as_of_date", "community", "registry_category"]]
    rows = training_matrix(narrow, labels, target)
    del narrow, labels
    present = set(schema)
    names = [n for n in feature_names if n in present]  # models.train.feature_columns' order
    if not sampling:
        X = read_feature_array(features_dir, key_dates, rows, np.ones(len(rows), dtype=bool), names)
        return TrainingInputs(rows, None, capacity_input, len(rows), "", X, names)
    keep = read_time_keep(rows["child_token"], rows["as_of_date"], rows[target].to_numpy(), fit_only,
                          negative_sample_rate, seed)
    X = read_feature_array(features_dir, key_dates, rows, keep, names)
    matrix = rows.loc[keep, [c for c in (*MATRIX_COLUMNS, target, "label_knowledge_date") if c in rows.columns]]
    matrix.attrs[SAMPLED_ATTR] = {"rate": float(negative_sample_rate), "seed": int(seed),
                                  "sampled_as_of_dates": [d.isoformat() for d in fit_only]}
    return TrainingInputs(matrix, rows, capacity_input, len(rows), "", X, names)


def model_splits(plan) -> list:
    """The plan's timechop splits in the shape models/ trains on (one test as-of date each)."""
    from models.train import Split as ModelSplit

    return [ModelSplit(tuple(s.train_as_of_dates), d) for s in plan.splits for d in s.test_as_of_dates]


def capacity_for(cfg: Config, features: pd.DataFrame, target: str) -> pd.DataFrame:
    """Visit capacity per (as-of date, community) for ``target`` (DESIGN.md §11.8–11.9)."""
    from models.capacity import capacity_table

    c = cfg.capacity
    return capacity_table(features, target=target, visits_per_director=c.visits_per_director_per_cycle,
                          left_behind_per_community=c.left_behind_per_community,
                          children_per_director=c.children_per_director)


def load_truth_for(cfg: Config) -> pd.DataFrame | None:
    """Simulation only: the ground truth, tokenized on read by privacy.truth (DESIGN §11.4)."""
    if not is_simulated(cfg) or not (cfg.path("truth_dir")).exists():
        return None
    from privacy.truth import load_truth

    return load_truth(cfg.path("truth_dir"), pseudonymizer_from_config(cfg))


def simulation_evaluation_inputs(cfg: Config, truth: pd.DataFrame | None, matrix: pd.DataFrame,
                                 target: str) -> dict:
    """``truth`` (true outcome per matrix row) and ``oracle_score`` (ranking by the true risk) for
    :func:`models.cycle.run_target_cycle`; empty outside simulation."""
    if truth is None:
        return {}
    from features.labels import true_outcomes
    from models.oracle import true_risk_score

    return {"truth": true_outcomes(truth, matrix, target, cfg.time.label_timespan_days),
            "oracle_score": true_risk_score(truth, matrix, target)}


COHORT_COLUMNS = {"guardianship_risk": "in_cohort_guardianship", "left_behind_risk": "in_cohort_left_behind"}


def simulation_truth_lookup(cfg: Config, labels_dir: Path, keys: list[str],
                            targets: Iterable[str] = TARGETS) -> dict[str, dict] | None:
    """Simulation only: the true outcome and the oracle's score of every cohort row of the labels partitions
    ``keys``, per target, computed before any training matrix is read (issue 8).

    At 2,000,000 children the ground truth is ~59 M child-months (3.7 GB on read); computed while a target's
    training matrix and feature array were held, it took the models step from 10.4 to 19.4 GB (run 4,
    docs/production.md). The lookup kept instead is two small columns per labelled cohort row.

    Parameters
    ----------
    labels_dir : Path
        The labels asset's folder (one Parquet file per as-of date).
    keys : list of str
        Its partitions to read (ISO as-of dates), e.g. the plan's training dates.
    targets : iterable of str

    Returns
    -------
    ``{target: {as_of_date (Timestamp): DataFrame indexed by child_token with columns truth (int8) and
    oracle_score (float64)}}``, or None outside simulation. Pass one target's value to
    :func:`simulation_inputs_for_rows`.

    Raises
    ------
    FileNotFoundError
        A partition of ``keys`` is missing or was not built.
    """
    truth = load_truth_for(cfg)
    if truth is None:
        return None
    targets = tuple(targets)
    labels = _read_partition_frames(Path(labels_dir), list(keys),
                                    columns=["child_token", "as_of_date", *(COHORT_COLUMNS[t] for t in targets)])
    labels["as_of_date"] = pd.to_datetime(labels["as_of_date"])
    out = {}
    for target in targets:
        rows = labels.loc[labels[COHORT_COLUMNS[target]].astype(bool), ["child_token", "as_of_date"]]
        got = pd.DataFrame(simulation_evaluation_inputs(cfg, truth, rows, target))
        got.index = pd.Index(rows["child_token"].astype(str).to_numpy(), name="child_token")
        dates = rows["as_of_date"].to_numpy()
        out[target] = {pd.Timestamp(d): got[dates == d] for d in pd.unique(dates)}
        del rows, got
    return out


def simulation_inputs_for_rows(lookup: dict | None, rows: pd.DataFrame) -> dict:
    """``truth`` and ``oracle_score`` of ``rows`` (``child_token, as_of_date``) from one target's
    :func:`simulation_truth_lookup`, as :func:`simulation_evaluation_inputs` gives them: Series with the index of
    ``rows``. Empty outside simulation (``lookup`` None).

    Raises
    ------
    KeyError
        A row is not in the lookup (it is not a cohort row of the labels the lookup was read from).
    """
    import numpy as np

    if lookup is None:
        return {}
    truth = np.zeros(len(rows), dtype="int8")
    oracle = np.zeros(len(rows), dtype="float64")
    dates = pd.to_datetime(rows["as_of_date"]).to_numpy()
    tokens = rows["child_token"]
    for d in pd.unique(dates):
        where = np.flatnonzero(dates == d)
        table = lookup.get(pd.Timestamp(d))
        pos = (table.index.get_indexer(tokens.iloc[where].astype(str).to_numpy()) if table is not None
               else np.full(len(where), -1))
        if (pos < 0).any():
            raise KeyError(f"{int((pos < 0).sum())} rows of as-of date {pd.Timestamp(d).date()} are not in the "
                           "simulation's truth lookup (not cohort rows of the labels it was read from)")
        truth[where] = table["truth"].to_numpy()[pos]
        oracle[where] = table["oracle_score"].to_numpy()[pos]
    return {"truth": pd.Series(truth, index=rows.index), "oracle_score": pd.Series(oracle, index=rows.index)}


def coverage_for(cfg: Config, plan, target: str) -> pd.DataFrame:
    """Label coverage (share of the cohort visited in the label window) per group (DESIGN §6)."""
    return coverage_by_target(cfg, plan, (target,))[target]


def coverage_by_target(cfg: Config, plan, targets: Iterable[str] = TARGETS) -> dict[str, pd.DataFrame]:
    """:func:`coverage_for` of several targets, each date's children built once for all of them
    (:func:`features.labels.label_coverage_by_target`)."""
    from features.labels import label_coverage_by_target

    return label_coverage_by_target(cfg.pseudonymized_dir, plan.training_as_of_dates, cfg.time.label_timespan_days,
                                    targets=tuple(targets), rural_hukou_only=cfg.rural_hukou_only)


def stored_coverage_by_target(cfg: Config, plan, assets: Path, targets: Iterable[str] = TARGETS) -> dict[str, pd.DataFrame]:
    """:func:`coverage_by_target` from the features and labels partitions of the plan's training dates stored
    under ``assets`` (:func:`features.labels.label_coverage_from_partitions`; the children are not built again).

    Raises
    ------
    FileNotFoundError
        A partition is missing or was not built (:func:`require_built_partitions`).
    """
    from features.labels import label_coverage_from_partitions

    keys = [d.isoformat() for d in plan.training_as_of_dates]
    features_dir, labels_dir = Path(assets) / "features", Path(assets) / "labels"
    require_built_partitions(features_dir, keys, "features")
    require_built_partitions(labels_dir, keys, "labels")
    return label_coverage_from_partitions(
        cfg.pseudonymized_dir, [(features_dir / f"{k}.parquet", labels_dir / f"{k}.parquet") for k in keys],
        cfg.time.label_timespan_days, targets=tuple(targets))


# ------------------------------------------------------------------------------------------ serving

AGE_BANDS = ((0, 3, "0–2岁"), (3, 6, "3–5岁"), (6, 12, "6–11岁"), (12, 15, "12–14岁"), (15, 18, "15–17岁"))


def age_band(age_months: pd.Series) -> pd.Series:
    """Age band (a generalized quasi-identifier, DESIGN.md §5) from age in months."""
    years = age_months // 12
    out = pd.Series(pd.NA, index=age_months.index, dtype="string")
    for lo, hi, label in AGE_BANDS:
        out[(years >= lo) & (years < hi)] = label
    return out


def champions(cfg: Config) -> dict[str, dict | None]:
    """Each target's serving model (:func:`models.tracking.champion_state`): ``{target: {"version",
    "run_id", "approval"} or None}``. None means no version was ever approved, so no list may be
    published for that target (DESIGN.md §8 governance gate)."""
    from models.tracking import champion_state

    return {t: champion_state(t) for t in TARGETS}


def awaiting_approval(cfg: Config) -> list[str]:
    """Targets with no approved model yet (the first production cycle, before a reviewer approved)."""
    return [t for t, c in champions(cfg).items() if c is None]


def publish_model_cards(cfg: Config, target: str, evaluation: dict, override_rate: dict,
                        champ: dict | None) -> dict:
    """Write the model cards of one target (DESIGN.md §8).

    * ``out/model_cards/versions/<target>/v<N>/`` — the card of the version this cycle trained, with its
      approval status as it was at training: what the governance reviewer reads before approving.
    * ``out/model_cards/<target>.{html,en.html,md,json}`` (and plots) — the card of the **serving**
      version (alias ``champion``), with its approval block read from the registry now. It is removed
      while no version has been approved, so the top-level card always describes the model behind the
      published lists.

    ``champ`` is the target's :func:`models.tracking.champion_state` (None: nothing approved yet).

    Returns ``{"version": N, "version_card": {kind: path}, "serving_version": M or None,
    "serving_card": {kind: path}}``.
    """
    from models.tracking import load_evaluation
    from serving.model_card import render_model_card

    base = cfg.path("out_dir") / "model_cards"
    version = str(evaluation.get("model_version") or "unregistered")
    doc = {**evaluation, "override_rate": override_rate}
    version_card = render_model_card(doc, base / "versions" / target / f"v{version}")
    for old in base.glob(f"{target}*"):  # the previous serving card, plots included
        if old.is_file() and (old.name.startswith(f"{target}.") or old.name.startswith(f"{target}_")):
            old.unlink()
    serving_card: dict = {}
    if champ is not None:
        if champ["version"] == version and (evaluation.get("approval") or {}) == champ["approval"]:
            for kind, p in version_card.items():  # the same document: copy, do not render twice
                serving_card[kind] = Path(shutil.copy2(p, base / Path(p).name))
        else:
            served = evaluation if champ["version"] == version else load_evaluation(champ["run_id"])
            serving_card = render_model_card({**served, "approval": champ["approval"],
                                              "override_rate": override_rate}, base)
    return {"version": version, "version_card": {k: str(v) for k, v in version_card.items()},
            "serving_version": champ["version"] if champ else None,
            "serving_card": {k: str(v) for k, v in serving_card.items()}}


def score_targets(cfg: Config, features: pd.DataFrame, plan) -> pd.DataFrame:
    """Score the current cycle's cohort of each target with its ``champion`` (DESIGN.md §8).

    Returns the concatenated scores tables (interfaces §4) plus ``age_band`` and ``last_visit_date``.
    """
    from features.cohorts import cohort
    from features.dictionary import feature_dictionary
    from models.scoring import score_cycle
    from models.tracking import champion_state, load_champion

    as_of = plan.scoring_as_of_date
    f = features[pd.to_datetime(features["as_of_date"]).dt.date == as_of].copy()
    dictionary = feature_dictionary()
    parts = []
    for target in TARGETS:
        members = cohort(cfg.pseudonymized_dir, [as_of], target, rural_hukou_only=cfg.rural_hukou_only)
        rows = f[f["child_token"].isin(members["child_token"])]
        cap = capacity_for(cfg, f, target).set_index("community")["capacity"]
        if champion_state(target) is None:  # callers check awaiting_approval() first
            raise RuntimeError(
                f"no approved model (alias 'champion') for {target}: a governance reviewer must approve the "
                "registered challenger in the review app before lists are published")
        booster, calibrator, version = load_champion(target)
        _check_champion_fits_input(cfg, target, version)
        s = score_cycle(booster, calibrator, rows, cap, dictionary, _level_ranges(cfg), target=target,
                        exploration_share=cfg.capacity.exploration_share, exploration_seed=cfg.models.seed)
        extra = rows.set_index("child_token")[["demo_age_months", "last_visit_date", "registry_category"]]
        s = s.join(extra, on="child_token")
        s["age_band"] = age_band(s.pop("demo_age_months"))
        parts.append(s)
    return pd.concat(parts, ignore_index=True)


def _check_champion_fits_input(cfg: Config, target: str, version: str) -> None:
    """Real exports are never scored by a model that was approved automatically on simulated data
    (DESIGN §8, §11.10: real input always waits for a person).

    Raises
    ------
    RuntimeError
        The champion was approved by the automatic simulation approver and the input is real.
    """
    if is_simulated(cfg):
        return
    from models.cycle import AUTO_APPROVER
    from models.tracking import approval_of, model_name

    approval = approval_of(model_name(target), version)
    if approval.get("by") == AUTO_APPROVER:
        raise RuntimeError(
            f"{target}: the serving model (version {version}) was approved automatically on SIMULATED data; "
            "real exports are scored only by a model a governance reviewer approved (humiao serve → 治理审查). "
            "Use separate work/out folders for production (HUMIAO_WORK_DIR, HUMIAO_OUT_DIR).")


def _level_ranges(cfg: Config) -> dict[str, tuple[int, int]]:
    """Risk levels as (lowest, highest) ventile, from the configured lower bounds."""
    lows = sorted(cfg.risk_levels.as_dict().items(), key=lambda kv: kv[1])
    out = {}
    for i, (name, lo) in enumerate(lows):
        hi = lows[i + 1][1] - 1 if i + 1 < len(lows) else 20
        out[name] = (lo, hi)
    return out


def write_lists(cfg: Config, scores: pd.DataFrame, plan, *, workers: int | None = None) -> dict:
    """The cycle's visit lists under ``out/visit_lists/<cycle>/`` (DESIGN.md §8, §11.18); the workbooks
    written by ``workers`` processes (default: one per core; :func:`serving.visit_lists.write_visit_lists`)."""
    from features.alerts import alert_counts, event_alerts, for_visit_lists
    from features.timechop import add_months
    from serving.feedback import CORRECTION_FLAG, OPEN_CASE_FLAG
    from serving.visit_lists import write_visit_lists

    as_of = plan.scoring_as_of_date
    # new critical events since the previous monthly cycle (紧急核查, DESIGN §8), listed ahead of the ranks
    alerts = event_alerts(cfg.pseudonymized_dir, as_of, since=add_months(as_of, -1))

    under = tokens_under_correction(cfg)
    open_cases = tokens_under_correction(cfg, "open_cases.parquet")
    scores = scores.copy()
    explored = (scores.pop("selection") == "随机抽选") if "selection" in scores else pd.Series(False, index=scores.index)
    last = pd.to_datetime(scores["last_visit_date"], errors="coerce")
    recent = (pd.Timestamp(as_of) - last).dt.days.le(cfg.capacity.recent_visit_days).fillna(False)
    # marked, not dropped (issue 6): visited recently, data under correction, a place given at random
    # to an unvisited child (exploration share, DESIGN §6 selective labels)
    scores["flags"] = [
        (["近期已走访"] if r else []) + ([OPEN_CASE_FLAG] if t in open_cases else [])
        + ([CORRECTION_FLAG] if t in under else []) + (["随机抽选"] if e else [])
        for t, e, r in zip(scores["child_token"], explored, recent, strict=True)]
    res = write_visit_lists(
        scores[scores["target"] == "guardianship_risk"], scores[scores["target"] == "left_behind_risk"],
        cfg.path("out_dir") / "visit_lists", plan.cycle,
        data_as_of=plan.scoring_as_of_date - timedelta(days=1),
        risk_levels=cfg.risk_levels.as_dict(), alerts=for_visit_lists(alerts),
        workers=workers or os.cpu_count() or 1,
    )
    res["alert_counts"] = alert_counts(alerts).to_dict("records")
    return json.loads(json.dumps(res, default=str))


def output_scanner(cfg: Config, *, with_known: bool = True):
    """The leak scanner for what humiao writes: the identities of the last ingest (encrypted index,
    when present and ``with_known``) and, as skip words for 2-character names, the product's own
    vocabulary (:func:`humiao.vocabulary.product_words`: a person named 卫健 does not make the
    department list of a model card a leak)."""
    from humiao.vocabulary import product_words
    from privacy.scanner import LeakScanner

    index = load_scanner_index(cfg) if with_known else None
    return LeakScanner(skip_words=product_words(), index=index)


def audit_outputs(cfg: Config) -> dict:
    """The leak scanner over everything humiao writes for people, MLflow (out/) and the Dagster instance
    (event log, run storage). Findings are masked."""
    scanner = output_scanner(cfg)
    paths = [p for p in (cfg.path("out_dir"), cfg.path("dagster_home")) if p.exists()]
    findings = scanner.scan_paths(paths)
    return {"scanned": [str(p) for p in paths],
            "findings": [f"{f.location}:{f.column}:{f.row}:{f.entity_type}:{f.masked}" for f in findings]}


# ------------------------------------------------------------------------------------------ monitoring


def drift_report(cfg: Config, features: pd.DataFrame, scores: pd.DataFrame, plan) -> dict:
    """Feature and score drift of the current cycle against the latest labelled as-of date (PSI).

    Returns ``{"reference_as_of", "current_as_of", "features": [{column, kind, psi, flagged}],
    "drifted_share", "scores": {target: psi}, "retrain_suggested": bool}``; no per-child rows.
    """
    from privacy.monitoring import psi, psi_table

    dates = pd.to_datetime(features["as_of_date"]).dt.date
    ref_date = max(plan.training_as_of_dates)
    ref = features[dates == ref_date]
    cur = features[dates == plan.scoring_as_of_date]
    from features.dictionary import feature_dictionary

    names = [n for n in feature_dictionary()["name"] if n in features.columns]
    thr = cfg.monitoring.psi_threshold
    table = psi_table(ref, cur, columns=names, threshold=thr)
    drifted = float(table["flagged"].mean()) if len(table) else 0.0
    score_psi = {}
    from models.tracking import load_champion

    for target in scores["target"].unique():
        # the champion's score distribution on the reference date's children vs on this cycle's scored children
        booster, _cal, _v = load_champion(target)
        cols = booster.feature_name()
        cur_rows = cur[cur["child_token"].isin(scores.loc[scores["target"] == target, "child_token"])]
        a = booster.predict(ref[cols].to_numpy(dtype="float32", na_value=float("nan")))
        b = booster.predict(cur_rows[cols].to_numpy(dtype="float32", na_value=float("nan")))
        score_psi[target] = psi(pd.Series(a), pd.Series(b), bins=10, threshold=thr).psi
    src = feature_dictionary().set_index("name")["source_department"]
    by_source = (table.assign(source=table["column"].map(src))
                 .groupby("source").agg(features=("column", "size"), drifted=("flagged", "sum"), max_psi=("psi", "max"))
                 .reset_index())
    return {
        "reference_as_of": ref_date.isoformat(), "current_as_of": plan.scoring_as_of_date.isoformat(),
        "features": table.to_dict("records"), "by_source": json.loads(by_source.to_json(orient="records", force_ascii=False)),
        "drifted_share": drifted, "scores": score_psi,
        "retrain_suggested": drifted > cfg.monitoring.max_drifted_share,
    }


def quality_trends_for(cfg: Config) -> list[dict]:
    """Data-quality trends per department over the stored ingest reports (oldest first)."""
    from privacy.contracts import load_contracts
    from privacy.monitoring import quality_trends

    files = sorted((cfg.path("work_dir") / "ingest_history").glob("*.json"))
    if not files:
        return []
    departments = {n: t.department for n, t in load_contracts(cfg.path("contracts_dir")).items()}
    table = quality_trends(files, departments, max_quarantine_share=cfg.checks.max_quarantine_share)
    return json.loads(table.to_json(orient="records", force_ascii=False))


def performance_decay(cfg: Config, features: pd.DataFrame, labels: pd.DataFrame, plan,
                      evaluations: dict[str, dict]) -> dict:
    """Performance as labels arrive (issue 7): each target's champion re-scored on the newest as-of
    date whose label window has closed, against the precision@capacity_abs recorded when it was trained.
    A drop larger than ``monitoring.max_precision_drop`` suggests retraining."""
    from models.metrics import precision_at_k_per_community
    from models.tracking import champion_state, load_champion

    newest = max(plan.training_as_of_dates)
    f = features[pd.to_datetime(features["as_of_date"]).dt.date == newest]
    out = {}
    for target, ev in evaluations.items():
        if champion_state(target) is None:  # nothing serves yet: nothing can decay
            continue
        m = training_matrix(f, labels, target)
        m = m[m[target].notna()]
        if m.empty:
            continue
        booster, _cal, version = load_champion(target)
        scores = booster.predict(m[booster.feature_name()].to_numpy(dtype="float32", na_value=float("nan")))
        cap = capacity_for(cfg, f, target).set_index("community")["capacity"]
        now = precision_at_k_per_community(m[target].astype(int).to_numpy(), scores, m["community"].to_numpy(), cap)
        then = ev["metrics"]["model"]["precision@capacity_abs"]["value"]
        out[target] = {"as_of_date": newest.isoformat(), "champion_version": str(version),
                       "precision@capacity_abs_now": now, "precision@capacity_abs_at_training": then,
                       "drop": then - now, "decayed": (then - now) > cfg.monitoring.max_precision_drop}
    return out
