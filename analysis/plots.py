"""Figure 10: distributions of saliency scores per method, in two publication layouts.

Figures are drawn on ``matplotlib.figure.Figure`` objects rather than through pyplot, so the
web application can render them from worker threads without a global figure manager.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from analysis.bootstrap import bootstrap_means
from analysis.distributions import score_distribution
from analysis.io import SCORE_LEVELS

# Okabe-Ito colours stay distinguishable for the common colour-vision deficiencies.
METHOD_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
# Diverging palette for scores 1 (least salient) .. 5 (most salient).
SCORE_COLOURS = ("#b2182b", "#ef8a62", "#d9d9d9", "#67a9cf", "#2166ac")
FIGURE_SIZE = (6.8, 3.8)
FORMATS = ("png", "svg", "pdf")
# The survey's own end labels (surveys.models.Study.scale_low_label / scale_high_label
# defaults); a study with other labels passes them in.
SCALE_LABELS: tuple[str, str] = ("least salient", "most salient")


def score_labels(scale_labels: tuple[str, str] = SCALE_LABELS) -> dict[int, str]:
    """Tick labels of the 1-5 scale, the ends named as the participants saw them."""
    low, high = scale_labels
    return {1: f"1 ({low})", 2: "2", 3: "3", 4: "4", 5: f"5 ({high})"}


def _new_axes(ax: Axes | None, size: tuple[float, float] = FIGURE_SIZE) -> Axes:
    if ax is not None:
        return ax
    fig = Figure(figsize=size, layout="constrained")
    return fig.add_subplot()


def _means_table(df: pd.DataFrame, means: pd.DataFrame | None) -> pd.DataFrame:
    table = bootstrap_means(df) if means is None else means
    missing = {"method", "mean", "ci_low", "ci_high"} - set(table.columns)
    if missing:
        raise ValueError(f"means table lacks {sorted(missing)}; pass bootstrap_means(df).")
    return table.set_index(table["method"].astype(str))


def _ci_label(table: pd.DataFrame) -> str:
    # The table says what its bootstrap resampled; one passed in without that column does not.
    if "resampling" in table.columns and table["resampling"].nunique() == 1:
        return f"mean, 95% CI (bootstrap over {table['resampling'].iloc[0]})"
    return "mean, 95% CI (cluster bootstrap)"


def plot_score_distribution(
    df: pd.DataFrame,
    ax: Axes | None = None,
    means: pd.DataFrame | None = None,
    scale_labels: tuple[str, str] = SCALE_LABELS,
) -> Axes:
    """Grouped bars of the share of each score per method, each method's mean marked.

    Parameters
    ----------
    df
        Validated ratings.
    ax
        Axes to draw on; a new figure is made when omitted.
    means
        Output of :func:`analysis.bootstrap.bootstrap_means`, to reuse an earlier bootstrap.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _new_axes(ax)
    dist = score_distribution(df, "method")
    methods = list(pd.unique(dist["method"].astype(str)))
    table = _means_table(df, means)
    width = 0.8 / len(methods)
    top = dist["proportion"].max() * 1.18
    for i, method in enumerate(methods):
        colour = METHOD_COLOURS[i % len(METHOD_COLOURS)]
        rows = dist[dist["method"].astype(str) == method]
        offset = (i - (len(methods) - 1) / 2) * width
        m = table.loc[method]
        label = f"{method} (mean {m['mean']:.2f})"
        ax.bar(
            rows["score"] + offset,
            rows["proportion"],
            width=width * 0.95,
            color=colour,
            label=label,
            edgecolor="white",
            linewidth=0.5,
        )
        # The mean sits on the score axis: a marker with its cluster-bootstrap CI above the bars.
        _mark_mean(ax, m, top * (0.97 - 0.05 * i), colour)
    ax.set_xticks(list(SCORE_LEVELS))
    ticks = score_labels(scale_labels)
    ax.set_xticklabels([ticks[s] for s in SCORE_LEVELS])
    ax.set_xlim(0.5, 5.5)
    ax.set_ylim(0, top)
    ax.set_xlabel("Saliency score")
    ax.set_ylabel("Proportion of answers")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    handles, _ = ax.get_legend_handles_labels()
    marker = Line2D(
        [],
        [],
        color="0.3",
        marker="v",
        linestyle="--",
        linewidth=0.9,
        label=_ci_label(table),
    )
    # Above the axes, so the legend never hides bars or the mean markers.
    ax.legend(
        handles=[*handles, marker],
        frameon=False,
        fontsize="small",
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncols=2,
    )
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def _mark_mean(ax: Axes, row: pd.Series, y: float, colour: str) -> None:
    err = [[row["mean"] - row["ci_low"]], [row["ci_high"] - row["mean"]]]
    ax.errorbar(
        row["mean"], y, xerr=err, fmt="v", color=colour, markersize=6, capsize=2.5, linewidth=1.2
    )
    ax.axvline(row["mean"], color=colour, linestyle="--", linewidth=0.9, alpha=0.8)


