"""What a model decided on an image, and which prototypes that decision rests on.

A study picks the prototype it shows on an image by a rule (the study platform's
``prototype_rule``); every rule but a random draw needs the model's view of the image:

* ``similarity``: each prototype's highest activation on the image (the run's own similarity
  at the best latent location), to pick the top-activated prototype;
* ``predicted``: the class the model predicts;
* ``path``: the prototypes the decision consulted. For a ProtoTree, the internal nodes on the
  image's path from the root to its leaf (the greedy leaf under ``greedy`` inference, else the
  leaf of highest path probability, the one the reference's local explanation follows), without
  the root, which every image passes, and without nodes pruning bypassed. Nodes the image is
  routed away from are never on it. For a ProtoPool, the prototypes of the predicted class's
  slots under the hard assignment.

Example:
    >>> run = load_run("runs/prototree")
    >>> [evidence] = image_evidence(run.model, [("bird.png", None)], run.config.data, settings)
    >>> evidence.path    # pool indices, root excluded
    (4,)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import torch

from protopool.config import DataConfig
from protopool.execution import StepSettings, autocast, to_device
from protopool.inference.maps import DEFAULT_BATCH, prepare_image
from protopool.models import ProtoPool, ProtoTree, PrototypeModel, tree_ops

ImageInput = tuple[str | Path, Sequence[float] | None]
"""``(image file, crop box (x, y, width, height) or None)``."""


class ImageEvidence(NamedTuple):
    """The model's view of one image.

    Attributes:
        similarity: Highest activation of every prototype on the image, by pool index ``(P,)``.
        predicted: The predicted class.
        path: Pool indices of the prototypes the decision consulted (see the module docstring),
            in the order consulted.
    """

    similarity: tuple[float, ...]
    predicted: int
    path: tuple[int, ...]


def tree_paths(tree: ProtoTree, min_distances: torch.Tensor) -> list[tuple[int, ...]]:
    """The pool indices on each image's decision path, root excluded.

    Args:
        tree: A ProtoTree in eval mode.
        min_distances: Smallest squared distances ``(B, P)``.

    Returns:
        One tuple per image, from just below the root down to the leaf's parent.
    """
    if tree.tree.inference == "greedy":
        leaves = tree.greedy_leaves(min_distances)
    else:
        leaves = tree.max_leaves(tree.route(min_distances, "distributed").log_leaf_probs)
    pool_of = {int(h): p for p, h in enumerate(tree.prototype_ids.tolist())}
    route = tree.node_route.tolist()
    num_nodes = len(route)
    paths = []
    for leaf in leaves.tolist():
        position, heap = num_nodes + int(leaf), []
        while position > 0:
            position = (position - 1) // 2
            heap.append(position)
        routed = [h for h in reversed(heap) if route[h] == tree_ops.ROUTED]
        # The first routed node is the (possibly pruned) tree's root: on every image's path.
        paths.append(tuple(pool_of[h] for h in routed[1:]))
    return paths


def _slot_prototypes(model: ProtoPool) -> list[tuple[int, ...]]:
    """Per class, the pool indices of its filled slots under the hard assignment."""
    hard = model.hard_slots()
    winners = model.slot_prototypes()
    filled = hard.amax(dim=1) > 0
    return [
        tuple(dict.fromkeys(int(p) for p, ok in zip(row, mask, strict=True) if ok))
        for row, mask in zip(winners.tolist(), filled.tolist(), strict=True)
    ]


@torch.no_grad()
def image_evidence(
    model: PrototypeModel,
    images: Sequence[ImageInput],
    data: DataConfig,
    settings: StepSettings,
    batch_size: int = DEFAULT_BATCH,
) -> list[ImageEvidence]:
    """Similarities, prediction and decision path of every image, in input order.

    Args:
        model: The run's model.
        images: Image files and the crop box the run's data pipeline uses for each.
        data: The run's data settings (input size, normalisation).
        settings: Device and precision.
        batch_size: Images per forward pass.

    Raises:
        DatasetError: An image file is missing or unreadable.
    """
    model.eval()
    slots = _slot_prototypes(model) if isinstance(model, ProtoPool) else []
    out: list[ImageEvidence] = []
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        batch = torch.stack([prepare_image(path, data, box).tensor for path, box in chunk])
        batch = to_device(batch, settings)
        with autocast(settings):
            output = model(batch)
        sq_dist = output.distances.float()
        similarity = model.similarity.activation_map(sq_dist).flatten(2).amax(dim=2)
        predicted = output.logits.float().argmax(dim=1).tolist()
        if isinstance(model, ProtoTree):
            paths = tree_paths(model, output.min_distances.float())
        else:
            paths = [slots[c] for c in predicted]
        for row, label, path in zip(similarity.cpu().tolist(), predicted, paths, strict=True):
            out.append(ImageEvidence(tuple(row), int(label), path))
    return out


__all__ = ["ImageEvidence", "ImageInput", "image_evidence", "tree_paths"]
