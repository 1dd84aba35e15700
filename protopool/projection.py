"""Prototype projection (Eq. 3): replace each prototype by its nearest allowed training patch.

A prototype may only move to patches of images whose class uses it in some slot (the hard
assignment). The projection set is streamed once: per batch the backbone runs once, distances
to all prototypes come from one matrix product, and a running minimum per prototype is kept,
so memory depends on the pool and the batch, never on the size of the set.

Prototypes no slot uses are reported and removed from the pool (the official code overwrites
them with zeros instead).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch

from protopool.data.base import Sample
from protopool.execution import StepSettings, autocast, to_device
from protopool.models import ProtoTree, PrototypeModel
from protopool.similarity import squared_distances


@dataclass(frozen=True)
class ProjectedPrototype:
    """Where one prototype came from after projection.

    Attributes:
        prototype: Index in the (pruned) pool after projection.
        original_index: Index in the pool as first built.
        image_id: Dataset identifier of the source image.
        image_path: File of the source image.
        patch: ``(h, w)`` of the patch in the latent map.
        feature_map_size: ``(H, W)`` of the latent map; the patch covers the matching cell of
            the resized input.
        crop_box: ``(x, y, width, height)`` in original pixels when the input was cropped to
            the object box before resizing, else None.
        distance: Squared distance from the old prototype to the patch.
        classes: Class indices whose slots use the prototype.
        class_names: Their names.
    """

    prototype: int
    original_index: int
    image_id: str
    image_path: str
    patch: tuple[int, int]
    feature_map_size: tuple[int, int]
    crop_box: tuple[float, float, float, float] | None
    distance: float
    classes: list[int]
    class_names: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ProjectionResult:
    """What projection did to the pool.

    Attributes:
        prototypes: Provenance of every kept prototype, in pool order.
        pruned: Original indices of the prototypes no slot used (removed from the pool).
        never_reached: Original indices of used prototypes that no allowed image could host.
    """

    prototypes: list[ProjectedPrototype]
    pruned: list[int]
    never_reached: list[int]

    def to_dict(self) -> dict[str, Any]:
        """The content of ``projection.json``."""
        return {
            "prototypes": [record.to_dict() for record in self.prototypes],
            "pruned_original_indices": self.pruned,
            "never_reached_original_indices": self.never_reached,
        }


@torch.no_grad()
def nearest_patches(
    model: PrototypeModel,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    allowed: torch.Tensor,
    settings: StepSettings,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, tuple[int, int]]:
    """Stream the projection set and keep each prototype's nearest allowed patch.

    Args:
        model: Model in eval mode.
        batches: ``(images (B, 3, S, S), labels (B,))`` in a fixed order.
        allowed: ``(C, P)`` bool, class c may host prototype p.
        settings: Device and precision; the same as evaluation's, so that the copied patch is
            the one evaluation computes (a bf16 backbone gives other latents than fp32).

    Returns:
        ``(distance (P,), vectors (P, D), location (P, 3) as [sample, h, w], (H, W))``;
        a prototype no image could host keeps distance ``inf`` and location ``-1``.
    """
    device = settings.device
    pool = model.prototypes.detach().float()
    best = torch.full((pool.shape[0],), float("inf"), device=device)
    vectors = pool.clone()
    location = torch.full((pool.shape[0], 3), -1, dtype=torch.long, device=device)
    allowed = allowed.to(device)
    offset, grid = 0, (0, 0)
    for images, labels in batches:
        images, labels = to_device(images, settings), labels.to(device)
        with autocast(settings):
            latent = model.latent(images)
        sq_dist = squared_distances(latent, pool)
        batch, _, height, width = sq_dist.shape
        grid = (height, width)
        sq_dist = sq_dist.masked_fill(~allowed[labels][:, :, None, None], float("inf"))
        # (P, B*H*W): one argmin per prototype over every patch in the batch.
        flat = sq_dist.permute(1, 0, 2, 3).reshape(pool.shape[0], -1)
        batch_best, where = flat.min(dim=1)
        better = batch_best < best
        if bool(better.any()):
            index = where[better]
            image, rest = index // (height * width), index % (height * width)
            h, w = rest // width, rest % width
            vectors[better] = latent[image, :, h, w]
            best[better] = batch_best[better]
            location[better] = torch.stack([image + offset, h, w], dim=1)
        offset += batch
    return best, vectors, location, grid


def _crop_box(sample: Sample) -> tuple[float, float, float, float] | None:
    box = sample.bbox
    return None if box is None else (box.x, box.y, box.width, box.height)


def _provenance(
    model: PrototypeModel,
    allowed: torch.Tensor,
    best: torch.Tensor,
    location: torch.Tensor,
    grid: tuple[int, int],
    samples: Sequence[Sample],
    class_names: Sequence[str],
    cropped: bool,
) -> list[ProjectedPrototype]:
    """One record per prototype of the (pruned) pool, from :func:`nearest_patches`' output.

    Args:
        model: The projected model.
        allowed: ``(C, P)`` bool, class c uses prototype p.
        best: Distance of each prototype to its patch ``(P,)``.
        location: ``(P, 3)`` as [sample, h, w], -1 where no image could host the prototype.
        grid: ``(H, W)`` of the latent map.
        samples: Records of the projection set.
        class_names: Names by label.
        cropped: Images were cropped to their boxes before resizing.
    """
    original_ids = model.prototype_ids.tolist()
    records = []
    for index in range(model.num_prototypes):
        sample_pos, h, w = location[index].tolist()
        classes = torch.nonzero(allowed[:, index]).flatten().tolist()
        sample = samples[sample_pos] if sample_pos >= 0 else None
        records.append(
            ProjectedPrototype(
                prototype=index,
                original_index=original_ids[index],
                image_id=sample.image_id if sample else "",
                image_path=str(sample.path) if sample else "",
                patch=(h, w),
                feature_map_size=grid,
                crop_box=_crop_box(sample) if cropped and sample else None,
                distance=float(best[index]),
                classes=classes,
                class_names=[class_names[c] for c in classes],
            )
        )
    return records


def prune_tree_before_projection(model: PrototypeModel) -> int:
    """Prune a ProtoTree's weak subtrees (``tree.pruning_threshold``); 0 for ProtoPool.

    The reference prunes before projecting, so pruned nodes are never projected.

    Returns:
        The number of prototypes removed.
    """
    if not isinstance(model, ProtoTree):
        return 0
    return model.prune(model.tree.pruning_threshold)


@torch.no_grad()
def project_prototypes(
    model: PrototypeModel,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    samples: Sequence[Sample],
    class_names: Sequence[str],
    settings: StepSettings,
    cropped: bool = False,
) -> ProjectionResult:
    """Prune the prototypes no slot uses, then project the rest onto their nearest allowed patch.

    Args:
        model: The trained model; modified in place.
        batches: The projection set, un-augmented, in the order of ``samples``.
        samples: Records of the projection set (for provenance).
        class_names: Names by label.
        settings: Device and precision, those evaluation uses.
        cropped: The loader cropped images to their boxes, so patches are located in the
            box (recorded as ``crop_box``) rather than in the whole image.

    Returns:
        Provenance of every kept prototype, and the original indices of the pruned ones.

    Raises:
        ValueError: No slot holds a prototype, so nothing would be left in the pool.
    """
    used = model.prototype_classes().any(dim=0)
    if not bool(used.any()):
        raise ValueError(
            "projection: no slot holds a prototype under the test-time assignment; train "
            "longer or set model.test_assignment=argmax"
        )
    was_training = model.training
    model.eval()
    original_ids = model.prototype_ids.tolist()
    pruned = [original_ids[p] for p in torch.nonzero(~used).flatten().tolist()]
    model.keep_prototypes(torch.nonzero(used).flatten())
    # Pruning renormalises the slot distributions over the kept prototypes, which can fill a
    # slot the threshold left empty; reading the classes afterwards makes the search set and
    # the provenance match the assignment the projected model is evaluated with.
    allowed = model.prototype_classes()
    best, vectors, location, grid = nearest_patches(model, batches, allowed, settings)
    reached = torch.isfinite(best)
    model.prototypes.data[reached] = vectors[reached].to(model.prototypes.dtype)
    original_ids = model.prototype_ids.tolist()
    never_reached = [original_ids[p] for p in torch.nonzero(~reached).flatten().tolist()]
    records = _provenance(model, allowed, best, location, grid, samples, class_names, cropped)
    model.train(was_training)
    return ProjectionResult(records, pruned, never_reached)
