"""Cluster bootstrap CIs of mean scores: resample participants and images, not answers.

Answers are correlated within a participant *and* within an image: every participant sees the
same few images per method, so the luck of which images were drawn moves every method mean.
The default two-way ("pigeonhole") bootstrap of Owen (2007, *Ann. Appl. Stat.* 1(2), 386-411)
draws participants and images independently with replacement; an answer of participant ``p``
on image ``i`` gets the weight ``w_p * v_i`` and a replicate mean is ``sum(w v y) / sum(w v)``.
When images are nested in the groups (each image under one method), they are drawn within
their group, so that a replicate keeps the design's number of images per method.

The two-way bootstrap is conservative (Owen & Eckles 2012, *Ann. Appl. Stat.* 6(3), 895-927):
in a balanced table the answer-level noise enters its variance about three times instead of
once, because a product of two independent multinomial weights has variance about 3. Intervals
are therefore somewhat too wide when the noise dominates, never too narrow for want of the
image variance. The participant-only bootstrap (``resample="participants"``) treats the
images as fixed; it is kept for comparison with earlier reports, and its intervals are too
narrow whenever images vary and are not balanced across methods.

Replicates are matrix products of multinomial weights with per-(participant, image) sums, never
concatenated frames; the sums are a sparse matrix, so a million answers from thousands of
participants and images cost memory in proportion to the answers and one block of replicates.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse

from analysis.io import method_order

Resample = Literal["both", "participants"]
# The value of the tables' ``resampling`` column for each choice of ``resample``.
RESAMPLING_LABELS: dict[str, str] = {
    "both": "participants and images",
    "participants": "participants",
}
# Replicates are generated in blocks so that the weight matrices stay small for large studies.
_BLOCK_CELLS = 4_000_000


def cluster_weights(n_clusters: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Multiplicities of each cluster (participant or image) in each bootstrap replicate.

    Parameters
    ----------
    n_clusters
        Number of clusters.
    n_resamples
        Number of replicates.
    rng
        Random generator.

    Returns
    -------
    numpy.ndarray
        Shape (n_resamples, n_clusters), each row summing to ``n_clusters``.
    """
    # Counting uniform draws is the multinomial draw, and much faster than
    # Generator.multinomial when there are thousands of clusters.
    draws = rng.integers(0, n_clusters, size=(n_resamples, n_clusters))
    draws += np.arange(n_resamples)[:, None] * n_clusters
    counts = np.bincount(draws.ravel(), minlength=n_resamples * n_clusters)
    return counts.reshape(n_resamples, n_clusters).astype(np.float64)


# The historical name, used where the clusters are participants.
participant_weights = cluster_weights


def bootstrap_means(
    df: pd.DataFrame,
    by: str = "method",
    n_resamples: int = 2000,
    confidence_level: float = 0.95,
    seed: int = 0,
    resample: Resample = "both",
) -> pd.DataFrame:
    """Percentile cluster-bootstrap CIs of the mean score of each group.

    Parameters
    ----------
    df
        Validated long-format ratings (``analysis.validate_ratings`` adds the ``image``
        column the two-way bootstrap needs).
    by
        Grouping column, usually ``"method"``; any column works (e.g. ``"dataset"``).
    n_resamples
        Number of bootstrap replicates.
    confidence_level
        Coverage of the interval.
    seed
        Seed of the random generator, so reports are reproducible.
    resample
        ``"both"`` (participants and images, the default) or ``"participants"`` only.

    Returns
    -------
    pandas.DataFrame
        Columns ``by, mean, ci_low, ci_high, n_participants, n_images, n_answers,
        n_resamples, resampling``; ``resampling`` is ``"participants and images"`` or
        ``"participants"``.
    """
    _check_settings(df, by, n_resamples, confidence_level, resample)
    replicates, cells = _replicates(df, by, n_resamples, seed, resample)
    alpha = (1 - confidence_level) / 2
    low, high = _quantiles(replicates, alpha)
    return pd.DataFrame(
        {
            by: cells.groups,
            "mean": cells.point,
            "ci_low": low,
            "ci_high": high,
            "n_participants": cells.n_participants,
            "n_images": cells.n_images,
            "n_answers": cells.n_answers,
            "n_resamples": n_resamples,
            "resampling": RESAMPLING_LABELS[resample],
        }
    )


