"""A hand-built CUB-200-2011 tree for the naming tests: 2 classes x 4 birds whose wing alone tells
them apart, with known keypoints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from protopool.data.base import Sample
from protopool.data.cub_vocab import CERTAINTY_NAMES, PART_NAMES, attribute_id, attribute_names
from protopool.interpretability.attributes import AttributeTable
from protopool.interpretability.parts import PartSpace

SIZE = 64
# Keypoints of the fixture birds (x, y); the wing faces the camera on its right side in even
# images and on its left side in odd ones, as SynthBirds and real CUB alternate.
WING, BACK, BEAK, TAIL = (40.0, 30.0), (20.0, 12.0), (60.0, 6.0), (6.0, 40.0)
CLASSES = ("001.Black_winged", "002.Grey_winged")
PER_CLASS = 4


@dataclass(frozen=True)
class Fixture:
    samples: list[Sample]
    table: AttributeTable
    space: PartSpace


def _lines(path: Path, lines: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def _part_lines(image_id: int) -> list[str]:
    side = "right" if image_id % 2 == 0 else "left"
    shown = {f"{side} wing": WING, "back": BACK, "beak": BEAK, "tail": TAIL}
    lines = []
    for part_id, name in enumerate(PART_NAMES, start=1):
        x, y = shown.get(name, (0.0, 0.0))
        lines.append(f"{image_id} {part_id} {x:.1f} {y:.1f} {int(name in shown)}")
    return lines


def _present(class_index: int) -> set[int]:
    """Attribute ids true of every bird of a class: only the wing tells them apart."""
    colour, pattern = (("black", "striped"), ("grey", "spotted"))[class_index]
    return {
        attribute_id("wing_color", colour),
        attribute_id("wing_pattern", pattern),
        attribute_id("wing_shape", "rounded-wings"),  # every bird: never worth a name
        attribute_id("back_color", "brown"),
        attribute_id("primary_color", colour),
    }


def write_tree(root: Path) -> None:
    """A CUB-200-2011 tree: 2 classes x 4 training images, all parts hidden but 4."""
    names, parts, labels = [], [], []
    count = len(CLASSES) * PER_CLASS
    for index in range(count):
        image_id, class_index = index + 1, index // PER_CLASS
        folder = CLASSES[class_index]
        names.append(f"{image_id} {folder}/{folder[4:]}_{image_id:04d}.jpg")
        Image.new("RGB", (SIZE, SIZE), (90, 90, 90)).save(root / "images" / names[-1][2:])
        parts += _part_lines(image_id)
        for attribute in range(1, len(attribute_names()) + 1):
            present = int(attribute in _present(class_index))
            labels.append(f"{image_id} {attribute} {present} 4 1.0")
    _lines(root / "images.txt", names)
    _lines(root / "classes.txt", [f"{i + 1} {c}" for i, c in enumerate(CLASSES)])
    _lines(root / "image_class_labels.txt", [f"{i + 1} {i // PER_CLASS + 1}" for i in range(count)])
    _lines(root / "train_test_split.txt", [f"{i + 1} 1" for i in range(count)])
    _lines(root / "parts" / "parts.txt", [f"{i + 1} {n}" for i, n in enumerate(PART_NAMES)])
    _lines(root / "parts" / "part_locs.txt", parts)
    _lines(
        root / "attributes" / "attributes.txt",
        [f"{i + 1} {n}" for i, n in enumerate(attribute_names())],
    )
    _lines(
        root / "attributes" / "certainties.txt",
        [f"{i + 1} {n}" for i, n in enumerate(CERTAINTY_NAMES)],
    )
    _lines(root / "attributes" / "image_attribute_labels.txt", labels)
    _lines(
        root / "attributes" / "class_attribute_labels_continuous.txt",
        [" ".join(["0.0"] * len(attribute_names()))] * len(CLASSES),
    )
