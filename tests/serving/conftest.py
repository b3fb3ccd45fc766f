"""Fixtures for the serving tests (inputs built by hand in serving_testdata.py)."""

from __future__ import annotations

import pandas as pd
import pytest
from serving_testdata import make_alerts, make_evaluation, make_guardianship_scores, make_left_behind_scores


@pytest.fixture
def guardianship_scores() -> pd.DataFrame:
    return make_guardianship_scores()


@pytest.fixture
def left_behind_scores() -> pd.DataFrame:
    return make_left_behind_scores()


@pytest.fixture
def alerts() -> pd.DataFrame:
    return make_alerts()


@pytest.fixture
def evaluation() -> dict:
    return make_evaluation()
