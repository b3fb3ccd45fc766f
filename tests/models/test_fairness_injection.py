"""The fairness audit catches a bias injected into the simulated city, and flags nothing there without it
(DESIGN §7, §11.11).

The injection is surveillance bias (``SimulatorConfig.township_visit_bias``): every township of 钱塘区 is
visited ``FACTOR`` × as often as the simulator's default — its unregistered children about monthly
instead of 0.6–3% a month — so many more of that district's guardianship concerns are *recorded*, most
of them among children a list of ``K`` places per community (the deployed capacity) does not reach.
The audit on observed labels must flag the district's recall disparity (its bootstrap 95% interval
wholly below 0.8); the audit on true outcomes shows that the district's children are not served worse —
the disparity is in the records, which is what that second audit is for. Without the injection the
same town (same seed) is not flagged.

Why this injection and this town (measured by hand with ``python tests/models/injection_town.py``,
observed-label disparity of the injected district and its interval, audit pooled over 3 test dates):

- visits ×50, 10,000 children, 萧山区 + 钱塘区 — seeds 1, 2, 3 (``SEEDS_CHECKED``): flagged at 0.37–0.43,
  intervals' upper ends 0.49–0.55; without the injection none is flagged (upper ends 0.97–2.01).
- weaker injections were not detected reliably at a size a test can afford: visits ×10 gave 0.59–0.76
  (seed-dependent; 0.76 [0.57, 1.07] at 12,000 children, not flagged); police incidents recorded ×3, ×5,
  ×10 or ×0 in one district (``district_incident_recording_bias``) and failures recorded ×3
  (``district_failure_recording_bias``) left the district's recall unchanged (0.9–1.2): the capacity is
  per community, so a district's inflated records cannot pull places from other districts, and the extra
  records fall on children the list already ranks first.

The town has two districts so that the reference (萧山区, ~72% of the children) holds enough recorded
cases (about 1% of children per test date) for its recall to be measured; it goes through the
pipeline's own stages (simulate → ingest → features → labels → train → evaluate). The two towns run side
by side (one process each).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest
from injection_town import INJECTED_DISTRICT, TOWN_DISTRICTS, district_rows, run_town

CHILDREN = 10000
SEED = 1
FACTOR = 50.0
#: Observed-label recall disparity of 钱塘区 (point, 95% interval) found by hand, injected / plain town.
SEEDS_CHECKED = {
    1: ((0.40, (0.29, 0.54)), (1.17, (0.77, 1.71))),
    2: ((0.37, (0.27, 0.49)), (1.20, (0.52, 2.01))),
    3: ((0.43, (0.33, 0.55)), (0.63, (0.37, 0.97))),
}  # on true outcomes the injected district read 1.34 [1.04, 1.74], 1.35 [1.01, 1.82], 1.53 [1.15, 1.98]


@pytest.fixture(scope="module")
def towns(tmp_path_factory) -> dict[str, dict]:
    """Both towns at once, one process each (the machine has two cores)."""
    base = tmp_path_factory.mktemp("injection")
    jobs = {"injected": {INJECTED_DISTRICT: FACTOR}, "plain": None}
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {
            kind: pool.submit(
                run_town, base / kind, children=CHILDREN, seed=SEED, districts=TOWN_DISTRICTS, visit_bias=bias
            )
            for kind, bias in jobs.items()
        }
        return {kind: f.result() for kind, f in futures.items()}


def test_injected_district_is_flagged_on_observed_labels(towns):
    row = district_rows(towns["injected"])["observed"]
    assert row["reference_group"] == "萧山区"
    assert row["n_positive"] >= 10
    _lo, hi = row["tpr_disparity_ci95"]
    assert hi < 0.8, row  # the whole bootstrap interval below the band
    assert row["flag"] is True


def test_without_injection_the_district_is_not_flagged(towns):
    rows = district_rows(towns["plain"])
    for kind, row in rows.items():
        assert row["reference_group"] == "萧山区"
        assert row["flag"] is False, (kind, row)
        lo, hi = row["tpr_disparity_ci95"]
        assert lo <= 1.25 and hi >= 0.8, (kind, row)  # the interval meets the band


def test_true_outcomes_show_the_disparity_is_in_the_records(towns):
    """On true outcomes the injected district is not served worse: the observed flag comes from what
    was recorded (more visits find more), which is what the audit on the truth is for."""
    row = district_rows(towns["injected"])["truth"]
    assert row["n_positive"] >= 10
    _lo, hi = row["tpr_disparity_ci95"]
    assert hi >= 0.8, row
    assert not (row["flag"] and hi < 0.8)