def bootstrap_mean_differences(
    df: pd.DataFrame,
    n_resamples: int = 2000,
    confidence_level: float = 0.95,
    seed: int = 0,
    resample: Resample = "both",
) -> pd.DataFrame:
    """Cluster-bootstrap CIs of the difference in mean score between each pair of methods.

    Both means of a pair come from the same replicate (the same participants and images), so
    the interval respects the pairing of a within-participant or Latin-square design.

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
    resample
        ``"both"`` (participants and images, the default) or ``"participants"`` only.

    Returns
    -------
    pandas.DataFrame
        Columns ``method_a, method_b, difference, ci_low, ci_high, n_resamples, resampling``
        with difference = a - b.
    """
    _check_settings(df, "method", n_resamples, confidence_level, resample)
    replicates, cells = _replicates(df, "method", n_resamples, seed, resample)
    alpha = (1 - confidence_level) / 2
    groups, point = cells.groups, cells.point
    rows = []
    for i in range(len(groups)):
        for j in range(i + 1, len(groups)):
            low, high = _quantiles(replicates[:, [i]] - replicates[:, [j]], alpha)
            rows.append((groups[i], groups[j], point[i] - point[j], low[0], high[0]))
    table = pd.DataFrame(rows, columns=["method_a", "method_b", "difference", "ci_low", "ci_high"])
    return table.assign(n_resamples=n_resamples, resampling=RESAMPLING_LABELS[resample])


