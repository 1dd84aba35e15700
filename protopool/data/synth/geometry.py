"""The SynthBirds bird in its canonical frame, and the pose that places it in an image.

Canonical units are fractions of the bird's length; the bird faces right (+x) with y pointing
down, as in image coordinates. A bird facing right shows its right side to the camera, so the
right eye, wing and leg are the drawn ones and the left ones are annotated as not visible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


def ellipse(cx: float, cy: float, rx: float, ry: float, points: int = 28) -> np.ndarray:
    """Polygon approximating an axis-aligned ellipse, shape ``(points, 2)``."""
    angles = np.linspace(0.0, 2.0 * math.pi, points, endpoint=False)
    return np.stack([cx + rx * np.cos(angles), cy + ry * np.sin(angles)], axis=1)


def arc(cx: float, cy: float, r: float, start_deg: float, end_deg: float, n: int) -> np.ndarray:
    """Points on a circular arc, angles in degrees measured with y pointing down."""
    angles = np.radians(np.linspace(start_deg, end_deg, n))
    return np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], axis=1)


HEAD_CENTRE = (0.30, -0.13)
HEAD_RADIUS = 0.12

BODY = ellipse(0.0, 0.02, 0.30, 0.17)
BELLY = ellipse(0.04, 0.08, 0.22, 0.10)
HEAD = ellipse(*HEAD_CENTRE, HEAD_RADIUS, HEAD_RADIUS)
THROAT = ellipse(0.33, -0.05, 0.075, 0.055, points=18)
# The cap covers the top of the head, forehead included, so crown and forehead share a colour.
CROWN = arc(*HEAD_CENTRE, HEAD_RADIUS * 1.03, 200.0, 340.0, 16)
EYE_CENTRE = (0.35, -0.14)
EYE_RADIUS = 0.03
WING = np.array(
    [
        (0.14, -0.06), (0.05, -0.10), (-0.10, -0.09), (-0.26, -0.03), (-0.36, 0.03),
        (-0.22, 0.06), (-0.05, 0.07), (0.10, 0.03),
    ]
)  # fmt: skip
# Stripe segments across the wing, and spot centres on it (drawn clipped to the wing).
WING_STRIPES = (
    ((0.07, -0.11), (0.02, 0.08)),
    ((-0.03, -0.11), (-0.08, 0.09)),
    ((-0.13, -0.10), (-0.18, 0.08)),
    ((-0.23, -0.07), (-0.27, 0.07)),
)
WING_SPOTS = ((0.06, -0.04), (-0.02, 0.01), (-0.04, -0.06), (-0.12, -0.02), (-0.20, 0.02),
              (0.04, 0.03), (-0.11, 0.04), (-0.27, 0.02))  # fmt: skip
WING_STROKE = 0.028
SPOT_RADIUS = 0.024

BEAKS: dict[str, np.ndarray] = {
    "cone": np.array([(0.40, -0.19), (0.52, -0.14), (0.40, -0.09)]),
    "needle": np.array([(0.41, -0.165), (0.66, -0.145), (0.41, -0.125)]),
    "hooked": np.array(
        [(0.40, -0.18), (0.49, -0.17), (0.535, -0.13), (0.51, -0.095), (0.49, -0.13), (0.40, -0.11)]
    ),
    "dagger": np.array([(0.40, -0.175), (0.58, -0.14), (0.40, -0.105)]),
}
# CUB's bill_length compares the bill with the head (diameter 0.24 here).
BILL_LENGTH = {
    "cone": "shorter_than_head",
    "hooked": "shorter_than_head",
    "dagger": "about_the_same_as_head",
    "needle": "longer_than_head",
}
TAILS: dict[str, np.ndarray] = {
    "forked": np.array(
        [(-0.24, -0.05), (-0.60, -0.10), (-0.46, -0.01), (-0.60, 0.08), (-0.24, 0.05)]
    ),
    "rounded": np.concatenate(
        [[(-0.24, -0.045)], arc(-0.40, -0.01, 0.13, 250.0, 110.0, 14), [(-0.24, 0.045)]]
    ),
    "pointed": np.array([(-0.24, -0.05), (-0.62, -0.01), (-0.24, 0.05)]),
    "squared": np.array([(-0.24, -0.05), (-0.55, -0.08), (-0.55, 0.06), (-0.24, 0.05)]),
}
LEG = np.array([(0.05, 0.17), (0.03, 0.32)])
FOOT = np.array([(-0.03, 0.33), (0.03, 0.32), (0.09, 0.335)])
LEG_WIDTH = 0.024

# Keypoints of the parts drawn on the near side; the far-side ones are never drawn.
KEYPOINTS: dict[str, tuple[float, float]] = {
    "back": (-0.10, -0.115),
    "belly": (0.02, 0.11),
    "breast": (0.19, 0.07),
    "crown": (0.30, -0.215),
    "forehead": (0.385, -0.20),
    "eye": EYE_CENTRE,
    "leg": (0.035, 0.25),
    "wing": (-0.06, -0.01),
    "nape": (0.21, -0.12),
    "tail": (-0.42, -0.01),
    "throat": (0.33, -0.05),
}


def beak_keypoint(shape: str) -> tuple[float, float]:
    centre = BEAKS[shape].mean(axis=0)
    return float(centre[0]), float(centre[1])


def outline_points(beak: str, tail: str) -> np.ndarray:
    """Every point on the bird's silhouette, for its bounding box."""
    return np.concatenate([BODY, HEAD, CROWN, WING, BEAKS[beak], TAILS[tail], LEG, FOOT])


