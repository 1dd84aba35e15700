"""Any labelled image tree: ``DIR/<class>/<image>``, or ``DIR/train/<class>/...`` plus
``DIR/test/<class>/...``. Class names are the folder names, sorted, as torchvision does."""

from __future__ import annotations

from pathlib import Path

from protopool.data.base import DatasetError, DatasetIndex, Sample, split_validation

FORMAT = "image_folder"
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)
SPLITS = ("train", "test")


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def _images(class_dir: Path) -> list[Path]:
    return sorted(
        path
        for path in class_dir.rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file() and _visible(path, class_dir)
    )


def _class_dirs(tree: Path) -> dict[str, Path]:
    """Class folder name to folder, for every non-hidden folder holding at least one image."""
    if not tree.is_dir():
        return {}
    folders = sorted(p for p in tree.iterdir() if p.is_dir() and not p.name.startswith("."))
    return {folder.name: folder for folder in folders if _images(folder)}


def _trees(root: Path) -> dict[str, Path]:
    """``{"train": ..., "test": ...}`` for a split layout, else ``{"train": root}``."""
    if (root / "train").is_dir() and _class_dirs(root / "train"):
        return {split: root / split for split in SPLITS if (root / split).is_dir()}
    return {"train": root}


def looks_like_image_folder(root: Path) -> bool:
    """Whether ``root`` has class folders with images, directly or under ``train/``."""
    return any(_class_dirs(tree) for tree in _trees(Path(root)).values())


def load_image_folder(root: Path, *, test_fraction: float = 0.0, seed: int = 0) -> DatasetIndex:
    """Load a labelled image tree.

    Args:
        root: Tree root.
        test_fraction: For a tree without ``train/``/``test/``, the stratified share of each
            class held out as the test split; 0 puts every image in train.
        seed: Seed of that hold-out draw.

    Raises:
        DatasetError: ``root`` has no class folder with images.
    """
    root = Path(root).resolve()
    trees = _trees(root)
    folders = {split: _class_dirs(tree) for split, tree in trees.items()}
    class_names = sorted({name for found in folders.values() for name in found})
    if not class_names:
        raise DatasetError(
            f"no class folders with images in {root}; expected {root}/<class>/<image> or "
            f"{root}/train/<class>/<image> (suffixes: {', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    label = {name: index for index, name in enumerate(class_names)}
    splits: dict[str, list[Sample]] = {split: [] for split in SPLITS}
    for split, found in folders.items():
        for name, folder in found.items():
            splits[split].extend(
                Sample(path.relative_to(root).as_posix(), path, label[name])
                for path in _images(folder)
            )
    train, test = splits["train"], splits["test"]
    if "test" not in trees and test_fraction > 0:
        train, test = split_validation(train, test_fraction, seed)
    return DatasetIndex(FORMAT, root, class_names, train, test)
