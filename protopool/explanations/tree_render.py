"""A picture of a trained ProtoTree: each node's projected patch, each leaf's top class, and
optionally the decision path of one image.

Drawn with matplotlib (no graphviz binary). Pruned subtrees are left out and bypassed parents
are drawn as the child that replaced them, so the picture shows the tree the run routes by.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.offsetbox import AnnotationBbox, OffsetImage
from PIL import Image

from protopool.data.base import load_rgb
from protopool.data.transforms import eval_transform
from protopool.inference.runs import Run, load_run, prototype_provenance
from protopool.models import ProtoTree, tree_ops

THUMBNAIL_PX = 48
PATH_COLOUR = "#d62728"
EDGE_COLOUR = "#9a9a9a"


@dataclass
class DrawnNode:
    """One node of the picture.

    Attributes:
        heap: Heap index in the full tree (leaves from ``2**depth - 1`` on).
        depth: Level in the drawn (pruned) tree.
        x: Horizontal position (leaves at 0, 1, 2, ...).
        children: ``(absent, present)`` drawn children of an internal node.
    """

    heap: int
    depth: int
    x: float = 0.0
    children: list[DrawnNode] = field(default_factory=list)


def layout(node_route: torch.Tensor) -> DrawnNode:
    """The drawn tree: bypassed nodes replaced by their surviving child, leaves left to right."""
    internal = node_route.numel()
    routes = node_route.tolist()
    leaves: list[DrawnNode] = []

    def visit(heap: int, depth: int) -> DrawnNode:
        # A bypassed parent hands its place to the child every image goes to.
        while heap < internal and routes[heap] != tree_ops.ROUTED:
            heap = 2 * heap + (2 if routes[heap] == tree_ops.TO_PRESENT else 1)
        node = DrawnNode(heap, depth)
        if heap >= internal:
            node.x = float(len(leaves))
            leaves.append(node)
            return node
        node.children = [visit(2 * heap + 1, depth + 1), visit(2 * heap + 2, depth + 1)]
        node.x = sum(child.x for child in node.children) / 2
        return node

    return visit(0, 0)


def patch_thumbnail(record: dict[str, Any], size: int = THUMBNAIL_PX) -> np.ndarray | None:
    """The training patch a prototype was projected onto, as an RGB array, or None if unknown.

    The patch is the latent cell of the projection record, mapped back onto the (box-cropped)
    image and widened by one cell on every side, since a cell sees more than its own area.
    """
    if not record.get("image_path"):
        return None
    image = load_rgb(Path(record["image_path"]))
    if record.get("crop_box"):
        x, y, width, height = record["crop_box"]
        image = image.crop((int(x), int(y), int(round(x + width)), int(round(y + height))))
    rows, columns = record["feature_map_size"]
    h, w = record["patch"]
    cell_w, cell_h = image.width / columns, image.height / rows
    box = (
        max(0, int((w - 1) * cell_w)),
        max(0, int((h - 1) * cell_h)),
        min(image.width, int((w + 2) * cell_w)),
        min(image.height, int((h + 2) * cell_h)),
    )
    return np.asarray(image.crop(box).resize((size, size), Image.Resampling.BICUBIC))


@torch.no_grad()
def greedy_path(run: Run, image_path: Path) -> tuple[list[int], dict[int, float]]:
    """Heap indices on the greedy path of one image, and each routed node's similarity."""
    model = run.model
    if not isinstance(model, ProtoTree):
        raise ValueError("greedy_path needs a ProtoTree run")
    batch = eval_transform(run.config.data)(load_rgb(image_path)).unsqueeze(0)
    min_dist = model.distances(batch.to(model.prototypes.device)).flatten(2).amin(dim=2)
    similarity = model.similarity.activation(model.similarity.distance(min_dist))[0]
    by_heap = {int(h): float(s) for h, s in zip(model.prototype_ids, similarity, strict=True)}
    routes, internal = model.node_route.tolist(), model.node_route.numel()
    path, heap = [0], 0
    while heap < internal:
        if routes[heap] == tree_ops.ROUTED:
            heap = 2 * heap + (2 if by_heap[heap] > 0.5 else 1)
        else:
            heap = 2 * heap + (2 if routes[heap] == tree_ops.TO_PRESENT else 1)
        path.append(heap)
    return path, by_heap


