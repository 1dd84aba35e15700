"""Activation maps of prototypes on images, in the image's own pixels: the base of every picture.

A map is the run's own per-location similarity (``Similarity.activation_map``: the log
similarity for ``focal`` and ``protopnet``, ``exp(-d)`` for ``prototree``) at latent resolution,
bicubically upsampled to the pixels the network saw — the box crop when the run crops to boxes
— and placed back into the **original** image, as the reference implementations draw them.

Many (prototype, image) pairs cost one forward pass per batch of distinct images
(:func:`maps_for_pairs`). Boxes follow ProtoPNet's 95th-percentile rule or ProtoTree's
arg-max-mask rule.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from protopool.config import DataConfig
from protopool.data.base import load_rgb
from protopool.data.transforms import eval_transform
from protopool.execution import StepSettings, autocast, to_device
from protopool.models import PrototypeModel

PERCENTILE = 95.0
# ProtoTree keeps the upsampled one-hot arg-max mask where it exceeds 1 - 0.98.
PROTOTREE_MASK_THRESHOLD = 0.02
DEFAULT_BATCH = 32

Box = tuple[int, int, int, int]
"""``(left, top, right, bottom)`` in pixels, right and bottom exclusive."""


class MapError(ValueError):
    """A prototype index or image that cannot be mapped; the message says which."""


@dataclass(frozen=True)
class PreparedImage:
    """An image as the network sees it, and where that view sits in the original.

    Attributes:
        original: The full original image (RGB).
        crop: ``(left, top, right, bottom)`` of the region fed to the network, the whole image
            when there is no box.
        tensor: The normalised network input ``(3, S, S)``.
    """

    original: Image.Image
    crop: Box
    tensor: torch.Tensor


def crop_region(size: tuple[int, int], crop_box: Sequence[float] | None) -> Box:
    """The pixel region a ``(x, y, width, height)`` box crops, as the data loaders crop it.

    Args:
        size: ``(width, height)`` of the original image.
        crop_box: The object box, or None for the whole image.
    """
    width, height = size
    if crop_box is None:
        return (0, 0, width, height)
    x, y, box_w, box_h = crop_box
    left, top = max(0, int(x)), max(0, int(y))
    right = min(width, int(round(x + box_w)))
    bottom = min(height, int(round(y + box_h)))
    if right <= left or bottom <= top:
        raise MapError(f"crop box {tuple(crop_box)} lies outside the {width}x{height} image")
    return (left, top, right, bottom)


def prepare_image(
    image: Image.Image | str | Path,
    data: DataConfig,
    crop_box: Sequence[float] | None = None,
) -> PreparedImage:
    """Load an image and build the network input the run's data pipeline would.

    Args:
        image: A PIL image or an image file.
        data: The run's data settings (input size, normalisation).
        crop_box: ``(x, y, width, height)`` to crop to first, when the run crops to boxes.

    Raises:
        DatasetError: The file does not exist or is not an image.
    """
    original = image if isinstance(image, Image.Image) else load_rgb(Path(image))
    original = original.convert("RGB")
    region = crop_region(original.size, crop_box)
    view = original.crop(region) if region != (0, 0, *original.size) else original
    tensor = eval_transform(data)(view)
    if not isinstance(tensor, torch.Tensor):
        raise TypeError("the evaluation transform must return a tensor")
    return PreparedImage(original, region, tensor)


@torch.no_grad()
def latent_maps(
    model: PrototypeModel, images: torch.Tensor, settings: StepSettings
) -> torch.Tensor:
    """Per-location similarity of every prototype ``(B, P, H, W)`` for inputs ``(B, 3, S, S)``."""
    model.eval()
    with autocast(settings):
        sq_dist = model.distances(to_device(images, settings))
    return model.similarity.activation_map(sq_dist).float()


def stream_maps(
    model: PrototypeModel,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    settings: StepSettings,
    description: str = "activation maps",
) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """One pass over a split: ``(offset, maps (B, P, H, W) on the CPU, labels (B,))`` per batch.

    ``offset`` is the position of the batch's first image in the stream. A progress bar shows
    on a terminal.
    """
    offset = 0
    for images, labels in tqdm(
        batches, desc=description, leave=False, disable=not sys.stderr.isatty()
    ):
        maps = latent_maps(model, images, settings).cpu()
        yield offset, maps, labels
        offset += maps.shape[0]


def upsample(latent: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """Bicubic upsampling of latent maps ``(..., H, W)`` to ``size`` = ``(width, height)``.

    Computed as two matrix products (see :func:`_bicubic_matrix`), all maps of one image at
    once.
    """
    width, height = size
    rows = _bicubic_matrix(latent.shape[-2], height).to(latent.device)
    columns = _bicubic_matrix(latent.shape[-1], width).to(latent.device)
    result: np.ndarray = (rows @ latent.float() @ columns.T).cpu().numpy()
    return result


@functools.lru_cache(maxsize=64)
def _bicubic_matrix(size_in: int, size_out: int) -> torch.Tensor:
    """torch's bicubic resampling (``align_corners=False``) along one axis, as a matrix
    ``(size_out, size_in)``.

    The kernel is separable, so ``R @ M @ C.T`` equals ``F.interpolate(M, mode="bicubic")``
    to float rounding, at a fraction of the cost for large outputs (a test checks the match).
    """
    basis = torch.eye(size_in).reshape(size_in, 1, size_in, 1)
    resampled = F.interpolate(basis, size=(size_out, 1), mode="bicubic", align_corners=False)
    return resampled[:, 0, :, 0].T.contiguous()


def place_in_original(
    cropped: np.ndarray, crop: Box, size: tuple[int, int], fill: float | None = None
) -> np.ndarray:
    """Put a map of the crop back into the original image's frame ``(height, width)``.

    Args:
        cropped: The map over the crop ``(crop height, crop width)``.
        crop: Where the crop sits.
        size: ``(width, height)`` of the original.
        fill: Value outside the crop (default: the map's minimum, so it reads as "no match").
    """
    width, height = size
    left, top, right, bottom = crop
    if cropped.shape != (bottom - top, right - left):
        raise ValueError(f"map of shape {cropped.shape} does not fit crop {crop}")
    value = float(cropped.min()) if fill is None else fill
    full = np.full((height, width), value, dtype=np.float32)
    full[top:bottom, left:right] = cropped
    return full


def image_map(latent: torch.Tensor, prepared: PreparedImage) -> np.ndarray:
    """A latent map ``(H, W)`` in the original image's pixels ``(height, width)``."""
    left, top, right, bottom = prepared.crop
    cropped = upsample(latent, (right - left, bottom - top))
    return place_in_original(cropped, prepared.crop, prepared.original.size)


def percentile_box(activation: np.ndarray, percentile: float = PERCENTILE) -> Box:
    """ProtoPNet's high-activation box: the rows and columns holding values at or above the
    ``percentile``-th percentile of the map ``(height, width)``."""
    threshold = np.percentile(activation, percentile)
    rows = np.flatnonzero((activation >= threshold).any(axis=1))
    columns = np.flatnonzero((activation >= threshold).any(axis=0))
    return (int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1)


def prototree_box(latent: torch.Tensor, prepared: PreparedImage) -> Box:
    """ProtoTree's box: a one-hot mask at the latent arg-max, upsampled like the map and kept
    above 0.02, in the original image's pixels."""
    mask = torch.zeros_like(latent, dtype=torch.float32)
    flat = int(latent.flatten().argmax())
    mask.view(-1)[flat] = 1.0
    return percentile_box_from_mask(image_map(mask, prepared), PROTOTREE_MASK_THRESHOLD)


def percentile_box_from_mask(mask: np.ndarray, threshold: float) -> Box:
    """The bounding box of ``mask > threshold`` (the whole image when nothing passes)."""
    rows = np.flatnonzero((mask > threshold).any(axis=1))
    columns = np.flatnonzero((mask > threshold).any(axis=0))
    if not len(rows):
        return (0, 0, mask.shape[1], mask.shape[0])
    return (int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1)


@dataclass(frozen=True)
class PairMap:
    """The map of one (prototype, image) pair.

    Attributes:
        prototype: Index in the run's (pruned) pool.
        image: The image as given.
        prepared: The loaded image and its crop.
        latent: Similarity at latent resolution ``(H, W)``.
        activation: The map in the original image's pixels ``(height, width)``.
        score: The largest latent similarity (the value a reader compares).
    """

    prototype: int
    image: str
    prepared: PreparedImage
    latent: torch.Tensor
    activation: np.ndarray
    score: float


def maps_for_pairs(
    model: PrototypeModel,
    pairs: Sequence[tuple[int, str | Path, Sequence[float] | None]],
    data: DataConfig,
    settings: StepSettings,
    batch_size: int = DEFAULT_BATCH,
) -> list[PairMap]:
    """Maps of many (prototype, image, crop box) triples, one forward pass per image batch.

    Pairs that share an image share its pass; results come in the order of ``pairs``.

    Raises:
        MapError: A prototype index outside the pool.
        DatasetError: An image that does not exist or cannot be read.
    """
    for prototype, _, _ in pairs:
        if not 0 <= prototype < model.num_prototypes:
            raise MapError(
                f"prototype {prototype} does not exist: the run has {model.num_prototypes} "
                f"(0 to {model.num_prototypes - 1})"
            )
    keys = [(str(image), tuple(box) if box is not None else None) for _, image, box in pairs]
    distinct = list(dict.fromkeys(keys))
    wanted: dict[tuple[str, tuple[float, ...] | None], list[int]] = {}
    for position, key in enumerate(keys):
        wanted.setdefault(key, []).append(position)
    done: dict[int, PairMap] = {}
    for start in range(0, len(distinct), batch_size):
        chunk = distinct[start : start + batch_size]
        prepared = [prepare_image(path, data, box) for path, box in chunk]
        maps = latent_maps(model, torch.stack([p.tensor for p in prepared]), settings).cpu()
        for key, image, image_maps in zip(chunk, prepared, maps, strict=True):
            positions = wanted[key]
            latents = image_maps[[pairs[position][0] for position in positions]]
            left, top, right, bottom = image.crop
            cropped = upsample(latents, (right - left, bottom - top))
            for position, latent, crop_map in zip(positions, latents, cropped, strict=True):
                activation = place_in_original(crop_map, image.crop, image.original.size)
                done[position] = PairMap(
                    pairs[position][0], key[0], image, latent, activation, float(latent.max())
                )
    return [done[position] for position in range(len(pairs))]


__all__ = [
    "Box",
    "MapError",
    "PairMap",
    "PreparedImage",
    "crop_region",
    "image_map",
    "latent_maps",
    "maps_for_pairs",
    "stream_maps",
    "percentile_box",
    "place_in_original",
    "prepare_image",
    "prototree_box",
    "upsample",
]
