"""Models: LightGBM per target, baselines, metrics@K, calibration, fairness, explanations, MLflow.

Modules: ``capacity`` (K per community), ``metrics`` (triage-named metrics), ``baselines``,
``train`` (temporal splits, grid, selection, calibration, ventiles), ``explain`` (TreeSHAP reasons),
``fairness`` (audit at capacity), ``evaluate`` (the evaluation document), ``scoring`` (a cycle's
scores), ``tracking`` (MLflow runs, registry, aliases), ``cycle`` (one target end to end).
"""

import os

# LightGBM's OpenMP threads busy-wait by default; on a shared 2-core machine (Dagster runs several
# processes) spinning threads slow training 5-30x. Passive waiting costs nothing measurable here.
# Only a default: an explicit OMP_WAIT_POLICY wins, and it has effect only if set before lightgbm loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
