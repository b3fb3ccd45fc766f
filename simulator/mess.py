"""Formatting and the messiness of real exports: date styles, full-width digits, 15-digit legacy IDs,
lower-case check characters, wrong check characters, duplicated rows, empty cells, name typos.

Every injected defect that ingest must react to is logged (file, 1-based source row as a clerk sees
it, column, defect) so tests and ingest reconciliation can compare against it. Rates come from
:class:`~simulator.config.SimulatorConfig` (⚠ judgments, small).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .ids import id15_from_id18, wrong_check_char

__all__ = ["DATE_STYLES", "Defects", "format_dates", "format_months", "fullwidth", "write_messy"]

DATE_STYLES = ("iso", "slash", "compact", "cn", "dot")
_FW = str.maketrans("0123456789", "０１２３４５６７８９")
# visually or phonetically confusable characters for name typos
_TYPO = {
    "王": "汪",
    "张": "章",
    "李": "理",
    "陈": "程",
    "林": "琳",
    "杨": "扬",
    "华": "化",
    "明": "铭",
    "伟": "玮",
    "军": "君",
    "丽": "莉",
    "静": "婧",
    "杰": "洁",
    "涛": "滔",
    "芳": "方",
    "红": "虹",
    "英": "瑛",
    "浩": "皓",
    "宇": "雨",
    "轩": "萱",
    "欣": "馨",
    "怡": "宜",
    "梓": "子",
    "涵": "寒",
}


def fullwidth(s: str) -> str:
    """Replace ASCII digits with full-width digits (１３８…)."""
    return s.translate(_FW)


def _ymd(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = dates.astype("datetime64[D]")
    y = d.astype("datetime64[Y]").astype(int) + 1970
    m = d.astype("datetime64[M]").astype(int) % 12 + 1
    day = (d - d.astype("datetime64[M]").astype("datetime64[D]")).astype(int) + 1
    return y, m, day


def format_dates(
    dates: np.ndarray, style: str, rng: np.random.Generator | None = None, mixed_rate: float = 0.0
) -> np.ndarray:
    """Format day dates as text in a department's usual style, a share in other styles.

    Parameters
    ----------
    dates : ndarray of datetime64[D]
        NaT becomes the empty string.
    style : str
        One of ``iso`` (2025-03-01), ``slash`` (2025/3/1), ``compact`` (20250301), ``cn`` (2025年3月1日),
        ``dot`` (2025.3.1).
    rng : numpy.random.Generator, optional
    mixed_rate : float
        Share of cells written in a different, randomly chosen style.

    Returns
    -------
    ndarray of object (str)
    """
    dates = np.asarray(dates, dtype="datetime64[D]")
    n = len(dates)
    if n == 0:
        return np.zeros(0, dtype=object)
    nat = np.isnat(dates)
    safe = np.where(nat, np.datetime64("2000-01-01"), dates)
    uniq, inv = np.unique(safe, return_inverse=True)
    y, m, d = _ymd(uniq)
    ys, ms, ds = y.astype(str), m.astype(str), d.astype(str)
    mz, dz = np.char.zfill(ms, 2), np.char.zfill(ds, 2)
    variants = {
        "iso": np.char.add(np.char.add(np.char.add(ys, "-"), np.char.add(mz, "-")), dz),
        "slash": np.char.add(np.char.add(np.char.add(ys, "/"), np.char.add(ms, "/")), ds),
        "compact": np.char.add(np.char.add(ys, mz), dz),
        "cn": np.char.add(np.char.add(np.char.add(ys, "年"), np.char.add(ms, "月")), np.char.add(ds, "日")),
        "dot": np.char.add(np.char.add(np.char.add(ys, "."), np.char.add(ms, ".")), ds),
    }
    variants = {k: v.astype(object)[inv] for k, v in variants.items()}
    out = variants[style].copy()
    if rng is not None and mixed_rate > 0 and n:
        mix = rng.random(n) < mixed_rate
        if mix.any():
            others = [s for s in DATE_STYLES if s != style]
            pick = rng.integers(0, len(others), n)
            for k, s in enumerate(others):
                sel = mix & (pick == k)
                out[sel] = variants[s][sel]
    out[nat] = ""
    return out


def format_months(
    months: np.ndarray, style: str, rng: np.random.Generator | None = None, mixed_rate: float = 0.0
) -> np.ndarray:
    """Format months: ``dash`` 2025-03, ``compact`` 202503, ``cn`` 2025年3月, ``slash`` 2025/03."""
    mo_all = np.asarray(months, dtype="datetime64[M]")
    if len(mo_all) == 0:
        return np.zeros(0, dtype=object)
    mo, inv = np.unique(mo_all, return_inverse=True)
    y = mo.astype("datetime64[Y]").astype(int) + 1970
    m = mo.astype(int) % 12 + 1
    ys, ms = y.astype(str), m.astype(str)
    mz = np.char.zfill(ms, 2)
    variants = {
        "dash": np.char.add(np.char.add(ys, "-"), mz),
        "compact": np.char.add(ys, mz),
        "cn": np.char.add(np.char.add(ys, "年"), np.char.add(ms, "月")),
        "slash": np.char.add(np.char.add(ys, "/"), mz),
    }
    variants = {k: v.astype(object)[inv] for k, v in variants.items()}
    out = variants[style].copy()
    n = len(mo_all)
    if rng is not None and mixed_rate > 0 and n:
        mix = rng.random(n) < mixed_rate
        others = [s for s in variants if s != style]
        pick = rng.integers(0, len(others), n)
        for k, s in enumerate(others):
            sel = mix & (pick == k)
            out[sel] = variants[s][sel]
    return out


class Defects:
    """Collects injected defects and applies them to one table at a time."""

    def __init__(self, rng: np.random.Generator, config) -> None:
        self.rng = rng
        self.cfg = config
        self.rows: list[pd.DataFrame] = []

    # ---- cell-level (before row order is final; rows are located by a marker column)
    def ids(self, df: pd.DataFrame, col: str, births: np.ndarray | None, table: str, adult: bool) -> None:
        """Mess up an ID column in place; marks defect kinds in ``df['_defect_<col>']``.

        Children (``adult=False``) never get 15-digit IDs (DESIGN §11.14).
        """
        rng = self.rng
        cfg = self.cfg
        v = df[col].to_numpy(dtype=object).copy()
        n = len(v)
        kind = np.full(n, "", dtype=object)
        has = np.array([isinstance(x, str) and len(x) == 18 for x in v], dtype=bool)
        if adult and births is not None:
            b = np.asarray(births, dtype="datetime64[D]")
            old = has & ~np.isnat(b) & (b < np.datetime64("2000-01-01"))
            legacy = old & (rng.random(n) < cfg.legacy_id15_rate.get(table, 0.0))
            if legacy.any():
                v[legacy] = id15_from_id18(v[legacy].astype(str))
                kind[legacy] = "LEGACY_ID15"
            has &= ~legacy
        bad = has & (rng.random(n) < cfg.bad_checksum_rate)
        if bad.any():
            v[bad] = wrong_check_char(v[bad].astype(str), rng)
            kind[bad] = "INVALID_ID_CHECKSUM"
        endx = has & ~bad & np.array([isinstance(x, str) and x.endswith("X") for x in v], dtype=bool)
        low = endx & (rng.random(n) < cfg.lowercase_x_rate)
        v[low] = [x[:-1] + "x" for x in v[low]]
        kind[low] = "LOWERCASE_X"
        fw = has & ~bad & (rng.random(n) < cfg.fullwidth_digit_rate)
        v[fw] = [fullwidth(x) for x in v[fw]]
        kind[fw] = np.where(kind[fw] == "", "FULLWIDTH_DIGITS", kind[fw] + "+FULLWIDTH_DIGITS")
        df[col] = v
        df[f"_defect_{col}"] = kind

    def phones(self, df: pd.DataFrame, col: str) -> None:
        rng = self.rng
        v = df[col].to_numpy(dtype=object).copy()
        n = len(v)
        has = np.array([isinstance(x, str) and len(x) == 11 for x in v], dtype=bool)
        fw = has & (rng.random(n) < self.cfg.fullwidth_digit_rate)
        v[fw] = [fullwidth(x) for x in v[fw]]
        dash = has & ~fw & (rng.random(n) < 0.01)
        v[dash] = [f"{x[:3]}-{x[3:7]}-{x[7:]}" for x in v[dash]]
        df[col] = v

    def names(self, df: pd.DataFrame, col: str) -> None:
        rng = self.rng
        v = df[col].to_numpy(dtype=object).copy()
        typo = rng.random(len(v)) < self.cfg.name_typo_rate
        for i in np.flatnonzero(typo):
            x = v[i]
            if isinstance(x, str) and len(x) >= 2:
                j = 1 + int(rng.integers(0, len(x) - 1))
                v[i] = x[:j] + _TYPO.get(x[j], x[j]) + x[j + 1 :]
        df[col] = v

    def blanks(self, df: pd.DataFrame, cols: list[str]) -> None:
        rng = self.rng
        for c in cols:
            m = rng.random(len(df)) < self.cfg.missing_value_rate
            v = df[c].to_numpy(dtype=object).copy()
            v[m] = ""
            df[c] = v

    # ---- row-level, then final bookkeeping
    def finish(self, df: pd.DataFrame, relpath: str, id_cols: list[str], row_offset: int = 0) -> pd.DataFrame:
        """Duplicate ~0.5% of rows (next to the original), log defects with final row numbers,
        and drop the marker columns. Returns the table ready to write.

        ``row_offset`` is the number of data rows already in the file (earlier shards of a sharded
        city append to it), so ``source_row`` is the row in the combined file (header = row 1)."""
        rng = self.rng
        n = len(df)
        dup = rng.random(n) < self.cfg.duplicate_row_rate
        reps = np.where(dup, 2, 1)
        order = np.repeat(np.arange(n), reps)
        is_copy = np.zeros(len(order), dtype=bool)
        is_copy[1:] = order[1:] == order[:-1]
        out = df.iloc[order].reset_index(drop=True)
        source_row = np.arange(len(out)) + 2 + row_offset  # header is row/line 1
        logs = []
        if is_copy.any():
            logs.append(
                pd.DataFrame(
                    {
                        "file": relpath,
                        "source_row": source_row[is_copy],
                        "column": "",
                        "defect": "DUPLICATE_ROW",
                    }
                )
            )
        for c in id_cols:
            k = out[f"_defect_{c}"].to_numpy(dtype=object)
            m = k != ""
            if m.any():
                logs.append(
                    pd.DataFrame({"file": relpath, "source_row": source_row[m], "column": c, "defect": k[m]})
                )
        self.rows.extend(logs)
        return out.drop(columns=[c for c in out.columns if c.startswith("_defect_")])

    def frame(self) -> pd.DataFrame:
        if not self.rows:
            return pd.DataFrame(columns=["file", "source_row", "column", "defect"])
        return pd.concat(self.rows, ignore_index=True)


# =================================================================================== messy variants
# ``write_messy(out_dir, messy=True)`` writes additional, deliberately messy variants of departmental
# exports into a SEPARATE folder (never the raw zone the pipeline reads by default): the kinds of input
# issue 7 lists (encodings, title rows, merged headers, 合计 rows, several sheets, hidden columns, IDs
# stored as numbers, Excel serial dates, full-width digits, spaces in IDs, lower-case x, 15-digit IDs,
# bad check characters, impossible birth dates, date spellings, amounts with 元, blank-looking cells,
# renamed headers, missing required columns, extra columns, empty and header-only files, duplicated
# rows, conflicting records across departments, very long text cells). Each file is small (a dozen
# synthetic people) and the same seed gives byte-identical files. ``messy_manifest.json`` lists, per
# file, the table it holds and the defects injected (kind → source rows), like injected_defects.

import datetime as _dt  # noqa: E402
import io as _io  # noqa: E402
import json as _json  # noqa: E402
import zipfile as _zipfile  # noqa: E402
from pathlib import Path as _Path  # noqa: E402

from .ids import make_id_numbers as _make_ids  # noqa: E402
from .ids import make_phones as _make_phones  # noqa: E402

_FIXED = _dt.datetime(2025, 6, 28, 12, 0, 0)
_SURNAMES = np.array(list("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"), dtype=object)
_GIVEN = np.array(["浩然", "子涵", "欣怡", "梓轩", "雨桐", "宇航", "诗琪", "俊杰", "思远", "佳怡", "明", "磊", "静"],
                  dtype=object)


def _people(rng: np.random.Generator, n: int, years: tuple[int, int]) -> pd.DataFrame:
    birth = (np.datetime64(f"{years[0]}-01-01") + rng.integers(0, (years[1] - years[0]) * 365, n)).astype(
        "datetime64[D]"
    )
    male = rng.random(n) < 0.5
    area = rng.choice(np.array(["330106", "330110", "330113", "330127", "330182"]), n)
    ids = _make_ids(rng, area, birth, male)
    names = np.char.add(rng.choice(_SURNAMES, n).astype(str), rng.choice(_GIVEN, n).astype(str)).astype(object)
    return pd.DataFrame({"id": ids, "name": names, "birth": birth, "male": male, "phone": _make_phones(rng, n)})


def _xlsx_bytes(sheets: list[dict]) -> bytes:
    """sheets: [{title, rows (list of lists of values), merges, hidden_cols, text_cols, number_cols, hidden}]."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for sh in sheets:
        ws = wb.create_sheet(sh["title"])
        for r in sh["rows"]:
            ws.append(list(r))
        for ref in sh.get("merges", ()):
            ws.merge_cells(ref)
        for col in sh.get("hidden_cols", ()):
            ws.column_dimensions[col].hidden = True
        for col in sh.get("text_cols", ()):
            for cell in ws[col]:
                cell.number_format = "@"
        for col in sh.get("number_cols", ()):
            for cell in ws[col]:
                if isinstance(cell.value, (int, float)):
                    cell.number_format = "0"
        if sh.get("hidden"):
            ws.sheet_state = "hidden"
    wb.properties.created = _FIXED
    wb.properties.modified = _FIXED
    wb.properties.creator = "humiao.simulator"
    buf = _io.BytesIO()
    wb.save(buf)
    src = _zipfile.ZipFile(_io.BytesIO(buf.getvalue()))
    out = _io.BytesIO()
    with _zipfile.ZipFile(out, "w", compression=_zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                import re as _re

                data = _re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                               rb"\g<1>2025-06-28T12:00:00Z\g<2>", data)
            zi = _zipfile.ZipInfo(info.filename, date_time=(2025, 6, 28, 0, 0, 0))
            zi.compress_type = _zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    return out.getvalue()