def render_tree(run_dir: str | Path, out: str | Path, image: str | Path | None = None) -> Path:
    """Draw a ProtoTree run and save it (PNG, SVG or PDF by the file's suffix).

    Args:
        run_dir: A trained ProtoTree run directory (projected, so nodes have patches).
        out: The picture's file.
        image: An image whose greedy decision path is drawn in red, with each node's
            similarity on the way.

    Raises:
        ValueError: The run is not a ProtoTree.
    """
    run = load_run(run_dir)
    model = run.model
    if not isinstance(model, ProtoTree):
        raise ValueError(f"{run_dir} is a ProtoPool run; only a ProtoTree can be drawn as a tree")
    records = {int(r["original_index"]): r for r in prototype_provenance(run_dir)}
    root = layout(model.node_route.cpu())
    path, similarity = greedy_path(run, Path(image)) if image is not None else ([], {})
    on_path = set(path)
    leaves = model.leaf_distributions().cpu()
    internal = model.node_route.numel()
    width = max(6.0, 1.1 * (_count_leaves(root) + 1))
    height = 1.6 * (_max_depth(root) + 1) + 2.5
    # A bare Figure needs no pyplot state or display backend (workers render headless).
    figure = Figure(figsize=(width, height))
    axes = figure.subplots()
    axes.set_xlim(-1, _count_leaves(root))
    axes.set_ylim(_max_depth(root) + 2.2, -0.8)
    axes.axis("off")
    _draw(axes, root, internal, records, leaves, run.class_names, on_path, similarity)
    title = "ProtoTree: node patches, leaf top classes"
    if image is not None:
        title += f"; decision path of {Path(image).name} in red"
    axes.set_title(title)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, bbox_inches="tight", dpi=100)
    return out


def _draw(
    axes: Any,
    node: DrawnNode,
    internal: int,
    records: dict[int, dict[str, Any]],
    leaves: torch.Tensor,
    class_names: list[str],
    on_path: set[int],
    similarity: dict[int, float],
) -> None:
    sides = ("absent", "present") if node.children else ()
    for side, child in zip(sides, node.children, strict=True):
        taken = node.heap in on_path and child.heap in on_path
        axes.plot(
            [node.x, child.x],
            [node.depth, child.depth],
            color=PATH_COLOUR if taken else EDGE_COLOUR,
            linewidth=2.5 if taken else 1,
            linestyle="-" if side == "present" else "--",
            zorder=1,
        )
        _draw(axes, child, internal, records, leaves, class_names, on_path, similarity)
    if node.heap >= internal:
        distribution = leaves[node.heap - internal]
        top = int(distribution.argmax())
        colour = PATH_COLOUR if node.heap in on_path else "black"
        label = f"{class_names[top]} {float(distribution[top]):.2f}"
        # Vertical, so that long class names of neighbouring leaves never overlap.
        axes.text(
            node.x,
            node.depth + 0.1,
            label,
            ha="center",
            va="top",
            fontsize=7,
            color=colour,
            rotation=90,
        )
        return
    thumbnail = patch_thumbnail(records[node.heap]) if node.heap in records else None
    if thumbnail is not None:
        box = AnnotationBbox(
            OffsetImage(thumbnail, zoom=1.0),
            (node.x, node.depth),
            frameon=True,
            bboxprops={"edgecolor": PATH_COLOUR if node.heap in on_path else "black"},
        )
        axes.add_artist(box)
    label = f"#{node.heap}"
    if node.heap in similarity and node.heap in on_path:
        label += f"  s={similarity[node.heap]:.2f}"
    axes.text(node.x, node.depth - 0.42, label, ha="center", va="bottom", fontsize=7)


def _count_leaves(node: DrawnNode) -> int:
    return 1 if not node.children else sum(_count_leaves(child) for child in node.children)


def _max_depth(node: DrawnNode) -> int:
    return node.depth if not node.children else max(_max_depth(c) for c in node.children)


__all__ = ["DrawnNode", "greedy_path", "layout", "patch_thumbnail", "render_tree"]
