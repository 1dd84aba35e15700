"""People versus metrics: each stimulus's mean rating against one of its objective measures.

One point per stimulus, coloured by method (the colours of Figure 10), with each method's
least-squares line over its own stimuli: parallel lines mean one within-method slope, crossing
ones an interaction. Drawn on a bare ``Figure`` (no pyplot), like :mod:`analysis.plots`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.plots import METHOD_COLOURS, save_figure

FIGURE_SIZE = (5.6, 4.0)
FIGURE_STEM = "human_vs_objective_"


def figure_stem(measure: str) -> str:
    """File stem of a measure's figure; characters unsafe in file names become ``_``."""
    return FIGURE_STEM + re.sub(r"[^A-Za-z0-9_.-]", "_", measure)


def plot_measure_scatter(
    stimuli: pd.DataFrame,
    measure: str,
    methods: list[str],
    title: str = "",
    ax: Axes | None = None,
) -> Axes:
    """Scatter of ``mean_score`` against ``measure``, one colour and fitted line per method.

    Parameters
    ----------
    stimuli
        One row per stimulus with ``method``, ``mean_score`` and the measure column.
    measure
        The measure on the x axis.
    methods
        Methods in legend order.
    title
        Axes title (the result in words).
    ax
        Axes to draw on; a new figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        ax = Figure(figsize=FIGURE_SIZE, layout="constrained").add_subplot()
    for i, method in enumerate(methods):
        part = stimuli[(stimuli["method"].astype(str) == method) & stimuli[measure].notna()]
        x = part[measure].to_numpy(dtype=float)
        y = part["mean_score"].to_numpy(dtype=float)
        colour = METHOD_COLOURS[i % len(METHOD_COLOURS)]
        ax.scatter(x, y, s=18, color=colour, alpha=0.75, label=f"{method} ({len(x)})")
        if len(x) >= 2 and np.ptp(x) > 0:
            slope, intercept = np.polyfit(x, y, 1)
            grid = np.linspace(x.min(), x.max(), 2)
            ax.plot(grid, intercept + slope * grid, color=colour, linewidth=1.5)
    ax.set_xlabel(measure)
    ax.set_ylabel("mean rating of the stimulus (1-5)")
    if title:
        ax.set_title(title, fontsize="small")
    ax.legend(title="method (stimuli)", fontsize="small", frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def write_measure_figure(
    stimuli: pd.DataFrame, measure: str, methods: list[str], out_dir: Path, title: str = ""
) -> Path:
    """Draw :func:`plot_measure_scatter` and write it as PNG; the path written."""
    ax = plot_measure_scatter(stimuli, measure, methods, title)
    figure = ax.figure
    root = figure if isinstance(figure, Figure) else figure.figure
    return save_figure(root, out_dir, figure_stem(measure), formats=("png",))[0]


__all__ = ["figure_stem", "plot_measure_scatter", "write_measure_figure"]
