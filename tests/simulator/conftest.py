"""Make ``import simulator`` find the package, not this test folder.

``tests/conftest.py`` puts ``tests/`` on ``sys.path`` (pytest's prepend import mode), where the folder
``tests/simulator`` (no ``__init__.py``) would be taken for a namespace package ``simulator`` unless
the repository root is on the path too. (A project-wide fix is ``pythonpath = ["."]`` in pytest's
configuration.)
"""

from __future__ import annotations

import sys
from pathlib import Path

_REPO = str(Path(__file__).resolve().parents[2])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)
_mod = sys.modules.get("simulator")
if _mod is not None and getattr(_mod, "__file__", None) is None:  # a namespace package from tests/
    del sys.modules["simulator"]
