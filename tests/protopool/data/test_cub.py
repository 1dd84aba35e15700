"""CUB-200-2011 loading: every file, both root spellings, and each malformed case."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from protopool.data import (
    DatasetError,
    ImageDataset,
    load_cub,
    open_dataset,
    split_validation,
    verify_images,
)
from protopool.data.cub import display_name
from protopool.data.cub_attributes import load_cub_annotations


@pytest.mark.parametrize("nested", [False, True])
def test_load_cub_reads_every_per_image_file(make_cub, nested: bool) -> None:
    tree = make_cub(nested=nested)

    index = load_cub(tree.given)

    assert index.format == "cub"
    assert index.root == tree.root.resolve()
    assert index.class_names == [
        "001.Black footed Albatross",
        "002.Laysan_Albatross",
        "003.Grey Catbird",
    ]
    # Odd image ids are training images in the fixture.
    assert [s.image_id for s in index.train] == ["1", "3", "5"]
    assert [s.image_id for s in index.test] == ["2", "4", "6"]
    first = index.train[0]
    assert first.label == 0 and index.train[1].label == 1
    assert first.path.name == "Black footed Albatross 0000.jpg"
    assert first.path.is_file()
    assert (first.bbox.x, first.bbox.y, first.bbox.width, first.bbox.height) == (4, 3, 30, 20)
    assert len(first.parts) == 15
    assert first.parts[0].part_id == 1 and first.parts[0].visible
    assert (first.parts[1].x, first.parts[1].y) == (7.0, 5.0)
    hidden = first.parts[4]
    assert (hidden.x, hidden.y, hidden.visible) == (0.0, 0.0, False)
    assert index.part_names[6] == "left eye"
    assert len(index.attribute_names) == 312


def test_open_dataset_detects_cub(make_cub) -> None:
    tree = make_cub(nested=True)
    assert open_dataset(tree.given).format == "cub"


@pytest.mark.parametrize("attributes_at", ["attributes", "root", "archive"])
def test_annotations_find_attributes_file_anywhere(make_cub, attributes_at: str) -> None:
    tree = make_cub(nested=True, attributes_at=attributes_at)

    annotations = load_cub_annotations(tree.given)

    assert annotations.attribute_names[0] == "has_bill_shape::curved_(up_or_down)"
    assert annotations.attribute_groups[9] == ("wing_color", "blue")
    assert annotations.certainty_names == ["not visible", "guessing", "probably", "definitely"]
    assert annotations.part_names[10] == "right eye"
    assert annotations.is_present.shape == (6, 312)
    # Line 4 carries a sixth field and still loads: image 1, attribute 4.
    assert annotations.is_present[0, 3] == 1 and annotations.certainty[0, 3] == 4
    assert annotations.certainty[1, 0] == 1
    assert annotations.class_attribute_percent.shape == (3, 312)
    assert annotations.class_attribute_percent[-1, -1] == pytest.approx(100.0)
    assert set(annotations.group_columns()["wing_pattern"]) == {308, 309, 310, 311}
    soft = annotations.soft_labels()
    assert soft.shape == (6, 312) and soft.min() >= 0 and soft.max() <= 1
    assert annotations.row_of("2") == 1


def test_validation_split_comes_from_train_only(make_cub) -> None:
    index = load_cub(make_cub().given)
    train, val = split_validation(index.train, 0.5, seed=0)
    test_ids = {s.image_id for s in index.test}
    assert not test_ids & {s.image_id for s in train + val}


def _message(tree_given: Path) -> str:
    with pytest.raises(DatasetError) as caught:
        load_cub(tree_given)
    return str(caught.value)


@pytest.mark.parametrize(
    ("name", "line", "text", "expected"),
    [
        ("bounding_boxes.txt", 3, "3 4.0 3.0 30.0", "bounding_boxes.txt:3: expected 5"),
        ("bounding_boxes.txt", 2, "2 4.0 3.0 30.0 20.0 9", "bounding_boxes.txt:2: expected 5"),
        ("train_test_split.txt", 2, "99 1", "train_test_split.txt:2: image id 99"),
        ("train_test_split.txt", 4, "4 2", "train_test_split.txt:4"),
        ("train_test_split.txt", 5, "100000000000 1", "split.txt:5: image id 100000000000"),
        ("images.txt", 1, "0 a.jpg", "images.txt:1: ids start at 1"),
        ("image_class_labels.txt", 5, "5 7", "image_class_labels.txt:5: class id 7"),
        ("image_class_labels.txt", 2, "2 one", "image_class_labels.txt:2: field <class_id>"),
        ("image_class_labels.txt", 3, "1 1", "image_class_labels.txt:3: image id 1 already"),
        ("parts/part_locs.txt", 5, "1 5 abc 3.0 1", "part_locs.txt:5: field <x>"),
        ("parts/part_locs.txt", 7, "1 7 3.0 3.0 1 8", "part_locs.txt:7: expected 5"),
        ("parts/part_locs.txt", 9, "1 9 3.0 nan 1", "part_locs.txt:9: values must be finite"),
        ("parts/part_locs.txt", 20, "42 5 1.0 1.0 1", "part_locs.txt:20: image id 42"),
        ("parts/part_locs.txt", 3, "1 99 1.0 1.0 1", "part_locs.txt:3: part id 99"),
        ("bounding_boxes.txt", 6, "6 1 1 0 5", "bounding_boxes.txt:6: box width"),
        ("images.txt", 4, "2 x.jpg", "images.txt:4: id 2 already used on line 2"),
        ("images.txt", 3, "3", "images.txt:3: expected '<id> <image path>'"),
        ("images.txt", 2, "two b.jpg", "images.txt:2: the id must be a whole number"),
    ],
)
def test_malformed_lines_are_reported_with_file_and_line(
    make_cub, edit_line, name: str, line: int, text: str, expected: str
) -> None:
    tree = make_cub()
    edit_line(tree.file(name), line, text)
    assert expected in _message(tree.given)


def test_image_without_a_line_is_reported(make_cub, edit_line) -> None:
    tree = make_cub()
    edit_line(tree.file("image_class_labels.txt"), 6, None)
    message = _message(tree.given)
    assert "image_class_labels.txt: no line for image id 6" in message
    assert "images.txt line 6" in message


def test_image_without_all_parts_is_reported(make_cub, edit_line) -> None:
    tree = make_cub()
    edit_line(tree.file("parts/part_locs.txt"), 16, None)
    assert "image id 2 has no line for its part number 1" in _message(tree.given)


@pytest.mark.parametrize(
    "name", ["images.txt", "classes.txt", "image_class_labels.txt", "train_test_split.txt"]
)
def test_missing_required_file_is_named(make_cub, name: str) -> None:
    tree = make_cub()
    tree.file(name).unlink()
    message = _message(tree.given) if name != "images.txt" else _no_dataset(tree.given)
    assert name in message


def _no_dataset(root: Path) -> str:
    with pytest.raises(DatasetError) as caught:
        load_cub(root)
    return str(caught.value)


def test_missing_image_file_names_images_txt_line(make_cub) -> None:
    tree = make_cub()
    (tree.root / "images" / tree.image_names[2]).unlink()
    assert "images.txt:3: image file" in _message(tree.given)


def test_blank_lines_do_not_shift_reported_line_numbers(make_cub) -> None:
    tree = make_cub()
    path = tree.file("train_test_split.txt")
    lines = path.read_text().splitlines()
    lines[3] = "4 5"
    path.write_text("\n".join(lines[:2] + [""] + lines[2:]) + "\n")
    assert "train_test_split.txt:5" in _message(tree.given)


@pytest.mark.parametrize(
    ("line", "text", "expected"),
    [
        (10, "1 10 1", "image_attribute_labels.txt:10: expected 4"),
        (11, "1 400 1 4 2.5", "image_attribute_labels.txt:11: attribute id 400"),
        (12, "1 12 1 9 2.5", "image_attribute_labels.txt:12: certainty id 9"),
        (13, "1 13 3 4 2.5", "image_attribute_labels.txt:13: <is_present>"),
        (14, "77 14 1 4 2.5", "image_attribute_labels.txt:14: image id 77"),
        (15, "1 16 1 4 2.5", "image_attribute_labels.txt:16: same image and attribute as line 15"),
    ],
)
def test_malformed_attribute_labels_are_reported(
    make_cub, edit_line, line: int, text: str, expected: str
):
    tree = make_cub()
    edit_line(tree.file("attributes/image_attribute_labels.txt"), line, text)
    with pytest.raises(DatasetError, match=re.escape(expected)):
        load_cub_annotations(tree.given)


def test_class_percentages_need_one_value_per_attribute(make_cub, edit_line) -> None:
    tree = make_cub()
    path = tree.file("attributes/class_attribute_labels_continuous.txt")
    edit_line(path, 2, " ".join(["1.0"] * 311))
    with pytest.raises(DatasetError, match=r"continuous.txt:2: expected 312"):
        load_cub_annotations(tree.given)


def test_missing_attributes_file_lists_every_place_looked(make_cub) -> None:
    tree = make_cub()
    tree.file("attributes/attributes.txt").unlink()
    with pytest.raises(DatasetError, match="also looked for"):
        load_cub_annotations(tree.given)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_image_is_reported_not_skipped(make_cub, damage: str) -> None:
    tree = make_cub()
    path = tree.root / "images" / tree.image_names[0]
    data = path.read_bytes()
    path.write_bytes(b"not a jpeg" if damage == "garbage" else data[: len(data) // 2])
    index = load_cub(tree.given)

    problems = verify_images(index)

    assert [p.image_id for p in problems] == ["1"]
    assert str(path) in problems[0].message
    with pytest.raises(DatasetError, match="cannot read image"):
        ImageDataset(index.train)[0]


def test_large_attribute_file_parses_as_numbers(make_cub) -> None:
    annotations = load_cub_annotations(make_cub().given)
    assert annotations.is_present.dtype == np.uint8
    assert int(annotations.is_present.sum()) == 6 * 312 // 2


def test_windows_line_endings_load(make_cub) -> None:
    tree = make_cub()
    for name in ("images.txt", "bounding_boxes.txt", "parts/part_locs.txt"):
        path = tree.file(name)
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    index = load_cub(tree.given)
    assert index.train[0].path.name == "Black footed Albatross 0000.jpg"


def test_non_utf8_text_names_the_line(make_cub) -> None:
    tree = make_cub()
    path = tree.file("classes.txt")
    path.write_bytes(path.read_bytes() + b"4 004.Caf\xe9_Bird\n")
    assert "classes.txt:4: not UTF-8" in _message(tree.given)


def test_display_name_drops_number_and_underscores() -> None:
    assert display_name("001.Black_footed_Albatross") == "Black footed Albatross"
    assert display_name("Ram C/V Cargo Van Minivan 2012") == "Ram C/V Cargo Van Minivan 2012"


def test_empty_images_file_is_an_error(make_cub) -> None:
    tree = make_cub()
    tree.file("images.txt").write_text("\n")
    assert "images.txt is empty" in _message(tree.given)
