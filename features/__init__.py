"""Cohorts, labels and as-of-date feature aggregations (triage-style), computed with DuckDB.

Public API::

    from features.build import build_features, build_labels, active_registry_counts
    from features.build import iter_features, write_features   # chunk by chunk (memory of one chunk)
    from features.prepare import prepare_sources               # once per delivery, shared by every date
    from features.spine import person_spine, child_places
    from features.cohorts import cohort
    from features.labels import labels, label_coverage
    from features.timechop import Timechop, Split, chop, plot_splits
    from features.dictionary import feature_dictionary
    from features.spec import SPEC            # the declarative aggregation spec (data)
    from features.collate import feature_names, compile_aggregation
"""
