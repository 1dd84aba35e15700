"""Measures of the exact map a participant is shown, one stimulus at a time.

The map is the overlay's own: the activation after the style's normalisation and resizing
(:func:`shown_map`), a non-negative ``(H, W)`` array at the displayed picture's resolution.
Its values are read as energy, as in the energy form of the pointing game (Wang et al.,
"Score-CAM", CVPR-W 2020), so every measure is unchanged when the map is multiplied by a
positive number:

- **energy in a mask**: the share of the map's total inside a boolean mask (a part or object
  region); the mask's share of the pixels is its chance level;
- **top share**: the share of the energy on the :data:`TOP_FRACTION` (5 %) brightest pixels,
  from about 0.05 for a flat map to 1 for a map lit on a single pixel;
- **entropy**: the Shannon entropy of the map read as a distribution over pixels, divided by
  ``log(H W)``: 1 for a flat map, 0 for a single lit pixel.

A map with no energy at all (the style's ``minmax`` draws a constant map so) highlights
nothing, and is scored as the flat map it looks like: area shares, ``ceil(0.05 H W) / (H W)``
and entropy 1, the limit of a faint flat map.

The mask helpers turn dataset annotations, given in the original image's pixels, into masks at
the map's resolution by testing each displayed pixel's centre mapped back to the original:
SynthBirds label maps (:mod:`protopool.data.synth.masks`), CUB-200-2011 keypoints as discs of
:data:`~protopool.interpretability.regions.DISC_RADIUS_FRACTION` of the box's longer side (as
the pointing game draws them, :class:`~protopool.interpretability.regions.KeypointDiscs`), and
CUB or Stanford Cars boxes (``BBox``: corner and size, the Cars devkit's 1-based corners
already converted by the loader).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from protopool.data.base import BBox, PartLocation, Sample
from protopool.interpretability.regions import DISC_RADIUS_FRACTION
from protopool.rendering.overlay import prepare_canvas
from protopool.rendering.style import RenderStyle

TOP_FRACTION = 0.05
# Names of the masks annotation_masks builds; map_measures reports energy_in_<name>.
PART_MASK = "part"
OBJECT_MASK = "object"

Shape = tuple[int, int]
"""``(height, width)`` of a map."""
Size = tuple[int, int]
"""``(width, height)`` of an image, as PIL gives it."""


@dataclass(frozen=True)
class MapMeasures:
    """The measures of one shown map.

    Attributes:
        energy_in: Share of the energy inside each named mask, in [0, 1].
        area: Each mask's share of the pixels (the energy share of a flat map).
        top_share: Share of the energy on the top :data:`TOP_FRACTION` of the pixels.
        entropy: Normalised entropy of the map, in [0, 1].
        activation: The prototype's activation on the image, passed through (None if not
            given).
        top_fraction: The share of the pixels ``top_share`` was taken over.
    """

    energy_in: Mapping[str, float] = field(default_factory=dict)
    area: Mapping[str, float] = field(default_factory=dict)
    top_share: float = math.nan
    entropy: float = math.nan
    activation: float | None = None
    top_fraction: float = TOP_FRACTION

    def as_dict(self) -> dict[str, float]:
        """Flat columns: ``energy_in_<mask>``, ``area_<mask>``, ``top5_share`` (``top<k>_share``
        for another fraction), ``entropy``, ``activation`` (NaN when not given)."""
        out = {f"energy_in_{name}": value for name, value in self.energy_in.items()}
        out.update({f"area_{name}": value for name, value in self.area.items()})
        out[f"top{self.top_fraction * 100:g}_share"] = self.top_share
        out["entropy"] = self.entropy
        out["activation"] = math.nan if self.activation is None else float(self.activation)
        return out


def check_map(values: np.ndarray) -> np.ndarray:
    """The map as float64 ``(H, W)``, or a ValueError saying what is wrong with it."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"a map is a 2-D array (height, width), not of shape {array.shape}")
    if array.size < 2:
        raise ValueError("a map needs at least two pixels for its concentration to mean anything")
    if not np.isfinite(array).all():
        raise ValueError("the map holds NaN or infinite values")
    if (array < 0).any():
        raise ValueError(
            "the map has negative values; pass the shown map (shown_map), which the style "
            "has normalised to [0, 1]"
        )
    return array


