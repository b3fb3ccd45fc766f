"""Visit capacity ``K`` per community and cycle: how long each community's list is.

DESIGN §11.8–11.9. Hangzhou's 2025 staffing rule (杭政办函〔2025〕70号, SIMULATOR_FACTS §7 [S30])
asks for at least one child director (儿童主任) per village/community, more where the registered
children in difficulty exceed 30. So::

    directors_c = max(1, ceil(active_registry_children_c / children_per_director))   # 30
    K_c         = directors_c × visits_per_director                                   # 10 per cycle

for the main list (``guardianship_risk``). The second section of the list, 疑似未登记留守儿童
(``left_behind_risk``), has a fixed ``left_behind_per_community`` places (default 3) per community.
All inputs are explicit: the configuration passes the numbers in; nothing here reads a file.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

GUARDIANSHIP_RISK = "guardianship_risk"
LEFT_BEHIND_RISK = "left_behind_risk"
TARGETS: tuple[str, ...] = (GUARDIANSHIP_RISK, LEFT_BEHIND_RISK)

DEFAULT_CHILDREN_PER_DIRECTOR = 30
DEFAULT_VISITS_PER_DIRECTOR = 10
DEFAULT_LEFT_BEHIND_PER_COMMUNITY = 3


def directors_per_community(
    active_registry_children: Mapping[str, int] | pd.Series,
    *,
    children_per_director: int = DEFAULT_CHILDREN_PER_DIRECTOR,
) -> pd.Series:
    """Child directors per community: ``max(1, ceil(active registry children / children_per_director))``.

    Parameters
    ----------
    active_registry_children : mapping or Series, community -> int
        Children with an active registry (困境儿童台账) entry at the as-of date, per community.
        Include communities with 0 (they still have one director).
    children_per_director : int
        Registered children one director covers (default 30, Hangzhou 2025 [S30]).

    Returns
    -------
    Series of int, index community, name ``"directors"``
    """
    counts = pd.Series(active_registry_children, dtype="float64")
    if counts.isna().any() or (counts < 0).any():
        raise ValueError("active_registry_children must be non-negative counts without missing values")
    if children_per_director <= 0:
        raise ValueError("children_per_director must be positive")
    d = np.maximum(1, np.ceil(counts.to_numpy() / children_per_director)).astype("int64")
    return pd.Series(d, index=counts.index, name="directors")


def capacity_per_community(
    active_registry_children: Mapping[str, int] | pd.Series,
    *,
    target: str,
    visits_per_director: int = DEFAULT_VISITS_PER_DIRECTOR,
    left_behind_per_community: int = DEFAULT_LEFT_BEHIND_PER_COMMUNITY,
    children_per_director: int = DEFAULT_CHILDREN_PER_DIRECTOR,
) -> pd.Series:
    """Places on a community's list per cycle for one target.

    Parameters
    ----------
    active_registry_children : mapping or Series, community -> int
        As in :func:`directors_per_community`; every community to be listed must appear.
    target : {"guardianship_risk", "left_behind_risk"}
    visits_per_director : int
        Visits per director per monthly cycle (default 10, DESIGN §11.9).
    left_behind_per_community : int
        Places of the left-behind section per community (default 3, DESIGN §11.8).
    children_per_director : int
        See :func:`directors_per_community`.

    Returns
    -------
    Series of int, index community, name ``"capacity"``

    Examples
    --------
    >>> capacity_per_community({"A": 0, "B": 31}, target="guardianship_risk").to_dict()
    {'A': 10, 'B': 20}
    """
    if target == GUARDIANSHIP_RISK:
        d = directors_per_community(active_registry_children, children_per_director=children_per_director)
        return (d * int(visits_per_director)).rename("capacity")
    if target == LEFT_BEHIND_RISK:
        idx = pd.Series(active_registry_children, dtype="float64").index
        return pd.Series(int(left_behind_per_community), index=idx, dtype="int64", name="capacity")
    raise ValueError(f"unknown target {target!r}; expected one of {TARGETS}")


def active_registry_counts(features: pd.DataFrame, communities: Iterable[str] | None = None) -> pd.Series:
    """Children with an active registry category per community, from one as-of date's features.

    Parameters
    ----------
    features : DataFrame
        The features table of one as-of date (docs/interfaces.md §3) for *all* children (both
        cohorts): columns ``community`` and ``registry_category`` (None when not registered).
    communities : iterable of str, optional
        Communities to report even when they have no row (count 0).

    Returns
    -------
    Series of int, index community, name ``"active_registry_children"``
    """
    missing = {"community", "registry_category"} - set(features.columns)
    if missing:
        raise ValueError(f"features lack columns {sorted(missing)}")
    registered = features["registry_category"].notna() & (
        features["registry_category"].astype("string") != ""
    )
    counts = registered.groupby(features["community"].astype(str), observed=True).sum().astype("int64")
    if communities is not None:
        counts = counts.reindex(sorted(set(counts.index) | set(communities)), fill_value=0)
    return counts.rename("active_registry_children")


def capacity_table(
    features: pd.DataFrame,
    *,
    target: str,
    visits_per_director: int = DEFAULT_VISITS_PER_DIRECTOR,
    left_behind_per_community: int = DEFAULT_LEFT_BEHIND_PER_COMMUNITY,
    children_per_director: int = DEFAULT_CHILDREN_PER_DIRECTOR,
) -> pd.DataFrame:
    """Capacity for every (as-of date, community) of a features table.

    Parameters
    ----------
    features : DataFrame
        Features of one or more as-of dates, all children: ``as_of_date, community, registry_category``.
    target, visits_per_director, left_behind_per_community, children_per_director
        As in :func:`capacity_per_community`.

    Returns
    -------
    DataFrame
        Columns ``as_of_date, community, active_registry_children, directors, capacity``.
    """
    parts = []
    for as_of, rows in features.groupby("as_of_date", sort=True):
        counts = active_registry_counts(rows)
        cap = capacity_per_community(
            counts,
            target=target,
            visits_per_director=visits_per_director,
            left_behind_per_community=left_behind_per_community,
            children_per_director=children_per_director,
        )
        parts.append(
            pd.DataFrame(
                {
                    "as_of_date": as_of,
                    "community": counts.index,
                    "active_registry_children": counts.to_numpy(),
                    "directors": directors_per_community(
                        counts, children_per_director=children_per_director
                    ).to_numpy(),
                    "capacity": cap.to_numpy(),
                }
            )
        )
    if not parts:
        return pd.DataFrame(
            columns=["as_of_date", "community", "active_registry_children", "directors", "capacity"]
        )
    return pd.concat(parts, ignore_index=True)


def capacity_for_date(table: pd.DataFrame, as_of_date) -> pd.Series:
    """Capacity Series (community -> K) of one as-of date from :func:`capacity_table` output."""
    rows = table[pd.to_datetime(table["as_of_date"]) == pd.Timestamp(as_of_date)]
    if rows.empty:
        raise ValueError(f"no capacity for as-of date {as_of_date}")
    return pd.Series(
        rows["capacity"].to_numpy(dtype="int64"), index=rows["community"].astype(str), name="capacity"
    )


def total_capacity(capacity: Mapping[str, int] | pd.Series) -> int:
    """Sum of ``K_c`` over communities (logged as the parameter ``capacity_total``)."""
    return int(math.fsum(pd.Series(capacity, dtype="float64")))
