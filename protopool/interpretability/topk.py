"""The top-k activating images of every prototype, from one streamed pass over a split.

Like projection, the pass runs the run's un-augmented loader (its crop, input size and
normalisation) under evaluation's precision settings, and keeps a running top-k per prototype,
so memory depends on the pool, k and the batch, never on the size of the split. An image's
score for a prototype is the largest value of its similarity map (the value
:attr:`protopool.inference.maps.PairMap.score` reports); each image counts once per prototype.

Each kept entry also keeps its latent map ``(H, W)``, so regions can be found afterwards without
a second forward pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError

from protopool.config import DataConfig
from protopool.data.base import DatasetError, Sample
from protopool.execution import StepSettings
from protopool.inference.maps import Box, crop_region, stream_maps
from protopool.interpretability.parts import RegionRuleConfig
from protopool.models import PrototypeModel
from protopool.training.data import make_loader

DEFAULT_K = 10


@dataclass(frozen=True)
class TopActivations:
    """The running top-k after a pass.

    Attributes:
        scores: ``(P, k)`` best scores, descending; ``-inf`` where fewer than k images could.
        positions: ``(P, k)`` positions of those images in the streamed sequence, -1 if none.
        latents: ``(P, k, H, W)`` their similarity maps at latent resolution.
    """

    scores: torch.Tensor
    positions: torch.Tensor
    latents: torch.Tensor

    def entries(self, prototype: int) -> list[tuple[int, float, torch.Tensor]]:
        """``(position, score, latent (H, W))`` of one prototype's images, best first."""
        return [
            (int(position), float(score), latent)
            for position, score, latent in zip(
                self.positions[prototype],
                self.scores[prototype],
                self.latents[prototype],
                strict=True,
            )
            if position >= 0
        ]


@torch.no_grad()
def stream_top_k(
    model: PrototypeModel,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    k: int,
    settings: StepSettings,
    allowed: torch.Tensor | None = None,
) -> TopActivations:
    """Stream ``(images (B, 3, S, S), labels (B,))`` batches and keep each prototype's top k.

    Args:
        model: The trained model.
        batches: The images, in a fixed order (positions count along it).
        k: Images kept per prototype.
        settings: Device and precision, evaluation's.
        allowed: ``(C, P)`` bool; when given, prototype p only ranks images of classes c with
            ``allowed[c, p]`` (e.g. ``model.prototype_classes()``: the classes that use it).

    Raises:
        ValueError: ``k`` is below 1.
    """
    if k < 1:
        raise ValueError(f"top-k needs k >= 1, got {k}")
    pool = model.num_prototypes
    scores = torch.full((pool, 0), float("-inf"))
    positions = torch.full((pool, 0), -1, dtype=torch.long)
    latents: torch.Tensor | None = None
    for offset, maps, labels in stream_maps(model, batches, settings, "top-k images"):
        batch = maps.shape[0]
        batch_scores = maps.flatten(2).amax(dim=2).T  # (P, B)
        if allowed is not None:
            batch_scores = batch_scores.masked_fill(~allowed.cpu()[labels].T, float("-inf"))
        batch_latents = maps.permute(1, 0, 2, 3)  # (P, B, H, W)
        latents = batch_latents if latents is None else torch.cat([latents, batch_latents], 1)
        scores = torch.cat([scores, batch_scores], dim=1)
        index = torch.arange(offset, offset + batch).expand(pool, batch)
        positions = torch.cat([positions, index], dim=1)
        keep = min(k, scores.shape[1])
        scores, order = scores.topk(keep, dim=1)
        positions = positions.gather(1, order)
        latents = latents[torch.arange(pool)[:, None], order]
    if latents is None:
        raise ValueError("top-k needs at least one image")
    positions = positions.masked_fill(torch.isinf(scores), -1)
    return TopActivations(scores, positions, latents)


def image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` of an image file, read from its header.

    Raises:
        DatasetError: The file does not exist or is not an image.
    """
    try:
        with Image.open(path) as image:
            return image.size
    except FileNotFoundError as exc:
        raise DatasetError(f"image file not found: {path}") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise DatasetError(f"cannot read image {path}: {exc}") from exc


def crop_box(sample: Sample, data: DataConfig) -> tuple[float, float, float, float] | None:
    """The ``(x, y, width, height)`` the run's loader crops ``sample`` to, or None."""
    box = sample.bbox
    if not data.crop_to_bbox or box is None:
        return None
    return (box.x, box.y, box.width, box.height)


def view_of(sample: Sample, data: DataConfig) -> Box:
    """Where the network's view of ``sample`` sits in the original image."""
    return crop_region(image_size(sample.path), crop_box(sample, data))


def top_k_images(
    model: PrototypeModel,
    samples: Sequence[Sample],
    data: DataConfig,
    settings: StepSettings,
    k: int = DEFAULT_K,
    own_classes: bool = False,
) -> TopActivations:
    """The top-k of ``samples`` for every prototype, streamed through the run's loader.

    Args:
        own_classes: Rank for each prototype only images of the classes that use it
            (``model.prototype_classes()``), as projection does; otherwise every image.
    """
    loader = make_loader(list(samples), data, train=False)
    allowed = model.prototype_classes() if own_classes else None
    return stream_top_k(model, loader, k, settings, allowed)


@dataclass(frozen=True)
class TopImage:
    """One of a prototype's top-k images, with its activation located in original pixels.

    Attributes:
        sample: The image's record.
        score: The prototype's largest similarity on it.
        crop: The network's view of the image, in original pixels.
        peak: ``(x, y)`` of the upsampled map's arg-max.
        box: The activation region (see :mod:`protopool.interpretability.parts`).
        cell: ``(width, height)`` in original pixels of one latent cell: how finely the map
            can place its peak.
    """

    sample: Sample
    score: float
    crop: Box
    peak: tuple[int, int]
    box: Box
    cell: tuple[float, float]


def locate_top_k(
    top: TopActivations, samples: Sequence[Sample], data: DataConfig, rule: RegionRuleConfig
) -> list[list[TopImage]]:
    """Each prototype's top images with their peaks and regions, best first.

    Args:
        top: A pass over ``samples`` (positions index into it).
        data: The run's data settings (for the crop).
        rule: How a map becomes a region.
    """
    views: dict[int, Box] = {}
    located = []
    for prototype in range(top.scores.shape[0]):
        images = []
        for position, score, latent in top.entries(prototype):
            sample = samples[position]
            if position not in views:
                views[position] = view_of(sample, data)
            crop = views[position]
            peak, box = rule.region(latent, crop)
            cell = ((crop[2] - crop[0]) / latent.shape[1], (crop[3] - crop[1]) / latent.shape[0])
            images.append(TopImage(sample, score, crop, peak, box, cell))
        located.append(images)
    return located
