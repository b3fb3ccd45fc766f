"""privacy.truth: the ground truth leaves its loader tokenized (DESIGN §11.4)."""

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from privacy.identifiers import ric_check_char
from privacy.tokens import Pseudonymizer
from privacy.truth import TruthError, load_truth

REPO = Path(__file__).resolve().parents[2]


def _id(body17):
    return body17 + ric_check_char(body17)


def test_truth_is_tokenized_on_read(tmp_path):
    a, b = _id("33010620150101123"), _id("33011020160315246")
    df = pd.DataFrame(
        {
            "id_number": [a, a.lower(), b, "bad"],
            "month": [dt.date(2025, 1, 1)] * 4,
            "guardianship_state": pd.Series([0, 1, 3, 2], dtype="int8"),
            "true_left_behind": [False, False, True, False],
        }
    )
    df.to_parquet(tmp_path / "child_month_truth.parquet")
    pz = Pseudonymizer(b"t" * 32, 2)
    out = load_truth(tmp_path, pz)
    assert "id_number" not in out.columns and out.columns[0] == "child_token"
    assert out["child_token"].tolist() == [pz.token("P", a)] * 2 + [pz.token("P", b)]
    assert out.attrs["dropped_invalid_ids"] == 1
    flat = out.astype(str).to_numpy().ravel().tolist()
    assert not any(a in v or b in v for v in flat)


def test_missing_truth(tmp_path):
    with pytest.raises(TruthError):
        load_truth(tmp_path, Pseudonymizer(b"t" * 32, 1))


def test_no_other_module_reads_truth():
    """Only privacy/truth.py names the truth file (serving/models/features read tokens only)."""
    offenders = []
    for p in REPO.glob("*/**/*.py"):
        if ".venv" in p.parts or "tests" in p.parts or p.name == "truth.py":
            continue
        if p.parts[len(REPO.parts)] == "simulator":  # the writer, not a reader
            continue
        if "child_month_truth" in p.read_text(encoding="utf-8", errors="replace"):
            offenders.append(str(p.relative_to(REPO)))
    assert offenders == []