def _csv_text(rows: list[list]) -> str:
    import csv as _csv

    buf = _io.StringIO()
    w = _csv.writer(buf, lineterminator="\n")
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    return buf.getvalue()


def write_messy(out_dir, *, seed: int = 7, messy: bool = True, people: int = 12) -> dict:
    """Write messy variant exports into ``out_dir`` (a folder separate from the raw zone).

    Parameters
    ----------
    out_dir : Path
        Created if needed; the variants and ``messy_manifest.json``.
    seed : int
        Same seed → byte-identical files.
    messy : bool
        False writes nothing (the option's off state, for a configuration flag).
    people : int
        Synthetic people per file (≥ 8).

    Returns
    -------
    dict
        The manifest: ``{"seed", "files": {name: {"table", "defects": {kind: [source rows]}}}}``.
    """
    if not messy:
        return {"seed": int(seed), "files": {}}
    out = _Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([int(seed), 7007])
    n = max(8, int(people))
    kids = _people(rng, n, (2010, 2022))
    adults = _people(rng, n, (1955, 1990))
    files: dict[str, dict] = {}

    def put(name: str, data: bytes, table: str, defects: dict | None = None) -> None:
        (out / name).write_bytes(data)
        files[name] = {"table": table, "defects": {k: sorted(int(x) for x in v) for k, v in (defects or {}).items()}}

    def ymd(d) -> str:
        d = pd.Timestamp(d)
        return f"{d.year}-{d.month:02d}-{d.day:02d}"

    # --- civil_affairs/child_registry rows (contract header order)
    reg_head = ["登记编号", "儿童姓名", "儿童公民身份号码", "儿童类别", "监护人姓名", "监护人公民身份号码", "与儿童关系",
                "监护人联系电话", "家庭住址", "区(县、市)", "乡镇(街道)", "村(社区)", "登记日期", "注销日期", "备注"]
    cats = ["留守儿童", "事实无人抚养儿童", "低保家庭儿童", "孤儿"]

    def reg_row(i: int) -> list:
        return [f"MZ{seed:02d}{i:04d}", kids.name[i], kids.id[i], cats[i % 4], adults.name[i], adults.id[i],
                "祖母", adults.phone[i], f"杭州市西湖区文三路{10 + i}号", "西湖区", "文新街道", "文新社区",
                f"2025年{1 + i % 6}月{1 + i}日", "", "无"]

    # 1. UTF-8 with BOM, renamed file, synonym headers (身份证号 for the child's ID)
    head = list(reg_head)
    head[2] = "身份证号"
    rows = [head] + [reg_row(i) for i in range(n)]
    put("民政_困境儿童台账_导出(BOM).csv", ("\ufeff" + _csv_text(rows)).encode("utf-8"), "child_registry")

    # 2. GBK, title line above the header, 15-digit guardian IDs (born before 2000)
    rows = [["XX区困境儿童信息台账（截至2025年6月）"] + [""] * 14, reg_head]
    legacy = []
    for i in range(n):
        r = reg_row(i)
        if i % 3 == 0:
            r[5] = id15_from_id18(np.array([adults.id[i]]))[0]
            legacy.append(i + 3)
        rows.append(r)
    put("困境儿童台账_GBK.csv", _csv_text(rows).encode("gbk"), "child_registry", {"ID_LEGACY_15": legacy})

    # 3. GB18030 with a name outside GBK (䶮), amounts with 元 and thousands separators
    sub_head = ["户主姓名", "户主公民身份号码", "家庭人口数", "保障类型", "月保障金额(元)", "开始日期", "终止日期",
                "区(县、市)", "乡镇(街道)", "村(社区)"]
    rows = [sub_head]
    for i in range(n):
        name = "王䶮" if i == 0 else adults.name[i]
        amount = ["1,200.50元", "980元", "￥1,050", "1200"][i % 4]
        rows.append([name, adults.id[i], f"{2 + i % 4}人", ["低保", "低保边缘"][i % 2], amount,
                     ["2025年3月1日", "2025.3.1", "20250301", "2025/3/1"][i % 4], "", "淳安县", "千岛湖镇", "青溪村"])
    put("低保名册_GB18030.csv", _csv_text(rows).encode("gb18030"), "subsistence_allowance")

    # 4. xlsx: two title rows, merged two-row header, blank spacer, 合计 row, hidden column
    top = ["登记编号", "儿童信息", "", "儿童类别", "监护人信息", "", "", "区(县、市)", "乡镇(街道)", "村(社区)", "登记日期"]
    sub = ["", "姓名", "公民身份号码", "", "姓名", "公民身份号码", "与儿童关系", "", "", "", ""]
    rows = [["XX区困境儿童信息台账（截至2025年6月）"], ["填报单位：XX区民政局"], top, sub]
    rows += [[f"MZ{i:04d}", kids.name[i], kids.id[i], cats[i % 4], adults.name[i], adults.id[i], "祖母",
              "西湖区", "文新街道", "文新社区", _dt.datetime(2025, 3, 1 + i)] for i in range(n)]
    rows += [["合计", f"{n}人"]]
    merges = ["A1:K1", "A2:K2", "B3:C3", "E3:G3", "A3:A4", "D3:D4", "H3:H4", "I3:I4", "J3:J4", "K3:K4"]
    put("台账_合并表头_合计行.xlsx",
        _xlsx_bytes([{"title": "台账", "rows": rows, "merges": merges, "hidden_cols": ["G"], "text_cols": ["C", "F"]}]),
        "child_registry")

    # 5. xlsx: IDs typed as numbers (precision lost) in rows 3 and 5
    rows = [reg_head]
    lost = []
    for i in range(n):
        r = reg_row(i)
        if i in (1, 3):
            r[2] = float(kids.id[i][:15] + "000")
            lost.append(i + 2)
        rows.append(r)
    put("台账_身份证数字格式.xlsx", _xlsx_bytes([{"title": "Sheet1", "rows": rows, "text_cols": [], "number_cols": ["C"]}]),
        "child_registry", {"ID_PRECISION_LOST": lost})

    # 6. xlsx: Excel serial dates without date style; several sheets incl. a hidden lookup sheet
    chk_head = ["公民身份号码", "体检日期", "身高(cm)", "体重(kg)", "是否按时"]
    serial = (np.datetime64("2025-03-01") - np.datetime64("1899-12-30")).astype(int)
    rows1 = [chk_head] + [[kids.id[i], int(serial) + i, 100 + i, 20.5, "是"] for i in range(n // 2)]
    rows2 = [chk_head] + [[kids.id[i], int(serial) + i + 0.5, 100 + i, 21, "否"] for i in range(n // 2, n)]
    lookup = [["是否按时"], ["是"], ["否"]]
    put("体检_多工作表_序列号日期.xlsx", _xlsx_bytes([
        {"title": "上半年", "rows": rows1, "text_cols": ["A"]},
        {"title": "下半年", "rows": rows2, "text_cols": ["A"]},
        {"title": "下拉选项", "rows": lookup, "hidden": True},
    ]), "child_health_checks")

    # 7. values: full-width digits, spaces inside IDs/phones, lower-case x, blank-looking cells
    stu_head = ["学籍号", "姓名", "公民身份号码", "学校", "年级", "是否住校", "监护人姓名", "监护人电话", "学籍状态",
                "状态变动日期", "入学日期"]
    rows = [stu_head]
    kinds: dict[str, list] = {"FULLWIDTH_DIGITS": [], "SPACES": [], "LOWERCASE_X": []}
    for i in range(n):
        sid = kids.id[i]
        if i % 3 == 0:
            sid = fullwidth(sid)
            kinds["FULLWIDTH_DIGITS"].append(i + 2)
        elif i % 3 == 1:
            sid = f"{sid[:6]} {sid[6:14]} {sid[14:]}"
            kinds["SPACES"].append(i + 2)
        if sid.endswith("X"):
            sid = sid[:-1] + "x"
            kinds["LOWERCASE_X"].append(i + 2)
        phone = adults.phone[i]
        phone = f"{phone[:3]} {phone[3:7]} {phone[7:]}" if i % 2 else fullwidth(phone)
        rows.append(["G" + kids.id[i], kids.name[i], sid, "文新小学", "三年级", ["是", "否", "无", "/"][i % 4],
                     adults.name[i], phone, "在读", "2025-02-17", ["\u3000", "-", "2019-09-01", ""][i % 4]])
    put("学籍_全角_空格_小写x.csv", _csv_text(rows).encode("utf-8"), "student_enrollment", kinds)

    # 8. invalid check characters and impossible birth dates (household registry, GBK)
    hh_head = ["姓名", "公民身份号码", "性别", "出生日期", "户号", "与户主关系", "住址", "户口性质", "区(县、市)",
               "乡镇(街道)", "村(社区)", "登记日期", "迁出日期", "注销日期", "注销原因"]
    rows = [hh_head]
    bad_cs, bad_birth = [], []
    for i in range(n):
        pid = kids.id[i]
        if i == 2:
            pid = wrong_check_char(np.array([pid]), rng)[0]
            bad_cs.append(i + 2)
        if i == 4:
            body = pid[:6] + "20190229" + pid[14:17]  # 2019 is no leap year
            from .ids import check_char as _cc

            pid = body + _cc(body)
            bad_birth.append(i + 2)
        rows.append([kids.name[i], pid, "男" if kids.male[i] else "女", ymd(kids.birth[i]), f"33010600{i:04d}", "子",
                     f"杭州市西湖区文三路{10 + i}号", "非农业家庭户口", "西湖区", "文新街道", "文新社区", "2020-01-01",
                     "", "", ""])
    put("户籍_校验位_出生日期.csv", _csv_text(rows).encode("gbk"), "household_registry",
        {"INVALID_ID_CHECKSUM": bad_cs, "INVALID_BIRTH_DATE": bad_birth})

    # 9. conflicting records: same children as file 8, birth dates that disagree with the ID (rows 2, 3)
    rows = [hh_head]
    conflict = []
    for i in range(n):
        birth = ymd(kids.birth[i])
        if i in (0, 1):
            birth = ymd(kids.birth[i] + np.timedelta64(400, "D"))
            conflict.append(i + 2)
        rows.append([kids.name[i], kids.id[i], "男" if kids.male[i] else "女", birth, f"33010600{i:04d}", "子",
                     f"杭州市西湖区文三路{10 + i}号", "非农业家庭户口", "西湖区", "文新街道", "文新社区", "2021-01-01",
                     "", "", ""])
    put("户籍_出生日期冲突.csv", _csv_text(rows).encode("utf-8"), "household_registry", {"CONFLICT_BIRTH_DATE": conflict})

    # 10. date spellings, one ambiguous (2025111) and one impossible (2025年2月30日) → quarantined
    inj_head = ["公民身份号码", "就诊日期", "伤害类型", "就诊医院"]
    spell = ["2025年3月1日", "2025.3.1", "20250301", "2025/3/1", "2025-03-01", "2025年03月01日"]
    rows = [inj_head]
    for i in range(n):
        d = spell[i % len(spell)]
        if i == 6:
            d = "2025111"
        if i == 7:
            d = "2025年2月30日"
        rows.append([kids.id[i], d, "跌倒", "区人民医院"])
    put("伤害就诊_日期写法.csv", _csv_text(rows).encode("utf-8"), "injury_visits",
        {"DATE_AMBIGUOUS": [8], "DATE_INVALID": [9]})

    # 11. missing required column (就诊日期 dropped) → the file fails with a clear error
    rows = [["公民身份号码", "伤害类型", "就诊医院"]] + [[kids.id[i], "跌倒", "区人民医院"] for i in range(n)]
    put("伤害就诊_缺列.csv", _csv_text(rows).encode("utf-8"), "injury_visits", {"REQUIRED_COLUMN_MISSING": []})

    # 12. extra columns (one holding phone numbers) → dropped, reported, scanned
    rows = [["公民身份号码", "入院日期", "出院日期", "科室", "联系人电话", "床位号"]]
    rows += [[adults.id[i], "2025-04-01", "2025-04-09", "心内科", adults.phone[i], f"{i + 1}床"] for i in range(n)]
    put("住院_多余列.csv", _csv_text(rows).encode("utf-8"), "inpatient_admissions", {"EXTRA_COLUMNS": []})

    # 13. empty file and 14. header-only file
    put("空文件.csv", b"", "")
    put("缺勤_仅表头.csv", _csv_text([["学籍号", "月份", "缺勤天数", "应出勤天数"]]).encode("utf-8"), "attendance")

    # 15. duplicated rows (each of the first three rows twice)
    rows = [["学籍号", "月份", "缺勤天数", "应出勤天数"]]
    dups = []
    for i in range(n):
        rows.append(["G" + kids.id[i], "2025-03", f"{i % 5}天", "22"])
        if i < 3:
            rows.append(["G" + kids.id[i], "2025-03", f"{i % 5}天", "22"])
            dups.append(len(rows))
    put("缺勤_重复行.csv", _csv_text(rows).encode("utf-8"), "attendance", {"DUPLICATE_ROW": dups})

    # 16. a very long text cell (visit note of 6,000 characters) → TEXT_TOO_LONG
    vr_head = ["走访编号", "走访日期", "儿童公民身份号码", "儿童姓名", "走访人", "走访方式", "监护评估", "走访情况", "录入日期"]
    rows = [vr_head]
    for i in range(n):
        note = "入户走访，孩子由祖母照看，生活正常。" if i != 5 else "入户走访，情况正常。" * 600
        rows.append([f"ZF{seed:02d}{i:04d}", "2025-05-06", kids.id[i], kids.name[i], "周老师", "入户走访", "良好", note,
                     "2025-05-07"])
    put("走访记录_超长文本.csv", _csv_text(rows).encode("utf-8"), "visit_records", {"TEXT_TOO_LONG": [7]})

    manifest = {"seed": int(seed), "people": n, "files": dict(sorted(files.items()))}
    (out / "messy_manifest.json").write_text(_json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                             encoding="utf-8")
    return manifest
