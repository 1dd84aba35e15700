"""Inter-rater agreement over participants x questions: Krippendorff's alpha and ICCs.

Questions are the units (targets) and participants the raters (coders).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

ALPHA_LEVELS = ("nominal", "ordinal", "interval", "ratio")
ICC_DESCRIPTIONS = {
    "ICC1": "single rater, one-way random",
    "ICC2": "single rater, two-way random, absolute agreement",
    "ICC3": "single rater, two-way mixed, consistency",
    "ICC1k": "mean of k raters, one-way random",
    "ICC2k": "mean of k raters, two-way random, absolute agreement",
    "ICC3k": "mean of k raters, two-way mixed, consistency",
}


def krippendorff_alpha(
    df: pd.DataFrame,
    level: str = "ordinal",
    unit: str = "question",
    value: str = "score",
) -> float:
    """Krippendorff's alpha from a coincidence matrix built from per-unit value counts.

    The cost is linear in the number of answers: each unit contributes
    ``n_u n_u' - diag(n_u)`` scaled by ``1/(m_u - 1)``, never a loop over pairs of answers.
    Units with fewer than two answers carry no pairable values and are skipped.

    Parameters
    ----------
    df
        Long-format answers.
    level
        ``"nominal"``, ``"ordinal"`` (the right choice for Likert), ``"interval"`` or
        ``"ratio"``.
    unit
        Column identifying the unit that is rated.
    value
        Column holding the rating.

    Returns
    -------
    float
        Alpha; 1 is perfect agreement, 0 is chance level.
    """
    if level not in ALPHA_LEVELS:
        raise ValueError(f"Unknown level {level!r}; use one of {ALPHA_LEVELS}.")
    counts, values = unit_value_counts(df, unit, value)
    return alpha_from_counts(counts, values, level)


def unit_value_counts(
    df: pd.DataFrame, unit: str = "question", value: str = "score"
) -> tuple[np.ndarray, np.ndarray]:
    """Units x values matrix of answer counts and the sorted distinct values."""
    clean = df[[unit, value]].dropna()
    values, v_code = np.unique(clean[value].to_numpy(dtype=float), return_inverse=True)
    u_code = pd.factorize(clean[unit])[0]
    flat = np.bincount(u_code * len(values) + v_code, minlength=(u_code.max() + 1) * len(values))
    return flat.reshape(-1, len(values)).astype(float), values


def bootstrap_alpha(
    counts: np.ndarray,
    values: np.ndarray,
    level: str = "ordinal",
    n_resamples: int = 1000,
    confidence_level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of alpha from resampling units (questions) with replacement.

    Each replicate reweights the per-unit coincidence contributions, so a replicate costs
    O(units x values^2) however many answers there are.

    Returns
    -------
    tuple of float
        Lower and upper bound.
    """
    m_u = counts.sum(axis=1)
    keep = m_u >= 2
    counts, m_u = counts[keep], m_u[keep]
    rng = np.random.default_rng(seed)
    n_units = len(counts)
    weights = rng.multinomial(n_units, np.full(n_units, 1 / n_units), size=n_resamples)
    scaled = weights / (m_u - 1)[None, :]
    # o_b = sum_u w_bu (n_u n_u' - diag n_u) / (m_u - 1), for every replicate b at once.
    coincidence = np.einsum("bu,uv,uw->bvw", scaled, counts, counts)
    coincidence -= np.einsum("bu,uv->bv", scaled, counts)[:, :, None] * np.eye(len(values))
    alphas = np.array([_alpha_from_coincidence(o, values, level) for o in coincidence])
    tail = (1 - confidence_level) / 2
    low, high = np.nanquantile(alphas, [tail, 1 - tail])
    return float(low), float(high)


def alpha_from_counts(counts: np.ndarray, values: np.ndarray, level: str = "ordinal") -> float:
    """Krippendorff's alpha from a units x values matrix of counts.

    Parameters
    ----------
    counts
        Shape (U, V): how many coders gave unit u the value ``values[v]``.
    values
        The V distinct values, increasing.
    level
        Metric of the differences.
    """
    m_u = counts.sum(axis=1)
    keep = m_u >= 2
    counts, m_u = counts[keep], m_u[keep]
    if counts.size == 0:
        raise ValueError("No unit has two or more answers, so agreement is undefined.")
    scaled = counts / (m_u - 1)[:, None]
    coincidence = scaled.T @ counts - np.diag(scaled.sum(axis=0))
    return _alpha_from_coincidence(coincidence, values, level)


