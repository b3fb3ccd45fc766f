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

__all__ = ["DATE_STYLES", "Defects", "format_dates", "format_months", "fullwidth"]

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
    def finish(self, df: pd.DataFrame, relpath: str, id_cols: list[str]) -> pd.DataFrame:
        """Duplicate ~0.5% of rows (next to the original), log defects with final row numbers,
        and drop the marker columns. Returns the table ready to write."""
        rng = self.rng
        n = len(df)
        dup = rng.random(n) < self.cfg.duplicate_row_rate
        reps = np.where(dup, 2, 1)
        order = np.repeat(np.arange(n), reps)
        is_copy = np.zeros(len(order), dtype=bool)
        is_copy[1:] = order[1:] == order[:-1]
        out = df.iloc[order].reset_index(drop=True)
        source_row = np.arange(len(out)) + 2  # header is row/line 1
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
