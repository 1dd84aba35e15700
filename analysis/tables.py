"""The fixed columns of a test-result table shared by every test in the report."""

from __future__ import annotations

import math

import pandas as pd

TEST_COLUMNS: tuple[str, ...] = (
    "test",
    "comparison",
    "statistic_name",
    "statistic",
    "df",
    "p_value",
    "p_adjusted",
    "effect_size_name",
    "effect_size",
    "ci_low",
    "ci_high",
    "n",
    "unit",
    "note",
)


def test_row(test: str, comparison: str, **fields: object) -> dict[str, object]:
    """Build one row of a test table; absent numeric fields are NaN, absent text is empty."""
    unknown = set(fields) - set(TEST_COLUMNS)
    if unknown:
        raise ValueError(f"Unknown test-table field(s) {sorted(unknown)}; use {TEST_COLUMNS}.")
    row: dict[str, object] = {"test": test, "comparison": comparison}
    for name in TEST_COLUMNS[2:]:
        text = name in ("statistic_name", "effect_size_name", "unit", "note")
        row[name] = fields.get(name, "" if text else math.nan)
    return row


def test_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    """Assemble rows from :func:`test_row` into a table with the fixed column order."""
    return pd.DataFrame(rows, columns=list(TEST_COLUMNS))
