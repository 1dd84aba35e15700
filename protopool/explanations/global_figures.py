"""Pictures of the global views: a class (Figure 7), two classes (Figure 1), one prototype's
classes (Figure 8) and the sharing histograms (Figure 9)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from protopool.explanations.classes import ClassComparison, ClassView
from protopool.explanations.figures import NOT_PROJECTED, pair_overlay, panels, show, source_patch
from protopool.explanations.names import Names
from protopool.explanations.sharing import PrototypeUse, SharingStatistics

PATCH_PX = 112
CARD_INCHES = 2.0
MAX_COLUMNS = 5
# Figure 1's colours: one class on blue, the other on green, the shared prototypes between.
FIRST_COLOUR = "#dbe8f7"
SECOND_COLOUR = "#dcf0dc"
SHARED_COLOUR = "#f2f2f2"


def _short(text: str, width: int = 28) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def class_view_figure(view: ClassView, records: dict[int, dict[str, Any]], names: Names) -> Figure:
    """The class's prototypes: projected patch above, its source image (boxed) below; for a
    tree, the paths to the class's leaves underneath."""
    count = max(len(view.prototypes), 1)
    columns = min(count, MAX_COLUMNS)
    rows = math.ceil(count / columns)
    lines = [
        f"leaf #{leaf.leaf_node} (p = {leaf.probability:.2f}): "
        + " → ".join(f"#{step.node} {step.branch}" for step in leaf.path)
        for leaf in view.leaf_paths
    ]
    if not view.prototypes:
        lines.insert(0, "this class has no prototype")
    cards_height = rows * 2 * CARD_INCHES + 0.5
    text_height = 0.3 + 0.2 * len(lines) if lines else 0.0
    figure = Figure(
        figsize=(columns * CARD_INCHES + 0.6, cards_height + text_height), layout="constrained"
    )
    parts = panels(figure, 2, 1, height_ratios=[cards_height, text_height]) if lines else [figure]
    grid = parts[0].subplots(2 * rows, columns, squeeze=False)
    for axes in grid.flat:
        axes.axis("off")
    for position, prototype in enumerate(view.prototypes):
        row, column = divmod(position, columns)
        pair = view.maps.get(prototype.prototype)
        title = f"#{prototype.prototype}"
        if prototype.weights:
            title += "  w " + ", ".join(f"{w:.2f}" for w in prototype.weights)
        patch = source_patch(records, prototype.prototype, PATCH_PX)
        show(grid[2 * row, column], patch, title, NOT_PROJECTED)
        source = grid[2 * row + 1, column]
        overlay = pair_overlay(pair, prototype.source_box) if pair else None
        show(source, overlay, missing="no source image")
        others = len(prototype.shared_with)
        shared = f"shared with {others} other class{'es' if others != 1 else ''}"
        source.set_xlabel(
            f"{shared if others else 'this class only'}\n"
            f"{_short(names.label(prototype.prototype))}",
            fontsize=7,
        )
    kind = "in its slots" if view.kind == "protopool" else "on the paths to its leaves"
    parts[0].suptitle(f"{view.name}: {len(view.prototypes)} prototypes {kind}", fontsize=11)
    if lines:
        axes = parts[1].subplots()
        axes.axis("off")
        axes.text(0, 1, "\n".join(lines), va="top", fontsize=8, transform=axes.transAxes)
    return figure


def comparison_figure(
    comparison: ClassComparison, records: dict[int, dict[str, Any]], names: Names
) -> Figure:
    """Figure 1: the first class's own prototypes, the shared ones, the second's own."""
    groups = [
        (f"only {comparison.first}", comparison.only_first, FIRST_COLOUR),
        (f"shared ({len(comparison.shared)})", comparison.shared, SHARED_COLOUR),
        (f"only {comparison.second}", comparison.only_second, SECOND_COLOUR),
    ]
    per_column = 2
    rows = max(1, max(math.ceil(len(g[1]) / per_column) for g in groups))
    figure = Figure(figsize=(3 * per_column * 1.5 + 0.8, rows * 1.8 + 1.0), layout="constrained")
    for panel, (title, prototypes, colour) in zip(panels(figure, 1, 3), groups, strict=True):
        panel.set_facecolor(colour)
        grid = panel.subplots(rows, per_column, squeeze=False)
        for axes in grid.flat:
            axes.axis("off")
        for position, prototype in enumerate(prototypes):
            axes = grid[divmod(position, per_column)]
            show(axes, source_patch(records, prototype, PATCH_PX), f"#{prototype}", NOT_PROJECTED)
            axes.set_xlabel(_short(names.label(prototype), 20), fontsize=6)
        if not prototypes:
            grid[0, 0].text(0.5, 0.5, "none", ha="center", va="center", fontsize=9)
        panel.suptitle(_short(title, 40), fontsize=10)
    figure.suptitle(f"{comparison.first} and {comparison.second}", fontsize=11)
    return figure