def _alpha_from_coincidence(coincidence: np.ndarray, values: np.ndarray, level: str) -> float:
    n_c = coincidence.sum(axis=1)
    n = n_c.sum()
    delta = _metric(values, n_c, level)
    expected = (np.outer(n_c, n_c) * delta).sum()
    if expected == 0:
        return float("nan")
    return float(1 - (n - 1) * (coincidence * delta).sum() / expected)


def _metric(values: np.ndarray, n_c: np.ndarray, level: str) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    distance: np.ndarray
    if level == "nominal":
        return 1.0 - np.eye(len(v))
    if level == "interval":
        distance = np.subtract.outer(v, v) ** 2
        return distance
    if level == "ratio":
        with np.errstate(invalid="ignore", divide="ignore"):
            distance = (np.subtract.outer(v, v) / np.add.outer(v, v)) ** 2
        distance = np.nan_to_num(distance)
        return distance
    # Ordinal: the distance between ranks c and k is the mass of values between them, counting
    # the two end values by half.
    cum = np.r_[0.0, np.cumsum(n_c)]
    lo, hi = (
        np.minimum.outer(np.arange(len(v)), np.arange(len(v))),
        np.maximum.outer(np.arange(len(v)), np.arange(len(v))),
    )
    between = cum[hi + 1] - cum[lo]
    distance = (between - (n_c[lo] + n_c[hi]) / 2) ** 2
    return distance


def rating_matrix(df: pd.DataFrame) -> tuple[np.ndarray, int, int]:
    """Questions x participants matrix of scores, restricted to a complete block.

    Participants who skipped any question are dropped; if that leaves fewer than two, the
    questions not answered by everyone are dropped instead.

    Returns
    -------
    tuple
        The complete matrix and the numbers of questions and participants dropped.
    """
    q_code, q_names = pd.factorize(df["question"])
    p_code, p_names = pd.factorize(df["participant"])
    mat = np.full((len(q_names), len(p_names)), np.nan)
    mat[q_code, p_code] = df["score"].to_numpy(dtype=float)
    full_cols = ~np.isnan(mat).any(axis=0)
    if full_cols.sum() >= 2:
        return mat[:, full_cols], 0, int((~full_cols).sum())
    full_rows = ~np.isnan(mat).any(axis=1)
    return mat[full_rows], int((~full_rows).sum()), 0


def intraclass_correlations(
    matrix: np.ndarray | pd.DataFrame, confidence_level: float = 0.95
) -> pd.DataFrame:
    """Shrout-Fleiss / McGraw-Wong intraclass correlations of a complete targets x raters table.

    Parameters
    ----------
    matrix
        Shape (n targets, k raters) without missing values.
    confidence_level
        Coverage of the F-based intervals.

    Returns
    -------
    pandas.DataFrame
        Rows ICC1, ICC2, ICC3, ICC1k, ICC2k, ICC3k with columns
        ``type, description, icc, f, df1, df2, p_value, ci_low, ci_high``.
    """
    x = np.asarray(matrix, dtype=float)
    if x.ndim != 2 or np.isnan(x).any() or min(x.shape) < 2:
        raise ValueError("ICC needs a complete table with at least 2 targets and 2 raters.")
    n, k = x.shape
    msr, msc, mse, msw = _mean_squares(x)
    a = 1 - confidence_level
    df1, df2_w, df2_e = n - 1, n * (k - 1), (n - 1) * (k - 1)
    f1, f3 = msr / msw, msr / mse
    # Shrout & Fleiss F-based bounds for ICC1/ICC3 and their k-rater versions.
    f1l, f1u = f1 / stats.f.ppf(1 - a / 2, df1, df2_w), f1 * stats.f.ppf(1 - a / 2, df2_w, df1)
    f3l, f3u = f3 / stats.f.ppf(1 - a / 2, df1, df2_e), f3 * stats.f.ppf(1 - a / 2, df2_e, df1)
    icc2 = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
    l2, u2 = _icc2_interval(icc2, msr, msc, mse, n, k, a)
    single = {
        "ICC1": ((msr - msw) / (msr + (k - 1) * msw), f1, df2_w, f1l, f1u),
        "ICC3": ((msr - mse) / (msr + (k - 1) * mse), f3, df2_e, f3l, f3u),
    }
    rows = []
    for name, (icc, f, df2, fl, fu) in single.items():
        rows.append((name, icc, f, df2, (fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1)))
        rows.append(
            (
                f"{name}k",
                (msr - (msw if name == "ICC1" else mse)) / msr,
                f,
                df2,
                1 - 1 / fl,
                1 - 1 / fu,
            )
        )
    rows.append(("ICC2", icc2, f3, df2_e, l2, u2))
    rows.append(
        (
            "ICC2k",
            (msr - mse) / (msr + (msc - mse) / n),
            f3,
            df2_e,
            l2 * k / (1 + l2 * (k - 1)),
            u2 * k / (1 + u2 * (k - 1)),
        )
    )
    out = pd.DataFrame(rows, columns=["type", "icc", "f", "df2", "ci_low", "ci_high"])
    out = out.set_index("type").loc[list(ICC_DESCRIPTIONS)].reset_index()
    out.insert(1, "description", [ICC_DESCRIPTIONS[t] for t in out["type"]])
    out.insert(4, "df1", df1)
    out.insert(6, "p_value", stats.f.sf(out["f"], out["df1"], out["df2"]))
    return out


