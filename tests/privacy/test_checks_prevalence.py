"""Label prevalence added up over partitions (the labels check reads one as-of date at a time)."""

from __future__ import annotations

import math

import pandas as pd

from privacy.checks import label_counts, prevalence_within, prevalence_within_counts

BOUNDS = {"a": (0.1, 0.3), "b": (0.0, 0.05)}


def test_counts_added_over_partitions_equal_the_whole():
    p1 = pd.DataFrame({"a": [1, 0, 0, None], "b": [0, 0, 0, 0]})
    p2 = pd.DataFrame({"a": [1, 0, 0, 0, 0, 0], "b": [1, None, 0, 0, 0, 0]})
    c1, c2 = label_counts(p1, BOUNDS), label_counts(p2, BOUNDS)
    assert c1 == {"a": (1.0, 3), "b": (0.0, 4)}
    added = {k: (c1[k][0] + c2[k][0], c1[k][1] + c2[k][1]) for k in BOUNDS}
    whole = prevalence_within(pd.concat([p1, p2]), BOUNDS)
    summed = prevalence_within_counts(added, BOUNDS)
    assert summed.metadata == whole.metadata
    assert summed.metadata["a"]["prevalence"] == 2 / 9 and summed.metadata["a"]["within"]
    assert summed.metadata["b"]["prevalence"] == 1 / 9 and not summed.metadata["b"]["within"]
    assert not summed.passed and not whole.passed


def test_no_labelled_rows_fails():
    out = prevalence_within_counts({"a": (0.0, 0)}, {"a": (0.0, 1.0)})
    assert not out.passed and math.isnan(out.metadata["a"]["prevalence"])
    assert not prevalence_within_counts({}, {"a": (0.0, 1.0)}).passed
