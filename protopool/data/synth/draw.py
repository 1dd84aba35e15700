"""Rendering one SynthBirds image: cluttered background, a posed bird, foreground leaves.

Everything is drawn on a canvas :data:`SUPERSAMPLE` times larger than the output and then
reduced, which anti-aliases the edges without any per-pixel Python work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

# Straight to the module: the package's __init__ imports writer, which imports this one.
import protopool.data.synth.geometry as geo
from protopool.data.cub_vocab import PART_NAMES
from protopool.data.synth.species import PALETTE, Species

SUPERSAMPLE = 2
OCCLUSION_PROBABILITY = 0.3
PERCH_PROBABILITY = 0.6
RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Rendered:
    """One drawn image with its exact annotations, in output pixels.

    Attributes:
        image: The RGB image, ``size x size``.
        bbox: ``(x, y, width, height)`` of the whole bird, occluded pieces included.
        parts: CUB part name to ``(x, y, visible)``; hidden parts hold ``(0.0, 0.0, False)``.
        pose: The pose on the supersampled canvas.
        occluders: How many foreground leaves were drawn over the bird.
        occlusion: Mask of those leaves on the supersampled canvas (mode ``L``, 255 = leaf),
            for the ground-truth part masks of :mod:`protopool.data.synth.masks`.
    """

    image: Image.Image
    bbox: tuple[float, float, float, float]
    parts: dict[str, tuple[float, float, bool]]
    pose: geo.Pose
    occluders: int
    occlusion: Image.Image


def _muted(rng: np.random.Generator) -> RGB:
    colour = rng.integers(30, 220, size=3).astype(float)
    # Pulling towards grey keeps the clutter less saturated than the birds' plumage.
    colour = 0.55 * colour + 0.45 * colour.mean()
    return tuple(int(c) for c in colour)  # type: ignore[return-value]


def _leaf_colour(rng: np.random.Generator) -> RGB:
    green = (int(rng.integers(40, 110)), int(rng.integers(90, 170)), int(rng.integers(30, 80)))
    return green if rng.random() < 0.8 else (int(rng.integers(110, 160)), 95, 45)


def _leaf(centre: np.ndarray, length: float, angle: float) -> list[tuple[float, float]]:
    base = geo.ellipse(0.0, 0.0, length / 2, length / 6, points=16)
    c, s = math.cos(angle), math.sin(angle)
    turned = base @ np.array([[c, s], [-s, c]]) + centre
    return [tuple(p) for p in turned]


def _background(rng: np.random.Generator, canvas: int) -> Image.Image:
    top, bottom = np.array(_muted(rng), float), np.array(_muted(rng), float)
    direction = rng.uniform(0.0, 2.0 * math.pi)
    ys, xs = np.mgrid[0:canvas, 0:canvas] / max(canvas - 1, 1)
    mix = (xs * math.cos(direction) + ys * math.sin(direction) + 1.5) / 3.0
    pixels = top * (1.0 - mix[..., None]) + bottom * mix[..., None]
    image = Image.fromarray(pixels.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(4, 11))):
        cx, cy = rng.uniform(0, canvas, size=2)
        rx, ry = rng.uniform(0.04, 0.22, size=2) * canvas
        draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=_muted(rng))
    for _ in range(int(rng.integers(1, 4))):
        start, end = rng.uniform(-0.2, 1.2, size=(2, 2)) * canvas
        width = int(rng.uniform(0.015, 0.045) * canvas)
        draw.line([tuple(start), tuple(end)], fill=_muted(rng), width=max(width, 1))
    for _ in range(int(rng.integers(3, 11))):
        centre = rng.uniform(0, canvas, size=2)
        length = rng.uniform(0.08, 0.2) * canvas
        draw.polygon(_leaf(centre, length, rng.uniform(0, math.pi)), fill=_leaf_colour(rng))
    return image


def _plumage(species: Species, rng: np.random.Generator) -> dict[str, RGB]:
    """Per-image colours: the species' palette under random lighting and slight jitter."""
    light = rng.uniform(0.85, 1.1)
    names = {
        "crown": species.crown, "back": species.back, "wing": species.wing,
        "belly": species.belly, "tail": species.tail, "eye": species.eye,
        "bill": species.bill_colour, "leg": species.leg_colour,
    }  # fmt: skip
    colours: dict[str, RGB] = {}
    for region, name in names.items():
        base = np.array(PALETTE[name], float) * light + rng.uniform(-10, 10, size=3)
        colours[region] = tuple(int(c) for c in np.clip(base, 0, 255))  # type: ignore[assignment]
    return colours


