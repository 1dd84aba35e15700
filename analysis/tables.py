"""The fixed columns of a test-result table shared by every test in the report."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

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


def wald_table(
    terms: list[str],
    estimates: np.ndarray,
    se: np.ndarray,
    confidence_level: float,
    kinds: list[str] | None = None,
) -> pd.DataFrame:
    """Wald z-tests and normal-theory intervals for model coefficients.

    Parameters
    ----------
    terms, estimates, se
        Coefficient names, estimates and standard errors, aligned.
    confidence_level
        Coverage of ``ci_low``/``ci_high``.
    kinds
        Optional coefficient kinds (threshold, location, ...), added as a ``kind`` column.

    Returns
    -------
    pandas.DataFrame
        Columns ``term, [kind], estimate, se, z, p_value, ci_low, ci_high``.
    """
    zq = stats.norm.ppf(0.5 + confidence_level / 2)
    # A zero standard error (a fixed or degenerate term) gives an infinite z, not a warning.
    with np.errstate(divide="ignore", invalid="ignore"):
        z = estimates / se
    columns: dict[str, object] = {"term": terms}
    if kinds is not None:
        columns["kind"] = kinds
    columns.update(
        estimate=estimates,
        se=se,
        z=z,
        p_value=2 * stats.norm.sf(np.abs(z)),
        ci_low=estimates - zq * se,
        ci_high=estimates + zq * se,
    )
    return pd.DataFrame(columns)


DEGENERATE_NOTE = (
    "degenerate: the effect size sits at its bound or its interval has no width, so the "
    "interval says nothing about uncertainty"
)
# Effect sizes bounded by 1 in absolute value (rank-biserial r, Cliff's delta, Kendall's W).
_BOUNDED = ("rank-biserial", "cliff", "kendall")


def mark_degenerate(frame: pd.DataFrame) -> pd.DataFrame:
    """Blank the interval and say so where a test's result is degenerate.

    A bootstrap interval of zero width (every replicate the same, e.g. every participant
    prefers one method) or a bounded effect size at +-1 is not an estimate of uncertainty;
    printing "r = 1.000 [1.000, 1.000]" would read as certainty.
    """
    if frame.empty:
        return frame
    out = frame.copy()
    name = out["effect_size_name"].astype(str).str.lower()
    bounded = name.str.contains("|".join(_BOUNDED))
    at_bound = bounded & (out["effect_size"].abs() >= 1 - 1e-12)
    no_width = out["ci_low"].notna() & (out["ci_low"] == out["ci_high"])
    degenerate = (at_bound | no_width).to_numpy()
    if degenerate.any():
        out.loc[degenerate, ["ci_low", "ci_high"]] = np.nan
        notes = out.loc[degenerate, "note"].astype(str)
        out.loc[degenerate, "note"] = [
            f"{n}; {DEGENERATE_NOTE}" if n else DEGENERATE_NOTE for n in notes
        ]
    return out