def prototype_figure(use: PrototypeUse, records: dict[int, dict[str, Any]], names: Names) -> Figure:
    """Figure 8: the prototype, its source, and each class using it (with its best image when
    examples were searched)."""
    # At least three columns, so that one or two examples are not drawn huge.
    columns = min(max(len(use.examples), 3), MAX_COLUMNS)
    rows = math.ceil(len(use.examples) / columns) if use.examples else 0
    figure = Figure(
        figsize=(max(6.5, columns * CARD_INCHES), 2.4 + rows * CARD_INCHES + 0.4),
        layout="constrained",
    )
    top, bottom = panels(figure, 2, 1, height_ratios=[2.4, rows * CARD_INCHES + 0.4])
    patch_axes, source_axes, text_axes = top.subplots(1, 3, width_ratios=[1, 1.5, 1.6])
    show(
        patch_axes,
        source_patch(records, use.prototype, PATCH_PX),
        "projected patch",
        NOT_PROJECTED,
    )
    source = use.maps.get(use.source_image or "")
    show(
        source_axes,
        pair_overlay(source, use.source_box) if source else None,
        "source image",
        "no source image",
    )
    text_axes.axis("off")
    listing = [
        f"{c.name}  (slot {', '.join(str(k) for k in c.slots)}, w "
        f"{', '.join(f'{w:.2f}' for w in c.weights)})"
        for c in use.classes
    ]
    text_axes.text(
        0,
        1,
        "used by:\n" + "\n".join(listing) if listing else "no class uses it",
        va="top",
        fontsize=8,
        transform=text_axes.transAxes,
    )
    top.suptitle(
        f"Prototype #{use.prototype} ({names.describe(use.prototype)}) is used by "
        f"{len(use.classes)} classes",
        fontsize=11,
    )
    if rows:
        grid = bottom.subplots(rows, columns, squeeze=False)
        for axes in grid.flat:
            axes.axis("off")
        by_label = {c.label: c.name for c in use.classes}
        for position, example in enumerate(use.examples):
            pair = use.maps[example.image]
            axes = grid[divmod(position, columns)]
            show(axes, pair_overlay(pair, example.box), _short(by_label[example.label], 24))
            axes.set_xlabel(f"peak similarity {example.score:.2f}", fontsize=7)
        bottom.suptitle("each class's training image it matches best", fontsize=9)
    return figure


def sharing_figure(statistics: SharingStatistics) -> Figure:
    """Figure 9: prototypes shared by n classes, per run (left) and mean ± sd over runs."""
    figure = Figure(figsize=(11, 4.2), layout="constrained")
    per_run, summary = figure.subplots(1, 2, sharey=True)
    classes = np.array(statistics.classes)
    for run in statistics.runs:
        counts = [run.histogram.get(int(n), 0) for n in classes]
        spread = f" ± {run.sd:.2f}" if run.sd is not None else ""
        per_run.plot(
            classes,
            counts,
            marker="o",
            linestyle="--",
            linewidth=1.2,
            label=f"{_short(run.run, 24)}: {run.mean:.2f}{spread}",
        )
    per_run.set_xlabel("classes sharing a prototype")
    per_run.set_ylabel("prototypes")
    per_run.set_title("per run (legend: mean ± sd classes per prototype)", fontsize=10)
    per_run.legend(fontsize=7)
    errors = [sd if sd is not None else 0.0 for sd in statistics.histogram_sd]
    summary.bar(
        classes,
        statistics.histogram_mean,
        yerr=errors if len(statistics.runs) > 1 else None,
        color="#4c72b0",
        capsize=3,
    )
    summary.set_xlabel("classes sharing a prototype")
    spread = f" ± {statistics.sd_of_means:.2f}" if statistics.sd_of_means is not None else ""
    summary.set_title(
        f"mean ± sd over {len(statistics.runs)} runs; a prototype is shared by "
        f"{statistics.mean_of_means:.2f}{spread} classes",
        fontsize=10,
    )
    for axes in (per_run, summary):
        axes.set_xticks(classes)
        axes.spines[["top", "right"]].set_visible(False)
    return figure


__all__ = ["class_view_figure", "comparison_figure", "prototype_figure", "sharing_figure"]
