"""Cropping a sample to its bounding box, with its part locations moved into the crop.

The integer crop box is the one :class:`~protopool.data.base.ImageDataset` uses with
``crop_to_bbox=True``, so part coordinates from here line up with the images it serves.
"""

from __future__ import annotations

from dataclasses import replace

from PIL import Image

from protopool.data.base import BBox, PartLocation, Sample, load_rgb


def bbox_crop_box(bbox: BBox) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` in pixels, as passed to ``PIL.Image.crop``."""
    return (
        int(bbox.x),
        int(bbox.y),
        int(round(bbox.x + bbox.width)),
        int(round(bbox.y + bbox.height)),
    )


def _move(part: PartLocation, left: int, top: int, width: int, height: int) -> PartLocation:
    if not part.visible:
        return PartLocation(part.part_id, 0.0, 0.0, False)
    x, y = part.x - left, part.y - top
    if not (0 <= x <= width and 0 <= y <= height):
        # A click outside the box cannot be shown in the crop; treat it like a hidden part.
        return PartLocation(part.part_id, 0.0, 0.0, False)
    return PartLocation(part.part_id, x, y, True)


def crop_sample_to_bbox(sample: Sample) -> Sample:
    """The sample as seen in its bounding-box crop.

    Part locations are shifted into crop pixels (parts falling outside the crop become not
    visible) and ``bbox`` becomes the whole crop, ``BBox(0, 0, width, height)``. ``path`` still
    names the uncropped file; crop it with :func:`bbox_crop_box` of the *original* box, or use
    :func:`load_cropped`. A sample without a box is returned unchanged.
    """
    if sample.bbox is None:
        return sample
    left, top, right, bottom = bbox_crop_box(sample.bbox)
    width, height = right - left, bottom - top
    parts = tuple(_move(part, left, top, width, height) for part in sample.parts)
    return replace(sample, bbox=BBox(0.0, 0.0, float(width), float(height)), parts=parts)


def load_cropped(sample: Sample) -> tuple[Image.Image, Sample]:
    """Load the image cropped to its box, with the matching :func:`crop_sample_to_bbox` sample.

    Raises:
        DatasetError: The image cannot be read.
    """
    image = load_rgb(sample.path)
    if sample.bbox is None:
        return image, sample
    return image.crop(bbox_crop_box(sample.bbox)), crop_sample_to_bbox(sample)