def _energy(values: np.ndarray) -> np.ndarray:
    """The map as energy; an empty map becomes the flat map it is drawn as."""
    total = float(values.sum())
    return values / total if total > 0 else np.full(values.shape, 1.0 / values.size)


def energy_share_in(values: np.ndarray, mask: np.ndarray) -> float:
    """Share of the map's energy inside ``mask`` (bool, the map's shape), in [0, 1]."""
    energy = _energy(check_map(values))
    mask = np.asarray(mask)
    if mask.shape != energy.shape:
        raise ValueError(
            f"mask of shape {mask.shape} does not fit a map of shape {energy.shape}; build it "
            "at the map's resolution (box_mask, keypoint_mask, resize_mask)"
        )
    return float(min(1.0, energy[mask.astype(bool)].sum()))


def top_share(values: np.ndarray, fraction: float = TOP_FRACTION) -> float:
    """Share of the energy on the ``ceil(fraction * H * W)`` brightest pixels."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], not {fraction}")
    energy = _energy(check_map(values)).ravel()
    # The small slack keeps 5 % of 100 pixels at 5, not 6, when the product rounds up.
    count = max(1, math.ceil(fraction * energy.size - 1e-9))
    top = np.partition(energy, energy.size - count)[energy.size - count :]
    return float(min(1.0, top.sum()))


def normalised_entropy(values: np.ndarray) -> float:
    """Entropy of the map as a distribution over its pixels over ``log(H * W)``, in [0, 1]."""
    energy = _energy(check_map(values)).ravel()
    lit = energy[energy > 0]
    entropy = float(-(lit * np.log(lit)).sum())
    return float(np.clip(entropy / math.log(energy.size), 0.0, 1.0))


def map_measures(
    values: np.ndarray,
    masks: Mapping[str, np.ndarray] | None = None,
    activation: float | None = None,
    fraction: float = TOP_FRACTION,
) -> MapMeasures:
    """Every measure of one shown map.

    Args:
        values: The map ``(H, W)``, non-negative (:func:`shown_map`).
        masks: Named boolean masks of the map's shape (:func:`annotation_masks`).
        activation: The prototype's activation on the image, stored beside the measures.
        fraction: The share of pixels of :func:`top_share`.

    Raises:
        ValueError: A map that is not 2-D, finite and non-negative, or a mask of another shape.
    """
    array = check_map(values)
    masks = masks or {}
    return MapMeasures(
        energy_in={name: energy_share_in(array, mask) for name, mask in masks.items()},
        area={name: float(np.asarray(mask, dtype=bool).mean()) for name, mask in masks.items()},
        top_share=top_share(array, fraction),
        entropy=normalised_entropy(array),
        activation=None if activation is None else float(activation),
        top_fraction=fraction,
    )


def shown_map(image: Image.Image, activation: np.ndarray, style: RenderStyle) -> np.ndarray:
    """The map as the overlay draws it: normalised by the style and at its output size.

    Args:
        image: The original image.
        activation: Its map ``(height, width)`` in the original's pixels.
        style: The study's rendering style.

    Returns:
        ``(H, W)`` float64 in [0, 1], ``(H, W)`` the picture's size.
    """
    normalised = prepare_canvas(image, activation, style, None).normalised
    return np.asarray(normalised, dtype=np.float64)


# --- annotations as masks at the map's resolution -------------------------------------------


def _check_geometry(original_size: Size, shape: Shape) -> None:
    if min(original_size) < 1 or min(shape) < 1:
        raise ValueError(
            f"sizes must be positive: original {original_size} (width, height), map {shape} "
            "(height, width)"
        )


def pixel_centres(original_size: Size, shape: Shape) -> tuple[np.ndarray, np.ndarray]:
    """Original-image coordinates ``(x (1, W), y (H, 1))`` of each map pixel's centre."""
    _check_geometry(original_size, shape)
    (width, height), (rows, cols) = original_size, shape
    xs = (np.arange(cols) + 0.5) * (width / cols)
    ys = (np.arange(rows) + 0.5) * (height / rows)
    return xs[None, :], ys[:, None]


