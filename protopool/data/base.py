"""The shared description of a labelled image dataset, whatever its on-disk format.

Every loader (CUB-200-2011, Stanford Cars, image folders) returns a :class:`DatasetIndex`; the
training engine only ever sees that and :class:`ImageDataset`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset


class DatasetError(ValueError):
    """A dataset on disk is missing, malformed or inconsistent; the message says where and how."""


@dataclass(frozen=True)
class BBox:
    """An axis-aligned box in original-image pixels: top-left corner plus size."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class PartLocation:
    """Where one annotated part sits, in original-image pixels (CUB ``part_locs.txt``)."""

    part_id: int
    x: float
    y: float
    visible: bool


@dataclass(frozen=True)
class Sample:
    """One annotated image.

    Attributes:
        image_id: Stable identifier within the dataset (CUB image id, Cars file name, or the
            path relative to an image folder's root).
        path: Absolute path of the image file.
        label: 0-based class index into :attr:`DatasetIndex.class_names`.
        bbox: Object box, when the dataset has one.
        parts: Part locations, when the dataset has them (empty otherwise).
    """

    image_id: str
    path: Path
    label: int
    bbox: BBox | None = None
    parts: tuple[PartLocation, ...] = ()


@dataclass(frozen=True)
class DatasetIndex:
    """Everything a loader found: samples per split plus class, part and attribute vocabularies."""

    format: str
    root: Path
    class_names: list[str]
    train: list[Sample]
    test: list[Sample]
    part_names: list[str] = field(default_factory=list)
    attribute_names: list[str] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def split_validation(
    samples: Sequence[Sample], fraction: float, seed: int
) -> tuple[list[Sample], list[Sample]]:
    """Carve a stratified validation split out of the *training* samples.

    Model selection uses this split so that the test set is never looked at during training.
    Each class keeps at least one training image; a class with a single image gives none to
    validation.

    Returns:
        ``(train, validation)``, both in the input order.
    """
    if not 0.0 <= fraction < 1.0:
        raise DatasetError(f"validation fraction must be in [0, 1), got {fraction}")
    by_class: dict[int, list[int]] = {}
    for position, sample in enumerate(samples):
        by_class.setdefault(sample.label, []).append(position)
    rng = random.Random(seed)
    held_out: set[int] = set()
    for label in sorted(by_class):
        positions = by_class[label]
        count = min(len(positions) - 1, round(len(positions) * fraction))
        held_out.update(rng.sample(positions, max(count, 0)))
    train = [s for i, s in enumerate(samples) if i not in held_out]
    val = [s for i, s in enumerate(samples) if i in held_out]
    return train, val


def load_rgb(path: Path) -> Image.Image:
    """Open an image as RGB, turning any decoding failure into a :class:`DatasetError`."""
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except FileNotFoundError as exc:
        raise DatasetError(f"image file not found: {path}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DatasetError(f"cannot read image {path}: {exc}") from exc


class ImageDataset(Dataset[tuple[object, int]]):
    """A torch dataset over :class:`Sample` records.

    Args:
        samples: The records to serve.
        transform: Applied to the (optionally cropped) PIL image; usually returns a tensor.
        crop_to_bbox: Crop each image to its bounding box first, when it has one.

    ``__getitem__`` returns ``(transform(image), label)``.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        transform: Callable[[Image.Image], object] | None = None,
        crop_to_bbox: bool = False,
    ) -> None:
        self.samples = list(samples)
        self.transform = transform
        self.crop_to_bbox = crop_to_bbox

    def __len__(self) -> int:
        return len(self.samples)

    def load_image(self, index: int) -> Image.Image:
        sample = self.samples[index]
        image = load_rgb(sample.path)
        if self.crop_to_bbox and sample.bbox is not None:
            box = sample.bbox
            image = image.crop(
                (
                    int(box.x),
                    int(box.y),
                    int(round(box.x + box.width)),
                    int(round(box.y + box.height)),
                )
            )
        return image

    def __getitem__(self, index: int) -> tuple[object, int]:
        image = self.load_image(index)
        label = self.samples[index].label
        if self.transform is None:
            return image, label
        return self.transform(image), label
