"""How often a proposed name is right on SynthBirds, judged by the generator's ground truth.

For a prototype named from its top-k training images, the truth is read on the same images:

- **where it fires**: the part whose ground-truth mask holds the peak of the upsampled map, in
  most of the images (left and right merged; ``background`` for leaves, perch and scenery).
  The map cannot place its peak more finely than one latent cell, so a peak on background
  counts for the nearest part pixel within half a cell (``tolerance=0`` reads only the peak's
  own pixel);
- **what is there**: that part's true values for each image's species
  (:func:`protopool.data.synth.annotate.species_attributes`).

A name is right when its part is where the prototype fires and every value it claims is true
for the species in at least half of the images whose peak lands on that part. A part-only name
claims no value and counts as wrong: the measure asks for part and value. Only prototypes with
purity >= 0.5 (the named ones) are counted.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from protopool.data.cub_vocab import PART_NAMES
from protopool.data.synth.annotate import species_attributes
from protopool.data.synth.masks import SynthTruth
from protopool.interpretability.naming import PrototypeName
from protopool.interpretability.parts import merged_name
from protopool.interpretability.topk import TopImage

BACKGROUND = "background"
COUNTED_PURITY = 0.5
LABEL_CACHE = 4096
# The upsampled map cannot place its peak more finely than the latent cell it comes from.
PEAK_TOLERANCE = 0.5


@functools.lru_cache(maxsize=LABEL_CACHE)
def _labels(truth: SynthTruth, image_id: str) -> np.ndarray:
    # An image is often among several prototypes' top images; re-rendering it costs ~5 ms.
    return truth.part_labels(image_id)


@dataclass(frozen=True)
class NameCheck:
    """The verdict on one prototype's name.

    Attributes:
        prototype: Index in the pool.
        counted: The prototype enters the accuracy (named, purity >= 0.5).
        fires_on: The part (merged) most of its peaks land on, or ``background``.
        peak_share: Share of its top images whose peak lands there.
        part_correct: The named part is ``fires_on``.
        value_correct: Every claimed value is the species' own on most of those images.
    """

    prototype: int
    counted: bool
    fires_on: str
    peak_share: float
    part_correct: bool
    value_correct: bool

    @property
    def correct(self) -> bool:
        return self.part_correct and self.value_correct

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "correct": self.correct}


def peak_part(truth: SynthTruth, image: TopImage, tolerance: float = PEAK_TOLERANCE) -> str:
    """The merged part under an image's activation peak, or ``background``.

    Args:
        tolerance: A peak on background still counts for the nearest part pixel within this
            many latent cells (0 reads the peak's pixel only).
    """
    labels = _labels(truth, image.sample.image_id)
    x, y = image.peak
    label = int(labels[y, x])
    radius = tolerance * max(image.cell)
    if not label and radius > 0:
        reach = int(np.ceil(radius))
        top, left = max(0, y - reach), max(0, x - reach)
        window = labels[top : y + reach + 1, left : x + reach + 1]
        ys, xs = np.nonzero(window)
        if len(xs):
            gaps = np.hypot(xs + left - x, ys + top - y)
            nearest = int(np.argmin(gaps))
            if gaps[nearest] <= radius:
                label = int(window[ys[nearest], xs[nearest]])
    return merged_name(PART_NAMES[label - 1]) if label else BACKGROUND


def check_name(
    name: PrototypeName,
    images: Sequence[TopImage],
    truth: SynthTruth,
    tolerance: float = PEAK_TOLERANCE,
) -> NameCheck:
    """Judge one name against where its prototype fires on ``images`` (its top images)."""
    landed = [peak_part(truth, image, tolerance) for image in images]
    fires_on, count = Counter(landed).most_common(1)[0] if landed else (BACKGROUND, 0)
    counted = name.part is not None and name.purity >= COUNTED_PURITY
    part_correct = name.part is not None and merged_name(name.part) == fires_on
    on_part = [image for image, part in zip(images, landed, strict=True) if part == fires_on]
    agreeing = 0
    for image in on_part:
        values = species_attributes(truth.species_of(image.sample.image_id))
        agreeing += all(c.value in values.get(c.group, ()) for c in name.attributes)
    value_correct = bool(name.attributes) and part_correct and 2 * agreeing >= len(on_part)
    return NameCheck(
        name.prototype,
        counted,
        fires_on,
        round(count / len(landed), 4) if landed else 0.0,
        part_correct,
        value_correct,
    )


def naming_accuracy(checks: Sequence[NameCheck]) -> tuple[float, int]:
    """``(share of counted names that are right, how many were counted)``; NaN when none."""
    counted = [check for check in checks if check.counted]
    if not counted:
        return float("nan"), 0
    return sum(check.correct for check in counted) / len(counted), len(counted)
