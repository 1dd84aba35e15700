"""The picture of a local explanation (Figure 6): patches, maps on the image, the sum."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from protopool.explanations.figures import (
    NOT_PROJECTED,
    draw_box,
    pair_overlay,
    panels,
    show,
    source_patch,
)
from protopool.explanations.local import ClassProbability, ClassTerms, LocalExplanation
from protopool.inference.maps import Box

PATCH_PX = 96
COLUMN_INCHES = 1.55
BLOCK_INCHES = 3.3
PRESENT_COLOUR = "#2a7d2e"
ABSENT_COLOUR = "#b03030"


def local_figure(explanation: LocalExplanation, records: dict[int, dict[str, Any]]) -> Figure:
    """Draw an explanation.

    Args:
        explanation: From :func:`explain_image`.
        records: Projection provenance by pool index (for the prototypes' source patches).
    """
    if explanation.tree is not None:
        return _tree_figure(explanation, records)
    return _pool_figure(explanation, records)


def _input_pixels(explanation: LocalExplanation) -> np.ndarray:
    pixels = np.asarray(explanation.original.convert("RGB"))
    if explanation.crop != (0, 0, *explanation.original.size):
        pixels = draw_box(pixels, explanation.crop, (255, 255, 255))
    return pixels


def _map_pixels(
    explanation: LocalExplanation, prototype: int | None, box: Box | None
) -> np.ndarray | None:
    pair = explanation.maps.get(prototype) if prototype is not None else None
    return pair_overlay(pair, box) if pair else None


def _patch(records: dict[int, dict[str, Any]], prototype: int | None) -> np.ndarray | None:
    return source_patch(records, prototype, PATCH_PX)


def _pool_figure(explanation: LocalExplanation, records: dict[int, dict[str, Any]]) -> Figure:
    slots = max(len(terms.terms) for terms in explanation.classes)
    columns = slots + 1
    height = 2.4 + BLOCK_INCHES * len(explanation.classes)
    figure = Figure(figsize=(COLUMN_INCHES * columns + 1.0, height), layout="constrained")
    header, *blocks = panels(
        figure,
        len(explanation.classes) + 1,
        1,
        height_ratios=[2.4] + [BLOCK_INCHES] * len(explanation.classes),
    )
    axes = header.subplots(1, 1)
    show(axes, _input_pixels(explanation))
    header.suptitle(
        f"{explanation.image.rsplit('/', 1)[-1]}: predicted {explanation.predicted}. "
        "A class's logit is Σ s × w over its slots (s: similarity, w: last-layer weight).",
        fontsize=10,
    )
    for rank, (block, terms) in enumerate(zip(blocks, explanation.classes, strict=True), 1):
        _class_block(block, rank, terms, slots, explanation, records)
    return figure


def _class_block(
    block: Any,
    rank: int,
    terms: ClassTerms,
    slots: int,
    explanation: LocalExplanation,
    records: dict[int, dict[str, Any]],
) -> None:
    grid = block.subplots(2, slots + 1, squeeze=False)
    summary = grid[0, 0]
    summary.axis("off")
    grid[1, 0].axis("off")
    lines = [
        f"{rank}. {terms.name}",
        f"p = {terms.probability:.3f}",
        f"Σ s × w = {terms.weighted_sum:.3f}",
        f"model logit = {terms.logit:.3f}",
    ]
    if abs(terms.other_slots) >= 5e-4:
        lines.append(f"(other slots {terms.other_slots:+.3f})")
    summary.text(
        0.0, 1.0, "\n".join(lines), va="top", ha="left", fontsize=9, transform=summary.transAxes
    )
    for k in range(slots):
        patch_axes, map_axes = grid[0, k + 1], grid[1, k + 1]
        if k >= len(terms.terms):
            patch_axes.axis("off")
            map_axes.axis("off")
            continue
        term = terms.terms[k]
        label = f"#{term.prototype}" if term.prototype is not None else "empty slot"
        show(patch_axes, _patch(records, term.prototype), label, NOT_PROJECTED)
        show(map_axes, _map_pixels(explanation, term.prototype, term.box), missing="no map")
        map_axes.set_xlabel(
            f"{term.similarity:.2f} × {term.weight:.2f}\n= {term.contribution:.2f}", fontsize=8
        )
    block.suptitle(
        f"{terms.name}: prototypes (top) and where they match (bottom)",
        fontsize=9,
        x=0.02,
        ha="left",
    )


def _tree_figure(explanation: LocalExplanation, records: dict[int, dict[str, Any]]) -> Figure:
    decision = explanation.tree
    assert decision is not None
    routed = [step for step in decision.steps if step.prototype is not None]
    columns = max(len(routed), 1) + 1
    figure = Figure(figsize=(max(7.0, COLUMN_INCHES * columns + 1.0), 7.4), layout="constrained")
    path_block, bars_block = panels(figure, 2, 1, height_ratios=[4.2, 3.2])
    grid = path_block.subplots(2, columns, squeeze=False)
    show(grid[0, 0], _input_pixels(explanation), "input")
    grid[1, 0].axis("off")
    grid[1, 0].text(
        0.0,
        1.0,
        f"greedy leaf #{decision.leaf_node}\n→ {decision.greedy_class}\n\n"
        f"predicted: {explanation.predicted}",
        va="top",
        fontsize=9,
        transform=grid[1, 0].transAxes,
    )
    for column, step in enumerate(routed, 1):
        assert step.similarity is not None
        show(
            grid[0, column],
            _patch(records, step.prototype),
            f"node #{step.node}",
            NOT_PROJECTED,
        )
        show(grid[1, column], _map_pixels(explanation, step.prototype, step.box), missing="no map")
        colour = PRESENT_COLOUR if step.branch == "present" else ABSENT_COLOUR
        grid[1, column].set_xlabel(
            f"s = {step.similarity:.2f} → {step.branch}", fontsize=8, color=colour
        )
    if not routed:
        grid[0, 1].axis("off")
        grid[1, 1].axis("off")
    path_block.suptitle(
        "Greedy decision path: each node's prototype (top), where it matches (bottom); "
        "s > 0.5 takes the present branch",
        fontsize=9,
    )
    leaf_axes, distributed_axes = bars_block.subplots(1, 2)
    _bars(leaf_axes, decision.leaf_classes, f"class distribution of leaf #{decision.leaf_node}")
    _bars(distributed_axes, decision.distributed, "distributed prediction (all leaves)")
    return figure


def _bars(axes: Any, classes: list[ClassProbability], title: str) -> Any:
    names = [entry.name for entry in classes][::-1]
    values = [entry.probability for entry in classes][::-1]
    bars = axes.barh(range(len(values)), values, color="#4c72b0")
    axes.set_yticks(range(len(values)), names, fontsize=8)
    axes.set_xlim(0, 1.08)
    axes.bar_label(bars, fmt="%.3f", fontsize=7, padding=2)
    axes.set_title(title, fontsize=9)
    axes.spines[["top", "right"]].set_visible(False)
    return axes


__all__ = ["local_figure"]
