"""Visit outcomes recorded in the review app are visit records (DESIGN §6, §11.12): one source of
labels, not two, de-duplicated by visit id."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from features_testdata import Town, write_pseudo

from features.build import build_features, build_labels
from features.sources import FEEDBACK_FILE, SourceSchemaError, feedback_path

D = dt.date
AS_OF = D(2025, 1, 1)
LATE = D(2026, 1, 1)


def family() -> Town:
    t = Town()
    place = dict(district="淳安县", township="千岛湖镇", community="青溪村")
    t.person("P_F", D(1985, 1, 1), "男", household="H_1", relation="户主", registered=D(2010, 1, 1), **place)
    t.person("P_M", D(1987, 1, 1), "女", household="H_1", relation="配偶", registered=D(2010, 1, 1), **place)
    t.person("P_K", D(2014, 5, 1), "男", household="H_1", relation="子", registered=D(2014, 6, 1), **place)
    t.person("P_J", D(2016, 5, 1), "女", household="H_1", relation="女", registered=D(2016, 6, 1), **place)
    t.add("visit_records", visit_id="ZF1", visit_date=D(2024, 10, 1), child_token="P_K", visit_mode="入户走访",
          guardianship_assessment="良好", notes="家中一切正常", filed_date=D(2024, 10, 2))
    return t


#: App outcomes: one before the as-of date (a feature), one in the label window (a label).
APP_VISITS = [
    dict(visit_id="APP-7", visit_date=D(2024, 12, 1), child_token="P_J", visit_mode="入户走访",
         guardianship_assessment="一般", notes="孩子独自在家，无人照看", filed_date=D(2024, 12, 2)),
    dict(visit_id="APP-8", visit_date=D(2025, 3, 1), child_token="P_K", visit_mode="入户走访",
         guardianship_assessment="监护缺失", notes="无人照看", filed_date=D(2025, 3, 1)),
]


def write_feedback(folder: Path, rows: list[dict]) -> Path:
    """What serving writes: exactly the pseudonymized visit_records columns, source_file review_app."""
    tmp = write_pseudo(folder / "_tmp", {"visit_records": rows}) / "visit_records.parquet"
    table = pq.read_table(tmp)
    table = table.set_column(table.schema.get_field_index("source_file"), "source_file",
                             pa.array(["review_app"] * table.num_rows))
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / FEEDBACK_FILE)
    return folder / FEEDBACK_FILE


def frames(pseudo: Path, **kw):
    f = build_features(pseudo, [AS_OF], **kw).set_index("child_token")
    lab = build_labels(pseudo, [AS_OF], 180, LATE, **kw).set_index("child_token")
    return f, lab


@pytest.fixture(scope="module")
def bureau_only(tmp_path_factory):
    """The bureau's export holds the app visits itself (the reference)."""
    t = family()
    for v in APP_VISITS:
        t.add("visit_records", **v)
    return frames(t.write(tmp_path_factory.mktemp("ref") / "pseudonymized"))


def test_default_location_is_work_dir_feedback(tmp_path):
    assert feedback_path(tmp_path / "work" / "pseudonymized") == tmp_path / "work" / "feedback" / FEEDBACK_FILE
    assert feedback_path(tmp_path / "p", tmp_path / "fb") == tmp_path / "fb" / FEEDBACK_FILE


def test_app_outcome_counts_exactly_as_a_bureau_visit(tmp_path, bureau_only):
    pseudo = family().write(tmp_path / "work" / "pseudonymized")
    before_f, before_l = frames(pseudo)
    write_feedback(tmp_path / "work" / "feedback", APP_VISITS)
    after_f, after_l = frames(pseudo)
    ref_f, ref_l = bureau_only
    # the app's label-window outcome is a label, its earlier outcome a feature, as for a bureau record
    assert before_l.loc["P_K", "guardianship_risk"] == 0 and after_l.loc["P_K", "guardianship_risk"] == 1
    assert before_f.loc["P_J", "visit_count_all"] == 0 and after_f.loc["P_J", "visit_count_all"] == 1
    assert after_f.loc["P_J", "notes_unattended_12m"] == 1
    assert after_f.loc["P_J", "last_visit_date"] == D(2024, 12, 1)
    assert after_f.equals(ref_f)
    assert after_l.equals(ref_l)


def test_feedback_dir_argument(tmp_path, bureau_only):
    pseudo = family().write(tmp_path / "p")
    write_feedback(tmp_path / "elsewhere", APP_VISITS)
    # not at the default location
    assert build_labels(pseudo, [AS_OF], 180, LATE).set_index("child_token").loc["P_K", "guardianship_risk"] == 0
    f, lab = frames(pseudo, feedback_dir=tmp_path / "elsewhere")
    assert f.equals(bureau_only[0]) and lab.equals(bureau_only[1])


def test_duplicate_visit_id_is_counted_once(tmp_path, bureau_only):
    pseudo = family().write(tmp_path / "work" / "pseudonymized")
    bureau_copy = dict(APP_VISITS[0], filed_date=D(2024, 12, 20))  # re-exported later by the bureau
    path = pseudo / "visit_records.parquet"
    bureau = pq.read_table(path)
    extra = write_pseudo(tmp_path / "_x", {"visit_records": [bureau_copy]}) / "visit_records.parquet"
    pq.write_table(pa.concat_tables([bureau, pq.read_table(extra)]), path)
    # ... and the app wrote its outcomes twice
    write_feedback(tmp_path / "work" / "feedback", APP_VISITS + APP_VISITS)
    f, lab = frames(pseudo)
    assert f.loc["P_J", "visit_count_all"] == 1 and f.loc["P_J", "visit_home_visits_12m"] == 1
    assert f.equals(bureau_only[0]) and lab.equals(bureau_only[1])


def test_duplicate_known_first_wins(tmp_path):
    """A duplicate is usable from the first date any copy was known (no later copy hides it)."""
    pseudo = family().write(tmp_path / "work" / "pseudonymized")
    late = dict(APP_VISITS[0], filed_date=D(2025, 2, 1))  # app copy known after the as-of date
    write_feedback(tmp_path / "work" / "feedback", [late])
    f, _ = frames(pseudo)
    assert f.loc["P_J", "visit_count_all"] == 0
    early = dict(APP_VISITS[0], visit_id="APP-7", filed_date=D(2024, 12, 2))
    write_feedback(tmp_path / "work" / "feedback", [late, early])
    f, _ = frames(pseudo)
    assert f.loc["P_J", "visit_count_all"] == 1


def test_feedback_file_must_have_the_visit_columns(tmp_path):
    pseudo = family().write(tmp_path / "work" / "pseudonymized")
    path = write_feedback(tmp_path / "work" / "feedback", APP_VISITS)
    table = pq.read_table(path)
    pq.write_table(table.drop_columns(["guardianship_assessment"]), path)
    with pytest.raises(SourceSchemaError, match="visit_outcomes"):
        build_labels(pseudo, [AS_OF], 180, LATE)
    assert pc.sum(pc.equal(table["source_file"], "review_app")).as_py() == 2
