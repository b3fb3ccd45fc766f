"""Settings that cannot work are refused when the configuration is loaded, not 90 s into a run
(new-user finding: children_per_director -5 passed the check and failed later with a traceback)."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from humiao.cli import EXIT_CONFIG_ERROR, app
from humiao.config import ConfigError, load_config


@pytest.mark.parametrize(("section", "values", "setting"), [
    ("capacity", {"children_per_director": -5}, "capacity.children_per_director"),
    ("capacity", {"children_per_director": 0}, "capacity.children_per_director"),
    ("capacity", {"visits_per_director_per_cycle": 0}, "capacity.visits_per_director_per_cycle"),
    ("capacity", {"left_behind_per_community": -1}, "capacity.left_behind_per_community"),
    ("time", {"label_timespan_days": 0}, "time.label_timespan_days"),
    ("time", {"n_splits": 0}, "time.n_splits"),
    ("checks", {"max_quarantine_share": 1.5}, "checks.max_quarantine_share"),
    ("risk_levels", {"极危": 1, "低危": 19}, "risk_levels"),
    ("risk_levels", {"极危": 21}, "risk_levels.极危"),
    ("risk_levels", {"高危": 19}, "risk_levels"),  # 高危 = 极危: no ventile would be 高危
    ("checks", {"guardianship_prevalence": [0.15, 0.002]}, "checks.guardianship_prevalence"),
    ("checks", {"left_behind_prevalence": [0.0, 1.5]}, "checks.left_behind_prevalence"),
])
def test_unworkable_values_are_configuration_errors(tmp_path, section, values, setting):
    path = tmp_path / "humiao.yaml"
    path.write_text(yaml.safe_dump({section: values}, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert setting in e.value.render()
    res = CliRunner().invoke(app, ["run", "--config", str(path)])
    assert res.exit_code == EXIT_CONFIG_ERROR
    assert "Traceback" not in res.output and setting in res.output


def test_the_shipped_configuration_is_valid():
    cfg = load_config(None)
    assert list(cfg.risk_levels.as_dict().values()) == [19, 16, 11, 1]
