"""Labelled image trees, with and without train/test folders."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from protopool.data import DatasetError, load_image_folder, open_dataset


def _image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (10, 200, 30)).save(path)


def test_flat_tree_puts_everything_in_train(tmp_path: Path) -> None:
    for name in ("b/1.png", "b/2.JPG", "a/x/3.jpeg", "a/.hidden.png"):
        _image(tmp_path / name)
    (tmp_path / "a" / "notes.txt").write_text("not an image")

    index = load_image_folder(tmp_path)

    assert index.format == "image_folder"
    assert index.class_names == ["a", "b"]
    assert [(s.image_id, s.label) for s in index.train] == [
        ("a/x/3.jpeg", 0),
        ("b/1.png", 1),
        ("b/2.JPG", 1),
    ]
    assert index.test == []


def test_flat_tree_can_hold_out_a_stratified_test_split(tmp_path: Path) -> None:
    for label in ("a", "b"):
        for number in range(4):
            _image(tmp_path / label / f"{number}.png")
    index = load_image_folder(tmp_path, test_fraction=0.5, seed=1)
    assert len(index.train) == len(index.test) == 4
    assert sorted(s.label for s in index.test) == [0, 0, 1, 1]


def test_train_and_test_folders_share_class_indices(tmp_path: Path) -> None:
    _image(tmp_path / "train" / "cat" / "1.png")
    _image(tmp_path / "train" / "dog" / "1.png")
    _image(tmp_path / "test" / "dog" / "2.png")

    index = open_dataset(tmp_path)

    assert index.class_names == ["cat", "dog"]
    assert [(s.image_id, s.label) for s in index.test] == [("test/dog/2.png", 1)]


def test_tree_without_images_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(DatasetError, match="no class folders with images"):
        load_image_folder(tmp_path)
