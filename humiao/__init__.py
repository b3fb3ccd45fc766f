"""humiao 护苗: glue between the command line, the Dagster definitions and the library packages."""

import warnings

# PySpark (a dev dependency: the Spark feature engine) warns at import time that it does not yet fully
# support pandas >= 3. Whenever pyspark is installed, pandera imports pyspark.pandas (ingest's output
# validation) and mlflow imports pyspark.sql.connect (model signatures), so `humiao ingest`, `humiao run`
# and the Dagster UI printed it. Silence exactly that warning, here because every entry point (the CLI,
# pipelines/definitions.py) imports humiao before anything imports pyspark; every other warning, of
# pyspark or anything else, is shown as usual.
warnings.filterwarnings("ignore", message=r"PySpark does not yet fully support pandas >= 3",
                        category=FutureWarning, module=r"pyspark(\.|$)")
