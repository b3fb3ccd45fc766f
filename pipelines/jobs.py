"""Jobs. A cycle is two runs (the cycle plan decides which monthly as-of-date partitions the rest needs):

1. ``ingest_and_plan`` — new exports → pseudonymized tables → person spine → cycle plan (unpartitioned);
2. one run over the plan's contiguous range of as-of-date partitions (pipelines.partitions):
   ``full_cycle`` (features → training → cards → scores → lists → monitoring → privacy audit),
   ``monthly_scoring`` (the same without training: each target's champion scores) or ``retraining``.

The ``cycle_plan_sensor`` chains 1 → 2; ``humiao run`` does both in-process (pipelines.run).
"""

import dagster as dg

from humiao.stages import TARGETS

MODEL_ASSETS = [*[f"model_{t}" for t in TARGETS], *[f"model_card_{t}" for t in TARGETS]]

UPSTREAM = dg.AssetSelection.assets("cycle_plan", "person_spine").upstream()
"""The unpartitioned head of the graph: everything the cycle plan depends on."""

ingest_and_plan_job = dg.define_asset_job(
    "ingest_and_plan", selection=UPSTREAM,
    description="New exports → validated, pseudonymized tables → person spine → this cycle's plan.",
)

full_cycle_job = dg.define_asset_job(
    "full_cycle", selection=dg.AssetSelection.all() - UPSTREAM,
    description="The cycle's as-of dates → features → training → cards → scores → lists → privacy audit.",
)

monthly_scoring_job = dg.define_asset_job(
    "monthly_scoring",
    selection=dg.AssetSelection.all() - UPSTREAM - dg.AssetSelection.assets(*MODEL_ASSETS),
    description="The monthly cycle: features → scores by each target's champion → lists (no retraining).",
)

retraining_job = dg.define_asset_job(
    "retraining",
    selection=(dg.AssetSelection.assets(*[f"model_{t}" for t in TARGETS]).upstream()
               | dg.AssetSelection.assets(*[f"model_card_{t}" for t in TARGETS])) - UPSTREAM,
    description="Train, evaluate and register challengers; cards for the governance reviewer.",
)

jobs = [ingest_and_plan_job, full_cycle_job, monthly_scoring_job, retraining_job]
