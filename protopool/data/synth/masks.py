"""Ground-truth part masks of SynthBirds images, re-rendered from ``synthbirds.json``.

Nothing is written to disk: a sample's random stream is seeded by ``(seed, class, k)``, so
drawing it again gives the same pose and leaves, and the part regions are painted from that pose
in the generator's own drawing order (later shapes cover earlier ones, foreground leaves cover
everything). Existing datasets therefore gain masks without any file changing.

Regions, each labelled with the CUB part name of the side facing the camera:

- tail, leg, wing, eye and beak: their drawn shapes;
- back: the body not covered by belly or wing;
- breast and belly: the belly ellipse, split between the two keypoints (nearest wins);
- throat: the throat patch;
- crown and forehead: the cap, split between the two keypoints;
- nape: the rest of the head, painted in the back colour that ``nape_color`` records.

Label ``0`` is everything else: background, perch and foreground leaves.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import protopool.data.synth.geometry as geo
from protopool.data.base import DatasetError
from protopool.data.cub_vocab import PART_NAMES
from protopool.data.synth.draw import SUPERSAMPLE, Rendered, render
from protopool.data.synth.species import Species
from protopool.data.synth.writer import METADATA_FILE, SynthConfig

BACKGROUND = 0
PART_LABELS: dict[str, int] = {name: index + 1 for index, name in enumerate(PART_NAMES)}
"""Label of each CUB part name in a label map (``PART_NAMES[i]`` is ``i + 1``)."""


def _fill(
    labels: Image.Image, pose: geo.Pose, shape: np.ndarray, label: int
) -> ImageDraw.ImageDraw:
    draw = ImageDraw.Draw(labels)
    draw.polygon([tuple(p) for p in pose.apply(shape)], fill=label)
    return draw


def _split(labels: np.ndarray, region: Image.Image, pose: geo.Pose, parts: Sequence[str]) -> None:
    """Label each pixel of ``region`` with the nearest of ``parts``' keypoints."""
    ys, xs = np.nonzero(np.asarray(region))
    if not len(xs):
        return
    keypoints = pose.apply(np.array([geo.KEYPOINTS[part] for part in parts]))
    pixels = np.stack([xs + 0.5, ys + 0.5], axis=1)
    nearest = np.argmin(((pixels[:, None, :] - keypoints[None]) ** 2).sum(axis=2), axis=1)
    ids = np.array([PART_LABELS[part] for part in parts], dtype=np.uint8)
    labels[ys, xs] = ids[nearest]


def _shape_mask(size: int, pose: geo.Pose, shape: np.ndarray) -> Image.Image:
    mask = Image.new("L", (size, size), 0)
    _fill(mask, pose, shape, 255)
    return mask


def label_map(rendered: Rendered, species: Species, size: int) -> np.ndarray:
    """The part label of every output pixel of a rendered image, shape ``(size, size)`` uint8.

    Args:
        rendered: The image as :func:`~protopool.data.synth.draw.render` drew it.
        species: Its species (for the beak and tail shapes).
        size: Output side in pixels.
    """
    pose, canvas = rendered.pose, size * SUPERSAMPLE
    near = "left" if pose.flipped else "right"
    image = Image.new("L", (canvas, canvas), BACKGROUND)
    draw = _fill(image, pose, geo.TAILS[species.tail_shape], PART_LABELS["tail"])
    leg_width = max(1, round(pose.scale * geo.LEG_WIDTH))
    for segment in (geo.LEG, geo.FOOT):
        line = [tuple(p) for p in pose.apply(segment)]
        draw.line(line, fill=PART_LABELS[f"{near} leg"], width=leg_width)
    _fill(image, pose, geo.BODY, PART_LABELS["back"])
    labels = np.array(image)
    _split(labels, _shape_mask(canvas, pose, geo.BELLY), pose, ("breast", "belly"))
    image = Image.fromarray(labels)
    _fill(image, pose, geo.WING, PART_LABELS[f"{near} wing"])
    _fill(image, pose, geo.HEAD, PART_LABELS["nape"])
    _fill(image, pose, geo.THROAT, PART_LABELS["throat"])
    labels = np.array(image)
    _split(labels, _shape_mask(canvas, pose, geo.CROWN), pose, ("crown", "forehead"))
    image = Image.fromarray(labels)
    (ex, ey), radius = pose.apply(np.array([geo.EYE_CENTRE]))[0], pose.scale * geo.EYE_RADIUS
    eye = (ex - radius, ey - radius, ex + radius, ey + radius)
    ImageDraw.Draw(image).ellipse(eye, fill=PART_LABELS[f"{near} eye"])
    _fill(image, pose, geo.BEAKS[species.beak], PART_LABELS["beak"])
    labels = np.array(image)
    labels[np.asarray(rendered.occlusion) > 0] = BACKGROUND
    reduced = Image.fromarray(labels).resize((size, size), Image.Resampling.NEAREST)
    return np.array(reduced, dtype=np.uint8)


@dataclass(frozen=True)
class SynthTruth:
    """What the generator knows about a SynthBirds tree: settings and species per class.

    Attributes:
        root: The dataset folder.
        config: The settings the tree was generated with.
        species: One per class, in class-id order.
    """

    root: Path
    config: SynthConfig
    species: tuple[Species, ...]

    def locate(self, image_id: str | int) -> tuple[int, int]:
        """``(class index, image number k within the class)`` of a CUB image id."""
        number = int(image_id) - 1
        per_class = self.config.images_per_class
        if not 0 <= number < per_class * self.config.classes:
            raise DatasetError(
                f"image id {image_id} is not part of the SynthBirds tree {self.root}"
            )
        return divmod(number, per_class)

    def species_of(self, image_id: str | int) -> Species:
        return self.species[self.locate(image_id)[0]]

    def render(self, image_id: str | int) -> Rendered:
        """Draw the image again, exactly as the generator drew it."""
        class_index, k = self.locate(image_id)
        rng = np.random.default_rng([self.config.seed, class_index, k])
        return render(self.species[class_index], self.config.size, rng)

    def part_labels(self, image_id: str | int) -> np.ndarray:
        """Ground-truth part label of every pixel, ``(size, size)``; see :data:`PART_LABELS`."""
        species = self.species_of(image_id)
        return label_map(self.render(image_id), species, self.config.size)


def load_synth_truth(root: Path) -> SynthTruth | None:
    """The generator's ground truth of ``root``, or None when it is not a SynthBirds tree.

    Raises:
        DatasetError: ``synthbirds.json`` exists but cannot be read.
    """
    path = Path(root) / METADATA_FILE
    if not path.is_file():
        return None
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
        config = SynthConfig(**metadata["config"])
        ordered = sorted(metadata["species"], key=lambda record: record["class_id"])
        species = tuple(Species(**record["attributes"]) for record in ordered)
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path} is not a SynthBirds metadata file: {exc}") from exc
    if metadata.get("generator") != "synthbirds":
        return None
    return SynthTruth(Path(root), config, species)
