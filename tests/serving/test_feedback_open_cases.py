"""Open referrals are exported so lists mark the child (转介处理中) instead of dropping it (issue 6)."""

from __future__ import annotations

import pyarrow.parquet as pq

from serving.app.db import Referral, make_engine, make_sessionmaker
from serving.feedback import OPEN_CASE_FLAG, export_feedback, tokens_with_open_referral

A, B, C = ("P_k1_" + c * 20 for c in "abc")


def test_open_referrals_are_exported(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'app.sqlite'}")
    with make_sessionmaker(engine)() as s:
        for token, status in ((A, "已转介"), (B, "处理中"), (C, "已完成")):
            s.add(Referral(child_token=token, community="光明村", township="东山镇", service="康复",
                           need="<PERSON_1>需要康复训练", status=status, created_by="dir_a"))
        s.commit()
    assert tokens_with_open_referral(engine) == {A, B}
    paths = export_feedback(engine, tmp_path / "feedback")
    assert sorted(pq.read_table(paths["open_cases"])["child_token"].to_pylist()) == [A, B]
    assert OPEN_CASE_FLAG == "转介处理中"
