"""Small datasets written on the fly: a CUB tree and Stanford Cars devkit files.

The session's small SynthBirds dataset, ``synthbirds``, is in ``tests/protopool/conftest.py``,
so the CLI tests reuse it too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from protopool.data.cub_vocab import CERTAINTY_NAMES, PART_NAMES, attribute_names

# Two classes have spaces in their names, as do image files, parts and certainties.
CUB_CLASSES = ("001.Black footed Albatross", "002.Laysan_Albatross", "003.Grey Catbird")
CUB_IMAGES_PER_CLASS = 2
CARS_CLASSES = ("AM General Hummer SUV 2000", "Ram C/V Cargo Van Minivan 2012", "smart fortwo")


def write_jpeg(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, "JPEG", quality=90)


def write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def edit_line(path: Path, number: int, text: str | None) -> None:
    """Replace (or with ``None`` delete) the 1-based line ``number`` of a text file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if text is None:
        del lines[number - 1]
    else:
        lines[number - 1] = text
    write_lines(path, lines)


@dataclass(frozen=True)
class CubTree:
    """Where a written CUB fixture lives: ``given`` is what tests pass to the loaders."""

    given: Path
    root: Path
    image_names: list[str]

    def file(self, name: str) -> Path:
        return self.root / name


def cub_text_files(root: Path, names: list[str]) -> None:
    count = len(names)
    write_lines(root / "images.txt", [f"{i + 1} {n}" for i, n in enumerate(names)])
    write_lines(root / "classes.txt", [f"{i + 1} {c}" for i, c in enumerate(CUB_CLASSES)])
    write_lines(
        root / "image_class_labels.txt",
        [f"{i + 1} {i // CUB_IMAGES_PER_CLASS + 1}" for i in range(count)],
    )
    write_lines(root / "train_test_split.txt", [f"{i + 1} {(i + 1) % 2}" for i in range(count)])
    write_lines(root / "bounding_boxes.txt", [f"{i + 1} 4.0 3.0 30.0 20.0" for i in range(count)])
    write_lines(root / "parts" / "parts.txt", [f"{i + 1} {n}" for i, n in enumerate(PART_NAMES)])
    locs = []
    for image in range(count):
        for part in range(len(PART_NAMES)):
            hidden = part % 5 == 4
            locs.append(
                f"{image + 1} {part + 1} 0.0 0.0 0"
                if hidden
                else f"{image + 1} {part + 1} {6.0 + part:.1f} {5.0 + image:.1f} 1"
            )
    write_lines(root / "parts" / "part_locs.txt", locs)


def cub_attribute_files(root: Path, count: int, attributes_at: Path) -> None:
    names = attribute_names()
    write_lines(attributes_at, [f"{i + 1} {n}" for i, n in enumerate(names)])
    write_lines(
        root / "attributes" / "certainties.txt",
        [f"{i + 1} {n}" for i, n in enumerate(CERTAINTY_NAMES)],
    )
    labels = []
    for image in range(count):
        for attribute in range(len(names)):
            labels.append(
                f"{image + 1} {attribute + 1} {(image + attribute) % 2} {attribute % 4 + 1} 2.5"
            )
    labels[3] += " 0"  # real CUB has a few six-field lines
    write_lines(root / "attributes" / "image_attribute_labels.txt", labels)
    percent = np.linspace(0.0, 100.0, len(CUB_CLASSES) * len(names)).reshape(len(CUB_CLASSES), -1)
    write_lines(
        root / "attributes" / "class_attribute_labels_continuous.txt",
        [" ".join(f"{v:.6f}" for v in row) for row in percent],
    )


def devkit_annotations(records: list[tuple[int, int, int, int, int | None, str]]) -> np.ndarray:
    """Devkit-style ``annotations``: a (1, N) struct array with one 1x1 array per field."""
    labelled = records[0][4] is not None
    names = ["bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"] + (["class"] if labelled else [])
    dtype = [(name, "O") for name in names + ["fname"]]
    array = np.zeros((1, len(records)), dtype=dtype)
    for index, (x1, y1, x2, y2, label, fname) in enumerate(records):
        values = [x1, y1, x2, y2] + ([label] if labelled else [])
        for name, value in zip(names, values, strict=True):
            array[0, index][name] = np.array([[value]], dtype=np.uint16)
        array[0, index]["fname"] = np.array([fname])
    return array


@pytest.fixture(name="edit_line")
def edit_line_fixture() -> Callable[[Path, int, str | None], None]:
    """The :func:`edit_line` helper, for test modules (which cannot import conftest)."""
    return edit_line


@pytest.fixture
def make_cub(tmp_path: Path) -> Callable[..., CubTree]:
    """Write a 3-class, 6-image CUB tree.

    Args (of the returned factory):
        nested: Put the tree in ``CUB_200_2011/`` and give the loaders its parent.
        attributes_at: ``"attributes"`` (standard), ``"root"`` (beside images.txt) or
            ``"archive"`` (beside the ``CUB_200_2011`` folder, as in the tgz).
    """

    def build(nested: bool = False, attributes_at: str = "attributes") -> CubTree:
        given = tmp_path / "cub"
        root = given / "CUB_200_2011" if nested else given
        names = []
        for index in range(len(CUB_CLASSES) * CUB_IMAGES_PER_CLASS):
            folder = CUB_CLASSES[index // CUB_IMAGES_PER_CLASS]
            names.append(f"{folder}/{folder[4:]} {index:04d}.jpg")
            write_jpeg(root / "images" / names[-1], (40 * index, 100, 200 - 30 * index))
        cub_text_files(root, names)
        location = {
            "attributes": root / "attributes" / "attributes.txt",
            "root": root / "attributes.txt",
            "archive": root.parent / "attributes.txt",
        }[attributes_at]
        cub_attribute_files(root, len(names), location)
        return CubTree(given, root, names)

    return build


@pytest.fixture
def make_cars(tmp_path: Path) -> Callable[..., Path]:
    """Write a Stanford Cars tree under ``<tmp>/cars/stanford_cars``; returns ``<tmp>/cars``.

    The factory's ``labels_in_devkit`` puts ``cars_test_annos_withlabels.mat`` inside
    ``devkit/`` instead of beside it (torchvision's place).
    """

    def build(labels_in_devkit: bool = False) -> Path:
        root = tmp_path / "cars" / "stanford_cars"
        devkit = root / "devkit"
        devkit.mkdir(parents=True)
        class_names = np.empty((1, len(CARS_CLASSES)), dtype=object)
        class_names[0, :] = CARS_CLASSES
        scipy.io.savemat(devkit / "cars_meta.mat", {"class_names": class_names})
        train = [(2, 3, 21, 13, i % 3 + 1, f"{i + 1:05d}.jpg") for i in range(6)]
        test = [(1, 1, 10, 10, i % 3 + 1, f"{i + 1:05d}.jpg") for i in range(3)]
        scipy.io.savemat(
            devkit / "cars_train_annos.mat", {"annotations": devkit_annotations(train)}
        )
        unlabelled = [(*r[:4], None, r[5]) for r in test]
        scipy.io.savemat(
            devkit / "cars_test_annos.mat", {"annotations": devkit_annotations(unlabelled)}
        )
        target = (devkit if labels_in_devkit else root) / "cars_test_annos_withlabels.mat"
        scipy.io.savemat(target, {"annotations": devkit_annotations(test)})
        for split, records in (("cars_train", train), ("cars_test", test)):
            for record in records:
                write_jpeg(root / split / record[5], (200, 50, 50))
        return tmp_path / "cars"

    return build
