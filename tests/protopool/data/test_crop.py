"""Bounding-box crops keep part coordinates aligned with the cropped pixels."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from protopool.data import BBox, ImageDataset, PartLocation, Sample, crop_sample_to_bbox
from protopool.data.crop import bbox_crop_box, load_cropped


def _sample(tmp_path: Path) -> Sample:
    path = tmp_path / "bird.png"
    image = Image.new("RGB", (50, 40), (0, 0, 0))
    image.putpixel((30, 20), (255, 0, 0))
    image.save(path)
    parts = (
        PartLocation(1, 30.0, 20.0, True),
        PartLocation(2, 0.0, 0.0, False),
        PartLocation(3, 2.0, 2.0, True),  # outside the box
    )
    return Sample("1", path, 0, BBox(10.4, 12.0, 25.3, 20.0), parts)


def test_parts_move_into_the_crop(tmp_path: Path) -> None:
    cropped = crop_sample_to_bbox(_sample(tmp_path))
    assert cropped.bbox == BBox(0.0, 0.0, 26.0, 20.0)
    assert cropped.parts[0] == PartLocation(1, 20.0, 8.0, True)
    assert cropped.parts[1] == PartLocation(2, 0.0, 0.0, False)
    assert cropped.parts[2] == PartLocation(3, 0.0, 0.0, False)


def test_crop_matches_image_dataset_and_pixels(tmp_path: Path) -> None:
    sample = _sample(tmp_path)
    image, cropped = load_cropped(sample)
    served = ImageDataset([sample], crop_to_bbox=True).load_image(0)
    assert image.size == served.size == (26, 20)
    part = cropped.parts[0]
    assert image.getpixel((int(part.x), int(part.y))) == (255, 0, 0)
    assert bbox_crop_box(sample.bbox) == (10, 12, 36, 32)


def test_sample_without_box_is_unchanged(tmp_path: Path) -> None:
    sample = Sample("2", tmp_path / "x.png", 1)
    assert crop_sample_to_bbox(sample) is sample
