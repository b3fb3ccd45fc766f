"""Read the data contracts (``contracts/*.yaml`` at the repository root) for headers, files, encodings.

The simulator writes exactly the Chinese ``header`` of every column, in contract order, so the exports
never drift from the contracts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = ["CONTRACTS_DIR", "TableContract", "load_contracts"]

CONTRACTS_DIR = Path(__file__).resolve().parents[1] / "contracts"


@dataclass(frozen=True)
class TableContract:
    """One table of a department's contract.

    Attributes
    ----------
    department, table : str
    file : str
        File name inside ``<out_dir>/<department>/``.
    encoding : str
        ``gbk`` or ``utf-8``.
    names, headers : tuple of str
        English column names and Chinese headers, in contract order.
    """

    department: str
    table: str
    file: str
    encoding: str
    names: tuple[str, ...]
    headers: tuple[str, ...]

    @property
    def relpath(self) -> str:
        return f"{self.department}/{self.file}"

    def header_of(self, name: str) -> str:
        return self.headers[self.names.index(name)]


def load_contracts(contracts_dir: Path | None = None) -> dict[str, TableContract]:
    """All tables of all contracts, keyed by table name.

    Parameters
    ----------
    contracts_dir : Path, optional
        Defaults to ``<repo>/contracts``.

    Returns
    -------
    dict of str to TableContract

    Raises
    ------
    FileNotFoundError
        When the folder holds no contract.
    """
    d = Path(contracts_dir) if contracts_dir else CONTRACTS_DIR
    files = sorted(d.glob("*.yaml"))
    if not files:
        raise FileNotFoundError(f"no contracts found in {d}")
    out: dict[str, TableContract] = {}
    for f in files:
        spec = yaml.safe_load(f.read_text(encoding="utf-8"))
        dept = spec["department"]
        for tname, t in spec["tables"].items():
            cols = t["columns"]
            out[tname] = TableContract(
                department=dept,
                table=tname,
                file=t["file"],
                encoding=str(t.get("encoding", "utf-8")).lower(),
                names=tuple(c["name"] for c in cols),
                headers=tuple(c["header"] for c in cols),
            )
    return out
