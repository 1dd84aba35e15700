"""Recognising a dataset on disk and loading it with the right reader."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from protopool.data.base import DatasetError, DatasetIndex
from protopool.data.cub import CUB_FOLDER, find_cub_root, load_cub


def _detectors() -> list[tuple[str, Callable[[Path], bool], Callable[[Path], DatasetIndex]]]:
    from protopool.data.cars import find_cars_root, load_stanford_cars
    from protopool.data.folder import load_image_folder, looks_like_image_folder

    return [
        ("CUB-200-2011: images.txt in DIR or DIR/" + CUB_FOLDER,
         lambda root: find_cub_root(root) is not None, load_cub),
        ("Stanford Cars: devkit/cars_meta.mat in DIR or DIR/stanford_cars",
         lambda root: find_cars_root(root) is not None, load_stanford_cars),
        ("image folder: DIR/<class>/<image> or DIR/train/<class>/<image>",
         looks_like_image_folder, load_image_folder),
    ]  # fmt: skip


def detect_format(root: Path) -> str | None:
    """Name of the first layout ``root`` matches (``"cub"``, ``"stanford_cars"``, ...)."""
    names = ("cub", "stanford_cars", "image_folder")
    for name, (_, matches, _) in zip(names, _detectors(), strict=True):
        if matches(Path(root)):
            return name
    return None


def open_dataset(root: Path) -> DatasetIndex:
    """Load whatever dataset ``root`` holds: CUB-200-2011 (or SynthBirds), Stanford Cars, or a
    labelled image folder, tried in that order.

    Raises:
        DatasetError: ``root`` is missing or matches none of the layouts; the message lists
            what was looked for.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist")
    detectors = _detectors()
    for _, matches, load in detectors:
        if matches(root):
            return load(root)
    looked_for = "; ".join(description for description, _, _ in detectors)
    raise DatasetError(f"{root} holds no dataset I recognise. Looked for: {looked_for}")
