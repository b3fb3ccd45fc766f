"""The only reader of the simulator's ground truth (DESIGN.md §3, §11.4; interfaces §1).

``<truth_dir>/child_month_truth.parquet`` is keyed by the RAW resident ID. It is opened here and
nowhere else (a test proves no other code path reads it); the ID is normalized with
:func:`privacy.identifiers.validate_ric` (GB 11643-1999; 15-digit forms upgraded) and replaced by its
person token on read, so evaluation sees ``child_token`` and never a raw ID. Rows whose ID does not
validate are dropped and counted (a simulator bug, reported, never passed on raw).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from privacy.identifiers import validate_ric
from privacy.tokens import Pseudonymizer

__all__ = ["TRUTH_FILE", "TruthError", "load_truth"]

log = logging.getLogger(__name__)
TRUTH_FILE = "child_month_truth.parquet"


class TruthError(ValueError):
    """The ground-truth file is missing or lacks its ID column."""


def load_truth(truth_dir: Path, pseudonymizer: Pseudonymizer, *, file: str = TRUTH_FILE) -> pd.DataFrame:
    """Load ground truth with the resident ID replaced by ``child_token``.

    Parameters
    ----------
    truth_dir
        The simulator's truth folder (outside the raw zone).
    pseudonymizer
        The same keyed pseudonymizer as the ingest, so tokens join.
    file
        File name inside ``truth_dir``.

    Returns
    -------
    pandas.DataFrame
        ``child_token`` first (categorical: one category per child), then every other truth column
        unchanged (``month`` as datetime64).
        No ``id_number`` column. ``df.attrs["dropped_invalid_ids"]`` counts rows whose ID did not
        validate.

    Raises
    ------
    TruthError
        Missing file or no ``id_number`` column.
    """
    path = Path(truth_dir) / file
    if not path.exists():
        raise TruthError(f"ground truth {file} not found in {truth_dir}")
    if "id_number" not in pq.read_schema(path).names:
        raise TruthError(f"{file}: no id_number column")
    # dictionary-encoded on read: one Python string per child, not one per child-month row (a 2M city's
    # truth has 58.7 M rows; issue 8)
    df = pq.read_table(path, read_dictionary=["id_number"]).to_pandas()
    ids = df["id_number"]
    if not isinstance(ids.dtype, pd.CategoricalDtype):
        ids = ids.astype("category")
    codes, uniques = ids.cat.codes.to_numpy(), ids.cat.categories
    norm = [validate_ric(u).normalized if isinstance(u, str) else None for u in uniques]
    tok = pd.Series([pseudonymizer.token("P", n) if n else None for n in norm], dtype=object)
    # one category per child (two written forms of one ID, 15 and 18 digits, give one token): 58.7 M
    # str cells at 2M children were 1.4 GB, the categorical's codes are 0.23 GB (issue 8)
    tok_codes, tokens_u = pd.factorize(tok, use_na_sentinel=True)
    row_codes = np.append(tok_codes, -1)[codes].astype(np.int32)
    tokens = pd.Categorical.from_codes(row_codes, categories=pd.Index(tokens_u, dtype="str"))
    bad = pd.Series(row_codes < 0)
    out = df.drop(columns=["id_number"])
    out.insert(0, "child_token", tokens)
    if bad.any():
        log.warning("%s: %d rows with an invalid resident ID dropped", file, int(bad.sum()))
        out = out[~bad.to_numpy()].reset_index(drop=True)
    out.attrs["dropped_invalid_ids"] = int(bad.sum())
    return out
