"""Activation regions in original-image pixels, and which annotated parts they hold.

A region is found on the map of the network's view (the box crop when the run crops to boxes),
upsampled to that view's own pixels by :func:`protopool.inference.maps.upsample`, and moved into the
original image, where CUB's keypoints live. Two rules:

- ``percentile``: ProtoPNet's ``find_high_activation_crop``, the bounding box of the pixels at
  or above the 95th percentile (:func:`protopool.inference.maps.percentile_box`);
- ``fixed``: EvalProtoPNet's (Huang et al., ICCV 2023, ``util/eval_interpretability.py``)
  72 x 72 square at 224 px around the arg-max pixel, clipped to the view; on a view of another
  size the half-size 36 scales with each side, as the view is resized to a square.

A keypoint at ``(x, y)`` is inside a box ``(left, top, right, bottom)`` when
``left <= x < right`` and ``top <= y < bottom`` (boxes cover whole pixels, right and bottom
exclusive). Only visible keypoints count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from protopool.data.base import PartLocation
from protopool.inference.maps import Box, percentile_box, upsample

RegionRule = Literal["percentile", "fixed"]
REGION_RULES: tuple[str, ...] = ("percentile", "fixed")
EVAL_HALF_SIZE = 36
EVAL_INPUT_SIZE = 224
SIDES = ("left ", "right ")


def view_map(latent: torch.Tensor, crop: Box) -> np.ndarray:
    """A latent map ``(H, W)`` upsampled to the view ``crop`` covers, ``(height, width)``."""
    left, top, right, bottom = crop
    return upsample(latent, (right - left, bottom - top))


def peak_of(view: np.ndarray, crop: Box) -> tuple[int, int]:
    """``(x, y)`` in original pixels of the view map's arg-max (the first one on ties)."""
    row, column = np.unravel_index(int(np.argmax(view)), view.shape)
    return crop[0] + int(column), crop[1] + int(row)


def fixed_box(
    peak: tuple[int, int],
    crop: Box,
    half_size: float = EVAL_HALF_SIZE,
    reference: int = EVAL_INPUT_SIZE,
) -> Box:
    """EvalProtoPNet's region: ``[peak - half, peak + half]`` per axis, clipped to the view.

    ``half`` is ``half_size / reference`` of the view's width (x) and height (y), i.e. 36 px of
    the 224 px input the view is resized to.
    """
    left, top, right, bottom = crop
    half_x = half_size / reference * (right - left)
    half_y = half_size / reference * (bottom - top)
    x, y = peak
    return (
        max(left, round(x - half_x)),
        max(top, round(y - half_y)),
        min(right, round(x + half_x) + 1),
        min(bottom, round(y + half_y) + 1),
    )


def high_activation_box(view: np.ndarray, crop: Box, percentile: float) -> Box:
    """ProtoPNet's percentile box of a view map, in original pixels."""
    left, top, right, bottom = percentile_box(view, percentile)
    return (crop[0] + left, crop[1] + top, crop[0] + right, crop[1] + bottom)


@dataclass(frozen=True)
class RegionRuleConfig:
    """How an activation becomes a region.

    Attributes:
        rule: ``percentile`` (ProtoPNet's box) or ``fixed`` (EvalProtoPNet's square).
        percentile: Threshold of the percentile rule (ProtoPNet: 95).
        half_size: Half-side of the fixed square at ``reference`` pixels (EvalProtoPNet: 36).
        reference: Input side the half-size refers to (EvalProtoPNet: 224).
    """

    rule: RegionRule = "percentile"
    percentile: float = 95.0
    half_size: float = EVAL_HALF_SIZE
    reference: int = EVAL_INPUT_SIZE

    def __post_init__(self) -> None:
        if self.rule not in REGION_RULES:
            raise ValueError(f"unknown region rule {self.rule!r}; choose one of {REGION_RULES}")
        if not 0.0 < self.percentile < 100.0:
            raise ValueError(f"the percentile must lie in (0, 100), got {self.percentile}")

    def region(self, latent: torch.Tensor, crop: Box) -> tuple[tuple[int, int], Box]:
        """``(peak, box)`` in original pixels of a latent map over the view ``crop``."""
        view = view_map(latent, crop)
        peak = peak_of(view, crop)
        if self.rule == "fixed":
            return peak, fixed_box(peak, crop, self.half_size, self.reference)
        return peak, high_activation_box(view, crop, self.percentile)


def inside(box: Box, x: float, y: float) -> bool:
    left, top, right, bottom = box
    return left <= x < right and top <= y < bottom


def merged_name(part: str) -> str:
    """``left wing`` and ``right wing`` -> ``wing``; other names unchanged."""
    for side in SIDES:
        if part.startswith(side):
            return part[len(side) :]
    return part


@dataclass(frozen=True)
class PartSpace:
    """The parts a region is scored on, with left and right merged or kept apart.

    PIP-Net's purity merges each left part into its right one (12 of CUB's 15 parts);
    EvalProtoPNet keeps all 15. A merged part is visible when any of its members is, and hit
    when any visible member is inside the region.

    Attributes:
        names: Part names scored (``wing`` for a merged pair).
        member_of: For each dataset part (``DatasetIndex.part_names`` order), its index in
            :attr:`names`.
    """

    names: tuple[str, ...]
    member_of: tuple[int, ...]

    @classmethod
    def of(cls, part_names: Sequence[str], merge: bool) -> PartSpace:
        names: list[str] = []
        member_of = []
        for part in part_names:
            name = merged_name(part) if merge else part
            if name not in names:
                names.append(name)
            member_of.append(names.index(name))
        return cls(tuple(names), tuple(member_of))

    def hits(self, box: Box, parts: Sequence[PartLocation]) -> tuple[np.ndarray, np.ndarray]:
        """``(hit, visible)`` bool vectors over :attr:`names` for one image's keypoints."""
        hit = np.zeros(len(self.names), dtype=bool)
        visible = np.zeros(len(self.names), dtype=bool)
        for slot, part in zip(self.member_of, parts, strict=True):
            if part.visible:
                visible[slot] = True
                hit[slot] |= inside(box, part.x, part.y)
        return hit, visible

    def distances(self, point: tuple[int, int], parts: Sequence[PartLocation]) -> np.ndarray:
        """Distance in pixels from ``point`` to each part's nearest visible keypoint (inf if
        none is visible), shape ``(len(names),)``."""
        distance = np.full(len(self.names), np.inf)
        for slot, part in zip(self.member_of, parts, strict=True):
            if part.visible:
                gap = float(np.hypot(part.x - point[0], part.y - point[1]))
                distance[slot] = min(distance[slot], gap)
        return distance
