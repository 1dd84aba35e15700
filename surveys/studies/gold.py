"""Synthetic maps of the gold trials: a blob on the object, or one on empty background.

Gold stimuli are drawn by :func:`protopool.rendering.render_stimulus` with the study's style,
like every other stimulus, so nothing but where the heat sits tells them apart. Where the blob
goes is computed here from the object's box (CUB-format ``bounding_boxes.txt``), once when the
design picks images and again, identically, when a worker renders them.
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

# The object blob fills the middle of the box without spilling far outside it.
OBJECT_SIGMA_SHARE = 0.25
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


def synthetic_map(size: Size, spot: Spot) -> np.ndarray:
    """A Gaussian blob ``(height, width)`` (float32, peak 1) centred on the spot."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    # Pixel centres sit at +0.5, as the box coordinates of the annotations assume.
    squared = (xs + 0.5 - spot.x) ** 2 + (ys + 0.5 - spot.y) ** 2
    result: np.ndarray = np.exp(-squared / np.float32(2 * spot.sigma**2)).astype(np.float32)
    return result


def percentile_region(activation: np.ndarray, percentile: float) -> PixelBox:
    """The rows and columns holding values at or above the map's percentile (ProtoPNet's rule,
    which the study's style applies to the model maps too)."""
    threshold = np.percentile(activation, percentile)
    rows = np.flatnonzero((activation >= threshold).any(axis=1))
    columns = np.flatnonzero((activation >= threshold).any(axis=0))
    return (int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1)


__all__ = [
    "BBox",
    "Size",
    "Spot",
    "background_spot",
    "object_spot",
    "percentile_region",
    "synthetic_map",
]