def plot_diverging(
    df: pd.DataFrame,
    ax: Axes | None = None,
    means: pd.DataFrame | None = None,
    scale_labels: tuple[str, str] = SCALE_LABELS,
) -> Axes:
    """Diverging stacked bars centred on the neutral score 3, one bar per method.

    Scores 1-2 extend left and 4-5 right; the neutral share is split half on each side. The
    mean and its bootstrap CI are written in the method labels.

    Returns
    -------
    matplotlib.axes.Axes
    """
    methods_dist = score_distribution(df, "method")
    methods = list(pd.unique(methods_dist["method"].astype(str)))
    ax = _new_axes(ax, (FIGURE_SIZE[0], 0.9 + 0.55 * len(methods)))
    table = _means_table(df, means)
    wide = methods_dist.pivot_table(
        index="method", columns="score", values="proportion", observed=True
    )
    wide.index = wide.index.astype(str)
    wide = wide.reindex(index=methods[::-1], columns=list(SCORE_LEVELS), fill_value=0.0)
    p = wide.to_numpy()
    # Segments from the left edge: 1, 2, the left half of 3, then the right half, 4 and 5.
    start = -(p[:, 0] + p[:, 1] + p[:, 2] / 2)
    y = np.arange(len(methods))
    for j, score in enumerate(SCORE_LEVELS):
        ax.barh(
            y,
            p[:, j],
            left=start,
            color=SCORE_COLOURS[j],
            height=0.6,
            label=score_labels(scale_labels)[int(score)],
            edgecolor="white",
            linewidth=0.5,
        )
        start = start + p[:, j]
    ax.axvline(0, color="black", linewidth=0.8)
    labels = [
        f"{m}\nmean {table.loc[m, 'mean']:.2f} [{table.loc[m, 'ci_low']:.2f}, "
        f"{table.loc[m, 'ci_high']:.2f}]"
        for m in wide.index
    ]
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize="small")
    limit = max(1e-9, np.abs(np.r_[start, start - p.sum(axis=1)]).max())
    ax.set_xlim(-limit * 1.05, limit * 1.05)
    ax.xaxis.set_major_formatter(lambda v, _: f"{abs(v):.0%}")
    ax.set_xlabel("Share of answers (left: scores 1-2, right: scores 4-5)")
    ax.legend(
        title="Score",
        ncols=5,
        frameon=False,
        fontsize="small",
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
    )
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def save_figure(
    fig: Figure, out_dir: str | Path, stem: str, formats: Sequence[str] = FORMATS, dpi: int = 200
) -> list[Path]:
    """Write a figure in each format and return the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, fmt in enumerate(formats):
        if i == 1 and fig.get_layout_engine() is not None:
            # The layout is settled by the first save; freezing it skips recomputing it.
            fig.set_layout_engine("none")
        path = out / f"{stem}.{fmt}"
        # Dropping the date keeps repeated reports byte-comparable.
        metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt, {})
        fig.savefig(path, dpi=dpi, metadata=metadata)
        paths.append(path)
    return paths


def figure10(
    df: pd.DataFrame,
    out_dir: str | Path,
    means: pd.DataFrame | None = None,
    formats: Sequence[str] = FORMATS,
    scale_labels: tuple[str, str] = SCALE_LABELS,
) -> list[Path]:
    """Write Figure 10 (grouped bars) and its diverging variant in every format.

    Returns
    -------
    list of pathlib.Path
        ``figure10.*`` followed by ``figure10_diverging.*``.
    """
    table = bootstrap_means(df) if means is None else means
    bars = plot_score_distribution(df, means=table, scale_labels=scale_labels)
    paths = save_figure(_root_figure(bars), out_dir, "figure10", formats)
    diverging = plot_diverging(df, means=table, scale_labels=scale_labels)
    return paths + save_figure(_root_figure(diverging), out_dir, "figure10_diverging", formats)


def _root_figure(ax: Axes) -> Figure:
    # Axes may sit in a SubFigure, which cannot be saved on its own; its root Figure can.
    fig = ax.figure
    return fig if isinstance(fig, Figure) else fig.figure
