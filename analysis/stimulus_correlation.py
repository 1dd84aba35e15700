"""Per-stimulus mean ratings against a measure: Spearman's rho within method, its two-way
bootstrap interval, and the split-half noise ceiling of the ratings.

**Pooling within method.** Each method's rho is computed over its own stimuli, and the pooled
value is their average weighted by the number of stimuli (each stimulus counts once; with equal
numbers per method it is the plain mean). A rho is unchanged by shifting one method's ratings
or measures, so a method that is rated higher *and* scores higher on the measure cannot create
the correlation: with three methods that would be a correlation of three means (n = 3). Ranking
within method and correlating the pooled ranks would weight a method by ``n^3 - n``, letting the
largest method stand for the rest.

**Two-way bootstrap** (as :mod:`analysis.bootstrap`, Owen 2007): participants and images are
drawn with replacement, images within their method when each image is shown under one method.
A stimulus's mean is re-weighted by the drawn participants, and a stimulus enters its method's
rho as often as its image was drawn. Percentile intervals re-centred on the estimate (see
:func:`bootstrap_rho` for why plain percentiles sit low).

**Noise ceiling.** Participants are split at random into halves, the per-stimulus means of the
halves are correlated (pooled within method as above), and the Spearman-Brown formula
``2 r / (1 + r)`` gives the reliability of the means of all participants; this is repeated over
random splits and averaged. ``ceiling = sqrt(reliability)`` is the correlation the observed
means can have with their own error-free values, and so bounds what any measure can reach
(for Pearson's r exactly, for Spearman's rho approximately).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from analysis.bootstrap import cluster_weights
from analysis.io import method_order
from analysis.stimulus_units import Unit, unit_keys

POOLED = "all (within method)"
CORRELATION_COLUMNS = (
    "measure",
    "unit",
    "method",
    "rho",
    "ci_low",
    "ci_high",
    "n_units",
    "n_resamples",
    "resampling",
)
CEILING_COLUMNS = (
    "unit",
    "method",
    "split_half_rho",
    "reliability",
    "ceiling",
    "split_low",
    "split_high",
    "n_splits",
    "n_units",
)
# A method needs this many stimuli for a rank correlation to be more than its sign.
MIN_STIMULI = 3
# Replicates are ranked in blocks of about this many (stimulus, replicate) cells.
_BLOCK_CELLS = 1_000_000


class StimulusRatings:
    """Answers as a sparse (units x participants) table of score sums and counts.

    Parameters
    ----------
    df
        Validated ratings without gold trials.
    unit
        ``"item"`` (each stimulus; images are the bootstrap's picture clusters) or
        ``"prototype"`` (each ``method:prototype``, its own cluster; see
        :mod:`analysis.stimulus_units`).
    """

    def __init__(self, df: pd.DataFrame, unit: Unit = "item") -> None:
        self.unit = unit
        self.items, item_codes = np.unique(unit_keys(df, unit), return_inverse=True)
        p_codes, self.participants = pd.factorize(df["participant"].astype(str), sort=True)
        shape = (len(self.items), len(self.participants))
        score = df["score"].to_numpy(dtype=np.float64)
        self.sums = sparse.csr_array((score, (item_codes, p_codes)), shape=shape)
        self.counts = sparse.csr_array((np.ones(len(df)), (item_codes, p_codes)), shape=shape)
        # The first answer of each unit, in unit order, says its method and picture.
        first = np.unique(item_codes, return_index=True)[1]
        self.method = df["method"].astype(str).to_numpy()[first]
        images = df["image"].astype(str).to_numpy()[first] if unit == "item" else self.items
        self.image_names, self.image = np.unique(images, return_inverse=True)
        self.methods = [m for m in method_order(df) if m in set(self.method)]
        self._codes = item_codes

    def values(self, df: pd.DataFrame, measure: str) -> np.ndarray:
        """The measure of every unit (its first non-missing value; NaN where it has none)."""
        per_unit = pd.Series(df[measure].to_numpy(dtype=float)).groupby(self._codes).first()
        return per_unit.reindex(range(len(self.items))).to_numpy(dtype=float)

    def means(self, weights: np.ndarray) -> np.ndarray:
        """Mean score of every stimulus under participant weights ``(P, R)``: ``(stimuli, R)``;
        NaN where no drawn participant rated the stimulus."""
        with np.errstate(invalid="ignore", divide="ignore"):
            out: np.ndarray = (self.sums @ weights) / (self.counts @ weights)
        return out

    def image_strata(self) -> np.ndarray:
        """Stratum of each image: its method when images are nested in methods, else one."""
        methods_per_image = pd.Series(self.method).groupby(self.image).nunique()
        if (methods_per_image == 1).all():
            first = pd.Series(self.method).groupby(self.image).first()
            return pd.factorize(first.sort_index().to_numpy())[0]
        return np.zeros(len(self.image_names), dtype=np.int64)


def weighted_midranks(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mid-ranks of each column of ``values`` (n, R) with each entry repeated ``weights`` times.

    Equal to ``scipy.stats.rankdata`` of the repeated column (ties share their mean rank);
    entries of weight 0 or NaN take no rank (NaN).
    """
    weights = np.where(np.isfinite(values), weights, 0).astype(np.float64)
    keys = np.where(weights > 0, values, np.inf)
    order = np.argsort(keys, axis=0, kind="stable")
    v = np.take_along_axis(keys, order, axis=0)
    w = np.take_along_axis(weights, order, axis=0)
    end = np.cumsum(w, axis=0)
    n = len(values)
    rows = np.arange(n)[:, None]
    # A tie group runs from its first to its last sorted row; propagate both to every member.
    starts = np.ones(v.shape, dtype=bool)
    starts[1:] = v[1:] != v[:-1]
    stops = np.ones(v.shape, dtype=bool)
    stops[:-1] = starts[1:]
    first = np.maximum.accumulate(np.where(starts, rows, 0), axis=0)
    last = np.minimum.accumulate(np.where(stops, rows, n - 1)[::-1], axis=0)[::-1]
    before = np.take_along_axis(end - w, first, axis=0)
    through = np.take_along_axis(end, last, axis=0)
    ranks = np.where(w > 0, (before + through + 1) / 2, np.nan)
    out = np.empty_like(ranks)
    np.put_along_axis(out, order, ranks, axis=0)
    return out


def weighted_spearman(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Spearman's rho of each column pair of ``x`` and ``y`` (n, R), entries repeated
    ``weights`` times; NaN where fewer than :data:`MIN_STIMULI` answers or no spread."""
    weights = np.where(np.isfinite(x) & np.isfinite(y), weights, 0).astype(np.float64)
    rx, ry = weighted_midranks(x, weights), weighted_midranks(y, weights)
    total = weights.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        dx = np.nan_to_num(rx - np.nansum(weights * rx, axis=0) / total)
        dy = np.nan_to_num(ry - np.nansum(weights * ry, axis=0) / total)
        sxy = (weights * dx * dy).sum(axis=0)
        sxx, syy = (weights * dx**2).sum(axis=0), (weights * dy**2).sum(axis=0)
        rho = sxy / np.sqrt(sxx * syy)
    # Ranks of n values have variance of order n^2; far below that there is no spread.
    flat = (sxx <= 1e-9 * np.maximum(total, 1) ** 3) | (syy <= 1e-9 * np.maximum(total, 1) ** 3)
    rho[(total < MIN_STIMULI) | flat] = np.nan
    result: np.ndarray = np.clip(rho, -1.0, 1.0)
    return result


def within_method_rho(
    x: np.ndarray, y: np.ndarray, method: np.ndarray, methods: list[str],
    copies: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Pooled and per-method Spearman rho of ``x`` against ``y``, column by column.

    Parameters
    ----------
    x, y
        Values per stimulus, shape (n,) or (n, R).
    method
        Method of each stimulus, shape (n,).
    methods
        Methods in output order.
    copies
        How often each stimulus is drawn (integers, (n,) or (n, R)); once each when omitted.

    Returns
    -------
    pooled, per_method, sizes
        Shapes (R,), (M, R), (M, R): the stimulus-weighted mean of the defined per-method
        values, each method's rho (NaN where undefined) and its stimuli drawn.
    """
    x2, y2 = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    width = max(x2.reshape(len(method), -1).shape[1], y2.reshape(len(method), -1).shape[1])
    shape = (len(method), width)
    x2 = np.broadcast_to(x2.reshape(len(method), -1), shape)
    y2 = np.broadcast_to(y2.reshape(len(method), -1), shape)
    c = np.ones(shape) if copies is None else np.broadcast_to(
        np.asarray(copies, dtype=float).reshape(len(method), -1), shape
    )  # fmt: skip
    usable = np.isfinite(x2) & np.isfinite(y2)
    per_method = np.full((len(methods), width), np.nan)
    sizes = np.zeros((len(methods), width))
    for j, m in enumerate(methods):
        keep = method == m
        per_method[j] = weighted_spearman(x2[keep], y2[keep], c[keep])
        sizes[j] = np.where(usable[keep], c[keep], 0).sum(axis=0)
    defined = np.isfinite(per_method)
    weight = np.where(defined, sizes, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = np.where(
            weight.sum(axis=0) > 0,
            (weight * np.nan_to_num(per_method)).sum(axis=0) / weight.sum(axis=0),
            np.nan,
        )
    return pooled, per_method, sizes


def bootstrap_rho(
    table: StimulusRatings,
    measures: dict[str, np.ndarray],
    n_resamples: int = 2000,
    confidence_level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Within-method rho of each measure with two-way bootstrap intervals.

    The interval is the percentile interval re-centred on the estimate: a replicate's stimulus
    means carry the rating noise twice (the answers, then the draw of participants), which
    attenuates its rho, so plain percentiles sit below the estimate (a shift that the estimate
    itself does not have); the replicates' spread is kept. Efron's bias correction would move
    the interval as far again *above* the estimate. In simulated studies of 20-40 participants
    and 60 stimuli the re-centred 95 % interval covered the mean rho in 97-99 % of studies
    (plain percentiles 93-98 %, missing only below; bias-corrected 77-89 %, missing above).

    Parameters
    ----------
    table
        The answers per stimulus.
    measures
        Measure name to its value per stimulus (``table.items`` order; NaN where missing).
    n_resamples, confidence_level, seed
        Bootstrap settings.

    Returns
    -------
    pandas.DataFrame
        Columns ``CORRELATION_COLUMNS``; per measure the pooled row (``method`` is
        :data:`POOLED`) and one row per method.
    """
    if n_resamples < 100:
        raise ValueError("Use at least 100 resamples (2000 is the default).")
    rng = np.random.default_rng(seed)
    n_p = len(table.participants)
    people = cluster_weights(n_p, n_resamples, rng).T
    strata = table.image_strata()
    images = np.empty((len(strata), n_resamples))
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        images[members] = cluster_weights(len(members), n_resamples, rng).T
    point_means = table.means(np.ones((n_p, 1)))
    labels = [POOLED, *table.methods]
    resampling = "participants and " + ("images" if table.unit == "item" else "prototypes")
    rows = []
    block = max(1, _BLOCK_CELLS // max(len(table.items), 1))
    for name, measure in measures.items():
        pooled, per_method, sizes = within_method_rho(
            point_means, measure, table.method, table.methods
        )
        replicates = np.empty((len(labels), n_resamples))
        for start in range(0, n_resamples, block):
            part = slice(start, min(n_resamples, start + block))
            draws, by_method, _ = within_method_rho(
                table.means(people[:, part]), measure, table.method, table.methods,
                images[table.image, part],
            )  # fmt: skip
            replicates[:, part] = np.vstack([draws, by_method])
        points = np.r_[pooled, per_method[:, 0]]
        counts = np.r_[sizes.sum(), sizes[:, 0]].astype(np.int64)
        for j, label in enumerate(labels):
            low, high = recentred_interval(replicates[j], points[j], confidence_level)
            rows.append((name, table.unit, label, points[j], low, high, counts[j], n_resamples,
                         resampling))  # fmt: skip
    return pd.DataFrame(rows, columns=list(CORRELATION_COLUMNS))


def recentred_interval(
    replicates: np.ndarray, estimate: float, confidence_level: float
) -> tuple[float, float]:
    """Percentile interval of the replicates moved so that their median sits on the estimate,
    clipped to [-1, 1]; NaN bounds where undefined."""
    finite = replicates[np.isfinite(replicates)]
    if not np.isfinite(estimate) or len(finite) < 2:
        return float("nan"), float("nan")
    alpha = (1 - confidence_level) / 2
    low, median, high = np.quantile(finite, [alpha, 0.5, 1 - alpha])
    shift = estimate - median
    return float(max(low + shift, -1.0)), float(min(high + shift, 1.0))


def split_half_ceiling(table: StimulusRatings, n_splits: int = 200, seed: int = 0) -> pd.DataFrame:
    """Split-half reliability of the stimulus means, Spearman-Brown corrected, and its ceiling.

    Returns
    -------
    pandas.DataFrame
        Columns ``CEILING_COLUMNS``: the pooled row (:data:`POOLED`) and one per method.
        ``split_half_rho`` is the mean rho between halves; ``reliability`` its Spearman-Brown
        step-up; ``split_low``/``split_high`` the 2.5 and 97.5 percentiles of the stepped-up
        values over splits (how much one split could mislead, not a confidence interval).
    """
    n_p = len(table.participants)
    if n_p < 2:
        raise ValueError("A split-half noise ceiling needs at least two participants.")
    if n_splits < 1:
        raise ValueError("n_splits must be at least 1 (200 is the default).")
    rng = np.random.default_rng(seed)
    first = np.argsort(rng.random((n_p, n_splits)), axis=0) < n_p // 2
    a, b = table.means(first.astype(float)), table.means((~first).astype(float))
    pooled, per_method, _ = within_method_rho(a, b, table.method, table.methods)
    values = np.vstack([pooled, per_method])
    rows = []
    for j, label in enumerate([POOLED, *table.methods]):
        column = values[j][np.isfinite(values[j])]
        n = int(len(table.items) if label == POOLED else (table.method == label).sum())
        if not len(column):
            rows.append((table.unit, label, np.nan, np.nan, np.nan, np.nan, np.nan, n_splits, n))
            continue
        r = float(column.mean())
        reliability = _spearman_brown(r)
        stepped = np.array([_spearman_brown(v) for v in column])
        low, high = np.quantile(stepped, [0.025, 0.975])
        ceiling = float(np.sqrt(reliability)) if reliability > 0 else 0.0
        rows.append((table.unit, label, r, reliability, ceiling, low, high, n_splits, n))
    return pd.DataFrame(rows, columns=list(CEILING_COLUMNS))


def _spearman_brown(r: float) -> float:
    # Undefined at r = -1 (halves perfectly opposed); such data have no reliability.
    return float(2 * r / (1 + r)) if r > -1 else float("nan")


__all__ = [
    "CEILING_COLUMNS",
    "CORRELATION_COLUMNS",
    "POOLED",
    "StimulusRatings",
    "recentred_interval",
    "bootstrap_rho",
    "split_half_ceiling",
    "weighted_midranks",
    "weighted_spearman",
    "within_method_rho",
]
