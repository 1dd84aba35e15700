"""Test-retest reliability of the repeated questions: weighted kappa and ICC(A,1), with CIs.

Each repeat of a question is paired with the same participant's first answer, which the study
platform's export gives as the repeat's ``gold_expected`` (``question_kind`` ``repeat``). Repeats
measure how stable a rater's answers are; they are reported, never used to exclude anyone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analysis.agreement import intraclass_correlations
from analysis.io import SCORE_LEVELS
from analysis.quality import REPEAT, trial_kinds

RELIABILITY_COLUMNS = (
    "measure",
    "value",
    "ci_low",
    "ci_high",
    "n_pairs",
    "n_participants",
    "note",
)


def weighted_kappa(
    first: np.ndarray | pd.Series,
    second: np.ndarray | pd.Series,
    levels: tuple[int, ...] = SCORE_LEVELS,
    confidence_level: float = 0.95,
) -> tuple[float, float, float, float]:
    """Cohen's (1968) quadratically weighted kappa of paired ratings, with a Wald interval.

    The weights are ``1 - (i - j)^2 / (k - 1)^2`` over the whole scale ``levels``, so a level
    nobody used still counts in the distance; the standard error is Fleiss, Cohen & Everitt's
    (1969) large-sample one (SAS PROC FREQ's, statsmodels' ``cohens_kappa``).

    Returns
    -------
    tuple
        ``(kappa, standard error, ci_low, ci_high)``; NaN when every answer is one level (no
        chance-corrected agreement is defined).
    """
    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError("weighted_kappa needs two equally long, non-empty series of ratings.")
    position = {float(level): i for i, level in enumerate(levels)}
    try:
        rows = np.array([position[x] for x in a])
        cols = np.array([position[x] for x in b])
    except KeyError as err:
        raise ValueError(f"Rating {err.args[0]} is not on the scale {levels}.") from None
    k, n = len(levels), len(a)
    p = np.zeros((k, k))
    np.add.at(p, (rows, cols), 1.0 / n)
    distance = np.subtract.outer(np.arange(k), np.arange(k)) / (k - 1)
    w = 1.0 - distance**2
    p_row, p_col = p.sum(axis=1), p.sum(axis=0)
    observed, expected = float((w * p).sum()), float((w * np.outer(p_row, p_col)).sum())
    if np.isclose(expected, 1.0):
        return (np.nan, np.nan, np.nan, np.nan)
    kappa = (observed - expected) / (1 - expected)
    w_row, w_col = w @ p_col, p_row @ w
    spread = (w - np.add.outer(w_row, w_col) * (1 - kappa)) ** 2
    variance = ((p * spread).sum() - (kappa - expected * (1 - kappa)) ** 2) / (
        n * (1 - expected) ** 2
    )
    se = float(np.sqrt(max(variance, 0.0)))
    z = float(stats.norm.ppf(0.5 + confidence_level / 2))
    return kappa, se, max(-1.0, kappa - z * se), min(1.0, kappa + z * se)


def retest_pairs(df: pd.DataFrame) -> pd.DataFrame:
    """The test-retest pairs of a ratings table: ``participant, first, second``.

    A pair is a row of ``question_kind`` ``repeat`` with the participant's first answer in
    ``gold_expected``; repeats whose first answer is missing are left out.
    """
    if "gold_expected" not in df.columns:
        return pd.DataFrame(columns=["participant", "first", "second"])
    repeats = df[(trial_kinds(df) == REPEAT) & df["gold_expected"].notna()]
    return pd.DataFrame(
        {
            "participant": repeats["participant"].astype(str).to_numpy(),
            "first": pd.to_numeric(repeats["gold_expected"]).to_numpy(dtype=float),
            "second": pd.to_numeric(repeats["score"]).to_numpy(dtype=float),
        }
    )


def retest_reliability(df: pd.DataFrame, confidence_level: float = 0.95) -> pd.DataFrame:
    """Test-retest reliability of the repeated questions: weighted kappa and ICC(A,1).

    ICC(A,1) is McGraw & Wong's single-measure absolute agreement over the two occasions
    (``ICC2`` of :func:`intraclass_correlations`), the form Koo & Li (2016) recommend for
    test-retest. A participant answers two to four repeats, and the intervals treat the pairs
    as independent, so with few participants they are too narrow.

    Returns
    -------
    pandas.DataFrame
        Columns ``RELIABILITY_COLUMNS``, one row per measure; no rows when the table holds
        fewer than two pairs.
    """
    pairs = retest_pairs(df)
    if len(pairs) < 2:
        return pd.DataFrame(columns=list(RELIABILITY_COLUMNS))
    n, people = len(pairs), pairs["participant"].nunique()
    note = f"{n} repeat(s) of {people} participant(s); pairs treated as independent"
    kappa, _, low, high = weighted_kappa(
        pairs["first"], pairs["second"], SCORE_LEVELS, confidence_level
    )
    rows = [("weighted kappa (quadratic)", kappa, low, high, n, people, note)]
    matrix = pairs[["first", "second"]].to_numpy()
    if np.ptp(matrix) == 0:
        rows.append(("ICC(A,1)", np.nan, np.nan, np.nan, n, people, "every answer the same"))
    else:
        icc = intraclass_correlations(matrix, confidence_level).set_index("type").loc["ICC2"]
        values = (float(icc["icc"]), float(icc["ci_low"]), float(icc["ci_high"]))
        rows.append(("ICC(A,1)", *values, n, people, note))
    return pd.DataFrame(rows, columns=list(RELIABILITY_COLUMNS))


__all__ = ["RELIABILITY_COLUMNS", "retest_pairs", "retest_reliability", "weighted_kappa"]