def _mean_squares(x: np.ndarray) -> tuple[float, float, float, float]:
    """Two-way ANOVA mean squares: rows (targets), columns (raters), error, within rows."""
    n, k = x.shape
    grand = x.mean()
    ss_rows = k * ((x.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((x.mean(axis=0) - grand) ** 2).sum()
    ss_err = ((x - grand) ** 2).sum() - ss_rows - ss_cols
    msw = (ss_cols + ss_err) / (n * (k - 1))
    return ss_rows / (n - 1), ss_cols / (k - 1), ss_err / ((n - 1) * (k - 1)), msw


def _icc2_interval(
    icc2: float, msr: float, msc: float, mse: float, n: int, k: int, a: float
) -> tuple[float, float]:
    # McGraw & Wong (1996) interval with Satterthwaite degrees of freedom.
    fj = msc / mse
    vn = (k - 1) * (n - 1) * (k * icc2 * fj + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    vd = (n - 1) * k**2 * icc2**2 * fj**2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    v = vn / vd
    f_u, f_l = stats.f.ppf(1 - a / 2, n - 1, v), stats.f.ppf(1 - a / 2, v, n - 1)
    low = n * (msr - f_u * mse) / (f_u * (k * msc + (k * n - k - n) * mse) + n * msr)
    high = n * (f_l * msr - mse) / (k * msc + (k * n - k - n) * mse + n * f_l * msr)
    return low, high


def agreement_summary(df: pd.DataFrame, confidence_level: float = 0.95) -> pd.DataFrame:
    """Ordinal alpha and ICCs of a ratings table in one tidy frame.

    Returns
    -------
    pandas.DataFrame
        Columns ``measure, value, ci_low, ci_high, n_questions, n_participants, note``.
    """
    counts, values = unit_value_counts(df)
    alpha = alpha_from_counts(counts, values, "ordinal")
    low, high = bootstrap_alpha(counts, values, "ordinal", confidence_level=confidence_level)
    rows = [
        (
            "Krippendorff alpha (ordinal)",
            alpha,
            low,
            high,
            df["question"].nunique(),
            df["participant"].nunique(),
            "all answers; interval resamples questions",
        )
    ]
    matrix, dropped_q, dropped_p = rating_matrix(df)
    note = f"complete block; dropped {dropped_q} question(s), {dropped_p} participant(s)"
    if min(matrix.shape) >= 2:
        icc = intraclass_correlations(matrix, confidence_level)
        for kind, value, icc_low, icc_high in zip(
            icc["type"], icc["icc"], icc["ci_low"], icc["ci_high"], strict=True
        ):
            rows.append((kind, value, icc_low, icc_high, matrix.shape[0], matrix.shape[1], note))
    return pd.DataFrame(
        rows,
        columns=["measure", "value", "ci_low", "ci_high", "n_questions", "n_participants", "note"],
    )
