"""Stanford Cars in the layout torchvision's ``StanfordCars`` expects.

``stanford_cars/devkit/{cars_meta.mat, cars_train_annos.mat, cars_test_annos.mat}``,
``stanford_cars/cars_train/``, ``stanford_cars/cars_test/`` and the test labels
``cars_test_annos_withlabels.mat`` either beside ``devkit/`` (torchvision) or inside it.
Class names may contain "/" ("Ram C/V Cargo Van Minivan 2012"), so they are never used as paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import overload

import numpy as np
import scipy.io

from protopool.data.base import BBox, DatasetError, DatasetIndex, Sample
from protopool.data.textio import require_file

FORMAT = "stanford_cars"
CARS_FOLDER = "stanford_cars"
TEST_LABELS = "cars_test_annos_withlabels.mat"
BOX_FIELDS = ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2")


def find_cars_root(root: Path) -> Path | None:
    """The folder holding ``devkit/cars_meta.mat``: ``root`` or ``root/stanford_cars``."""
    for candidate in (root, root / CARS_FOLDER):
        if (candidate / "devkit" / "cars_meta.mat").is_file():
            return candidate
    return None


def _loadmat(path: Path, variable: str) -> np.ndarray:
    require_file(path, "see the Stanford Cars devkit layout in the protopool.data.cars docs")
    try:
        contents = scipy.io.loadmat(path, squeeze_me=True)
    except Exception as exc:  # scipy raises many types for a damaged file; all mean "unreadable"
        raise DatasetError(f"cannot read {path} as a MATLAB .mat file: {exc}") from exc
    if variable not in contents:
        found = ", ".join(k for k in contents if not k.startswith("__")) or "none"
        raise DatasetError(f"{path}: no variable {variable!r} (variables found: {found})")
    return np.atleast_1d(contents[variable])


def read_class_names(path: Path) -> list[str]:
    """``class_names`` of ``cars_meta.mat``, in class-id order."""
    names = _loadmat(path, "class_names")
    result = []
    for index, name in enumerate(names.ravel(), start=1):
        if not isinstance(name, str) or not name.strip():
            raise DatasetError(f"{path}: class_names entry {index} is not a non-empty string")
        result.append(name)
    return result


def _scalar(path: Path, index: int, record: np.void, name: str) -> float:
    values = np.asarray(record[name]).ravel()
    try:
        if values.size != 1:
            raise ValueError(f"{values.size} values")
        return float(values[0])
    except (TypeError, ValueError) as exc:
        raise DatasetError(
            f"{path}: annotation {index}: field {name!r} must be one number ({exc})"
        ) from None


def _fname(path: Path, index: int, record: np.void) -> str:
    value = record["fname"]
    name = value if isinstance(value, str) else np.asarray(value).ravel()
    if not isinstance(name, str):
        name = str(name[0]) if name.size == 1 and isinstance(name[0], str) else ""
    if not name or Path(name).name != name:
        raise DatasetError(
            f"{path}: annotation {index}: 'fname' must be a file name, got {value!r}"
        )
    return name


# Callers that pass ``num_classes`` get int labels, never None; the overloads say so.
@overload
def read_annotations(path: Path, num_classes: int) -> list[tuple[str, BBox, int]]: ...
@overload
def read_annotations(path: Path, num_classes: None) -> list[tuple[str, BBox, None]]: ...
def read_annotations(path: Path, num_classes: int | None) -> Sequence[tuple[str, BBox, int | None]]:
    """``(fname, box, 0-based label or None)`` per annotation of a devkit ``.mat`` file.

    Args:
        path: ``cars_*_annos*.mat``.
        num_classes: Check ``class`` against ``1..num_classes``; ``None`` means the file has
            no class field (the unlabelled test file).
    """
    records = _loadmat(path, "annotations").ravel()
    needed = BOX_FIELDS + ("fname",) + (("class",) if num_classes is not None else ())
    fields = records.dtype.names or ()
    missing = [name for name in needed if name not in fields]
    if missing:
        raise DatasetError(
            f"{path}: annotations lack field(s) {', '.join(missing)} "
            f"(fields found: {', '.join(fields) or 'none'})"
        )
    result = []
    for index, record in enumerate(records, start=1):
        x1, y1, x2, y2 = (_scalar(path, index, record, name) for name in BOX_FIELDS)
        if x2 < x1 or y2 < y1:
            raise DatasetError(f"{path}: annotation {index}: box corners are reversed")
        # Devkit boxes are 1-based and inclusive: x1..x2 covers x2 - x1 + 1 pixels.
        box = BBox(x1 - 1, y1 - 1, x2 - x1 + 1, y2 - y1 + 1)
        label = None
        if num_classes is not None:
            class_id = _scalar(path, index, record, "class")
            if class_id != int(class_id) or not 1 <= class_id <= num_classes:
                raise DatasetError(
                    f"{path}: annotation {index}: class {class_id:g} is outside 1..{num_classes}"
                )
            label = int(class_id) - 1
        result.append((_fname(path, index, record), box, label))
    return result


def _test_labels_file(root: Path) -> Path:
    for candidate in (root / TEST_LABELS, root / "devkit" / TEST_LABELS):
        if candidate.is_file():
            return candidate
    raise DatasetError(
        f"missing test labels: put {TEST_LABELS} in {root} or {root / 'devkit'} "
        "(devkit/cars_test_annos.mat has no classes)"
    )


def _samples(
    annos: Path, images: Path, records: Sequence[tuple[str, BBox, int]], check_files: bool
) -> list[Sample]:
    samples = []
    for index, (fname, box, label) in enumerate(records, start=1):
        path = images / fname
        if check_files and not path.is_file():
            raise DatasetError(f"{annos}: annotation {index}: image file {path} does not exist")
        samples.append(Sample(f"{images.name}/{fname}", path, label, box))
    return samples


def load_stanford_cars(root: Path, *, check_files: bool = True) -> DatasetIndex:
    """Load Stanford Cars (``root`` may be ``stanford_cars/`` or the folder above it).

    Raises:
        DatasetError: Missing or malformed devkit files or images.
    """
    found = find_cars_root(Path(root))
    if found is None:
        raise DatasetError(
            f"no devkit/cars_meta.mat in {root} or {Path(root) / CARS_FOLDER}; "
            "Stanford Cars needs devkit/, cars_train/ and cars_test/"
        )
    root = found.resolve()
    devkit = root / "devkit"
    class_names = read_class_names(devkit / "cars_meta.mat")
    train_file, test_file = devkit / "cars_train_annos.mat", _test_labels_file(root)
    train = read_annotations(train_file, len(class_names))
    test = read_annotations(test_file, len(class_names))
    return DatasetIndex(
        format=FORMAT,
        root=root,
        class_names=class_names,
        train=_samples(train_file, root / "cars_train", train, check_files),
        test=_samples(test_file, root / "cars_test", test, check_files),
    )
