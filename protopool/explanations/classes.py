"""Global views of classes: one class's prototypes (Figure 7) and what two classes share
(Figure 1).

A ProtoPool class owns the prototypes in its slots. A ProtoTree class has no slots; its
prototypes are the nodes above the leaves that decide for it, and the view also lists each such
leaf's path, because a tree reasons by absence as well as by presence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from protopool.execution import StepSettings
from protopool.explanations.common import (
    class_index,
    original_index,
    pair_box,
    require_pool,
    source_maps,
    users,
)
from protopool.inference.maps import Box, PairMap
from protopool.inference.runs import Run
from protopool.models import ProtoPool, ProtoTree, tree_ops


@dataclass(frozen=True)
class ClassPrototype:
    """One prototype of a class.

    Attributes:
        prototype: Pool index.
        original_index: Index in the pool as first built (heap node for a ProtoTree).
        slots: The class's slots holding it (ProtoPool; empty for a tree).
        weights: The last-layer weight of each of those slots for the class.
        shared_with: The other classes using it.
        source_image: The training image it was projected onto, if projected.
        source_box: Where it matches on that image, in its pixels.
    """

    prototype: int
    original_index: int
    slots: list[int]
    weights: list[float]
    shared_with: list[str]
    source_image: str | None
    source_box: Box | None


@dataclass(frozen=True)
class PathNode:
    """A routing node on the way to a leaf: its prototype and the branch taken."""

    node: int
    prototype: int
    branch: str


@dataclass(frozen=True)
class LeafPath:
    """A kept leaf whose top class is the class, and how an image reaches it.

    Attributes:
        leaf_node: Heap index of the leaf.
        probability: The class's probability in the leaf.
        path: The routing nodes from the root (bypassed nodes left out).
    """

    leaf_node: int
    probability: float
    path: list[PathNode]


@dataclass(frozen=True)
class ClassView:
    """Figure 7's content for one class.

    Attributes:
        label: Class index.
        name: Class name.
        kind: ``protopool`` or ``prototree``.
        prototypes: The class's prototypes, in slot order (tree: root first).
        leaf_paths: For a tree, the paths to the class's leaves.
        maps: Each prototype's map on its source image, for drawing.
    """

    label: int
    name: str
    kind: str
    prototypes: list[ClassPrototype]
    leaf_paths: list[LeafPath]
    maps: dict[int, PairMap] = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "name": self.name,
            "kind": self.kind,
            "prototypes": [asdict(p) for p in self.prototypes],
            "leaf_paths": [asdict(path) for path in self.leaf_paths],
        }


def class_view(
    run: Run, name: str, records: dict[int, dict[str, Any]], settings: StepSettings
) -> ClassView:
    """The prototypes of one class, with where each was projected from.

    Args:
        run: A loaded run.
        name: The class's name (or its index).
        records: Projection provenance by pool index (empty if never projected).
        settings: Device and precision for the maps on the source images.

    Raises:
        ExplanationError: No class has that name.
    """
    label = class_index(run, name)
    model = run.model
    slots: dict[int, list[tuple[int, float]]]
    if isinstance(model, ProtoPool):
        slots = _pool_slots(model, label)
        leaf_paths: list[LeafPath] = []
        kind = "protopool"
    else:
        slots = {p: [] for p in _tree_prototypes(model, label)}
        leaf_paths = _leaf_paths(model, label)
        kind = "prototree"
    maps = source_maps(run, list(slots), records, settings)
    per_prototype = users(run)
    prototypes = []
    for prototype, held in slots.items():
        pair = maps.get(prototype)
        prototypes.append(
            ClassPrototype(
                prototype=prototype,
                original_index=original_index(run, prototype),
                slots=[k for k, _ in held],
                weights=[w for _, w in held],
                shared_with=[run.class_names[c] for c in per_prototype[prototype] if c != label],
                source_image=str(records[prototype]["image_path"]) if pair else None,
                source_box=pair_box(run, pair) if pair else None,
            )
        )
    return ClassView(label, run.class_names[label], kind, prototypes, leaf_paths, maps)


@torch.no_grad()
def _pool_slots(model: ProtoPool, label: int) -> dict[int, list[tuple[int, float]]]:
    """The class's prototypes in slot order, each with its slots and their last-layer weights."""
    hard = model.hard_slots()[label].cpu()
    weights = model.last_layer.weight.detach().float().cpu()[label]
    held: dict[int, list[tuple[int, float]]] = {}
    for k in range(model.slots_per_class):
        if bool(hard[:, k].any()):
            column = label * model.slots_per_class + k
            held.setdefault(int(hard[:, k].argmax()), []).append((k, float(weights[column])))
    return held


@torch.no_grad()
def _tree_prototypes(model: ProtoTree, label: int) -> list[int]:
    """Prototypes whose node has a leaf of the class below it, root first."""
    below = model.node_classes()[label].cpu()
    order = sorted(range(model.num_prototypes), key=lambda p: int(model.prototype_ids[p]))
    return [p for p in order if bool(below[p])]


@torch.no_grad()
def _leaf_paths(model: ProtoTree, label: int) -> list[LeafPath]:
    leaves = model.leaf_distributions().cpu()
    kept = model.kept_leaves().cpu()
    internal = model.node_route.numel()
    routes = model.node_route.tolist()
    by_node = {int(node): p for p, node in enumerate(model.prototype_ids.tolist())}
    paths = []
    for leaf in range(leaves.shape[0]):
        if not kept[leaf] or int(leaves[leaf].argmax()) != label:
            continue
        node, steps = internal + leaf, []
        while node > 0:
            parent = (node - 1) // 2
            if routes[parent] == tree_ops.ROUTED:
                branch = "present" if node == 2 * parent + 2 else "absent"
                steps.append(PathNode(parent, by_node[parent], branch))
            node = parent
        paths.append(LeafPath(internal + leaf, float(leaves[leaf, label]), steps[::-1]))
    return paths


@dataclass(frozen=True)
class ClassComparison:
    """The prototypes two ProtoPool classes share and those that set them apart (Figure 1).

    Attributes:
        first: Name of the first class.
        second: Name of the second class.
        shared: Pool indices both classes use.
        only_first: Used by the first class only.
        only_second: Used by the second class only.
    """

    first: str
    second: str
    shared: list[int]
    only_first: list[int]
    only_second: list[int]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@torch.no_grad()
def compare_classes(run: Run, first: str, second: str) -> ClassComparison:
    """What two classes have in common in their slots.

    Raises:
        ExplanationError: A class name is unknown, or the run is a ProtoTree (no slots).
    """
    model = require_pool(run, "comparing two classes")
    a, b = class_index(run, first), class_index(run, second)
    uses = model.prototype_classes().cpu()
    mine, theirs = uses[a], uses[b]
    return ClassComparison(
        run.class_names[a],
        run.class_names[b],
        _indices(mine & theirs),
        _indices(mine & ~theirs),
        _indices(theirs & ~mine),
    )


def _indices(mask: torch.Tensor) -> list[int]:
    return [int(i) for i in torch.nonzero(mask).flatten().tolist()]


__all__ = [
    "ClassComparison",
    "ClassPrototype",
    "ClassView",
    "LeafPath",
    "PathNode",
    "class_view",
    "compare_classes",
]
