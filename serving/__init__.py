"""People-facing outputs of humiao: per-community visit lists and model cards.

Public API
----------
serving.visit_lists.write_visit_lists
    Excel workbooks per community (for child directors), township summaries (for child
    supervisors) and one Parquet per cycle (for machines).
serving.model_card.render_model_card
    Model card in Chinese and English HTML, Markdown and JSON, generated from an evaluation document.

Nothing in this package imports dagster; functions take explicit arguments (docs/interfaces.md).
"""
