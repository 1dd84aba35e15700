"""Rank tests of method differences, with effect sizes and their CIs, on the right unit.

The unit depends on how images meet methods (:func:`analysis.design.describe_design`):

* images *crossed* with methods (a Latin square: each image under several methods): each image
  is a block, with its mean rating under each method (averaged over the participants who saw
  it); Friedman with Kendall's W and pairwise Wilcoxon signed-rank (Holm-adjusted, with the
  matched-pairs rank-biserial r) compare the methods within images, so the images' own
  variance cancels; ``unit`` is ``"images"``;
* images *nested* in methods (each image under one method, the paper's design): the same tests
  run on per-participant method means, but a method's mean then rests on its own few images,
  whose luck the test cannot see. Those rows say so in ``note``: descriptive only, not a test
  of the methods (the crossed mixed model is).

The sensitivity analysis on raw answers (Kruskal-Wallis and pairwise Mann-Whitney with Cliff's
delta) treats answers as independent, which they are not in either design; its rows say so.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.nonparametric import rank_compare_2ordinal

from analysis.bootstrap import cluster_weights
from analysis.io import method_order
from analysis.rank_units import (
    IMAGE_VARIANCE_NOTE,
    Unit,
    block_table,
    complete_participant_means,
    image_method_means,
    resolve_unit,
)
from analysis.tables import test_frame, test_row

PSEUDO_REPLICATION_NOTE = (
    "ignores repeated measures and image variance (answers treated as independent): "
    "descriptive only, not a test of the methods"
)
_UNIT_LABELS = {"participants": "participant means", "images": "images"}
_BLOCK_CELLS = 2_000_000


def friedman_test(
    df: pd.DataFrame,
    n_resamples: int = 2000,
    confidence_level: float = 0.95,
    seed: int = 0,
    unit: Unit = "auto",
) -> pd.DataFrame:
    """Friedman test of the methods, with Kendall's W and a bootstrap CI.

    Parameters
    ----------
    df
        Validated long-format ratings.
    n_resamples, confidence_level, seed
        Bootstrap of Kendall's W (blocks resampled: images or participants).
    unit
        ``"images"`` (blocks are images, each with its mean under every method),
        ``"participants"`` (blocks are participants' method means) or ``"auto"``: images
        when they are crossed with methods, participants (with a caveat) when nested.

    Returns
    -------
    pandas.DataFrame
        One row in the layout of :data:`analysis.tables.TEST_COLUMNS`.
    """
    blocks = block_table(df, unit)
    means = blocks.table.to_numpy()
    n, k = means.shape
    q, p = stats.friedmanchisquare(*means.T)
    w = q / (n * (k - 1))
    ranks = stats.rankdata(means, axis=1)
    ties = np.array([_tie_sum(row) for row in means])
    rng = np.random.default_rng(seed)
    w_boot = np.concatenate(
        [
            _weighted_kendall_w(weights, ranks, ties, k)
            for weights in _weight_blocks(n, n_resamples, rng)
        ]
    )
    low, high = _interval(w_boot, confidence_level)
    row = test_row(
        "Friedman",
        "all methods",
        statistic_name="chi2",
        statistic=float(q),
        df=k - 1,
        p_value=float(p),
        effect_size_name="Kendall's W",
        effect_size=float(w),
        ci_low=low,
        ci_high=high,
        n=n,
        unit=_UNIT_LABELS[blocks.unit],
        note=blocks.note,
    )
    return test_frame([row])


def pairwise_wilcoxon(
    df: pd.DataFrame,
    p_adjust: str = "holm",
    n_resamples: int = 2000,
    confidence_level: float = 0.95,
    seed: int = 0,
    unit: Unit = "auto",
) -> pd.DataFrame:
    """Wilcoxon signed-rank tests between each pair of methods, within images or participants.

    The effect size is the matched-pairs rank-biserial r = (T+ - T-)/(T+ + T-) with zero
    differences dropped (as ``zero_method='wilcox'`` does); positive r means the first method
    of the pair scored higher. Its CI is a bootstrap of the blocks (images or participants).
    ``unit`` is chosen as in :func:`friedman_test`.
    """
    blocks = block_table(df, unit)
    table = blocks.table
    rng = np.random.default_rng(seed)
    rows = []
    for a, b in combinations(table.columns, 2):
        diff = (table[a] - table[b]).to_numpy()
        res = stats.wilcoxon(table[a], table[b], zero_method="wilcox")
        r = rank_biserial_paired(diff)
        boot = np.concatenate(
            [_weighted_rank_biserial(w, diff) for w in _weight_blocks(diff.size, n_resamples, rng)]
        )
        low, high = _interval(boot, confidence_level)
        rows.append(
            test_row(
                "Wilcoxon signed-rank",
                f"{a} vs {b}",
                statistic_name="W",
                statistic=float(res.statistic),
                p_value=float(res.pvalue),
                effect_size_name="rank-biserial r",
                effect_size=r,
                ci_low=low,
                ci_high=high,
                n=int(np.count_nonzero(diff)),
                unit=_UNIT_LABELS[blocks.unit],
                note=blocks.note,
            )
        )
    return _adjusted(test_frame(rows), p_adjust)


def kruskal_raw(df: pd.DataFrame) -> pd.DataFrame:
    """Kruskal-Wallis on raw answers with epsilon-squared = H/(N-1); ignores repeated measures."""
    groups = [g["score"].to_numpy() for _, g in _by_method(df)]
    h, p = stats.kruskal(*groups)
    n = sum(len(g) for g in groups)
    row = test_row(
        "Kruskal-Wallis",
        "all methods",
        statistic_name="H",
        statistic=float(h),
        df=len(groups) - 1,
        p_value=float(p),
        effect_size_name="epsilon-squared",
        effect_size=float(h / (n - 1)),
        n=n,
        unit="answers",
        note=PSEUDO_REPLICATION_NOTE,
    )
    return test_frame([row])


def pairwise_mannwhitney(
    df: pd.DataFrame, p_adjust: str = "holm", confidence_level: float = 0.95
) -> pd.DataFrame:
    """Pairwise Mann-Whitney U on raw answers with Cliff's delta; ignores repeated measures.

    Cliff's delta = 2A - 1 where A = U_a/(n_a n_b) counts ties as one half; positive delta
    means the first method of the pair scored higher. The CI comes from the rank-based
    interval of A computed from the 1-5 category counts.
    """
    counts = {
        str(m): np.bincount(g["score"].to_numpy(), minlength=6)[1:] for m, g in _by_method(df)
    }
    scores = {str(m): g["score"].to_numpy() for m, g in _by_method(df)}
    rows = []
    for a, b in combinations(method_order(df), 2):
        res = stats.mannwhitneyu(scores[a], scores[b], alternative="two-sided")
        n_ab = len(scores[a]) * len(scores[b])
        compare = rank_compare_2ordinal(counts[a], counts[b])
        low, high = compare.conf_int(alpha=1 - confidence_level)
        rows.append(
            test_row(
                "Mann-Whitney U",
                f"{a} vs {b}",
                statistic_name="U",
                statistic=float(res.statistic),
                p_value=float(res.pvalue),
                effect_size_name="Cliff's delta",
                effect_size=float(2 * res.statistic / n_ab - 1),
                ci_low=float(2 * low - 1),
                ci_high=float(2 * high - 1),
                n=len(scores[a]) + len(scores[b]),
                unit="answers",
                note=PSEUDO_REPLICATION_NOTE,
            )
        )
    return _adjusted(test_frame(rows), p_adjust)


def rank_biserial_paired(diff: np.ndarray) -> float:
    """Matched-pairs rank-biserial correlation of paired differences (zeros dropped)."""
    d = np.asarray(diff, dtype=float)
    d = d[d != 0]
    if d.size == 0:
        return 0.0
    ranks = stats.rankdata(np.abs(d))
    t_plus, t_minus = ranks[d > 0].sum(), ranks[d < 0].sum()
    return float((t_plus - t_minus) / (t_plus + t_minus))


def cliffs_delta(x: np.ndarray, y: np.ndarray) -> float:
    """Cliff's delta P(X > Y) - P(X < Y), via the Mann-Whitney U of ``x``."""
    u = stats.mannwhitneyu(x, y).statistic
    return float(2 * u / (len(x) * len(y)) - 1)


def _by_method(df: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    groups = dict(tuple(df.groupby(df["method"].astype(str), observed=True)))
    return [(m, groups[m]) for m in method_order(df) if m in groups]


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values, in the input order."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    m = len(p)
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(stepped)
    return adjusted


def _adjusted(frame: pd.DataFrame, method: str) -> pd.DataFrame:
    # Holm is computed here (statsmodels' multipletests costs a tenth of a second per call);
    # other corrections go through statsmodels, whose default would be Holm-Sidak, so the
    # method is always passed explicitly.
    if len(frame):
        p = frame["p_value"].to_numpy()
        frame["p_adjusted"] = holm(p) if method == "holm" else multipletests(p, method=method)[1]
        frame["note"] = [
            f"{method}-adjusted" if not n else f"{n}; {method}-adjusted" for n in frame["note"]
        ]
    return frame


def _tie_sum(row: np.ndarray) -> float:
    _, t = np.unique(row, return_counts=True)
    return float((t**3 - t).sum())


def _weight_blocks(n: int, n_resamples: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    block = max(1, _BLOCK_CELLS // max(n, 1))
    for start in range(0, n_resamples, block):
        yield cluster_weights(n, min(block, n_resamples - start), rng)


def _interval(values: np.ndarray, confidence_level: float) -> tuple[float, float]:
    alpha = (1 - confidence_level) / 2
    low, high = np.nanquantile(values, [alpha, 1 - alpha])
    return float(low), float(high)


def _weighted_kendall_w(
    weights: np.ndarray, ranks: np.ndarray, ties: np.ndarray, k: int
) -> np.ndarray:
    # Within-participant ranks do not change under resampling, so Friedman's statistic is a
    # weighted sum of them (scipy's formula, including its tie correction).
    n = weights.sum(axis=1)
    rank_sums = weights @ ranks
    correction = 1 - (weights @ ties) / (n * k * (k * k - 1))
    q = (12.0 / (n * k * (k + 1)) * (rank_sums**2).sum(axis=1) - 3 * n * (k + 1)) / correction
    w: np.ndarray = q / (n * (k - 1))
    return w


def _weighted_rank_biserial(weights: np.ndarray, diff: np.ndarray) -> np.ndarray:
    # Ranks of |d| in a resample depend on multiplicities, so they are rebuilt from cumulative
    # weights over the sorted distinct |d| values (mid-ranks for ties).
    nonzero = diff != 0
    d, w = diff[nonzero], weights[:, nonzero]
    if d.size == 0:
        return np.zeros(weights.shape[0])
    order = np.argsort(np.abs(d), kind="stable")
    d, w = d[order], w[:, order]
    starts = np.flatnonzero(np.r_[True, np.diff(np.abs(d)) != 0])
    total = np.add.reduceat(w, starts, axis=1)
    positive = np.add.reduceat(w * (d > 0), starts, axis=1)
    midrank = np.cumsum(total, axis=1) - total + (total + 1) / 2
    rank_total = (midrank * total).sum(axis=1)
    t_plus = (midrank * positive).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r: np.ndarray = (2 * t_plus - rank_total) / rank_total
    return r


__all__ = [
    "IMAGE_VARIANCE_NOTE",
    "PSEUDO_REPLICATION_NOTE",
    "Unit",
    "cliffs_delta",
    "complete_participant_means",
    "friedman_test",
    "holm",
    "image_method_means",
    "kruskal_raw",
    "pairwise_mannwhitney",
    "pairwise_wilcoxon",
    "rank_biserial_paired",
    "resolve_unit",
]
