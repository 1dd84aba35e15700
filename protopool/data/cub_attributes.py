"""CUB-200-2011 attribute annotations: per-image labels with certainties, class percentages.

``attributes.txt`` is looked for inside ``attributes/`` and, as some archives ship it, at the
top level. ``image_attribute_labels.txt`` lines are read up to their fourth field, because a few
real lines carry an extra one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from protopool.data.base import DatasetError
from protopool.data.cub import (
    attributes_file,
    image_positions,
    require_cub_root,
)
from protopool.data.cub_vocab import split_attribute_name
from protopool.data.textio import NameList, Table, read_names, read_table

# Soft label of (is_present, certainty id) used by concept-bottleneck work on CUB:
# a guess counts half, "probably" three quarters, "not visible" says nothing.
SOFT_LABEL = {(1, 1): 0.0, (1, 2): 0.5, (1, 3): 0.75, (1, 4): 1.0,
              (0, 1): 0.0, (0, 2): 0.5, (0, 3): 0.25, (0, 4): 0.0}  # fmt: skip


@dataclass(frozen=True, eq=False)
class CubAnnotations:
    """Everything CUB says about attributes and parts, indexed by position.

    Attributes:
        root: The ``CUB_200_2011`` folder.
        image_ids: Image ids in ``images.txt`` order; row ``i`` of the arrays is ``image_ids[i]``.
        class_names: In class-id order; row ``c`` of :attr:`class_attribute_percent`.
        attribute_names: ``has_<group>::<value>`` in attribute-id order.
        attribute_groups: ``(group, value)`` per attribute, e.g. ``("wing_color", "blue")``.
        certainty_names: In certainty-id order (``certainty`` holds these ids).
        part_names: In part-id order; empty when the tree has no ``parts/``.
        is_present: 0/1, shape ``(N, A)``.
        certainty: Certainty ids 1..K, shape ``(N, A)``.
        class_attribute_percent: Percent of a class's annotations marking the attribute
            present, shape ``(C, A)``.
    """

    root: Path
    image_ids: list[str]
    class_names: list[str]
    attribute_names: list[str]
    attribute_groups: list[tuple[str, str]]
    certainty_names: list[str]
    part_names: list[str]
    is_present: np.ndarray
    certainty: np.ndarray
    class_attribute_percent: np.ndarray

    def row_of(self, image_id: str) -> int:
        """Row of ``image_id`` in the per-image arrays."""
        try:
            return self.image_ids.index(str(image_id))
        except ValueError:
            raise KeyError(f"image id {image_id!r} is not in {self.root}/images.txt") from None

    def group_columns(self) -> dict[str, list[int]]:
        """Each attribute group's 0-based columns, in attribute order."""
        groups: dict[str, list[int]] = {}
        for column, (group, _) in enumerate(self.attribute_groups):
            groups.setdefault(group, []).append(column)
        return groups

    def soft_labels(self) -> np.ndarray:
        """Certainty-weighted labels in [0, 1], shape ``(N, A)`` (see :data:`SOFT_LABEL`)."""
        table = np.zeros((2, max(5, len(self.certainty_names) + 1)))
        for (present, certainty), value in SOFT_LABEL.items():
            table[present, certainty] = value
        # The stubs cannot type fancy indexing by arrays of unknown dtype; the result is float.
        labels: npt.NDArray[np.float64] = table[
            self.is_present, np.minimum(self.certainty, table.shape[1] - 1)
        ]
        return labels


def _id_positions(table: Table, column: int, names: NameList, what: str) -> np.ndarray:
    """Positions of the ids in ``table[:, column]`` within ``names`` (in id order)."""
    ordered = np.asarray(sorted(names.ids), dtype=np.int64)
    ids = table.ints(column)
    positions = np.searchsorted(ordered, ids)
    known = (positions < len(ordered)) & (ordered[np.minimum(positions, len(ordered) - 1)] == ids)
    if not known.all():
        row = int(np.flatnonzero(~known)[0])
        raise table.error(row, f"{what} id {ids[row]} is not listed in {names.path.name}")
    return positions


