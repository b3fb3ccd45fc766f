"""Jobs: the whole cycle, the monthly scoring (champion models, no retraining) and the retraining."""

import dagster as dg

from humiao.stages import TARGETS

MODEL_ASSETS = ["models", *[f"model_{t}" for t in TARGETS], *[f"model_card_{t}" for t in TARGETS]]

full_cycle_job = dg.define_asset_job(
    "full_cycle", selection=dg.AssetSelection.all(),
    description="Everything: ingest → features → training → cards → scores → lists → privacy audit.",
)

monthly_scoring_job = dg.define_asset_job(
    "monthly_scoring",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(*[f"model_{t}" for t in TARGETS])
    - dg.AssetSelection.assets(*[f"model_card_{t}" for t in TARGETS]),
    description="The monthly cycle: new exports → features → scores by each target's champion → lists.",
)

retraining_job = dg.define_asset_job(
    "retraining",
    selection=dg.AssetSelection.assets(*[f"model_{t}" for t in TARGETS]).upstream()
    | dg.AssetSelection.assets(*[f"model_card_{t}" for t in TARGETS]),
    description="Train, evaluate and register challengers; cards for the governance reviewer.",
)

jobs = [full_cycle_job, monthly_scoring_job, retraining_job]
