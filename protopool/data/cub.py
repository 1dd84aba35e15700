"""CUB-200-2011 (and SynthBirds, which writes the same format): images, labels, boxes, parts.

Every per-image file is checked against ``images.txt`` in both directions: an unknown image id
and an image without a line are both errors naming the file and line. File ids are 1-based;
:class:`~protopool.data.base.Sample` labels are 0-based.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from protopool.data.base import BBox, DatasetError, DatasetIndex, PartLocation, Sample
from protopool.data.textio import NameList, Table, read_names, read_table

CUB_FOLDER = "CUB_200_2011"
FORMAT = "cub"
LAYOUT_HINT = (
    "a CUB-200-2011 root holds images.txt, classes.txt, image_class_labels.txt, "
    "train_test_split.txt and images/"
)


def display_name(class_name: str) -> str:
    """Human-readable class name: ``001.Black_footed_Albatross`` -> ``Black footed Albatross``."""
    number, dot, rest = class_name.partition(".")
    if dot and number.isdigit():
        return rest.replace("_", " ")
    return class_name


def find_cub_root(root: Path) -> Path | None:
    """The folder holding ``images.txt``: ``root`` itself or ``root/CUB_200_2011``."""
    for candidate in (root, root / CUB_FOLDER):
        if (candidate / "images.txt").is_file():
            return candidate
    return None


def require_cub_root(root: Path) -> Path:
    """Like :func:`find_cub_root`, but a missing ``images.txt`` is a :class:`DatasetError`."""
    found = find_cub_root(Path(root))
    if found is None:
        raise DatasetError(f"no images.txt in {root} or {Path(root) / CUB_FOLDER}; {LAYOUT_HINT}")
    return found.resolve()


def attributes_file(root: Path) -> Path | None:
    """``attributes/attributes.txt``, or the copy some archives put beside the CUB folder."""
    for candidate in (
        root / "attributes" / "attributes.txt",
        root / "attributes.txt",
        root.parent / "attributes.txt",
    ):
        if candidate.is_file():
            return candidate
    return None


def image_positions(table: Table, column: int, images: NameList) -> np.ndarray:
    """Map the image ids in ``table[:, column]`` to positions in ``images.txt``.

    Raises:
        DatasetError: An id that ``images.txt`` does not list, naming the offending line.
    """
    known = np.asarray(images.ids, dtype=np.int64)
    ids = table.ints(column)
    # read_names guarantees ids >= 1; a typo such as 10**12 must not size the lookup table.
    lookup = np.full(int(known.max(initial=0)) + 1, -1, np.int64)
    lookup[known] = np.arange(len(known))
    in_range = (ids >= 0) & (ids < len(lookup))
    positions = np.where(in_range, lookup[np.clip(ids, 0, len(lookup) - 1)], -1)
    unknown = np.flatnonzero(positions < 0)
    if unknown.size:
        row = int(unknown[0])
        raise table.error(row, f"image id {ids[row]} is not listed in {images.path.name}")
    return positions


def require_each_once(table: Table, positions: np.ndarray, images: NameList) -> None:
    """Every image has exactly one line in ``table``."""
    counts = np.bincount(positions, minlength=len(images.ids))
    if np.any(counts > 1):
        position = int(np.flatnonzero(counts > 1)[0])
        rows = np.flatnonzero(positions == position)
        first = table.line_of(int(rows[0]))
        raise table.error(
            int(rows[1]), f"image id {images.ids[position]} already appears on line {first}"
        )
    if np.any(counts == 0):
        position = int(np.flatnonzero(counts == 0)[0])
        raise DatasetError(
            f"{table.path}: no line for image id {images.ids[position]} "
            f"({images.path.name} line {images.lines[position]}); every image needs one"
        )


def _per_image(root: Path, name: str, columns: list[str], images: NameList) -> np.ndarray:
    """Read a one-line-per-image table and return its value columns in images.txt order."""
    table = read_table(root / name, ["image_id", *columns], integer=["image_id"], hint=LAYOUT_HINT)
    positions = image_positions(table, 0, images)
    require_each_once(table, positions, images)
    values = np.empty((len(images.ids), len(columns)))
    values[positions] = table.rows[:, 1:]
    return values


def _labels(root: Path, images: NameList, classes: NameList) -> np.ndarray:
    table = read_table(
        root / "image_class_labels.txt",
        ["image_id", "class_id"],
        integer=["image_id", "class_id"],
        hint=LAYOUT_HINT,
    )
    positions = image_positions(table, 0, images)
    require_each_once(table, positions, images)
    rank = {class_id: index for index, class_id in enumerate(sorted(classes.ids))}
    labels = np.empty(len(images.ids), dtype=np.int64)
    for row, class_id in enumerate(table.ints(1)):
        if int(class_id) not in rank:
            raise table.error(row, f"class id {class_id} is not listed in {classes.path.name}")
        labels[positions[row]] = rank[int(class_id)]
    return labels


def _split(root: Path, images: NameList) -> np.ndarray:
    flags = _per_image(root, "train_test_split.txt", ["is_training_image"], images)[:, 0]
    if not np.isin(flags, (0, 1)).all():
        table = read_table(root / "train_test_split.txt", ["image_id", "is_training_image"])
        row = int(np.flatnonzero(~np.isin(table.rows[:, 1], (0, 1)))[0])
        raise table.error(row, "<is_training_image> must be 1 (train) or 0 (test)")
    return flags.astype(bool)


def _boxes(root: Path, images: NameList) -> list[BBox | None]:
    if not (root / "bounding_boxes.txt").is_file():
        return [None] * len(images.ids)
    values = _per_image(root, "bounding_boxes.txt", ["x", "y", "width", "height"], images)
    if np.any(values[:, 2:] <= 0):
        table = read_table(root / "bounding_boxes.txt", ["image_id", "x", "y", "width", "height"])
        row = int(np.flatnonzero((table.rows[:, 3:] <= 0).any(axis=1))[0])
        raise table.error(row, "box width and height must be positive")
    return [BBox(*map(float, row)) for row in values]


def read_parts(root: Path, images: NameList) -> tuple[list[str], list[tuple[PartLocation, ...]]]:
    """Part names and, per image in images.txt order, its part locations (empty without parts/)."""
    parts_file = root / "parts" / "parts.txt"
    if not parts_file.is_file():
        return [], [()] * len(images.ids)
    parts = read_names(parts_file, "part name")
    table = read_table(
        root / "parts" / "part_locs.txt",
        ["image_id", "part_id", "x", "y", "visible"],
        integer=["image_id", "part_id", "visible"],
        hint="parts/parts.txt needs parts/part_locs.txt beside it",
    )
    positions = image_positions(table, 0, images)
    part_index = {part_id: i for i, part_id in enumerate(sorted(parts.ids))}
    slots = np.empty(len(table.rows), dtype=np.int64)
    for row, part_id in enumerate(table.ints(1)):
        if int(part_id) not in part_index:
            raise table.error(row, f"part id {part_id} is not listed in parts/parts.txt")
        slots[row] = positions[row] * len(part_index) + part_index[int(part_id)]
    if not np.isin(table.rows[:, 4], (0, 1)).all():
        row = int(np.flatnonzero(~np.isin(table.rows[:, 4], (0, 1)))[0])
        raise table.error(row, "<visible> must be 1 or 0")
    _require_each_part(table, slots, images, len(part_index))
    grid = np.empty((len(images.ids) * len(part_index), 3))
    grid[slots] = table.rows[:, 2:5]
    ordered_ids = sorted(parts.ids)
    locations = []
    for position in range(len(images.ids)):
        block = grid[position * len(part_index) : (position + 1) * len(part_index)]
        locations.append(
            tuple(
                PartLocation(pid, float(x), float(y), bool(v))
                for pid, (x, y, v) in zip(ordered_ids, block, strict=True)
            )
        )
    names_by_id = dict(zip(parts.ids, parts.names, strict=True))
    return [names_by_id[i] for i in ordered_ids], locations


def _require_each_part(table: Table, slots: np.ndarray, images: NameList, parts: int) -> None:
    counts = np.bincount(slots, minlength=len(images.ids) * parts)
    if np.any(counts > 1):
        rows = np.flatnonzero(slots == int(np.flatnonzero(counts > 1)[0]))
        raise table.error(
            int(rows[1]), f"same image and part as line {table.line_of(int(rows[0]))}"
        )
    if np.any(counts == 0):
        position, part = divmod(int(np.flatnonzero(counts == 0)[0]), parts)
        raise DatasetError(
            f"{table.path}: image id {images.ids[position]} has no line for its part number "
            f"{part + 1}; every image needs one line per part in parts/parts.txt"
        )


def _check_image_files(root: Path, images: NameList) -> None:
    for name, line in zip(images.names, images.lines, strict=True):
        if not (root / "images" / name).is_file():
            raise DatasetError(
                f"{images.path}:{line}: image file {root / 'images' / name} does not exist"
            )


def _sorted_names(path: Path) -> list[str]:
    names = read_names(path, "attribute name")
    return [name for _, name in sorted(zip(names.ids, names.names, strict=True))]


def load_cub(root: Path, *, check_files: bool = True) -> DatasetIndex:
    """Load a CUB-200-2011 tree (``root`` may be ``CUB_200_2011/`` or the folder above it).

    Args:
        root: Dataset folder.
        check_files: Also check that every image file listed in images.txt exists.

    Raises:
        DatasetError: Missing or malformed files; the message names the file and line.
    """
    root = require_cub_root(root)
    images = read_names(root / "images.txt", "image path", LAYOUT_HINT)
    classes = read_names(root / "classes.txt", "class name", LAYOUT_HINT)
    for listing in (images, classes):
        if not listing.ids:
            raise DatasetError(f"{listing.path} is empty; {LAYOUT_HINT}")
    labels = _labels(root, images, classes)
    is_train = _split(root, images)
    boxes = _boxes(root, images)
    part_names, locations = read_parts(root, images)
    if check_files:
        _check_image_files(root, images)
    names_by_id = dict(zip(classes.ids, classes.names, strict=True))
    samples = [
        Sample(str(image_id), root / "images" / name, int(label), box, parts)
        for image_id, name, label, box, parts in zip(
            images.ids, images.names, labels, boxes, locations, strict=True
        )
    ]
    attributes = attributes_file(root)
    return DatasetIndex(
        format=FORMAT,
        root=root,
        class_names=[names_by_id[i] for i in sorted(classes.ids)],
        train=[s for s, t in zip(samples, is_train, strict=True) if t],
        test=[s for s, t in zip(samples, is_train, strict=True) if not t],
        part_names=part_names,
        attribute_names=_sorted_names(attributes) if attributes else [],
    )
