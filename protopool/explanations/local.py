"""Why the model classified one image as it did (the paper's Figure 6).

ProtoPool: the top classes by logit, each with its slots' prototypes, their similarities, the
last-layer weights and the weighted sum, which is the class logit. The sum is checked against
the model's own logit: the similarities are read from the last layer's input during the
model's forward pass, so the explanation cannot drift from the model. After fine-tuning a
class's logit may also draw on other classes' slots (the last layer is dense); that part is
reported as ``other_slots`` rather than hidden.

ProtoTree: the greedy decision path (each node's similarity and the branch it sends the image
to), the leaf it ends in and that leaf's class distribution, and the distributed probability of
the top classes, checked against the leaves' path probabilities.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from protopool.execution import StepSettings, autocast, to_device
from protopool.explanations.common import ExplanationError, original_index, pair_box
from protopool.inference.maps import Box, PairMap, PreparedImage, maps_for_pairs, prepare_image
from protopool.inference.runs import Run
from protopool.models import ProtoPool, ProtoTree, tree_ops

DEFAULT_TOP = 3
LEAF_CLASSES = 5
# float32 sums of up to C*K terms of size ~log(1/eps) differ from the matmul in the last digits.
SUM_TOLERANCE = 1e-4


class ExplanationMismatch(RuntimeError):
    """The weighted sum of an explanation differs from the model's output (a bug, not a user
    error)."""


@dataclass(frozen=True)
class SlotTerm:
    """One slot's part in a class logit.

    Attributes:
        slot: Slot index within the class.
        prototype: Pool index of the slot's prototype, None for an empty slot.
        original_index: The prototype's index in the pool as first built.
        similarity: The slot's score as the last layer reads it.
        weight: The last-layer weight of the slot for this class.
        contribution: ``similarity * weight``.
        peak: Largest similarity in the prototype's map (where it matches best).
        box: Where it matches, in original-image pixels ``(left, top, right, bottom)``.
    """

    slot: int
    prototype: int | None
    original_index: int | None
    similarity: float
    weight: float
    contribution: float
    peak: float | None
    box: Box | None


@dataclass(frozen=True)
class ClassTerms:
    """One top class of a ProtoPool explanation.

    Attributes:
        label: Class index.
        name: Class name.
        probability: Softmax probability.
        logit: The model's logit.
        weighted_sum: Sum of the slot contributions and ``other_slots`` (equals ``logit``).
        other_slots: Contribution of other classes' slots through the dense last layer.
        terms: The class's own slots.
    """

    label: int
    name: str
    probability: float
    logit: float
    weighted_sum: float
    other_slots: float
    terms: list[SlotTerm]


@dataclass(frozen=True)
class ClassProbability:
    label: int
    name: str
    probability: float


@dataclass(frozen=True)
class PathStep:
    """One internal node on a ProtoTree's greedy path.

    Attributes:
        node: Heap index of the node.
        prototype: Pool index of its prototype, None for a node pruning bypassed.
        similarity: ``exp(-d)`` of the prototype's nearest patch (None when bypassed).
        branch: ``present`` (similarity above 0.5) or ``absent``.
        box: Where the prototype matches best, in original-image pixels.
    """

    node: int
    prototype: int | None
    similarity: float | None
    branch: str
    box: Box | None


@dataclass(frozen=True)
class TreeDecision:
    """A ProtoTree's decision for one image.

    Attributes:
        steps: The greedy path from the root, bypassed nodes included.
        leaf: Leaf index (left to right); its heap index is ``leaf_node``.
        leaf_node: Heap index of the leaf.
        leaf_classes: The leaf's most probable classes.
        greedy_class: The leaf's top class, the greedy prediction.
        distributed: Top classes of the distributed prediction (every leaf weighted by its
            path probability), the model's default inference.
    """

    steps: list[PathStep]
    leaf: int
    leaf_node: int
    leaf_classes: list[ClassProbability]
    greedy_class: str
    distributed: list[ClassProbability]


@dataclass(frozen=True)
class LocalExplanation:
    """Everything Figure 6 shows about one image.

    Attributes:
        image: The image file.
        crop: The region fed to the network ``(left, top, right, bottom)``.
        kind: ``protopool`` or ``prototree``.
        predicted: The predicted class's name (for a tree, by its configured inference mode).
        classes: ProtoPool's top classes (empty for a tree).
        tree: ProtoTree's decision (None for ProtoPool).
        original: The image, for drawing.
        maps: Activation map of every prototype shown, by pool index, for drawing.
    """

    image: str
    crop: Box
    kind: str
    predicted: str
    classes: list[ClassTerms]
    tree: TreeDecision | None
    original: Image.Image = field(repr=False, compare=False)
    maps: dict[int, PairMap] = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The numbers, JSON-ready (no images or maps)."""
        return {
            "image": self.image,
            "crop": list(self.crop),
            "kind": self.kind,
            "predicted": self.predicted,
            "classes": [asdict(terms) for terms in self.classes],
            "tree": asdict(self.tree) if self.tree is not None else None,
        }


