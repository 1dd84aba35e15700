"""Synthetic maps of the anchors and practice pictures: a spot on the object, or on empty
background.

A synthetic map is made like a model's map: values on the run's own latent grid over the
region the network sees (:func:`spot_latent`), which the worker then upsamples, places in the
original image, boxes and draws with exactly the functions a model's map goes through
(:mod:`surveys.studies.rendering`), so nothing but where the heat sits tells them apart. A
run that crops to the object box sees only the box; its background map is drawn on the strip
of the image beside the box instead (:func:`background_crop`). Where the spot goes is computed
here from the object's box (CUB-format ``bounding_boxes.txt``), once when the design picks
images and again, identically, when a worker renders them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Size = tuple[int, int]
"""``(width, height)`` in pixels."""
BBox = tuple[float, float, float, float]
"""``(x, y, width, height)`` of the object, in the image's pixels."""
PixelBox = tuple[int, int, int, int]
"""``(left, top, right, bottom)``, right and bottom exclusive."""

# The object spot is focal, about one latent cell of a box-cropped run: a large blob over the
# whole object would be the diffuse kind of map whose lower salience the study measures.
OBJECT_SIGMA_SHARE = 0.1
# The background blob is small next to the image, so it fits in a corner of most photographs.
BACKGROUND_SIGMA_SHARE = 0.08
# The background blob's centre stays this many sigmas from the box: its visible heat (the
# colormap's warm end) ends about two sigmas out, so the object stays cold.
MIN_BACKGROUND_GAP_SIGMAS = 3.0
# Corner centres sit this many sigmas inside the frame, so the blob is not cut in half.
CORNER_INSET_SIGMAS = 1.5


@dataclass(frozen=True)
class Spot:
    """Where a synthetic map's Gaussian blob sits: its centre and spread in pixels."""

    x: float
    y: float
    sigma: float


def object_spot(bbox: BBox) -> Spot:
    """A blob in the middle of the object's box."""
    x, y, width, height = bbox
    return Spot(x + width / 2, y + height / 2, max(1.0, OBJECT_SIGMA_SHARE * min(width, height)))


def _distance_to_box(px: float, py: float, bbox: BBox) -> float:
    x, y, width, height = bbox
    dx = max(x - px, 0.0, px - (x + width))
    dy = max(y - py, 0.0, py - (y + height))
    return float(np.hypot(dx, dy))


def background_spot(size: Size, bbox: BBox) -> Spot | None:
    """A blob in the image corner farthest from the object, or None when every corner is too
    close to it for the map to read as "empty background"."""
    width, height = size
    sigma = max(1.0, BACKGROUND_SIGMA_SHARE * min(width, height))
    inset = CORNER_INSET_SIGMAS * sigma
    corners = [
        (inset, inset),
        (width - inset, inset),
        (inset, height - inset),
        (width - inset, height - inset),
    ]
    distance, cx, cy = max((_distance_to_box(cx, cy, bbox), cx, cy) for cx, cy in corners)
    if distance < MIN_BACKGROUND_GAP_SIGMAS * sigma:
        return None
    return Spot(cx, cy, sigma)


def background_crop(size: Size, bbox: BBox, spot: Spot) -> BBox:
    """The strip of the image beside the object box that holds the background spot, as an
    ``(x, y, width, height)`` crop: what a box-cropping run is shown instead of the box.

    Of the (up to four) full-length strips between the box and the image's edges, the largest
    that contains the spot's centre.
    """
    width, height = size
    x, y, box_w, box_h = bbox
    strips = [
        (0.0, 0.0, x, float(height)),
        (x + box_w, 0.0, width - (x + box_w), float(height)),
        (0.0, 0.0, float(width), y),
        (0.0, y + box_h, float(width), height - (y + box_h)),
    ]
    holding = [
        strip
        for strip in strips
        if strip[2] >= 1 and strip[3] >= 1
        and strip[0] <= spot.x <= strip[0] + strip[2]
        and strip[1] <= spot.y <= strip[1] + strip[3]
    ]  # fmt: skip
    if not holding:
        raise ValueError(f"the spot ({spot.x:g}, {spot.y:g}) lies inside the box {bbox}")
    return max(holding, key=lambda strip: strip[2] * strip[3])


def spot_latent(grid: tuple[int, int], region: PixelBox, spot: Spot) -> np.ndarray:
    """The spot's Gaussian (peak 1 at its centre, float32) sampled at the centres of a
    ``(rows, columns)`` grid laid over ``region`` of the image, as latent cells lie over the
    region the network sees."""
    rows, columns = grid
    left, top, right, bottom = region
    xs = left + (np.arange(columns, dtype=np.float32) + 0.5) * (right - left) / columns
    ys = top + (np.arange(rows, dtype=np.float32) + 0.5) * (bottom - top) / rows
    squared = (xs[None, :] - spot.x) ** 2 + (ys[:, None] - spot.y) ** 2
    result: np.ndarray = np.exp(-squared / np.float32(2 * spot.sigma**2)).astype(np.float32)
    return result


__all__ = [
    "BBox",
    "PixelBox",
    "Size",
    "Spot",
    "background_crop",
    "background_spot",
    "object_spot",
    "spot_latent",
]