def _darker(colour: RGB, factor: float = 0.55) -> RGB:
    return tuple(int(c * factor) for c in colour)  # type: ignore[return-value]


def _contrast(colour: RGB) -> RGB:
    luminance = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
    return (20, 20, 20) if luminance > 120 else (240, 240, 235)


def _polygon(draw: ImageDraw.ImageDraw, points: np.ndarray, fill: RGB, stroke: int) -> None:
    draw.polygon([tuple(p) for p in points], fill=fill, outline=_darker(fill), width=stroke)


def _draw_wing(image: Image.Image, pose: geo.Pose, species: Species, colour: RGB) -> None:
    wing = [tuple(p) for p in pose.apply(geo.WING)]
    stroke = max(1, round(pose.scale * 0.012))
    draw = ImageDraw.Draw(image)
    draw.polygon(wing, fill=colour)
    if species.wing_pattern != "solid":
        patterned = image.copy()
        marks = ImageDraw.Draw(patterned)
        mark = _contrast(colour)
        if species.wing_pattern == "striped":
            width = max(1, round(pose.scale * geo.WING_STROKE))
            for start, end in geo.WING_STRIPES:
                line = pose.apply(np.array([start, end]))
                marks.line([tuple(p) for p in line], fill=mark, width=width)
        else:
            radius = pose.scale * geo.SPOT_RADIUS
            for x, y in pose.apply(np.array(geo.WING_SPOTS)):
                marks.ellipse((x - radius, y - radius, x + radius, y + radius), fill=mark)
        mask = Image.new("L", image.size, 0)
        ImageDraw.Draw(mask).polygon(wing, fill=255)
        image.paste(patterned, (0, 0), mask)
    draw.polygon(wing, outline=_darker(colour), width=stroke)


def _draw_perch(draw: ImageDraw.ImageDraw, pose: geo.Pose, rng: np.random.Generator) -> None:
    foot = pose.apply(np.array([(0.03, 0.345)]))[0]
    along = pose.matrix() @ np.array([1.0, 0.0])
    along = along / np.linalg.norm(along) * 4 * pose.scale
    colour = (int(rng.integers(80, 130)), int(rng.integers(55, 85)), int(rng.integers(30, 50)))
    width = max(1, round(pose.scale * 0.035))
    draw.line([tuple(foot - along), tuple(foot + along)], fill=colour, width=width)


def _draw_bird(
    image: Image.Image, pose: geo.Pose, species: Species, colours: dict[str, RGB]
) -> None:
    draw = ImageDraw.Draw(image)
    stroke = max(1, round(pose.scale * 0.01))
    _polygon(draw, pose.apply(geo.TAILS[species.tail_shape]), colours["tail"], stroke)
    leg_width = max(1, round(pose.scale * geo.LEG_WIDTH))
    for segment in (geo.LEG, geo.FOOT):
        draw.line([tuple(p) for p in pose.apply(segment)], fill=colours["leg"], width=leg_width)
    _polygon(draw, pose.apply(geo.BODY), colours["back"], stroke)
    draw.polygon([tuple(p) for p in pose.apply(geo.BELLY)], fill=colours["belly"])
    _draw_wing(image, pose, species, colours["wing"])
    _polygon(draw, pose.apply(geo.HEAD), colours["back"], stroke)
    draw.polygon([tuple(p) for p in pose.apply(geo.THROAT)], fill=colours["belly"])
    draw.polygon([tuple(p) for p in pose.apply(geo.CROWN)], fill=colours["crown"])
    (ex, ey), radius = pose.apply(np.array([geo.EYE_CENTRE]))[0], pose.scale * geo.EYE_RADIUS
    draw.ellipse(
        (ex - radius, ey - radius, ex + radius, ey + radius),
        fill=colours["eye"],
        outline=(15, 15, 15),
        width=max(1, round(radius * 0.3)),
    )
    pupil = radius * 0.35
    draw.ellipse((ex - pupil, ey - pupil, ex + pupil, ey + pupil), fill=(10, 10, 10))
    _polygon(draw, pose.apply(geo.BEAKS[species.beak]), colours["bill"], stroke)