def explain_image(
    run: Run,
    image: str | Path,
    settings: StepSettings,
    top: int = DEFAULT_TOP,
    crop_box: tuple[float, float, float, float] | None = None,
) -> LocalExplanation:
    """Explain the run's prediction for one image.

    Args:
        run: A loaded run.
        image: The image file.
        settings: Device and precision.
        top: How many classes to explain.
        crop_box: ``(x, y, width, height)`` to crop to first, as the run's data pipeline does
            for datasets with boxes.

    Raises:
        ExplanationError: The image does not exist, or ``top`` is below 1.
        DatasetError: The file is not an image.
    """
    path = Path(image)
    if not path.is_file():
        raise ExplanationError(f"image {path} does not exist: pass an image file with --image")
    if top < 1:
        raise ExplanationError(f"--top must be at least 1, got {top}")
    prepared = prepare_image(path, run.config.data, crop_box)
    if isinstance(run.model, ProtoTree):
        return _explain_tree(run, run.model, path, prepared, settings, top, crop_box)
    return _explain_pool(run, run.model, path, prepared, settings, top, crop_box)


@torch.no_grad()
def _slot_scores(
    model: ProtoPool, prepared: PreparedImage, settings: StepSettings
) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's logits ``(C,)`` and the slot scores its last layer read ``(C*K,)``."""
    captured: list[torch.Tensor] = []
    handle = model.last_layer.register_forward_pre_hook(
        lambda _module, inputs: captured.append(inputs[0].detach())
    )
    try:
        model.eval()
        with autocast(settings):
            out = model(to_device(prepared.tensor[None], settings))
    finally:
        handle.remove()
    return out.logits[0].float().cpu(), captured[0][0].float().cpu()


def _explain_pool(
    run: Run,
    model: ProtoPool,
    path: Path,
    prepared: PreparedImage,
    settings: StepSettings,
    top: int,
    crop_box: tuple[float, float, float, float] | None,
) -> LocalExplanation:
    logits, scores = _slot_scores(model, prepared, settings)
    weights = model.last_layer.weight.detach().float().cpu()
    hard = model.hard_slots().cpu()
    filled = hard.amax(dim=1) > 0
    winners = hard.argmax(dim=1)
    slots = model.slots_per_class
    chosen = logits.topk(min(top, model.num_classes)).indices.tolist()
    shown = [int(winners[c, k]) for c in chosen for k in range(slots) if filled[c, k]]
    maps = _maps(run, shown, path, crop_box, settings)
    probabilities = logits.softmax(dim=0)
    classes = []
    for c in chosen:
        terms = []
        for k in range(slots):
            column = c * slots + k
            prototype = int(winners[c, k]) if filled[c, k] else None
            pair = maps.get(prototype) if prototype is not None else None
            similarity, weight = float(scores[column]), float(weights[c, column])
            terms.append(
                SlotTerm(
                    slot=k,
                    prototype=prototype,
                    original_index=original_index(run, prototype)
                    if prototype is not None
                    else None,
                    similarity=similarity,
                    weight=weight,
                    contribution=similarity * weight,
                    peak=pair.score if pair else None,
                    box=pair_box(run, pair) if pair else None,
                )
            )
        own = slice(c * slots, (c + 1) * slots)
        other = float((weights[c] * scores).sum() - (weights[c, own] * scores[own]).sum())
        total = sum(term.contribution for term in terms) + other
        _check_sum(total, float(logits[c]), run.class_names[c])
        classes.append(
            ClassTerms(
                c,
                run.class_names[c],
                float(probabilities[c]),
                float(logits[c]),
                total,
                other,
                terms,
            )
        )
    return LocalExplanation(
        str(path),
        prepared.crop,
        "protopool",
        run.class_names[chosen[0]],
        classes,
        None,
        prepared.original,
        maps,
    )


