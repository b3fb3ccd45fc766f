"""Person spine, places and the spec compiler."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from features_testdata import Town

from features.collate import compile_aggregation, feature_names, render_predicate
from features.sources import SourceSchemaError, open_sources
from features.spec import AS_OF, SPEC, Aggregation, Metric, Predicate, interval_suffix, interval_zh
from features.spine import child_places, person_spine

D = dt.date


def test_person_spine(town_dir):
    sp = person_spine(town_dir).set_index("person_token")
    assert list(sp.reset_index().columns) == ["person_token", "household_token", "birth_month", "sex", "hukou_type",
                                              "is_local_hukou", "district", "township", "community", "urban_rural"]
    assert not sp.index.duplicated().any()
    assert sp.loc["P_C1", "household_token"] == "H_1" and sp.loc["P_C1", "birth_month"] == D(2015, 5, 1)
    assert sp.loc["P_C1", "urban_rural"] == "农村" and bool(sp.loc["P_C1", "is_local_hukou"])
    assert sp.loc["P_C4", "urban_rural"] == "城镇" and sp.loc["P_C4", "hukou_type"] == "非农业家庭户口"
    # known only through a residence permit
    assert sp.loc["P_C5", "hukou_type"] == "非本地户籍" and not sp.loc["P_C5", "is_local_hukou"]
    assert sp.loc["P_C5", "community"] == "高桥社区"
    # adults are in the spine too
    assert sp.loc["P_G2", "sex"] == "男"


def test_person_spine_under_a_small_memory_limit_is_the_same(town_dir):
    """The spine's own DuckDB connection has a memory limit (issue 8: 12.15 GB at 2M without one); the result
    does not depend on it or on whose connection it is."""
    import duckdb
    import pandas as pd

    limited = person_spine(town_dir, memory_limit="64MB")
    pd.testing.assert_frame_equal(limited, person_spine(town_dir, memory_limit=None))
    pd.testing.assert_frame_equal(limited, person_spine(town_dir, con=duckdb.connect()))
    assert len(limited) > 5


def test_child_places_priority_and_as_of(tmp_path):
    t = Town()
    t.person("P_K", D(2014, 5, 1), household="H_1", relation="子", registered=D(2014, 6, 1),
             district="淳安县", township="千岛湖镇", community="青溪村")
    t.add("residence_permits", person_token="P_K", district="萧山区", township="城厢街道", community="高桥社区",
          registered_date=D(2023, 1, 1))
    t.add("child_registry", record_id="R1", child_token="P_K", category="留守儿童", district="淳安县",
          township="汾口镇", community="赋溪村", registered_date=D(2024, 1, 1))
    p = t.write(tmp_path / "p")

    def place(d):
        pl = child_places(p, d).set_index("person_token")
        return pl.loc["P_K", "community"], pl.loc["P_K", "place_source"]

    assert place(D(2022, 6, 1)) == ("青溪村", "household_registry")
    assert place(D(2023, 6, 1)) == ("高桥社区", "residence_permits")
    assert place(D(2024, 6, 1)) == ("赋溪村", "child_registry")
    assert child_places(p, D(2024, 6, 1)).set_index("person_token").loc["P_K", "hukou_type"] == "农业家庭户口"


def test_missing_file_is_empty_and_missing_column_fails(tmp_path):
    t = Town()
    t.person("P_K", D(2014, 5, 1), household="H_1", relation="子", community="青溪村")
    p = t.write(tmp_path / "p")
    con = open_sources(p)
    assert con.execute("SELECT COUNT(*) FROM src_visit_records").fetchone()[0] == 0
    pq.write_table(pa.table({"child_token": ["x"]}), p / "visit_records.parquet")
    with pytest.raises(SourceSchemaError, match="visit_records"):
        open_sources(p)
    with pytest.raises(FileNotFoundError):
        open_sources(tmp_path / "nope")


def test_spec_names_and_compiler():
    names = feature_names()
    assert len(names) == len(set(names)) > 120
    assert {"school_days_absent_3m", "parents_away_months_12m", "visit_days_since_last_all",
            "police_child_domestic_violence_12m", "subsistence_active"} <= set(names)
    assert interval_suffix("3 months") == "3m" and interval_suffix("all") == "all"
    assert interval_zh("12 months") == "近12个月"
    sql = compile_aggregation(SPEC.aggregations[0])
    assert "GROUP BY c.as_of_date, c.child_token" in sql and "s._k <= c.as_of_date" in sql
    assert render_predicate(Predicate("closed_date", "le", AS_OF)) == "s.closed_date <= c.as_of_date"
    assert render_predicate(Predicate("notes", "contains_any", ("住院", "生病"))) == (
        "(contains(s.notes, '住院') OR contains(s.notes, '生病'))")
    with pytest.raises(ValueError):
        Predicate("x", "regex", "a")
    with pytest.raises(ValueError):
        Metric("m", "median", "d", "r", "天")
    with pytest.raises(ValueError):
        Metric("m", "active_any", "d", "r", "天")  # needs end_column
    with pytest.raises(ValueError):
        Aggregation(family="f", source="visit_records", entity="cousin", key="child_token",
                    date_column="visit_date", metrics=())
    with pytest.raises(ValueError):
        Aggregation(family="f", source="visit_records", entity="child", key="child_token",
                    date_column="visit_date", metrics=(), intervals=("fortnight",))
