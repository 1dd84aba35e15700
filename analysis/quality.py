"""Quality checks of a ratings table: the one rule that scores a gold answer, and pass rates.

A gold trial is one of four kinds, named by the optional ``question_kind`` column (the study
platform's export writes it):

* ``instructed``: an instructed-response item ("Please select 2 for this picture"), passed only
  by the instructed answer; these are the attention checks that may exclude a participant;
* ``gold_object`` / ``gold_background``: a map anchor, a synthetic map on the object (expected
  5) or on empty background (expected 1), passed within ``tolerance`` towards the middle of the
  scale (``>= 4`` and ``<= 2`` with the default tolerance of 1);
* ``repeat``: a test-retest repeat whose ``gold_expected`` is the participant's first answer,
  passed within ``tolerance`` of it either way (reliability, never an exclusion).

A gold trial of a table without ``question_kind`` (or of a kind not listed) passes within
``tolerance`` of ``gold_expected`` either way, as the analysis always read such tables.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from analysis.power import wilson_interval

KIND_COLUMN = "question_kind"
INSTRUCTED = "instructed"
ANCHOR_OBJECT = "gold_object"
ANCHOR_BACKGROUND = "gold_background"
REPEAT = "repeat"
ANCHOR_KINDS = (ANCHOR_OBJECT, ANCHOR_BACKGROUND)
DEFAULT_TOLERANCE = 1.0
PASS_RATE_COLUMNS = ("kind", "trials", "passed", "pass_rate", "ci_low", "ci_high")


def gold_passed(
    kind: str, score: float, expected: float | None, tolerance: float = DEFAULT_TOLERANCE
) -> bool | None:
    """Whether one gold answer passed; None when there is nothing to compare it with.

    Parameters
    ----------
    kind
        The trial's ``question_kind`` (``""`` when the table names none).
    score
        The answer, 1-5.
    expected
        ``gold_expected``: the expected answer, or for a repeat the first answer.
    tolerance
        How far an anchor or a repeat may sit from ``expected`` and still pass.
    """
    if kind == "regular" or expected is None or math.isnan(expected):
        return None
    if kind == INSTRUCTED:
        return bool(score == expected)
    if kind == ANCHOR_OBJECT:
        return bool(score >= expected - tolerance)
    if kind == ANCHOR_BACKGROUND:
        return bool(score <= expected + tolerance)
    return bool(abs(score - expected) <= tolerance)


def trial_kinds(df: pd.DataFrame) -> pd.Series:
    """Each row's ``question_kind`` as text (``""`` where the table names none)."""
    if KIND_COLUMN not in df.columns:
        return pd.Series("", index=df.index, dtype=object)
    return df[KIND_COLUMN].astype(object).where(df[KIND_COLUMN].notna(), "").astype(str)


def gold_mask(df: pd.DataFrame) -> pd.Series:
    """Which rows are gold trials (``is_gold``, read leniently from text too)."""
    if "is_gold" not in df.columns:
        return pd.Series(False, index=df.index)
    flag = df["is_gold"]
    if flag.dtype == object:
        flag = flag.astype(str).str.lower().isin(["true", "1", "yes"])
    return flag.fillna(False).astype(bool)


def score_gold(df: pd.DataFrame, tolerance: float = DEFAULT_TOLERANCE) -> pd.Series:
    """Every row's gold outcome under :func:`gold_passed`: True, False, or NaN.

    Regular rows are NaN. A gold row with ``gold_expected`` is scored here, so the tolerance
    in force is the one applied whatever a ``gold_passed`` column says; a row without an
    expected answer keeps the table's ``gold_passed`` (NaN when there is none).
    """
    out = pd.Series(np.nan, index=df.index, dtype=object)
    gold = gold_mask(df)
    if not gold.any():
        return out
    expected = (
        pd.to_numeric(df["gold_expected"], errors="coerce")
        if "gold_expected" in df.columns
        else pd.Series(np.nan, index=df.index)
    )
    kinds = trial_kinds(df)
    scores = pd.to_numeric(df["score"], errors="coerce")
    for index in df.index[gold]:
        value = expected[index]
        if pd.notna(value):
            out[index] = gold_passed(kinds[index], float(scores[index]), float(value), tolerance)
        elif "gold_passed" in df.columns and pd.notna(df.at[index, "gold_passed"]):
            out[index] = _as_bool(df.at[index, "gold_passed"])
    return out


def _as_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def gold_pass_rates(
    df: pd.DataFrame, tolerance: float = DEFAULT_TOLERANCE, confidence_level: float = 0.95
) -> pd.DataFrame:
    """Pass rates of the gold trials by kind, with Wilson intervals.

    Returns
    -------
    pandas.DataFrame
        One row per kind present (instructed items, each anchor, repeats, then unnamed kinds),
        columns ``PASS_RATE_COLUMNS``; trials without an outcome are left out.
    """
    outcome = score_gold(df, tolerance)
    scored = outcome.notna()
    kinds = trial_kinds(df)[scored]
    passed = outcome[scored].astype(bool)
    order = [INSTRUCTED, *ANCHOR_KINDS, REPEAT]
    present = [k for k in order if (kinds == k).any()]
    present += sorted(set(kinds) - set(order))
    z = float(stats.norm.ppf(0.5 + confidence_level / 2))
    rows = []
    for kind in present:
        mine = passed[kinds == kind]
        n, k = len(mine), int(mine.sum())
        low, high = wilson_interval(k / n, n, z)
        rows.append((kind or "gold (kind not named)", n, k, k / n, low, high))
    return pd.DataFrame(rows, columns=list(PASS_RATE_COLUMNS))


__all__ = [
    "ANCHOR_KINDS",
    "INSTRUCTED",
    "KIND_COLUMN",
    "PASS_RATE_COLUMNS",
    "REPEAT",
    "gold_mask",
    "gold_pass_rates",
    "gold_passed",
    "score_gold",
    "trial_kinds",
]