def _check_sum(total: float, logit: float, name: str) -> None:
    if not math.isclose(total, logit, rel_tol=SUM_TOLERANCE, abs_tol=SUM_TOLERANCE):
        raise ExplanationMismatch(
            f"the weighted sum for {name!r} is {total:.6f} but the model's logit is {logit:.6f}"
        )


def _maps(
    run: Run,
    prototypes: list[int],
    path: Path,
    crop_box: tuple[float, float, float, float] | None,
    settings: StepSettings,
) -> dict[int, PairMap]:
    """Maps of the distinct prototypes on the image, in one forward pass."""
    pairs = [(p, path, crop_box) for p in dict.fromkeys(prototypes)]
    return {
        pair.prototype: pair for pair in maps_for_pairs(run.model, pairs, run.config.data, settings)
    }


def _explain_tree(
    run: Run,
    model: ProtoTree,
    path: Path,
    prepared: PreparedImage,
    settings: StepSettings,
    top: int,
    crop_box: tuple[float, float, float, float] | None,
) -> LocalExplanation:
    with torch.no_grad(), autocast(settings):
        model.eval()
        out = model(to_device(prepared.tensor[None], settings), mode="distributed")
    min_dist = out.min_distances.float()
    distributed = out.logits[0].float().exp().cpu()
    leaves = model.leaf_distributions().float().cpu()
    mixture = out.leaf_probs[0].float().cpu() @ leaves
    for c in distributed.topk(min(top, model.num_classes)).indices.tolist():
        _check_sum(float(mixture[c]), float(distributed[c]), run.class_names[c])
    with torch.no_grad():
        similarity = model.similarity.activation(model.similarity.distance(min_dist))[0].cpu()
        leaf = int(model.greedy_leaves(min_dist)[0])
    internal = model.node_route.numel()
    heaps = _ancestors(internal + leaf)
    by_node = {int(node): p for p, node in enumerate(model.prototype_ids.tolist())}
    routed = [by_node[h] for h in heaps[:-1] if h in by_node]
    maps = _maps(run, routed, path, crop_box, settings)
    steps = []
    for node, child in zip(heaps[:-1], heaps[1:], strict=True):
        prototype = by_node.get(node) if int(model.node_route[node]) == tree_ops.ROUTED else None
        pair = maps.get(prototype) if prototype is not None else None
        steps.append(
            PathStep(
                node=node,
                prototype=prototype,
                similarity=float(similarity[prototype]) if prototype is not None else None,
                branch="present" if child == 2 * node + 2 else "absent",
                box=pair_box(run, pair) if pair else None,
            )
        )
    with torch.no_grad():
        predicted = int(model.route(min_dist).logits[0].argmax())
    decision = TreeDecision(
        steps=steps,
        leaf=leaf,
        leaf_node=internal + leaf,
        leaf_classes=_top(leaves[leaf], run.class_names, LEAF_CLASSES),
        greedy_class=run.class_names[int(leaves[leaf].argmax())],
        distributed=_top(distributed, run.class_names, top),
    )
    return LocalExplanation(
        str(path),
        prepared.crop,
        "prototree",
        run.class_names[predicted],
        [],
        decision,
        prepared.original,
        maps,
    )


def _ancestors(node: int) -> list[int]:
    """Heap indices from the root down to ``node``."""
    chain = [node]
    while chain[-1] > 0:
        chain.append((chain[-1] - 1) // 2)
    return chain[::-1]


def _top(probabilities: torch.Tensor, names: list[str], count: int) -> list[ClassProbability]:
    values, labels = probabilities.topk(min(count, probabilities.numel()))
    return [
        ClassProbability(int(c), names[int(c)], float(v))
        for v, c in zip(values.tolist(), labels.tolist(), strict=True)
    ]


__all__ = [
    "ClassProbability",
    "ClassTerms",
    "ExplanationMismatch",
    "LocalExplanation",
    "PathStep",
    "SlotTerm",
    "TreeDecision",
    "explain_image",
]
