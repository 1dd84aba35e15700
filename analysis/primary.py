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
Holm-adjusted p-values across the pairs. The statistic is referred to a t distribution whose
degrees of freedom follow Satterthwaite's idea for a variance with one poorly known part: the
contrast's variance is split into the part due to the pictures (image intercepts, or item
intercepts where both methods show the same images), which is estimated from few pictures and
carries their "between-within" degrees of freedom (images under either method minus 2, or
shared images minus 1), and the rest, estimated from thousands of answers. Then
``df = df_pictures * (se^2 / V_pictures)^2``, at least ``df_pictures``. The normal reference
that R's ``clmm`` prints is too liberal when a method has few images: in the paper's design
(20 images per method) it rejected about 7 % of null studies at alpha = 0.05
(``bench/bench_calibration.py`` measures the t reference). With many images the two agree.
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
from analysis.tables import wald_table

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
# Degrees of freedom where no picture variance enters the contrast (the normal limit).
MAX_DF = 1e6
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
    df: pd.DataFrame,
    slopes: bool = False,
    item_intercept: bool | None = None,
    design: Design | None = None,
) -> tuple[list[RandomTerm], str]:
    """The random terms of the headline model for this table, and their lme4 notation."""
    design = describe_design(df) if design is None else design
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
    design = describe_design(data)
    terms, formula = random_terms(data, slopes, item_intercept, design)
    fit = fit_crossed_clmm(
        data["score"].to_numpy(), x, terms, names=tuple(f"method[{m}]" for m in others)
    )
    notes = _notes(fit)
    return PrimaryFit(
        formula=formula,
        contrasts=_contrasts(fit, data, [reference, *others], p_adjust, confidence_level),
        coefficients=_coefficients(fit, confidence_level),
        variances=_variances(fit),
        loglik=fit.loglik,
        n_obs=fit.n_obs,
        converged=fit.converged,
        design=design,
        fit=fit,
        notes=tuple(notes),
    )


def _pair_df(
    df: pd.DataFrame, methods: list[str], fit: CrossedClmmResult, se: dict[tuple[str, str], float]
) -> dict[tuple[str, str], float]:
    """Satterthwaite-type degrees of freedom of every pair (see the module docstring)."""
    images = {
        str(m): set(part["image"].astype(str)) for m, part in df.groupby("method", observed=True)
    }
    var = {name: float(matrix[0, 0]) for name, matrix in fit.covariances.items()}
    out = {}
    for a, b in combinations(methods, 2):
        crossed = images[a] == images[b]
        base = len(images[a] | images[b]) - (1 if crossed else 2)
        # Picture variance that does not cancel from the contrast.
        picture = var.get("item", 0.0) + (0.0 if crossed else var.get("image", 0.0))
        v_pictures = picture * (1 / len(images[a]) + 1 / len(images[b]))
        total = se[(a, b)] ** 2
        if v_pictures <= 0 or total <= 0:
            out[(a, b)] = MAX_DF
            continue
        ratio = max(total / v_pictures, 1.0)
        out[(a, b)] = float(min(max(base, 1) * ratio**2, MAX_DF))
    return out


def _pair_se(
    fit: CrossedClmmResult, methods: list[str]
) -> tuple[np.ndarray, dict[tuple[str, str], float]]:
    """Coefficients with the reference's zero first, and the SE of every pairwise difference."""
    k, n_other = len(fit.thresholds), len(methods) - 1
    beta = np.r_[0.0, fit.beta]
    cov = np.zeros((len(methods), len(methods)))
    cov[1:, 1:] = fit.cov[k : k + n_other, k : k + n_other]
    se = {}
    for i, j in combinations(range(len(methods)), 2):
        se[(methods[i], methods[j])] = float(
            np.sqrt(max(cov[i, i] + cov[j, j] - 2 * cov[i, j], 0.0))
        )
    return beta, se


def _contrasts(
    fit: CrossedClmmResult,
    data: pd.DataFrame,
    methods: list[str],
    p_adjust: str,
    confidence_level: float,
) -> pd.DataFrame:
    beta, ses = _pair_se(fit, methods)
    dfs = _pair_df(data, methods, fit, ses)
    rows = []
    for i, j in combinations(range(len(methods)), 2):
        pair = (methods[i], methods[j])
        df, se = dfs[pair], ses[pair]
        tq = stats.t.ppf(0.5 + confidence_level / 2, df)
        estimate = beta[i] - beta[j]
        t = estimate / se if se > 0 else np.nan
        p = 2 * stats.t.sf(abs(t), df) if se > 0 else np.nan
        rows.append([*pair, estimate, se, t, df, p, np.nan,
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
    labels = [f"{fit.levels[j]:g}|{fit.levels[j + 1]:g}" for j in range(k)]
    kinds = ["threshold"] * k + ["location"] * len(fit.beta)
    estimates = np.r_[fit.thresholds, fit.beta]
    return wald_table(labels + list(fit.names), estimates, se, confidence_level, kinds)


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