@dataclass(frozen=True)
class Pose:
    """Where the bird sits in the image.

    Attributes:
        scale: Bird length in pixels of the drawing canvas.
        rotation: Degrees, positive turns the beak upwards.
        flipped: The bird faces left and shows its left side.
        offset: Canvas position of the canonical origin (centre of the body).
    """

    scale: float
    rotation: float
    flipped: bool
    offset: tuple[float, float]

    def matrix(self) -> npt.NDArray[np.float64]:
        """The linear part of the canonical-to-canvas map, shape ``(2, 2)``."""
        theta = math.radians(self.rotation)
        # Image y points down, so a counter-clockwise turn on screen has a negative sine term.
        rotate = np.array([[math.cos(theta), math.sin(theta)], [-math.sin(theta), math.cos(theta)]])
        mirror = np.diag([-1.0 if self.flipped else 1.0, 1.0])
        return self.scale * rotate @ mirror

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Map canonical points ``(N, 2)`` to canvas pixels ``(N, 2)``."""
        canonical = np.asarray(points, dtype=np.float64)
        return canonical @ self.matrix().T + np.asarray(self.offset, dtype=np.float64)


def sample_pose(rng: np.random.Generator, canvas: int, beak: str, tail: str, margin: float) -> Pose:
    """Draw a random pose that keeps the whole bird inside a square canvas.

    The bird's length is 55-90 % of the frame, so it stays a substantial part of the image.
    """
    silhouette = outline_points(beak, tail)
    width = float(np.ptp(silhouette[:, 0]))
    scale = canvas * float(rng.uniform(0.55, 0.9)) / width
    rotation = float(rng.uniform(-20.0, 20.0))
    flipped = bool(rng.random() < 0.5)
    while True:
        placed = Pose(scale, rotation, flipped, (0.0, 0.0)).apply(silhouette)
        low, high = placed.min(axis=0), placed.max(axis=0)
        if np.all(high - low <= canvas - 2 * margin):
            break
        scale *= 0.95
    offset = (
        float(rng.uniform(margin - low[0], canvas - margin - high[0])),
        float(rng.uniform(margin - low[1], canvas - margin - high[1])),
    )
    return Pose(scale, rotation, flipped, offset)
