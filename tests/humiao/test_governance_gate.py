"""Real exports are never scored by a model approved automatically on simulated data (new-user finding)."""

from __future__ import annotations

import pytest

from humiao import stages
from humiao.config import load_config
from models.cycle import AUTO_APPROVER


@pytest.mark.parametrize(("simulated", "approver", "refused"), [
    (False, AUTO_APPROVER, True),    # real input, champion auto-approved on simulation: refuse
    (False, "reviewer_wang", False),  # real input, a person approved it: serve
    (True, AUTO_APPROVER, False),    # simulated input: automatic approval is the design (§11.10)
])
def test_champion_must_fit_the_input(monkeypatch, tmp_path, simulated, approver, refused):
    import models.tracking as tracking

    cfg = load_config(None, **{"paths.raw_dir": str(tmp_path)})
    monkeypatch.setattr(stages, "is_simulated", lambda _cfg: simulated)
    monkeypatch.setattr(tracking, "approval_of", lambda name, version: {"status": "approved", "by": approver})
    if refused:
        with pytest.raises(RuntimeError, match="SIMULATED"):
            stages._check_champion_fits_input(cfg, "guardianship_risk", "3")
    else:
        stages._check_champion_fits_input(cfg, "guardianship_risk", "3")
