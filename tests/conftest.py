"""Shared test helpers: where the real-failure cases live, and a small simulated town."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """../shared beside the repository (CI lays a copy there); HUMIAO_SHARED_DIR overrides."""
    return Path(os.environ.get("HUMIAO_SHARED_DIR", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def cases_dir() -> Path:
    """shared/cases/public-reports; missing is a skip locally and a failure in CI (DESIGN §11.17)."""
    d = shared_dir() / "cases" / "public-reports"
    if not d.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{d} is missing in CI")
        pytest.skip(f"{d} not present")
    return d