def box_mask(box: BBox, original_size: Size, shape: Shape) -> np.ndarray:
    """The pixels of an ``(H, W)`` map whose centres fall inside ``box`` (original pixels)."""
    xs, ys = pixel_centres(original_size, shape)
    inside_x = (xs >= box.x) & (xs < box.x + box.width)
    inside_y = (ys >= box.y) & (ys < box.y + box.height)
    mask: np.ndarray = inside_y & inside_x
    return mask


def disc_radius(
    box: BBox | None, original_size: Size, fraction: float = DISC_RADIUS_FRACTION
) -> float:
    """Keypoint disc radius in original pixels: ``fraction`` of the box's (else the image's)
    longer side, as the pointing game's discs."""
    side = max(box.width, box.height) if box is not None else max(original_size)
    return fraction * side


def keypoint_mask(
    parts: Sequence[PartLocation], original_size: Size, shape: Shape, radius: float
) -> np.ndarray:
    """Discs of ``radius`` (original pixels) around every visible keypoint, at ``shape``."""
    xs, ys = pixel_centres(original_size, shape)
    mask = np.zeros(shape, dtype=bool)
    for part in parts:
        if part.visible:
            mask |= (xs - part.x) ** 2 + (ys - part.y) ** 2 <= radius**2
    return mask


def resize_mask(mask: np.ndarray, shape: Shape) -> np.ndarray:
    """A mask in original pixels ``(h, w)`` sampled at the centres of an ``(H, W)`` map."""
    source = np.asarray(mask, dtype=bool)
    if source.ndim != 2:
        raise ValueError(f"a mask is a 2-D array (height, width), not of shape {source.shape}")
    xs, ys = pixel_centres((source.shape[1], source.shape[0]), shape)
    cols = np.minimum(xs.astype(np.int64), source.shape[1] - 1)
    rows = np.minimum(ys.astype(np.int64), source.shape[0] - 1)
    resized: np.ndarray = source[rows, cols]
    return resized


def annotation_masks(
    sample: Sample,
    original_size: Size,
    shape: Shape,
    part_labels: np.ndarray | None = None,
    radius_fraction: float = DISC_RADIUS_FRACTION,
) -> dict[str, np.ndarray]:
    """The part and object masks a sample's annotations allow, at the map's resolution.

    Args:
        sample: The image's annotations (box and keypoints, in original pixels).
        original_size: ``(width, height)`` of the original image.
        shape: ``(H, W)`` of the shown map.
        part_labels: SynthBirds' label map in original pixels (``SynthTruth.part_labels``);
            its non-zero labels are the part mask instead of keypoint discs.
        radius_fraction: Keypoint disc radius as a share of the box's longer side.

    Returns:
        ``"part"`` (label map, else discs around visible keypoints, when there are any) and
        ``"object"`` (the box, when there is one); a dataset without either has no entry.
    """
    masks: dict[str, np.ndarray] = {}
    if part_labels is not None:
        masks[PART_MASK] = resize_mask(np.asarray(part_labels) > 0, shape)
    elif any(part.visible for part in sample.parts):
        radius = disc_radius(sample.bbox, original_size, radius_fraction)
        masks[PART_MASK] = keypoint_mask(sample.parts, original_size, shape, radius)
    if sample.bbox is not None:
        masks[OBJECT_MASK] = box_mask(sample.bbox, original_size, shape)
    return masks


__all__ = [
    "OBJECT_MASK",
    "PART_MASK",
    "TOP_FRACTION",
    "MapMeasures",
    "annotation_masks",
    "box_mask",
    "check_map",
    "disc_radius",
    "energy_share_in",
    "keypoint_mask",
    "map_measures",
    "normalised_entropy",
    "pixel_centres",
    "resize_mask",
    "shown_map",
    "top_share",
]