def _draw_occluders(
    image: Image.Image, pose: geo.Pose, rng: np.random.Generator
) -> tuple[Image.Image, int]:
    """Foreground leaves over random parts of the bird; returns their mask and count."""
    mask = Image.new("L", image.size, 0)
    if rng.random() >= OCCLUSION_PROBABILITY:
        return mask, 0
    count = int(rng.integers(1, 3))
    anchors = list(geo.KEYPOINTS.values())
    draw, mask_draw = ImageDraw.Draw(image), ImageDraw.Draw(mask)
    for _ in range(count):
        anchor = np.array(anchors[int(rng.integers(len(anchors)))])
        centre = pose.apply(anchor[None, :])[0] + rng.normal(0, 0.06 * pose.scale, size=2)
        leaf = _leaf(centre, rng.uniform(0.22, 0.36) * pose.scale, rng.uniform(0, math.pi))
        colour = _leaf_colour(rng)
        draw.polygon(leaf, fill=colour, outline=_darker(colour), width=1)
        mask_draw.polygon(leaf, fill=255)
    return mask, count


def _bbox(pose: geo.Pose, species: Species, size: int) -> tuple[float, float, float, float]:
    points = pose.apply(geo.outline_points(species.beak, species.tail_shape)) / SUPERSAMPLE
    low = np.clip(np.floor(points.min(axis=0) * 10) / 10, 0, size)
    high = np.clip(np.ceil(points.max(axis=0) * 10) / 10, 0, size)
    return float(low[0]), float(low[1]), float(high[0] - low[0]), float(high[1] - low[1])


def _annotate(
    pose: geo.Pose, species: Species, occlusion: Image.Image, size: int
) -> dict[str, tuple[float, float, bool]]:
    """Exact part locations; far-side, occluded and out-of-frame parts are not visible."""
    near, far = ("left", "right") if pose.flipped else ("right", "left")
    parts: dict[str, tuple[float, float, bool]] = {}
    for part in PART_NAMES:
        side, _, kind = part.rpartition(" ")
        if side == far:
            parts[part] = (0.0, 0.0, False)
            continue
        key = kind if side == near else part
        point = geo.beak_keypoint(species.beak) if part == "beak" else geo.KEYPOINTS[key]
        cx, cy = pose.apply(np.array([point]))[0]
        x, y = round(cx / SUPERSAMPLE, 1), round(cy / SUPERSAMPLE, 1)
        inside = 0 <= cx < occlusion.width and 0 <= cy < occlusion.height
        if not inside or occlusion.getpixel((int(cx), int(cy))):
            parts[part] = (0.0, 0.0, False)
        else:
            parts[part] = (x, y, True)
    return parts


def render(species: Species, size: int, rng: np.random.Generator) -> Rendered:
    """Draw one image of ``species``, ``size x size`` pixels, from the random stream ``rng``."""
    canvas = size * SUPERSAMPLE
    image = _background(rng, canvas)
    pose = geo.sample_pose(rng, canvas, species.beak, species.tail_shape, margin=0.02 * canvas)
    colours = _plumage(species, rng)
    if rng.random() < PERCH_PROBABILITY:
        _draw_perch(ImageDraw.Draw(image), pose, rng)
    _draw_bird(image, pose, species, colours)
    occlusion, occluders = _draw_occluders(image, pose, rng)
    pixels = np.asarray(image.resize((size, size), Image.Resampling.BOX), dtype=np.float32)
    noisy = pixels + rng.normal(0.0, rng.uniform(2.0, 8.0), size=pixels.shape)
    output = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")
    return Rendered(
        image=output,
        bbox=_bbox(pose, species, size),
        parts=_annotate(pose, species, occlusion, size),
        pose=pose,
        occluders=occluders,
        occlusion=occlusion,
    )
