"""People versus metrics: do ratings follow what can be measured on the same picture?

Input is the long responses table (:func:`analysis.load_ratings`) with one column per
objective measure of the stimulus (the share of the map's energy on the annotated parts, its
concentration, the prototype's activation, the prototype's consistency ...), repeated on
every answer to that stimulus. For each measure:

1. the cumulative logit mixed model of the rating on the standardised measure plus method,
   with the headline model's crossed random effects: the within-method slope (Wald t) and the
   measure x method interaction (likelihood ratio) (:mod:`analysis.measure_models`);
2. Spearman's rho of the per-stimulus mean rating against the measure, pooled within method,
   with a two-way (participants x images) bootstrap interval
   (:mod:`analysis.stimulus_correlation`);
3. once for the ratings, the split-half noise ceiling: the rho no measure can beat;
4. a scatter of the stimuli, coloured by method, with each method's fitted line
   (:mod:`analysis.measure_plots`).

Correlating the three method means with the methods' mean measures would be a correlation of
n = 3; every statistic here is computed across stimuli within a method. Exclusions are the
caller's: pass the kept answers of :func:`analysis.apply_exclusions` (careless raters who are
kept pull every slope and rho towards zero).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.io import load_ratings, method_order
from analysis.measure_models import measure_slopes
from analysis.measure_plots import write_measure_figure
from analysis.primary import regular_answers
from analysis.report_writers import markdown_table
from analysis.stimulus_correlation import (
    POOLED,
    StimulusRatings,
    bootstrap_rho,
    split_half_ceiling,
)
from analysis.stimulus_units import measure_unit

STIMULUS_COLUMNS = ("item", "image", "method", "n_answers", "mean_score")
SECTION_TITLE = "## People versus metrics"
_PLURALS = {"item": "stimuli", "prototype": "prototypes"}


@dataclass(frozen=True)
class HumanVsObjective:
    """Ratings against objective measures, tidy tables and the figures written.

    Attributes
    ----------
    measures
        The measures analysed, in the order asked.
    slopes, method_slopes, interactions
        The mixed models (:mod:`analysis.measure_models` gives the columns).
    correlations
        Within-method Spearman rho per measure (:data:`POOLED` rows) and per method, with
        two-way bootstrap intervals.
    noise_ceiling
        Split-half reliability of the stimulus means and its ceiling, pooled and per method.
    stimuli
        One row per stimulus: ``STIMULUS_COLUMNS`` and the measures.
    formula
        The common-slope model, ``z`` standing for the standardised measure.
    figures
        One PNG per measure (empty when no folder was given).
    """

    measures: tuple[str, ...]
    slopes: pd.DataFrame
    method_slopes: pd.DataFrame
    interactions: pd.DataFrame
    correlations: pd.DataFrame
    noise_ceiling: pd.DataFrame
    stimuli: pd.DataFrame
    formula: str
    methods: tuple[str, ...]
    confidence_level: float
    n_resamples: int
    n_splits: int
    seed: int
    figures: tuple[Path, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


def human_vs_objective(
    frame: pd.DataFrame | str | Path,
    measures: Sequence[str],
    out_dir: str | Path | None = None,
    reference: str | None = None,
    n_resamples: int = 2000,
    n_splits: int = 200,
    confidence_level: float = 0.95,
    seed: int = 0,
    item_intercept: bool | None = None,
) -> HumanVsObjective:
    """Relate ratings to per-stimulus measures (see the module docstring).

    Parameters
    ----------
    frame
        Long-format ratings (or a CSV path) with the measure columns; gold trials are dropped.
    measures
        Numeric columns, each one value per stimulus (empty where the dataset has no such
        annotation: those stimuli are left out of that measure's analysis).
    out_dir
        Folder for the figures (``human_vs_objective_<measure>.png``); none when omitted.
    reference
        Baseline method of the models' method coefficients.
    n_resamples, n_splits
        Bootstrap replicates and random split halves.
    confidence_level
        Coverage of every interval.
    seed
        Seed of the bootstrap and the splits.
    item_intercept
        As :func:`analysis.primary.primary_model`.

    Returns
    -------
    HumanVsObjective

    Raises
    ------
    ValueError
        A measure that is missing, not numeric, varies within a stimulus or is constant, or a
        reference method that is not in the data.
    """
    if not 0 < confidence_level < 1:
        raise ValueError("confidence_level must be between 0 and 1, e.g. 0.95.")
    names = _measure_names(measures)
    data = regular_answers(load_ratings(frame))
    data = _checked_measures(data, names)
    methods = method_order(data)
    if reference is not None and reference not in methods:
        raise ValueError(f"Reference method {reference!r} not in the data; choose from {methods}.")
    units = {m: measure_unit(data, m) for m in names}
    tables = {u: StimulusRatings(data, u) for u in dict.fromkeys(units.values())}
    values = {m: tables[units[m]].values(data, m) for m in names}
    notes = [
        f"{m}: {int(np.isnan(v).sum())} of {len(v)} {_PLURALS[units[m]]} have no value and "
        "are left out of its analysis" for m, v in values.items() if np.isnan(v).any()
    ]  # fmt: skip
    notes += [
        f"{m} is one value per prototype: its slope and rho count prototypes, not stimuli"
        for m in names if units[m] == "prototype"
    ]  # fmt: skip
    models = measure_slopes(data, list(names), reference, confidence_level, True, item_intercept)
    correlations = pd.concat(
        [
            bootstrap_rho(table, {m: values[m] for m in names if units[m] == unit},
                          n_resamples, confidence_level, seed)
            for unit, table in tables.items()
        ],
        ignore_index=True,
    )  # fmt: skip
    order = {m: i for i, m in enumerate(names)}
    correlations = correlations.sort_values("measure", key=lambda c: c.map(order), kind="stable")
    correlations = correlations.reset_index(drop=True)
    ceiling = pd.concat(
        [split_half_ceiling(table, n_splits, seed) for table in tables.values()],
        ignore_index=True,
    )
    figures: list[Path] = []
    if out_dir is not None:
        for measure in names:
            title = _figure_title(measure, models.slopes, correlations)
            points = _unit_points(tables[units[measure]], values[measure], measure)
            figures.append(write_measure_figure(points, measure, methods, Path(out_dir), title))
    stimuli = stimulus_table(data, names)
    return HumanVsObjective(
        measures=names,
        slopes=models.slopes,
        method_slopes=models.method_slopes,
        interactions=models.interactions,
        correlations=correlations,
        noise_ceiling=ceiling,
        stimuli=stimuli,
        formula=models.formula,
        methods=tuple(methods),
        confidence_level=confidence_level,
        n_resamples=n_resamples,
        n_splits=n_splits,
        seed=seed,
        figures=tuple(figures),
        notes=(*notes, *models.notes),
    )


def stimulus_table(df: pd.DataFrame, measures: Sequence[str]) -> pd.DataFrame:
    """One row per stimulus: its image, method, answers, mean score, prototype (where the
    ratings name one) and measures."""
    grouped = df.groupby("item", observed=True)
    out = grouped.agg(
        image=("image", "first"),
        method=("method", "first"),
        n_answers=("score", "size"),
        mean_score=("score", "mean"),
    )
    if "prototype" in df.columns:
        out["prototype"] = grouped["prototype"].first()
    for measure in measures:
        out[measure] = grouped[measure].first()
    out = out.reset_index()
    out["item"] = out["item"].astype(str)
    out["image"] = out["image"].astype(str)
    out["method"] = out["method"].astype(str)
    extra = ["prototype"] if "prototype" in out.columns else []
    return out[[*STIMULUS_COLUMNS, *extra, *measures]]


def _unit_points(table: StimulusRatings, values: np.ndarray, measure: str) -> pd.DataFrame:
    """The figure's points: one per unit, its mean score over all its answers."""
    means = table.means(np.ones((len(table.participants), 1)))[:, 0]
    return pd.DataFrame({"method": table.method, "mean_score": means, measure: values})


def _measure_names(measures: Sequence[str]) -> tuple[str, ...]:
    if isinstance(measures, str):
        measures = [m.strip() for m in measures.split(",")]
    names = tuple(dict.fromkeys(str(m) for m in measures if str(m).strip()))
    if not names:
        raise ValueError("Name at least one measure column, e.g. measures=['energy_in_part'].")
    return names


def _checked_measures(df: pd.DataFrame, measures: tuple[str, ...]) -> pd.DataFrame:
    missing = [m for m in measures if m not in df.columns]
    if missing:
        numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
        raise ValueError(
            f"Measure column(s) {missing} are not in the ratings; numeric columns there: "
            f"{numeric}. Export the responses with the stimulus measures."
        )
    out = df.copy()
    for measure in measures:
        values = pd.to_numeric(out[measure], errors="coerce")
        bad = values.isna() & out[measure].notna()
        if bad.any():
            example = out.loc[bad, measure].iloc[0]
            raise ValueError(
                f"Measure {measure!r} has non-numeric values (e.g. {example!r}); a measure is "
                "a number per stimulus."
            )
        values = values.where(np.isfinite(values))
        out[measure] = values.astype(float)
        spread = out.groupby("item", observed=True)[measure].nunique(dropna=False)
        if (spread > 1).any():
            item = spread.index[spread.to_numpy() > 1][0]
            raise ValueError(
                f"Measure {measure!r} takes several values on stimulus {item!r}; a stimulus "
                "measure is one value per stimulus (item), repeated on each of its answers."
            )
        if out[measure].notna().sum() == 0:
            raise ValueError(f"Measure {measure!r} is empty on every stimulus.")
        if out.groupby("item", observed=True)[measure].first().nunique() < 2:
            raise ValueError(
                f"Measure {measure!r} takes one value on every stimulus; a constant cannot be "
                "related to the ratings. Check that the export filled it per stimulus."
            )
    return out


def _figure_title(measure: str, slopes: pd.DataFrame, correlations: pd.DataFrame) -> str:
    slope = slopes[slopes["measure"] == measure].iloc[0]
    rho = correlations[(correlations["measure"] == measure)
                       & (correlations["method"] == POOLED)].iloc[0]  # fmt: skip
    return (
        f"slope {slope['estimate']:.2f} log-odds/SD [{slope['ci_low']:.2f}, "
        f"{slope['ci_high']:.2f}]; rho within method {rho['rho']:.2f} "
        f"[{rho['ci_low']:.2f}, {rho['ci_high']:.2f}]"
    )


def write_markdown_section(result: HumanVsObjective) -> str:
    """The report's section on ratings against the measures, as Markdown.

    Figures are linked by file name, so the section sits in the folder that holds them.
    """
    level = f"{result.confidence_level:.0%}"
    pooled = result.noise_ceiling[result.noise_ceiling["method"] == POOLED]
    ceilings = ", ".join(
        f"{row.ceiling:.3f} for {_PLURALS.get(str(row.unit), str(row.unit))}"
        for row in pooled.itertuples()
    )
    parts = [
        f"{SECTION_TITLE}\n",
        "Each stimulus's objective measures against its ratings, within method: a method "
        "rated higher that also scores higher on a measure does not count as agreement "
        f"(three method means would be n = 3). Model: `{result.formula}`, `z` the measure in "
        "SDs over the stimuli (cumulative logit, Laplace approximation as R's "
        "`ordinal::clmm`). The within-method slope is the change in log odds of a higher "
        "rating per SD (Wald t on units - methods - 1 df, the units being stimuli, or "
        "prototypes for a prototype's own metric; Holm across measures); the "
        "interaction compares one slope per method with the common slope (likelihood ratio, "
        f"methods - 1 df). Intervals are {level}.\n",
        "### Within-method slope\n",
        markdown_table(result.slopes),
        "\nOne slope per method:\n",
        markdown_table(result.method_slopes),
        "\nMeasure x method interaction (likelihood ratio):\n",
        markdown_table(result.interactions),
        "### Spearman's rho of the stimulus means\n",
        f"Pooled within method (the stimulus-weighted mean of each method's rho); intervals "
        f"from {result.n_resamples} two-way bootstrap replicates over participants and images "
        f"(seed {result.seed}).\n",
        markdown_table(result.correlations),
        "\nNoise ceiling of the ratings: split-half rho of the stimulus means over "
        f"{result.n_splits} random splits of the participants, stepped up by Spearman-Brown "
        "(reliability); no measure can correlate with the mean ratings beyond about "
        f"sqrt(reliability): {ceilings} (pooled within method).\n",
        markdown_table(result.noise_ceiling),
        "\nA slope or rho is an association across stimuli within a method, not an effect of "
        "the measure: stimuli differ in more than the measure, and a rho near the ceiling "
        "says the measure orders the stimuli as people do, not that the method is better.\n",
    ]
    for measure, path in zip(result.measures, result.figures, strict=False):
        parts.append(f"![{measure}: stimulus means against the measure]({path.name})\n")
    if result.notes:
        parts += ["\nNotes:\n", "\n".join(f"- {n}" for n in result.notes) + "\n"]
    return "\n".join(parts)


__all__ = [
    "SECTION_TITLE",
    "STIMULUS_COLUMNS",
    "HumanVsObjective",
    "human_vs_objective",
    "stimulus_table",
    "write_markdown_section",
]