class _Cells:
    """Score sums and answer counts per (participant, image) cell and group, kept sparse."""

    def __init__(self, df: pd.DataFrame, by: str, with_images: bool) -> None:
        groups = method_order(df) if by == "method" else [str(g) for g in pd.unique(df[by])]
        self.groups = groups
        # Codes of the participants and images that answered: an unused category must not be
        # drawn into a replicate as a cluster without answers.
        p_codes = pd.factorize(df["participant"])[0].astype(np.int64)
        g_codes = pd.Categorical(df[by].astype(str), categories=groups).codes.astype(np.int64)
        # Without image resampling every answer is on one notional image, which reduces the
        # arithmetic below to the participant bootstrap.
        i_codes = (
            pd.factorize(df["image"])[0].astype(np.int64)
            if with_images
            else np.zeros(len(df), dtype=np.int64)
        )
        score = df["score"].to_numpy(dtype=np.float64)
        self.n_p, self.n_i, n_g = int(p_codes.max()) + 1, int(i_codes.max()) + 1, len(groups)
        # One column per (image, group) pair that has answers: few for nested designs.
        distinct, pair = np.unique(i_codes * n_g + g_codes, return_inverse=True)
        self.pair_image = (distinct // n_g).astype(np.int64)
        n_pairs = len(distinct)
        # Sums on rows 0..K-1 and counts on rows K..2K-1, transposed (pairs x participants), so
        # one sparse product weights both; duplicates are summed when the matrix is built.
        rows = np.concatenate([pair, pair + n_pairs])
        values = np.concatenate([score, np.ones(len(df))])
        self.stacked = sparse.csr_array(
            (values, (rows, np.concatenate([p_codes, p_codes]))), shape=(2 * n_pairs, self.n_p)
        )
        self.indicator = sparse.csr_array(
            (np.ones(n_pairs), (distinct % n_g, np.arange(n_pairs))), shape=(n_g, n_pairs)
        )
        totals = np.bincount(g_codes, weights=score, minlength=n_g)
        answers = np.bincount(g_codes, minlength=n_g)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.point = totals / answers
        self.n_answers = answers.astype(np.int64)
        self.n_participants = _distinct_per_group(p_codes, g_codes, n_g)
        # Counted even when only participants are resampled; without an image column each
        # question is its own image, as analysis.validate_ratings assumes.
        pictures = df["image"] if "image" in df.columns else df["question"]
        self.n_images = _distinct_per_group(pd.factorize(pictures)[0], g_codes, n_g)
        self.strata = _image_strata(self.pair_image, distinct % n_g, self.n_i)


def _image_strata(pair_image: np.ndarray, pair_group: np.ndarray, n_i: int) -> np.ndarray:
    # When every image is shown in one group only (images nested in methods), images are drawn
    # within their group, so that a replicate keeps the design's number of images per method:
    # drawing more of one method's images by luck is not part of the design. Otherwise they
    # are drawn together; finer strata (by the set of groups an image was shown in) would
    # leave an incomplete image alone in its stratum, always drawn once, its variance lost.
    if (np.bincount(pair_image, minlength=n_i) == 1).all():
        stratum = np.empty(n_i, dtype=np.int64)
        stratum[pair_image] = pair_group
        return stratum
    return np.zeros(n_i, dtype=np.int64)


def _stratified_weights(
    strata: np.ndarray, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    weights = np.empty((n_resamples, len(strata)))
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        weights[:, members] = cluster_weights(len(members), n_resamples, rng)
    return weights


def _distinct_per_group(codes: np.ndarray, g_codes: np.ndarray, n_g: int) -> np.ndarray:
    pairs = np.unique(codes * n_g + g_codes)
    return np.bincount(pairs % n_g, minlength=n_g).astype(np.int64)


def _replicates(
    df: pd.DataFrame, by: str, n_resamples: int, seed: int, resample: Resample
) -> tuple[np.ndarray, _Cells]:
    with_images = resample == "both"
    cells = _Cells(df, by, with_images)
    rng = np.random.default_rng(seed)
    out = np.empty((n_resamples, len(cells.groups)))
    # Per replicate: participant and image weights, and three (pairs) rows of products.
    width = cells.n_p + cells.n_i + 3 * len(cells.pair_image)
    block = max(1, _BLOCK_CELLS // width)
    for start in range(0, n_resamples, block):
        stop = min(n_resamples, start + block)
        people = cluster_weights(cells.n_p, stop - start, rng)
        images = _stratified_weights(cells.strata, stop - start, rng) if with_images else None
        out[start:stop] = _block_means(cells, people, images)
    return out, cells


def _block_means(cells: _Cells, people: np.ndarray, images: np.ndarray | None) -> np.ndarray:
    # Sparse (2K x P) times dense (P x R): the cost is the number of cells times R.
    weighted = cells.stacked @ people.T
    n_pairs = len(cells.pair_image)
    if images is not None:
        # Each (image, group) column is weighted by its image's multiplicity in the replicate.
        multiplicity = images[:, cells.pair_image].T
        weighted[:n_pairs] *= multiplicity
        weighted[n_pairs:] *= multiplicity
    sums = cells.indicator @ weighted[:n_pairs]
    counts = cells.indicator @ weighted[n_pairs:]
    with np.errstate(invalid="ignore", divide="ignore"):
        means: np.ndarray = (sums / counts).T
    return means


def _quantiles(replicates: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    # A replicate that drew no participant or image of a group has no mean (NaN); it is left out
    # rather than counted, and a group with no mean in any replicate gets NaN bounds.
    low = np.full(replicates.shape[1], np.nan)
    high = np.full(replicates.shape[1], np.nan)
    usable = ~np.isnan(replicates).all(axis=0)
    if usable.any():
        low[usable], high[usable] = np.nanquantile(
            replicates[:, usable], [alpha, 1 - alpha], axis=0
        )
    return low, high


def _check_settings(
    df: pd.DataFrame, by: str, n_resamples: int, confidence_level: float, resample: str
) -> None:
    if not 0 < confidence_level < 1:
        raise ValueError("confidence_level must be between 0 and 1, e.g. 0.95.")
    if n_resamples < 100:
        raise ValueError("Use at least 100 resamples (2000 is the default).")
    if resample not in RESAMPLING_LABELS:
        raise ValueError(
            f"resample must be 'both' (participants and images) or 'participants', "
            f"not {resample!r}."
        )
    if by not in df.columns:
        raise ValueError(f"Cannot group by missing column {by!r}; choose from {list(df)}.")
    if df.empty:
        raise ValueError("The ratings table has no rows; there is nothing to bootstrap.")
    if resample == "both" and "image" not in df.columns:
        raise ValueError(
            "The two-way bootstrap needs an 'image' column; pass the table through "
            "analysis.validate_ratings (which fills one in) or use resample='participants'."
        )


__all__ = [
    "RESAMPLING_LABELS",
    "Resample",
    "bootstrap_mean_differences",
    "bootstrap_means",
    "cluster_weights",
    "participant_weights",
]
