"""Where the annotated parts are, pixel by pixel, for the pointing game.

Three sources, best first:

- **SynthBirds**: the generator's ground-truth part masks, re-rendered from ``synthbirds.json``
  (:mod:`protopool.data.synth.masks`); foreground leaves and the perch are background.
- **Segmentations**: CUB-200-2011's separate download, ``segmentations/<class>/<stem>.png``
  beside ``images/`` or beside the CUB folder; a pixel is the bird's when its value is at
  least half of 255 (the PNGs average several annotators).
- **Keypoint discs**: elsewhere, a disc of radius :data:`DISC_RADIUS_FRACTION` of the object
  box's longer side (the image's without a box) around every visible keypoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from protopool.data.base import DatasetIndex, Sample, load_rgb
from protopool.data.synth.masks import SynthTruth, load_synth_truth
from protopool.interpretability.topk import image_size

DISC_RADIUS_FRACTION = 0.1
SEGMENTATION_LEVEL = 128
SEGMENTATION_FOLDER = "segmentations"


class PartRegions(Protocol):
    """A source of part masks; ``description`` says which, for reports."""

    @property
    def description(self) -> str: ...

    def mask(self, sample: Sample) -> np.ndarray:
        """``(height, width)`` bool in original pixels: True on annotated parts."""
        ...


@dataclass(frozen=True)
class SynthPartRegions:
    truth: SynthTruth
    description: str = "SynthBirds ground-truth part masks"

    def mask(self, sample: Sample) -> np.ndarray:
        result: np.ndarray = self.truth.part_labels(sample.image_id) > 0
        return result


@dataclass(frozen=True)
class SegmentationRegions:
    images: Path
    segmentations: Path
    description: str = "CUB segmentation masks"

    def mask(self, sample: Sample) -> np.ndarray:
        relative = Path(sample.path).relative_to(self.images).with_suffix(".png")
        pixels = np.asarray(load_rgb(self.segmentations / relative).convert("L"))
        result: np.ndarray = pixels >= SEGMENTATION_LEVEL
        return result


@dataclass(frozen=True)
class KeypointDiscs:
    radius_fraction: float = DISC_RADIUS_FRACTION

    @property
    def description(self) -> str:
        return f"keypoint discs (radius {self.radius_fraction:g} of the box's longer side)"

    def mask(self, sample: Sample) -> np.ndarray:
        width, height = image_size(Path(sample.path))
        box = sample.bbox
        side = max(box.width, box.height) if box is not None else max(width, height)
        radius = self.radius_fraction * side
        ys, xs = np.mgrid[0:height, 0:width]
        mask = np.zeros((height, width), dtype=bool)
        for part in sample.parts:
            if part.visible:
                mask |= (xs + 0.5 - part.x) ** 2 + (ys + 0.5 - part.y) ** 2 <= radius**2
        return mask


def _segmentation_folder(index: DatasetIndex) -> Path | None:
    for candidate in (index.root / SEGMENTATION_FOLDER, index.root.parent / SEGMENTATION_FOLDER):
        if candidate.is_dir():
            return candidate
    return None


def part_regions_for(index: DatasetIndex) -> PartRegions:
    """The best source of part masks ``index`` offers (see the module docstring)."""
    truth = load_synth_truth(index.root)
    if truth is not None:
        return SynthPartRegions(truth)
    folder = _segmentation_folder(index)
    if folder is not None:
        return SegmentationRegions(index.root / "images", folder)
    return KeypointDiscs()
