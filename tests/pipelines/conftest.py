"""A small simulated town and a configuration file pointing every path into a temporary folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]

TOWN_CHILDREN = 1500


def write_config(root: Path, **extra) -> Path:
    """A humiao.yaml whose paths all lie under ``root`` (contracts from the repository)."""
    cfg = {
        "paths": {
            "raw_dir": str(root / "raw"), "truth_dir": str(root / "truth"), "work_dir": str(root / "work"),
            "quarantine_dir": str(root / "quarantine"), "out_dir": str(root / "out"),
            "secrets_dir": str(root / "secrets"), "dagster_home": str(root / "dagster"),
            "contracts_dir": str(REPO / "contracts"),
        },
        "simulation": {"children": TOWN_CHILDREN, "months": 36, "seed": 11},
        "models": {"bootstrap_samples": 30, "grid": [
            {"num_leaves": 7, "learning_rate": 0.1, "n_estimators": 60, "min_child_samples": 20}]},
        # a 1,500-child town has too few registry children for the city-scale bands
        "checks": {"guardianship_prevalence": [0.001, 0.3], "left_behind_prevalence": [0.0, 0.1]},
        **extra,
    }
    path = root / "humiao.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


TEST_KEYS = {"HUMIAO_PSEUDONYM_KEY": "11" * 32, "HUMIAO_VAULT_KEY": "22" * 32}


@pytest.fixture(scope="session", autouse=True)
def fixed_test_keys():
    """One pseudonym key and one vault key for every run of this folder, so that two runs in different
    folders give the same tokens and their outputs can be compared (synthetic test keys)."""
    saved = {k: os.environ.get(k) for k in TEST_KEYS}
    os.environ.update(TEST_KEYS)
    yield TEST_KEYS
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def town_run(town_config):
    """The whole graph materialized once on the town (shared by the end-to-end tests)."""
    from humiao.config import load_config
    from pipelines.run import materialize_all

    os.environ["HUMIAO_CONFIG"] = str(town_config)
    try:
        cfg = load_config(town_config)
        yield cfg, materialize_all(cfg, config_file=str(town_config))
    finally:
        os.environ.pop("HUMIAO_CONFIG", None)


@pytest.fixture(scope="session")
def town_config(tmp_path_factory) -> Path:
    """Config of a 1,500-child, 36-month simulated town (simulated once per test session)."""
    from humiao.config import load_config
    from humiao.runner import simulate_city

    root = tmp_path_factory.mktemp("town")
    path = write_config(root)
    simulate_city(load_config(path))
    return path


@pytest.fixture
def make_config():
    """The :func:`write_config` function, for tests that need a town of their own."""
    return write_config


@pytest.fixture
def use_config(monkeypatch):
    """Point HUMIAO_CONFIG (read by every Dagster resource) at a file for one test."""

    def _use(path: Path):
        monkeypatch.setenv("HUMIAO_CONFIG", str(path))
        monkeypatch.delenv("HUMIAO_ENV", raising=False)
        return path

    return _use
