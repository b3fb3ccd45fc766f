"""Dependency rules of DESIGN.md §3, checked on the source text."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIBRARIES = ("privacy", "features", "models", "serving", "simulator", "humiao")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def _py(pkg: str):
    return [p for p in (REPO / pkg).rglob("*.py") if "__pycache__" not in p.parts]


def test_only_pipelines_imports_dagster():
    offenders = [str(p.relative_to(REPO)) for pkg in LIBRARIES for p in _py(pkg) if "dagster" in _imports(p)]
    assert offenders == []


def test_nothing_imports_pipelines_but_the_runner():
    allowed = {"humiao/runner.py"}
    offenders = [str(p.relative_to(REPO)) for pkg in LIBRARIES for p in _py(pkg)
                 if "pipelines" in _imports(p) and str(p.relative_to(REPO)) not in allowed]
    assert offenders == []


def test_simulator_imports_nothing_of_the_product():
    product = {"privacy", "features", "models", "serving", "pipelines", "humiao"}
    offenders = [str(p.relative_to(REPO)) for p in _py("simulator") if _imports(p) & product]
    assert offenders == []


def test_ground_truth_is_read_only_through_privacy_truth():
    """DESIGN §11.4: one loader in privacy/ reads the simulator's truth (and tokenizes on read)."""
    readers = []
    for pkg in ("privacy", "features", "models", "serving", "pipelines", "humiao"):
        for p in _py(pkg):
            text = p.read_text(encoding="utf-8")
            if "child_month_truth" in text or "TRUTH_FILE" in text:
                readers.append(str(p.relative_to(REPO)))
    assert readers == ["privacy/truth.py"]
