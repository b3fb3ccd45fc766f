"""Shared helpers for the privacy text tests (synthetic, checksum-valid identifiers)."""

from __future__ import annotations

from pathlib import Path

from privacy.identifiers import luhn_valid, ric_check_char

CASES = Path(__file__).resolve().parents[3] / "shared" / "cases" / "public-reports"
if not CASES.exists():  # CI clones the repo beside a copy of shared/
    CASES = Path(__file__).resolve().parents[2].parent / "shared" / "cases" / "public-reports"


def make_ric(first17: str) -> str:
    """A checksum-valid 18-character resident ID from its first 17 digits."""
    return first17 + ric_check_char(first17)


def ric_that_passes_luhn() -> str:
    """A valid resident ID whose 18 digits also pass the Luhn check (1 in 10 do)."""
    for seq in range(1000):
        rid = make_ric(f"33010620150101{seq:03d}")
        if rid.isdigit() and luhn_valid(rid):
            return rid
    raise AssertionError("no Luhn-valid ID found")


def luhn_complete(prefix: str) -> str:
    """``prefix`` + the Luhn check digit."""
    for d in "0123456789":
        if luhn_valid(prefix + d):
            return prefix + d
    raise AssertionError(prefix)
