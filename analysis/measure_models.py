"""Ratings on a stimulus measure: a cumulative logit mixed model per measure.

``score ~ method + z + (1 | participant) + (1 | image) [+ (1 | item)]``, with ``z`` the measure
standardised over its units (each stimulus, or each prototype for a prototype's own metric,
counted once whatever its number of answers: :func:`standardised`) and the
random terms of the headline model (:func:`analysis.primary.random_terms`), fitted by the same
Laplace approximation as R's ``ordinal::clmm`` (:mod:`analysis.clmm_crossed`).

- **Within-method slope**: the coefficient of ``z`` with method in the model, i.e. the change
  in the log odds of a higher rating per SD of the measure among stimuli of the same method, so
  that method differences in both ratings and measure cannot make it. Wald test: the estimate
  over its Hessian SE, referred to a t distribution with ``stimuli - methods - 1`` degrees of
  freedom, because the measure varies between stimuli only and its slope is estimated from the
  stimuli, not from the thousands of answers (the normal reference R prints is the limit as the
  stimuli grow). Holm-adjusted across the measures analysed.
- **Prototypes**: where a prototype is shown on several stimuli, a prototype intercept
  ``(1 | prototype)`` joins the random terms, and a measure of the prototype itself
  (consistency, purity: one value per prototype) has its slope's degrees of freedom counted in
  prototypes, ``prototypes - methods - 1`` (:mod:`analysis.stimulus_units`).
- **Measure x method interaction**: the model with one slope per method
  (``score ~ method + method:z + ...``) against the common slope, by a likelihood-ratio test
  with ``methods - 1`` degrees of freedom (chi-square; like every LR test it is asymptotic in
  the number of stimuli). The per-method slopes are reported with t intervals on
  ``units - 2 methods`` degrees of freedom.

A slope varying between participants (``(1 + z | participant)``) is not modelled: with a few
dozen stimuli per participant it is rarely identifiable. Where raters truly disagree about a
measure, leaving it out makes the slope's SE too small.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from analysis.clmm_crossed import CrossedClmmResult, fit_crossed_clmm
from analysis.design import describe_design
from analysis.io import method_order
from analysis.laplace import RandomTerm
from analysis.primary import random_terms
from analysis.stimulus_units import measure_unit, shares_prototypes, unit_keys

SLOPE_COLUMNS = (
    "measure",
    "unit",
    "estimate",
    "se",
    "t",
    "df",
    "p_value",
    "p_adjusted",
    "ci_low",
    "ci_high",
    "odds_ratio",
    "n_units",
    "n_answers",
    "converged",
)
METHOD_SLOPE_COLUMNS = ("measure", "method", "estimate", "se", "df", "ci_low", "ci_high",
                        "n_units")  # fmt: skip
INTERACTION_COLUMNS = ("measure", "statistic", "df", "p_value", "loglik_common",
                       "loglik_by_method", "converged")  # fmt: skip


@dataclass(frozen=True)
class MeasureSlopes:
    """The fitted models of every measure.

    Attributes
    ----------
    slopes
        One row per measure, ``SLOPE_COLUMNS``: the within-method slope per SD; ``unit`` is
        what the measure describes (``item`` or ``prototype``) and ``n_units`` their number.
    method_slopes
        One row per measure and method, ``METHOD_SLOPE_COLUMNS`` (empty without the
        interaction models).
    interactions
        One row per measure, ``INTERACTION_COLUMNS`` (empty with a single method or without
        the interaction models).
    formula
        The common-slope model in lme4 notation, ``z`` standing for the measure.
    fits
        The common-slope fit of each measure.
    """

    slopes: pd.DataFrame
    method_slopes: pd.DataFrame
    interactions: pd.DataFrame
    formula: str
    fits: dict[str, CrossedClmmResult] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def standardised(df: pd.DataFrame, measure: str) -> np.ndarray:
    """The measure of each row in SDs over its units (mean 0, SD 1, each stimulus or, for a
    prototype's own metric, each prototype once, whatever its number of answers)."""
    keys = unit_keys(df, measure_unit(df, measure))
    per_unit = pd.Series(df[measure].to_numpy(dtype=float)).groupby(keys).first()
    sd = float(per_unit.std(ddof=1))
    if per_unit.nunique() < 2 or not np.isfinite(sd) or sd <= 0:
        raise ValueError(
            f"Measure {measure!r} takes one value on every stimulus; a constant cannot be "
            "related to the ratings. Check that the export filled it per stimulus."
        )
    values: np.ndarray = (df[measure].to_numpy(dtype=float) - float(per_unit.mean())) / sd
    return values


def measure_slopes(
    df: pd.DataFrame,
    measures: list[str],
    reference: str | None = None,
    confidence_level: float = 0.95,
    interaction: bool = True,
    item_intercept: bool | None = None,
) -> MeasureSlopes:
    """Fit the common-slope (and per-method-slope) model of each measure.

    Parameters
    ----------
    df
        Validated ratings without gold trials, with one numeric column per measure, constant
        within a stimulus; answers whose stimulus lacks the measure are left out of its model.
    measures
        Measure columns.
    reference
        Baseline method of the method coefficients (first in study order when omitted).
    confidence_level
        Coverage of the t intervals.
    interaction
        Also fit one slope per method and test the interaction.
    item_intercept
        As :func:`analysis.primary.primary_model`.

    Returns
    -------
    MeasureSlopes
    """
    slope_rows, method_rows, interaction_rows, notes = [], [], [], []
    fits: dict[str, CrossedClmmResult] = {}
    formula = ""
    for measure in measures:
        data = df[df[measure].notna()].copy()
        data["method"] = data["method"].astype(str)
        methods = [m for m in method_order(df) if m in set(data["method"])]
        ref = methods[0] if reference is None or reference not in methods else reference
        others = [m for m in methods if m != ref]
        z = standardised(data, measure)
        labels = data["method"].to_numpy()
        dummies = [(labels == m).astype(float) for m in others]
        terms, random_formula = _terms(data, item_intercept)
        formula = random_formula.replace("score ~ method", "score ~ method + z", 1)
        y = data["score"].to_numpy()
        common = fit_crossed_clmm(
            y, np.column_stack([*dummies, z]), terms,
            names=(*(f"method[{m}]" for m in others), f"z({measure})"),
        )  # fmt: skip
        fits[measure] = common
        # The slope is estimated from the units the measure varies between (module docstring).
        unit = measure_unit(data, measure)
        n_items = int(len(np.unique(unit_keys(data, unit))))
        slope_rows.append(_slope_row(common, measure, unit, n_items, len(methods), len(data),
                                     confidence_level))  # fmt: skip
        if not common.converged:
            notes.append(f"{measure}: the common-slope model stopped with gradient "
                         f"{common.max_gradient:.2g}; its estimates may be off")  # fmt: skip
        if not interaction or len(methods) < 2:
            continue
        by_method = fit_crossed_clmm(
            y, np.column_stack([*dummies, *(z * (labels == m) for m in methods)]), terms,
            names=(*(f"method[{m}]" for m in others), *(f"z({measure}):{m}" for m in methods)),
        )  # fmt: skip
        units = pd.Series(unit_keys(data, unit), index=data.index)
        counts = units.groupby(data["method"]).nunique()
        method_rows += _method_rows(by_method, measure, methods, counts, n_items,
                                    confidence_level)  # fmt: skip
        # The larger model nests the smaller; a tiny negative difference is optimiser noise.
        lr = max(0.0, 2 * (by_method.loglik - common.loglik))
        df_lr = len(methods) - 1
        interaction_rows.append((measure, lr, df_lr, float(stats.chi2.sf(lr, df_lr)),
                                 common.loglik, by_method.loglik,
                                 bool(common.converged and by_method.converged)))  # fmt: skip
    slopes = pd.DataFrame(slope_rows, columns=list(SLOPE_COLUMNS))
    valid = slopes["p_value"].notna().to_numpy()
    if valid.any():
        slopes.loc[valid, "p_adjusted"] = multipletests(
            slopes.loc[valid, "p_value"], method="holm"
        )[1]
    return MeasureSlopes(
        slopes=slopes,
        method_slopes=pd.DataFrame(method_rows, columns=list(METHOD_SLOPE_COLUMNS)),
        interactions=pd.DataFrame(interaction_rows, columns=list(INTERACTION_COLUMNS)),
        formula=formula,
        fits=fits,
        notes=tuple(notes),
    )


def _terms(data: pd.DataFrame, item_intercept: bool | None) -> tuple[list[RandomTerm], str]:
    """The headline model's random terms, plus a prototype intercept where prototypes are
    shown on several stimuli."""
    terms, formula = random_terms(data, item_intercept=item_intercept, design=describe_design(data))
    if shares_prototypes(data):
        codes = pd.factorize(unit_keys(data, "prototype"), sort=True)[0]
        design = np.ones((len(data), 1))
        terms.append(RandomTerm("prototype", codes, int(codes.max()) + 1, design, ("(Intercept)",)))
        formula += " + (1 | prototype)"
    return terms, formula


def _slope_row(
    fit: CrossedClmmResult,
    measure: str,
    unit: str,
    n_items: int,
    n_methods: int,
    n_answers: int,
    confidence_level: float,
) -> tuple[object, ...]:
    k = len(fit.thresholds)
    index = k + len(fit.beta) - 1
    estimate = float(fit.beta[-1])
    se = float(np.sqrt(max(fit.cov[index, index], 0.0)))
    df = max(n_items - n_methods - 1, 1)
    t = estimate / se if se > 0 else np.nan
    p = float(2 * stats.t.sf(abs(t), df)) if se > 0 else np.nan
    half = stats.t.ppf(0.5 + confidence_level / 2, df) * se
    return (measure, unit, estimate, se, t, df, p, np.nan, estimate - half, estimate + half,
            float(np.exp(estimate)), n_items, n_answers, fit.converged)  # fmt: skip


def _method_rows(
    fit: CrossedClmmResult,
    measure: str,
    methods: list[str],
    counts: pd.Series,
    n_items: int,
    confidence_level: float,
) -> list[tuple[object, ...]]:
    k, n_beta = len(fit.thresholds), len(fit.beta)
    df = max(n_items - 2 * len(methods), 1)
    tq = stats.t.ppf(0.5 + confidence_level / 2, df)
    rows: list[tuple[object, ...]] = []
    for j, method in enumerate(methods):
        index = k + n_beta - len(methods) + j
        estimate = float(fit.beta[n_beta - len(methods) + j])
        se = float(np.sqrt(max(fit.cov[index, index], 0.0)))
        rows.append((measure, method, estimate, se, df, estimate - tq * se, estimate + tq * se,
                     int(counts.get(method, 0))))  # fmt: skip
    return rows


__all__ = [
    "INTERACTION_COLUMNS",
    "METHOD_SLOPE_COLUMNS",
    "SLOPE_COLUMNS",
    "MeasureSlopes",
    "measure_slopes",
    "standardised",
]
