"""Fixtures of the command-line tests."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _restore_humiao_config():
    """`--config` is exported as HUMIAO_CONFIG for the rest of the process: undo it after each test."""
    saved = os.environ.get("HUMIAO_CONFIG")
    yield
    if saved is None:
        os.environ.pop("HUMIAO_CONFIG", None)
    else:
        os.environ["HUMIAO_CONFIG"] = saved
