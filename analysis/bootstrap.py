"""Cluster bootstrap: resample participants, not answers.

Answers from one participant are correlated, so resampling them independently understates
the uncertainty. Each replicate draws participants with replacement; a participant drawn
``k`` times contributes ``k`` times their score sum and answer count. Replicates are computed
as matrix products of multinomial weights with per-participant sums, never by concatenating
frames, so a million answers cost no more than the number of participants.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.io import method_order

# Replicates are generated in blocks so that the weight matrix stays small for large studies.
_BLOCK_CELLS = 4_000_000


def participant_weights(
    n_participants: int, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """Multiplicities of each participant in each bootstrap replicate.

    Parameters
    ----------
    n_participants
        Number of clusters.
    n_resamples
        Number of replicates.
    rng
        Random generator.

    Returns
    -------
    numpy.ndarray
        Shape (n_resamples, n_participants), each row summing to ``n_participants``.
    """
    # Counting uniform draws is the multinomial draw, and much faster than
    # Generator.multinomial when there are thousands of participants.
    draws = rng.integers(0, n_participants, size=(n_resamples, n_participants))
    draws += np.arange(n_resamples)[:, None] * n_participants
    counts = np.bincount(draws.ravel(), minlength=n_resamples * n_participants)
    return counts.reshape(n_resamples, n_participants).astype(np.float64)


def _sums_and_counts(df: pd.DataFrame, by: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    groups = method_order(df) if by == "method" else [str(g) for g in pd.unique(df[by])]
    p_codes = pd.Categorical(df["participant"]).codes
    g_codes = pd.Categorical(df[by].astype(str), categories=groups).codes
    n_p, n_g = int(p_codes.max()) + 1, len(groups)
    flat = p_codes.astype(np.int64) * n_g + g_codes
    score = df["score"].to_numpy(dtype=np.float64)
    sums = np.bincount(flat, weights=score, minlength=n_p * n_g).reshape(n_p, n_g)
    counts = np.bincount(flat, minlength=n_p * n_g).reshape(n_p, n_g).astype(np.float64)
    return sums, counts, groups


def bootstrap_means(
    df: pd.DataFrame,
    by: str = "method",
    n_resamples: int = 2000,
    confidence_level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Percentile cluster-bootstrap CIs of the mean score of each group.

    Parameters
    ----------
    df
        Validated long-format ratings.
    by
        Grouping column, usually ``"method"``.
    n_resamples
        Number of bootstrap replicates.
    confidence_level
        Coverage of the interval.
    seed
        Seed of the random generator, so reports are reproducible.

    Returns
    -------
    pandas.DataFrame
        Columns ``by, mean, ci_low, ci_high, n_participants, n_answers, n_resamples``.
    """
    if not 0 < confidence_level < 1:
        raise ValueError("confidence_level must be between 0 and 1, e.g. 0.95.")
    if n_resamples < 100:
        raise ValueError("Use at least 100 resamples (2000 is the default).")
    sums, counts, groups = _sums_and_counts(df, by)
    rng = np.random.default_rng(seed)
    replicates = _replicate_ratios(sums, counts, n_resamples, rng)
    alpha = (1 - confidence_level) / 2
    low, high = np.nanquantile(replicates, [alpha, 1 - alpha], axis=0)
    return pd.DataFrame(
        {
            by: groups,
            "mean": sums.sum(axis=0) / counts.sum(axis=0),
            "ci_low": low,
            "ci_high": high,
            "n_participants": (counts > 0).sum(axis=0),
            "n_answers": counts.sum(axis=0).astype(np.int64),
            "n_resamples": n_resamples,
        }
    )


def bootstrap_mean_differences(
    df: pd.DataFrame, n_resamples: int = 2000, confidence_level: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """Cluster-bootstrap CIs of the difference in mean score between each pair of methods.

    Parameters
    ----------
    df
        Validated long-format ratings.
    n_resamples
        Number of bootstrap replicates.
    confidence_level
        Coverage of the interval.
    seed
        Seed of the random generator.

    Returns
    -------
    pandas.DataFrame
        Columns ``method_a, method_b, difference, ci_low, ci_high`` with difference = a - b.
    """
    sums, counts, groups = _sums_and_counts(df, "method")
    replicates = _replicate_ratios(sums, counts, n_resamples, np.random.default_rng(seed))
    point = sums.sum(axis=0) / counts.sum(axis=0)
    alpha = (1 - confidence_level) / 2
    rows = []
    for i in range(len(groups)):
        for j in range(i + 1, len(groups)):
            diff = replicates[:, i] - replicates[:, j]
            low, high = np.nanquantile(diff, [alpha, 1 - alpha])
            rows.append((groups[i], groups[j], point[i] - point[j], low, high))
    return pd.DataFrame(rows, columns=["method_a", "method_b", "difference", "ci_low", "ci_high"])


def _replicate_ratios(
    sums: np.ndarray, counts: np.ndarray, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    n_p = sums.shape[0]
    block = max(1, _BLOCK_CELLS // max(n_p, 1))
    out = np.empty((n_resamples, sums.shape[1]))
    for start in range(0, n_resamples, block):
        stop = min(n_resamples, start + block)
        weights = participant_weights(n_p, stop - start, rng)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start:stop] = (weights @ sums) / (weights @ counts)
    return out
