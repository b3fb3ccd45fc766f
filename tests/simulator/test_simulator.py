"""Tests of the synthetic city: contract shapes, identifiers, rates, labels vs truth, determinism.

One 2,000-child town is simulated once per module; determinism uses two smaller towns.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest

from simulator import SimulatorConfig, simulate
from simulator.__main__ import main as cli_main
from simulator.contracts import load_contracts
from simulator.ids import check_char, is_valid_id18

TOWN = 2000
CONTRACTS = load_contracts()
RURAL_COUNTIES = {"桐庐县", "淳安县", "建德市"}


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    base = tmp_path_factory.mktemp("town")
    out, truth = base / "raw", base / "truth"
    manifest = simulate(out, truth, children=TOWN, months=36, seed=11)
    return out, truth, manifest


def read(out: Path, table: str) -> pd.DataFrame:
    c = CONTRACTS[table]
    path = out / c.relpath
    if c.file.endswith(".xlsx"):
        return pd.read_excel(path, dtype=str).fillna("")
    return pd.read_csv(
        path, dtype=str, encoding="gbk" if c.encoding == "gbk" else "utf-8", keep_default_na=False
    )


def norm(v: str) -> str:
    return unicodedata.normalize("NFKC", str(v)).strip().upper()


def test_check_char_vector():
    assert check_char("34052419800101001") == "X"  # GB 11643 test vector [S14]


def test_all_files_and_manifest(town):
    out, _, manifest = town
    assert manifest["generator"] == "humiao.simulator"
    assert manifest["version"] == 1
    assert manifest["children"] == TOWN and manifest["months"] == 36 and manifest["seed"] == 11
    assert set(manifest["files"]) == {c.relpath for c in CONTRACTS.values()}
    on_disk = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk["files"] == manifest["files"]
    for rel in manifest["files"]:
        assert (out / rel).stat().st_size > 0, rel
    assert all(n > 0 for n in manifest["rows"].values()), manifest["rows"]


def test_headers_equal_contract(town):
    out, _, _ = town
    for c in CONTRACTS.values():
        path = out / c.relpath
        if c.file.endswith(".xlsx"):
            ws = openpyxl.load_workbook(path, read_only=True).active
            header = [x for x in next(ws.iter_rows(min_row=1, max_row=1, values_only=True))]
        else:
            first = path.read_bytes().split(b"\n", 1)[0].rstrip(b"\r")
            header = first.decode("gbk" if c.encoding == "gbk" else "utf-8").split(",")
        assert tuple(header) == c.headers, c.table


def test_gbk_files_decode_as_gbk(town):
    out, _, _ = town
    gbk = [c for c in CONTRACTS.values() if c.encoding == "gbk"]
    assert gbk
    for c in gbk:
        raw = (out / c.relpath).read_bytes()
        raw.decode("gbk")  # strict
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")  # really GBK, not UTF-8 labelled GBK


def test_xlsx_ids_are_text_cells(town):
    out, _, _ = town
    ws = openpyxl.load_workbook(out / CONTRACTS["child_registry"].relpath).active
    col = CONTRACTS["child_registry"].headers.index("儿童公民身份号码") + 1
    cells = [ws.cell(row=r, column=col) for r in range(2, min(ws.max_row, 60) + 1)]
    assert cells and all(c.data_type == "s" for c in cells)


def test_child_ids_checksum_valid_except_deliberate(town):
    out, truth, _ = town
    defects = pd.read_parquet(truth / "injected_defects.parquet")
    child_cols = {
        "visit_records": "儿童公民身份号码",
        "child_health_checks": "公民身份号码",
        "injury_visits": "公民身份号码",
        "student_enrollment": "公民身份号码",
        "child_registry": "儿童公民身份号码",
    }
    total_bad = 0
    for table, header in child_cols.items():
        df = read(out, table)
        ids = df[header].map(norm)
        assert (ids.str.len() == 18).all(), f"{table}: children always have 18-digit IDs"
        bad = ~ids.map(is_valid_id18)
        c = CONTRACTS[table]
        name = c.names[c.headers.index(header)]
        expected = defects[
            (defects.file == c.relpath)
            & (defects.column == name)
            & defects.defect.str.contains("INVALID_ID_CHECKSUM")
        ]
        # duplicated rows copy a bad ID too, so compare against the rows the log names
        rows = set(expected.source_row)
        bad_rows = set((np.flatnonzero(bad.to_numpy()) + 2).tolist())
        dup_rows = set(defects[(defects.file == c.relpath) & (defects.defect == "DUPLICATE_ROW")].source_row)
        assert bad_rows - dup_rows <= rows | {r + 1 for r in rows}, table
        assert rows <= bad_rows, table
        total_bad += len(rows)
    n_ids = sum(len(read(out, t)) for t in child_cols)
    assert total_bad <= max(5, 0.003 * n_ids)


def test_every_child_id_in_truth_is_valid_and_area_codes(town):
    _, truth, _ = town
    t = pq.read_table(truth / "child_month_truth.parquet").to_pandas()
    ids = t["id_number"].drop_duplicates()
    assert ids.map(is_valid_id18).all()
    hr = read(town[0], "household_registry")
    codes = set(hr["公民身份号码"].map(norm).str[:6]) | set(ids.str[:6])
    assert {"330113", "330114"} <= codes
    assert {"330103", "330104"} & codes
    # sex follows the sequence parity
    sex = hr.set_index(hr["公民身份号码"].map(norm))["性别"]
    ok = [(int(i[16]) % 2 == 1) == (s == "男") for i, s in sex.items() if len(i) == 18 and i[16].isdigit()]
    assert np.mean(ok) > 0.999


def test_legacy_ids_only_for_old_adults(town):
    out, _, _ = town
    hr = read(out, "household_registry")
    adm = read(out, "inpatient_admissions")
    ids = pd.concat(
        [hr["公民身份号码"], adm["公民身份号码"], read(out, "detention_records")["公民身份号码"]]
    ).map(norm)
    legacy = ids[ids.str.len() == 15]
    assert len(legacy) > 0
    yy = legacy.str[6:8].astype(int)
    assert (yy >= 20).all()  # born 19xx, never a child (DESIGN §11.14)
    fw = pd.concat([hr["公民身份号码"], adm["公民身份号码"]]).str.contains("[０-９]")
    assert fw.sum() > 0


def test_truth_file_shape_and_place(town):
    out, truth, _ = town
    path = truth / "child_month_truth.parquet"
    assert out.resolve() not in path.resolve().parents
    tab = pq.read_table(path)
    assert tab.column_names == [
        "id_number",
        "month",
        "guardianship_state",
        "true_left_behind",
        "maltreated",
        "guardianship_failure_event",
    ]
    assert str(tab.schema.field("month").type) == "date32[day]"
    assert str(tab.schema.field("guardianship_state").type) == "int8"
    t = tab.to_pandas()
    assert set(t["guardianship_state"].unique()) <= {0, 1, 2, 3}
    assert t["id_number"].nunique() == TOWN
    assert t["month"].nunique() == 36
    share = t["guardianship_state"].value_counts(normalize=True)
    assert 0.7 < share[0] < 0.97 and share.get(2, 0) + share.get(3, 0) > 0.01


def test_truth_dir_inside_out_dir_is_refused(tmp_path):
    with pytest.raises(ValueError):
        simulate(tmp_path / "raw", tmp_path / "raw" / "truth", children=200, months=3)


def test_rates_roughly_as_configured(town):
    out, truth, _ = town
    attrs = pd.read_parquet(truth / "child_attributes.parquet")
    cfg = SimulatorConfig()
    disabled = attrs["disabled"].mean() * 1000
    assert abs(disabled - cfg.disabled_children_per_1000) < 8  # binomial sd ≈ 2.7 per 1,000 at 2,000 children
    migrants = (attrs["hukou_type"] == "非本地户籍").mean()
    assert 0.2 < migrants < 0.45
    districts = attrs["district"].nunique()
    assert districts >= 4
    comm = read(out, "household_registry")["村(社区)"]
    assert comm.str.endswith("村").any() and comm.str.endswith("社区").any()


def test_left_behind_registrations_more_in_rural_counties(town):
    out, truth, _ = town
    reg = read(out, "child_registry")
    attrs = pd.read_parquet(truth / "child_attributes.parquet").set_index("id_number")
    lb = reg[reg["儿童类别"] == "留守儿童"].copy()
    lb["start"] = pd.to_datetime(lb["登记日期"], errors="coerce", format="mixed")
    lb = lb[lb["start"] >= "2023-01-01"]
    lb["id"] = lb["儿童公民身份号码"].map(norm).str.replace(r"^(.{17}).$", r"\1", regex=True)
    key = attrs.index.str[:17]
    dist = pd.Series(attrs["district"].to_numpy(), index=key)
    lb = lb[lb["id"].isin(key)].drop_duplicates("id")
    lb_d = dist.reindex(lb["id"]).to_numpy()
    rural_n = attrs["district"].isin(RURAL_COUNTIES).sum()
    rural_rate = np.isin(lb_d, list(RURAL_COUNTIES)).sum() / rural_n
    other_rate = (~np.isin(lb_d, list(RURAL_COUNTIES))).sum() / (len(attrs) - rural_n)
    assert len(lb) > 0
    per_180d = len(lb) / len(attrs) * 1000 / 6
    assert 0.5 < per_180d < 6, per_180d  # ≈ 2 per 1,000 per 180 days (DESIGN §11.15)
    assert rural_rate > 2 * other_rate


def test_labels_correlate_with_truth_but_are_not_it(town):
    out, truth, _ = town
    t = pd.read_parquet(truth / "child_month_truth.parquet")
    t["key"] = t["id_number"].str[:17] + t["month"].astype(str).str[:7]
    state = t.set_index("key")["guardianship_state"]
    v = read(out, "visit_records")
    v["key"] = v["儿童公民身份号码"].map(norm).str[:17] + pd.to_datetime(
        v["走访日期"], errors="coerce", format="mixed"
    ).dt.strftime("%Y-%m")
    v["state"] = state.reindex(v["key"]).to_numpy()
    v = v.dropna(subset=["state"])
    bad = v["监护评估"].isin(["监护不当", "监护缺失"])
    assert bad.sum() > 10
    inc = read(out, "incidents")
    assert inc["警情类别"].isin(["家庭暴力", "儿童走失", "监护人失联"]).sum() > 0
    p_bad = (v.loc[bad, "state"] >= 2).mean()
    p_ok = (v.loc[~bad, "state"] >= 2).mean()
    assert p_bad > 3 * p_ok  # assessments carry the truth …
    assert p_bad < 0.98  # … but are not the truth
    # most true failures are never detected
    fails = t[t["guardianship_failure_event"]]["id_number"].str[:17].nunique()
    detected = v.loc[bad, "key"].str[:17].nunique()
    assert detected < fails


def test_notes_carry_signal_and_personal_information(town):
    out, _, _ = town
    v = read(out, "visit_records")
    notes = v["走访情况"]
    lengths = notes.str.len()
    assert lengths.between(30, 260).mean() > 0.95 and lengths.median() >= 60
    assert notes.str.contains("务工|打工").any()
    assert notes.str.contains(r"1[3-9]\d{9}").any()  # a phone number in a note
    bad = v["监护评估"].isin(["监护不当", "监护缺失"])
    sig = "无人|淤青|打骂|争吵|住院|不便|经济困难|缺课|去世|服刑"
    assert notes[bad].str.contains(sig).mean() > notes[~bad].str.contains(sig).mean()


def test_duplicates_and_mixed_dates(town):
    out, truth, _ = town
    att = read(out, "attendance")
    dup = att.duplicated().mean()
    assert 0.001 < dup < 0.012
    v = read(out, "visit_records")["走访日期"]
    assert v.str.contains("年|/|\\.").any() and v.str.match(r"^\d{4}-\d{2}-\d{2}$").mean() > 0.9
    d = pd.read_parquet(truth / "injected_defects.parquet")
    assert {"DUPLICATE_ROW", "LEGACY_ID15"} <= set(d["defect"])


def test_determinism(tmp_path):
    a = simulate(tmp_path / "a" / "raw", tmp_path / "a" / "truth", children=400, months=12, seed=5)
    b = simulate(tmp_path / "b" / "raw", tmp_path / "b" / "truth", children=400, months=12, seed=5)
    c = simulate(tmp_path / "c" / "raw", tmp_path / "c" / "truth", children=400, months=12, seed=6)
    assert a["files"] == b["files"]
    assert (tmp_path / "a" / "raw" / "manifest.json").read_bytes() == (
        tmp_path / "b" / "raw" / "manifest.json"
    ).read_bytes()
    ta = (tmp_path / "a" / "truth" / "child_month_truth.parquet").read_bytes()
    tb = (tmp_path / "b" / "truth" / "child_month_truth.parquet").read_bytes()
    assert ta == tb
    differ = [k for k in a["files"] if a["files"][k] != c["files"][k]]
    assert len(differ) >= len(a["files"]) - 1


def test_cli(tmp_path, capsys):
    rc = cli_main(
        [
            "--children",
            "200",
            "--months",
            "6",
            "--seed",
            "3",
            "--out",
            str(tmp_path / "raw"),
            "--truth",
            str(tmp_path / "truth"),
        ]
    )
    assert rc == 0
    assert (tmp_path / "raw" / "manifest.json").exists()
    assert json.loads(capsys.readouterr().out)["rows"]
    rc = cli_main(
        [
            "--children",
            "200",
            "--months",
            "6",
            "--out",
            str(tmp_path / "raw"),
            "--truth",
            str(tmp_path / "raw" / "t"),
        ]
    )
    assert rc == 2


def test_simulator_imports_nothing_of_the_product():
    src = Path(__file__).resolve().parents[2] / "simulator"
    for f in src.glob("*.py"):
        text = f.read_text(encoding="utf-8")
        for pkg in ("privacy", "features", "models", "serving", "pipelines", "humiao", "dagster"):
            assert f"import {pkg}" not in text and f"from {pkg}" not in text, (f.name, pkg)


def test_injected_visit_bias_raises_visits_in_that_township(tmp_path):
    """DESIGN §9: known biases can be injected so that the fairness audit can be shown to catch them."""
    import dataclasses

    base = SimulatorConfig()
    town = "湖滨街道"
    biased = dataclasses.replace(base, township_visit_bias={town: 5.0})
    share = []
    for name, cfg in (("plain", base), ("biased", biased)):
        simulate(
            tmp_path / name / "raw", tmp_path / name / "truth", children=1500, months=12, seed=9, config=cfg
        )
        attrs = pd.read_parquet(tmp_path / name / "truth" / "child_attributes.parquet")
        v = read(tmp_path / name / "raw", "visit_records")
        tw = attrs.set_index(attrs["id_number"].str[:17])["township"]
        vt = tw.reindex(v["儿童公民身份号码"].map(norm).str[:17]).to_numpy()
        share.append((vt == town).mean() / (attrs["township"] == town).mean())
    assert share[1] > 1.8 * share[0]


def test_injected_incident_recording_bias(tmp_path):
    """DESIGN §9, §11.11: police records of one district's households made k × as often; the default
    (no injection) keeps the configuration hash, so a city simulated without it is unchanged."""
    import dataclasses

    from simulator import config_hash

    base = SimulatorConfig()
    assert config_hash(base) == config_hash(dataclasses.replace(base, district_incident_recording_bias={}))
    district = "萧山区"
    biased = dataclasses.replace(base, district_incident_recording_bias={district: 6.0})
    assert config_hash(biased) != config_hash(base)
    with pytest.raises(ValueError, match="unknown district"):
        dataclasses.replace(base, district_incident_recording_bias={"不存在区": 2.0})
    with pytest.raises(ValueError, match=">= 0"):
        dataclasses.replace(base, district_incident_recording_bias={district: -1.0})
    per_child = []
    for name, cfg in (("plain", base), ("biased", biased)):
        simulate(tmp_path / name / "raw", tmp_path / name / "truth", children=1500, months=12, seed=9, config=cfg)
        attrs = pd.read_parquet(tmp_path / name / "truth" / "child_attributes.parquet")
        inc = read(tmp_path / name / "raw", "incidents")
        inside = inc["区(县、市)"] == district
        share_children = (attrs["district"] == district).mean()
        per_child.append((inside.sum() / share_children, (~inside).sum() / (1 - share_children)))
    (plain_in, plain_out), (biased_in, biased_out) = per_child
    assert biased_in > 3 * plain_in  # the district's records multiply
    assert biased_out < 1.5 * plain_out  # the other districts' records hardly move


def test_determinism_across_processes(tmp_path):
    """Same seed → same bytes in another Python process too (string hashing differs per process:
    nothing may depend on a set's order)."""
    import subprocess
    import sys

    code = (
        "import json, sys; from pathlib import Path; from simulator import simulate; "
        "m = simulate(Path(sys.argv[1]) / 'raw', Path(sys.argv[1]) / 'truth', children=300, months=12, seed=4); "
        "print(json.dumps(m['files'], sort_keys=True))"
    )
    outs = []
    for hash_seed in ("1", "2"):
        env = {**__import__("os").environ, "PYTHONHASHSEED": hash_seed}
        r = subprocess.run([sys.executable, "-c", code, str(tmp_path / hash_seed)], capture_output=True, text=True,
                           env=env, check=True, cwd=Path(__file__).resolve().parents[2])  # fmt: skip
        outs.append(json.loads(r.stdout.strip().splitlines()[-1]))
    assert outs[0] == outs[1]
