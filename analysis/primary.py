"""The report's headline test: a cumulative logit mixed model with pictures as a random sample.

``score ~ method + (1 | participant) + (1 | image) [+ (1 | item)]`` on the logit scale, fitted
by the Laplace approximation (:mod:`analysis.clmm_crossed`), which R's ``ordinal::clmm`` also
uses. Images are a random sample of the pictures a method could have been shown on; leaving
their variance out makes the luck of which images were drawn look like a method effect
(Judd, Westfall & Kenny 2012). Where an image is shown under several methods (a Latin
square), an item intercept (one image under one method) is added, so that an image's own
appeal and its appeal under one method are told apart. By-participant method slopes
(``(1 + method | participant)``, Barr et al. 2013's maximal structure for this design) are an
option.

Every pair of methods is compared by a Wald test of the log odds ratio of scoring higher, with
Holm-adjusted p-values across the pairs. The statistic is referred to a t distribution with
"between-within" degrees of freedom: the number of images the two methods' comparison rests
on, less what their means use up -- images under either method minus 2 where each image is
shown under one method, shared images minus 1 where every image is shown under both. The
image variance is estimated from those few images, so the normal reference that R's ``clmm``
prints is too liberal when there are few: in the paper's design (20 images per method) a
z reference rejected about 7 % of null studies at alpha = 0.05, the t reference about 5 %
(``bench/bench_calibration.py``). With many images the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from analysis.clmm_crossed import BOUNDARY_SD, CrossedClmmResult, fit_crossed_clmm
from analysis.design import Design, describe_design
from analysis.io import method_order
from analysis.laplace import RandomTerm

CONTRAST_COLUMNS = (
    "method_a",
    "method_b",
    "log_odds_ratio",
    "se",
    "t",
    "df",
    "p_value",
    "p_adjusted",
    "ci_low",
    "ci_high",
    "odds_ratio",
)
VARIANCE_COLUMNS = ("group", "name", "variance", "sd", "n_groups")
COEFFICIENT_COLUMNS = ("term", "kind", "estimate", "se", "z", "p_value", "ci_low", "ci_high")


@dataclass(frozen=True)
class PrimaryFit:
    """The fitted headline model.

    Attributes
    ----------
    formula
        The model in lme4 notation.
    contrasts
        Every pair of methods, columns in ``CONTRAST_COLUMNS``; positive means ``method_a``
        is rated higher.
    coefficients
        Thresholds and method coefficients against the reference, ``COEFFICIENT_COLUMNS``.
    variances
        Variance components, ``VARIANCE_COLUMNS``.
    design
        The arrangement of images and methods the model was chosen for.
    """

    formula: str
    contrasts: pd.DataFrame
    coefficients: pd.DataFrame
    variances: pd.DataFrame
    loglik: float
    n_obs: int
    converged: bool
    design: Design
    fit: CrossedClmmResult
    notes: tuple[str, ...] = field(default_factory=tuple)


def regular_answers(df: pd.DataFrame) -> pd.DataFrame:
    """Drop gold trials (they are checks on the rater, not ratings of a method)."""
    if "is_gold" not in df.columns:
        return df
    gold = df["is_gold"].fillna(False).astype(bool).to_numpy()
    out = df.loc[~gold].copy()
    out["method"] = out["method"].cat.remove_unused_categories()
    return out


def random_terms(
    df: pd.DataFrame, slopes: bool = False, item_intercept: bool | None = None
) -> tuple[list[RandomTerm], str]:
    """The random terms of the headline model for this table, and their lme4 notation."""
    design = describe_design(df)
    n = len(df)
    terms = []
    labels = []
    methods = method_order(df)
    for name in ("participant", "image", "item"):
        if name == "item" and not (
            design.items_differ_from_images if item_intercept is None else item_intercept
        ):
            continue
        codes = pd.factorize(df[name].astype(str), sort=True)[0]
        if name == "participant" and slopes:
            method = df["method"].astype(str).to_numpy()
            dummies = [(method == m).astype(float) for m in methods[1:]]
            columns = ("(Intercept)", *(f"method[{m}]" for m in methods[1:]))
            design_matrix = np.column_stack([np.ones(n), *dummies])
            labels.append("(1 + method | participant)")
        else:
            columns = ("(Intercept)",)
            design_matrix = np.ones((n, 1))
            labels.append(f"(1 | {name})")
        terms.append(RandomTerm(name, codes, int(codes.max()) + 1, design_matrix, columns))
    return terms, "score ~ method + " + " + ".join(labels)


def primary_model(
    df: pd.DataFrame,
    reference: str | None = None,
    slopes: bool = False,
    item_intercept: bool | None = None,
    p_adjust: str = "holm",
    confidence_level: float = 0.95,
) -> PrimaryFit:
    """Fit the headline model and compare every pair of methods.

    Parameters
    ----------
    df
        Validated ratings (:func:`analysis.validate_ratings`); gold trials are dropped.
    reference
        Method whose coefficient is fixed at zero; the first in study order when omitted.
    slopes
        Add by-participant method slopes with their correlations.
    item_intercept
        Add an item intercept; by default whenever some image has several items.
    p_adjust
        Correction of the pairwise p-values across pairs (statsmodels name).
    confidence_level
        Coverage of the unadjusted intervals (t quantiles, as the tests).

    Returns
    -------
    PrimaryFit
    """
    data = regular_answers(df)
    methods = method_order(data)
    if len(methods) < 2:
        raise ValueError("The headline model compares methods; the ratings have only one.")
    reference = methods[0] if reference is None else reference
    if reference not in methods:
        raise ValueError(f"Reference method {reference!r} not in the data; choose from {methods}.")
    others = [m for m in methods if m != reference]
    labels = data["method"].astype(str).to_numpy()
    x = np.column_stack([(labels == m).astype(float) for m in others])
    terms, formula = random_terms(data, slopes, item_intercept)
    fit = fit_crossed_clmm(
        data["score"].to_numpy(), x, terms, names=tuple(f"method[{m}]" for m in others)
    )
    notes = _notes(fit)
    return PrimaryFit(
        formula=formula,
        contrasts=_contrasts(
            fit,
            reference,
            others,
            _pair_df(data, [reference, *others]),
            p_adjust,
            confidence_level,
        ),  # fmt: skip
        coefficients=_coefficients(fit, confidence_level),
        variances=_variances(fit),
        loglik=fit.loglik,
        n_obs=fit.n_obs,
        converged=fit.converged,
        design=describe_design(data),
        fit=fit,
        notes=tuple(notes),
    )


def _pair_df(df: pd.DataFrame, methods: list[str]) -> dict[tuple[str, str], int]:
    """Between-within degrees of freedom of every pair (see the module docstring)."""
    images = {
        str(m): set(part["image"].astype(str)) for m, part in df.groupby("method", observed=True)
    }
    out = {}
    for a, b in combinations(methods, 2):
        union = images[a] | images[b]
        out[(a, b)] = max(len(union) - (1 if images[a] == images[b] else 2), 1)
    return out


def _contrasts(
    fit: CrossedClmmResult,
    reference: str,
    others: list[str],
    dfs: dict[tuple[str, str], int],
    p_adjust: str,
    confidence_level: float,
) -> pd.DataFrame:
    k = len(fit.thresholds)
    methods = [reference, *others]
    # Coefficient vector with the reference's zero, and its covariance.
    beta = np.r_[0.0, fit.beta]
    cov = np.zeros((len(methods), len(methods)))
    cov[1:, 1:] = fit.cov[k : k + len(others), k : k + len(others)]
    rows = []
    for i, j in combinations(range(len(methods)), 2):
        df = dfs[(methods[i], methods[j])]
        tq = stats.t.ppf(0.5 + confidence_level / 2, df)
        estimate = beta[i] - beta[j]
        se = float(np.sqrt(max(cov[i, i] + cov[j, j] - 2 * cov[i, j], 0.0)))
        t = estimate / se if se > 0 else np.nan
        p = 2 * stats.t.sf(abs(t), df) if se > 0 else np.nan
        rows.append([methods[i], methods[j], estimate, se, t, df, p, np.nan,
                     estimate - tq * se, estimate + tq * se, np.exp(estimate)])  # fmt: skip
    table = pd.DataFrame(rows, columns=list(CONTRAST_COLUMNS))
    valid = table["p_value"].notna().to_numpy()
    if valid.any():
        adjusted = multipletests(table.loc[valid, "p_value"], method=p_adjust)[1]
        table.loc[valid, "p_adjusted"] = adjusted
    return table


def _coefficients(fit: CrossedClmmResult, confidence_level: float) -> pd.DataFrame:
    k = len(fit.thresholds)
    se = np.sqrt(np.clip(np.diag(fit.cov)[: k + len(fit.beta)], 0, None))
    estimates = np.r_[fit.thresholds, fit.beta]
    zq = stats.norm.ppf(0.5 + confidence_level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = estimates / se
    labels = [f"{fit.levels[j]:g}|{fit.levels[j + 1]:g}" for j in range(k)]
    return pd.DataFrame(
        {
            "term": labels + list(fit.names),
            "kind": ["threshold"] * k + ["location"] * len(fit.beta),
            "estimate": estimates,
            "se": se,
            "z": z,
            "p_value": 2 * stats.norm.sf(np.abs(z)),
            "ci_low": estimates - zq * se,
            "ci_high": estimates + zq * se,
        }
    )


def _variances(fit: CrossedClmmResult) -> pd.DataFrame:
    rows = []
    for group, matrix in fit.covariances.items():
        for c, name in enumerate(fit.term_columns[group]):
            variance = float(matrix[c, c])
            rows.append((group, name, variance, np.sqrt(variance), fit.n_groups[group]))
    return pd.DataFrame(rows, columns=list(VARIANCE_COLUMNS))


def _notes(fit: CrossedClmmResult) -> list[str]:
    notes = []
    if not fit.converged:
        notes.append(
            f"the optimiser stopped with gradient {fit.max_gradient:.2g}; the estimates may "
            "be off (more answers, or fewer random terms, usually help)"
        )
    for group in fit.covariances:
        if fit.sd(group) < BOUNDARY_SD:
            notes.append(
                f"the {group} variance is estimated at zero (a boundary fit): the data show "
                f"no differences between {group}s beyond chance"
            )
    return notes
