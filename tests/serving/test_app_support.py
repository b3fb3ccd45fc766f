"""Hand-built fixtures for the review-app tests (synthetic people only; no tests in this module).

``build_env(tmp)`` lays out a tiny work_dir/out_dir: a visit-list parquet for three communities in two
townships, a vault with synthetic identities, two model cards, an ingest report, the app database with
one account per role. ``register_two_versions`` builds a tmp MLflow registry with two versions of a
tiny LightGBM model.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from cryptography.fernet import Fernet

from privacy.identifiers import ric_check_char
from privacy.tokens import Pseudonymizer
from privacy.vault import Vault
from serving.app.db import make_engine
from serving.app.settings import AppSettings
from serving.app.users import add_user
from serving.visit_lists import PARQUET_SCHEMA

PASSWORD = "Synthetic-Pass-2026"
CYCLE = "2026-01"
# (township, community, district)
PLACES = {
    "A": ("东山镇", "光明村", "临安区"),
    "B": ("东山镇", "青山村", "临安区"),
    "C": ("转塘街道", "龙坞社区", "西湖区"),
}
# synthetic children: key, place, section, rank, name, address, phone
CHILDREN = [
    ("a1", "A", "guardianship_risk", 1, "林晓雨", "临安区东山镇光明村12组8号", "13900001111"),
    ("a2", "A", "guardianship_risk", 2, "周梓涵", "临安区东山镇光明村3组21号", None),
    ("a3", "A", "guardianship_risk", 3, "郑浩然", "临安区东山镇光明村5组2号", None),
    ("a4", "A", "left_behind_risk", 1, "吴思琪", "临安区东山镇光明村9组17号", None),
    ("a5", "A", "event_alert", 1, "陈一鸣", "临安区东山镇光明村1组6号", None),
    ("b1", "B", "guardianship_risk", 1, "孙佳怡", "临安区东山镇青山村2组4号", None),
    ("b2", "B", "guardianship_risk", 2, "马俊杰", "临安区东山镇青山村7组11号", None),
    ("c1", "C", "guardianship_risk", 1, "何雨桐", "西湖区转塘街道龙坞社区茶园路88号3幢201室", None),
    ("c2", "C", "guardianship_risk", 2, "罗子轩", "西湖区转塘街道龙坞社区茶园路90号1幢502室", None),
]
REASONS = ["近3个月缺勤12天", "父母均在外务工已14个月", "已210天未走访"]


def synthetic_id(n: int) -> str:
    """A checksum-valid synthetic resident ID (area 330185 临安, born 2014)."""
    body = f"330185201403{(n % 28) + 1:02d}{100 + n:03d}"[:17]
    return body + ric_check_char(body)


@dataclass
class Env:
    settings: AppSettings
    tokens: dict[str, str]
    identities: dict[str, dict]
    users: dict[str, str] = field(default_factory=dict)


def fast_password_hashing() -> None:
    """Cheap argon2 parameters for tests (the app's defaults cost ~0.5 s per hash on a busy machine)."""
    from argon2 import PasswordHasher

    from serving.app import security

    security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def build_env(tmp: Path, *, mlflow_uri: str | None = None) -> Env:
    fast_password_hashing()
    tmp = Path(tmp)
    work, out = tmp / "work", tmp / "out"
    pz = Pseudonymizer(b"k" * 32, 1)
    tokens, identities, rows = {}, {}, []
    for i, (key, place, section, rank, name, address, phone) in enumerate(CHILDREN, start=1):
        township, community, district = PLACES[place]
        idn = synthetic_id(i)
        tok = pz.token("P", idn)
        tokens[key] = tok
        identities[tok] = {"name": name, "id_number": idn, "phone": phone, "address": address,
                           "community": community, "township": township}
        alert = section == "event_alert"
        rows.append({
            "cycle": CYCLE, "district": district, "township": township, "community": community,
            "section": section, "rank": rank, "child_token": tok, "target": None if alert else section,
            "age_band": "6–11岁", "risk_level": None if alert else ("极危" if rank == 1 else "高危"),
            "ventile": None if alert else (20 if rank == 1 else 17), "score": None if alert else 0.3 / rank,
            "reasons": [] if alert else REASONS, "reason_features": [] if alert else ["a", "b", "c"],
            "event": "监护人住院" if alert else None, "event_date": dt.date(2025, 12, 20) if alert else None,
            "last_visit_date": dt.date(2025, 6, 1), "registry_category": None, "flags": [],
            "capacity": None if alert else 10, "as_of_date": dt.date(2026, 1, 1),
            "data_as_of": dt.date(2025, 12, 31),
        })
    lists = out / "visit_lists" / CYCLE
    lists.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=PARQUET_SCHEMA), lists / "visit_lists.parquet")
    key = Fernet.generate_key()
    Vault.write(work / "vault.bin", identities, key)
    cards = out / "model_cards"
    cards.mkdir(parents=True)
    for target, zh in (("guardianship_risk", "监护风险"), ("left_behind_risk", "疑似未登记留守")):
        (cards / f"{target}.html").write_text(
            f'<!DOCTYPE html><html><head><meta name="mlflow-run-id" content="abc123">'
            f"<title>模型卡：{zh}（{target}）</title></head><body><h1>模型卡：{zh}</h1>"
            "<p>precision@capacity_abs 0.21</p></body></html>", encoding="utf-8")
        (cards / f"{target}.en.html").write_text(f"<html><body>Model card {target}</body></html>", encoding="utf-8")
    (work / "ingest_report.json").write_text(json.dumps({
        "as_of": "2026-01-01", "key_version": 1, "persons": 9, "seconds": 1.0,
        "tables": {"visit_records": {"file": "civil_affairs/visit_records.csv", "status": "ok", "rows_read": 120,
                                     "rows_passed": 115, "rows_quarantined": 3, "rows_duplicate": 2,
                                     "reasons": {"INVALID_ID_CHECKSUM": 3, "DUPLICATE_ROW": 2}}}},
        ensure_ascii=False), encoding="utf-8")
    settings = AppSettings(work_dir=work, out_dir=out, database_url=f"sqlite:///{work / 'app' / 'app.sqlite'}",
                           vault_key=key, session_secret=os.urandom(32), mlflow_tracking_uri=mlflow_uri)
    engine = make_engine(settings.database_url)
    users = {
        "dir_a": ("director", "光明村", "东山镇"),
        "dir_c": ("director", "龙坞社区", "转塘街道"),
        "sup_ds": ("supervisor", None, "东山镇"),
        "reviewer": ("reviewer", None, None),
        "datateam": ("data_team", None, None),
    }
    for u, (role, community, township) in users.items():
        add_user(engine, u, PASSWORD, role, community=community, township=township)
    engine.dispose()
    return Env(settings, tokens, identities, {u: r[0] for u, r in users.items()})


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no CSRF field in the page"
    return m.group(1)


