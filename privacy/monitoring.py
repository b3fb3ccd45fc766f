"""Monitoring helpers on pseudonymized data and ingest reports (issue 7 "Operations").

* :func:`psi` — population stability index of one column between a reference and a current sample
  (numeric: quantile bins of the reference; categorical: categories, with the missing values as a
  category of their own), and :func:`psi_table` for every column of two snapshots of a table;
* :func:`quality_trends` — data-quality figures per department and run from a series of
  ``ingest_report.json`` files (quarantine share, duplicate share, reason codes, failed/missing
  tables), flagged against thresholds given as arguments.

Both work on pseudonymized frames and on reports (which carry no raw values); nothing here reads the
raw zone. Thresholds are arguments (the caller takes them from configuration); the usual PSI reading
is < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 major shift.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["PsiResult", "psi", "psi_table", "quality_trends"]

EPS = 1e-4
MISSING = "<missing>"


@dataclass(frozen=True)
class PsiResult:
    """PSI of one column; ``bins`` are (label, reference share, current share)."""

    column: str
    kind: str  # numeric | categorical
    psi: float
    bins: tuple[tuple[str, float, float], ...]
    flagged: bool

    def to_dict(self) -> dict:
        return {
            "column": self.column,
            "kind": self.kind,
            "psi": round(self.psi, 6),
            "flagged": self.flagged,
            "bins": [{"bin": b, "reference": round(r, 6), "current": round(c, 6)} for b, r, c in self.bins],
        }


def _psi_from_shares(ref: np.ndarray, cur: np.ndarray, eps: float = EPS) -> float:
    ref = np.clip(ref, eps, None)
    cur = np.clip(cur, eps, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def _is_numeric(s: pd.Series) -> bool:
    return (
        pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
    ) or pd.api.types.is_datetime64_any_dtype(s)


def psi(
    reference: pd.Series,
    current: pd.Series,
    *,
    bins: int = 10,
    kind: str | None = None,
    threshold: float = 0.25,
    column: str | None = None,
) -> PsiResult:
    """Population stability index of ``current`` against ``reference``.

    Parameters
    ----------
    reference, current
        The two samples of one column (datetimes are compared as numbers).
    bins
        Numeric columns: quantile bins of the reference (ties merged), open-ended at both ends.
    kind
        ``numeric`` or ``categorical``; default from the dtype (bool and object → categorical).
    threshold
        ``flagged`` when PSI > threshold.

    Returns
    -------
    PsiResult
        Missing values form their own bin in both kinds.
    """
    name = column or str(reference.name or current.name or "")
    kind = kind or ("numeric" if _is_numeric(reference) else "categorical")
    if kind == "numeric":
        r = pd.to_numeric(reference.astype("int64") if pd.api.types.is_datetime64_any_dtype(reference)
                          else reference, errors="coerce").astype(float)
        c = pd.to_numeric(current.astype("int64") if pd.api.types.is_datetime64_any_dtype(current)
                          else current, errors="coerce").astype(float)
        if pd.api.types.is_datetime64_any_dtype(reference):
            r = r.where(reference.notna())
        if pd.api.types.is_datetime64_any_dtype(current):
            c = c.where(current.notna())
        qs = np.unique(np.nanquantile(r.dropna(), np.linspace(0, 1, bins + 1)[1:-1])) if r.notna().any() else []
        edges = np.concatenate([[-np.inf], qs, [np.inf]])
        labels = [f"({edges[i]:.6g}, {edges[i + 1]:.6g}]" for i in range(len(edges) - 1)] + [MISSING]

        def shares(x: pd.Series) -> np.ndarray:
            n = len(x)
            if n == 0:
                return np.zeros(len(labels))
            idx = np.searchsorted(edges[1:-1], x.dropna().to_numpy(), side="left")
            counts = np.bincount(idx, minlength=len(edges) - 1).astype(float)
            return np.append(counts, x.isna().sum()) / n

        rs, cs = shares(r), shares(c)
    else:
        r = reference.astype(object).where(reference.notna(), MISSING).astype(str)
        c = current.astype(object).where(current.notna(), MISSING).astype(str)
        labels = sorted(set(r.unique()) | set(c.unique()))
        rs = r.value_counts(normalize=True).reindex(labels, fill_value=0).to_numpy(dtype=float)
        cs = c.value_counts(normalize=True).reindex(labels, fill_value=0).to_numpy(dtype=float)
    value = _psi_from_shares(rs, cs) if len(reference) and len(current) else float("nan")
    return PsiResult(
        name, kind, value, tuple(zip(map(str, labels), rs.tolist(), cs.tolist(), strict=True)),
        bool(value > threshold),
    )


def psi_table(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    exclude: Iterable[str] = ("source_file", "source_row"),
    bins: int = 10,
    threshold: float = 0.25,
    max_categories: int = 50,
) -> pd.DataFrame:
    """PSI of every shared column of two pseudonymized snapshots of one table.

    Token columns (``*_token``) and free-text/high-cardinality string columns (more than
    ``max_categories`` distinct values in the reference) are skipped: PSI on identifiers is
    meaningless.

    Returns
    -------
    DataFrame
        ``column, kind, psi, flagged`` sorted by PSI, descending.
    """
    cols = list(columns) if columns is not None else [
        c for c in reference.columns if c in current.columns and c not in set(exclude) and not c.endswith("_token")
    ]
    rows = []
    for c in cols:
        r, cur = reference[c], current[c]
        if not _is_numeric(r) and r.nunique(dropna=True) > max_categories:
            continue
        res = psi(r, cur, bins=bins, threshold=threshold, column=c)
        rows.append({"column": c, "kind": res.kind, "psi": res.psi, "flagged": res.flagged})
    out = pd.DataFrame(rows, columns=["column", "kind", "psi", "flagged"])
    return out.sort_values("psi", ascending=False, kind="stable").reset_index(drop=True)


def _load(report: Mapping | str | Path) -> dict:
    if isinstance(report, Mapping):
        return dict(report)
    return json.loads(Path(report).read_text(encoding="utf-8"))


def quality_trends(
    reports: Sequence[Mapping | str | Path],
    departments: Mapping[str, str],
    *,
    labels: Sequence[str] | None = None,
    max_quarantine_share: float = 0.05,
    max_duplicate_share: float = 0.05,
    max_increase: float = 0.02,
) -> pd.DataFrame:
    """Data-quality trends per department over ingest runs.

    Parameters
    ----------
    reports
        ``ingest_report.json`` contents or paths, oldest first.
    departments
        Table name → department (``{name: t.department for name, t in contracts.items()}``).
    labels
        One label per report (default: its ``as_of``, else its position).
    max_quarantine_share, max_duplicate_share
        Flag a department-run above these shares.
    max_increase
        Flag a department whose quarantine share rose by more than this since the previous run.

    Returns
    -------
    DataFrame
        One row per (run, department): ``run, department, tables, tables_failed, tables_missing,
        rows_read, rows_passed, rows_quarantined, rows_duplicate, quarantine_share, duplicate_share,
        quarantine_share_change, top_reason, flag`` (``flag`` names the breached thresholds, "" if none).
    """
    rows = []
    for i, rep in enumerate(reports):
        d = _load(rep)
        run = labels[i] if labels is not None else (d.get("as_of") or str(i))
        agg: dict[str, dict] = {}
        for name, t in (d.get("tables") or {}).items():
            dep = departments.get(name, "unknown")
            a = agg.setdefault(dep, {"tables": 0, "tables_failed": 0, "tables_missing": 0, "rows_read": 0,
                                     "rows_passed": 0, "rows_quarantined": 0, "rows_duplicate": 0, "reasons": {}})
            a["tables"] += 1
            a["tables_failed"] += t.get("status") == "failed"
            a["tables_missing"] += t.get("status") == "missing"
            for k in ("rows_read", "rows_passed", "rows_quarantined", "rows_duplicate"):
                a[k] += int(t.get(k, 0))
            for k, v in (t.get("reasons") or {}).items():
                if k != "DUPLICATE_ROW":
                    a["reasons"][k] = a["reasons"].get(k, 0) + int(v)
        for dep, a in sorted(agg.items()):
            read = a["rows_read"]
            reasons = a.pop("reasons")
            rows.append({
                "run": run, "department": dep, **a,
                "quarantine_share": a["rows_quarantined"] / read if read else 0.0,
                "duplicate_share": a["rows_duplicate"] / read if read else 0.0,
                "top_reason": max(reasons, key=reasons.get) if reasons else "",
            })
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["quarantine_share_change"] = out.groupby("department")["quarantine_share"].diff().fillna(0.0)
    flags = []
    for r in out.itertuples(index=False):
        f = []
        if r.quarantine_share > max_quarantine_share:
            f.append("quarantine_share")
        if r.duplicate_share > max_duplicate_share:
            f.append("duplicate_share")
        if r.quarantine_share_change > max_increase:
            f.append("quarantine_rising")
        if r.tables_failed:
            f.append("tables_failed")
        if r.tables_missing:
            f.append("tables_missing")
        flags.append(",".join(f))
    out["flag"] = flags
    return out