def _image_labels(
    root: Path, images: NameList, attributes: NameList, certainties: NameList
) -> tuple[np.ndarray, np.ndarray]:
    table = read_table(
        root / "attributes" / "image_attribute_labels.txt",
        ["image_id", "attribute_id", "is_present", "certainty_id"],
        integer=["image_id", "attribute_id", "is_present", "certainty_id"],
        exact=False,
    )
    rows = image_positions(table, 0, images)
    columns = _id_positions(table, 1, attributes, "attribute")
    _id_positions(table, 3, certainties, "certainty")
    if not np.isin(table.rows[:, 2], (0, 1)).all():
        raise table.error(
            int(np.flatnonzero(~np.isin(table.rows[:, 2], (0, 1)))[0]),
            "<is_present> must be 0 or 1",
        )
    width = len(attributes.ids)
    cells = rows * width + columns
    counts = np.bincount(cells, minlength=len(images.ids) * width)
    if np.any(counts > 1):
        duplicates = np.flatnonzero(cells == int(np.flatnonzero(counts > 1)[0]))
        first = table.line_of(int(duplicates[0]))
        raise table.error(int(duplicates[1]), f"same image and attribute as line {first}")
    if np.any(counts == 0):
        row, column = divmod(int(np.flatnonzero(counts == 0)[0]), width)
        raise DatasetError(
            f"{table.path}: image id {images.ids[row]} has no line for attribute id "
            f"{sorted(attributes.ids)[column]}; every image needs one line per attribute"
        )
    is_present = np.zeros(len(images.ids) * width, dtype=np.uint8)
    certainty = np.zeros(len(images.ids) * width, dtype=np.uint8)
    is_present[cells] = table.rows[:, 2]
    certainty[cells] = table.rows[:, 3]
    shape = (len(images.ids), width)
    return is_present.reshape(shape), certainty.reshape(shape)


def _class_percentages(root: Path, classes: NameList, attributes: NameList) -> np.ndarray:
    path = root / "attributes" / "class_attribute_labels_continuous.txt"
    names = [f"attribute {i}" for i in sorted(attributes.ids)]
    table = read_table(path, names)
    if len(table.rows) != len(classes.ids):
        raise DatasetError(
            f"{path}: {len(table.rows)} lines, expected one per class in classes.txt "
            f"({len(classes.ids)})"
        )
    outside = np.flatnonzero(((table.rows < 0) | (table.rows > 100)).any(axis=1))
    if outside.size:
        raise table.error(int(outside[0]), "percentages must lie between 0 and 100")
    return table.rows


def load_cub_annotations(root: Path) -> CubAnnotations:
    """Load CUB's attribute and part vocabularies and per-image attribute labels.

    Raises:
        DatasetError: Missing or malformed files; the message names the file and line.
    """
    root = require_cub_root(root)
    images = read_names(root / "images.txt", "image path")
    classes = read_names(root / "classes.txt", "class name")
    names_file = attributes_file(root)
    if names_file is None:
        raise DatasetError(
            f"missing file {root / 'attributes' / 'attributes.txt'} "
            f"(also looked for {root / 'attributes.txt'} and {root.parent / 'attributes.txt'})"
        )
    attributes = read_names(names_file, "attribute name")
    certainties = read_names(root / "attributes" / "certainties.txt", "certainty name")
    is_present, certainty = _image_labels(root, images, attributes, certainties)
    attribute_names = [n for _, n in sorted(zip(attributes.ids, attributes.names, strict=True))]
    parts_file = root / "parts" / "parts.txt"
    parts = read_names(parts_file, "part name") if parts_file.is_file() else None
    return CubAnnotations(
        root=root,
        image_ids=[str(i) for i in images.ids],
        class_names=[n for _, n in sorted(zip(classes.ids, classes.names, strict=True))],
        attribute_names=attribute_names,
        attribute_groups=[split_attribute_name(n) for n in attribute_names],
        certainty_names=[
            n for _, n in sorted(zip(certainties.ids, certainties.names, strict=True))
        ],
        part_names=[n for _, n in sorted(zip(parts.ids, parts.names, strict=True))]
        if parts
        else [],
        is_present=is_present,
        certainty=certainty,
        class_attribute_percent=_class_percentages(root, classes, attributes),
    )