def audit_lines(env: Env) -> list[dict]:
    p = env.settings.audit_log_path
    return [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines()] if p.exists() else []


def register_two_versions(tmp: Path) -> str:
    """A tmp MLflow store with ``humiao_guardianship_risk`` v1 (champion) and v2 (challenger, pending).

    Returns the tracking URI.
    """
    import lightgbm as lgb
    import mlflow
    import numpy as np
    from mlflow import MlflowClient

    from models import tracking

    uri = f"sqlite:///{Path(tmp) / 'mlflow' / 'mlflow.db'}"
    tracking.configure(uri, Path(tmp) / "mlflow" / "artifacts", "humiao-app-test")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] + rng.normal(scale=0.5, size=200) > 0).astype(int)
    booster = lgb.train({"objective": "binary", "num_leaves": 4, "verbose": -1, "num_threads": 1},
                        lgb.Dataset(x, y), num_boost_round=5)
    client = MlflowClient()
    name = tracking.model_name("guardianship_risk")
    client.create_registered_model(name)
    for _ in range(2):
        with mlflow.start_run() as run:
            booster.save_model(str(Path(tmp) / "model.txt"))
            mlflow.log_artifact(str(Path(tmp) / "model.txt"), "model")
            mv = client.create_model_version(name, f"{run.info.artifact_uri}/model", run.info.run_id)
            client.set_model_version_tag(name, mv.version, "approval_status", "pending")
            client.set_model_version_tag(name, mv.version, "cycle", CYCLE)
    tracking.approve(name, "1", by="setup", note="first approval")
    client.set_registered_model_alias(name, tracking.CHALLENGER, "2")
    return uri
