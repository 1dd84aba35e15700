"""Measures of the shown map: properties that hold for every map, and hand-computed cases.

The two reference maps are the definitions' own limits: a flat map spreads its energy over
every pixel (top-5 % share ``ceil(0.05 n) / n``, entropy ``log n / log n = 1``) and a map lit
on one pixel has it all there (top share 1, entropy 0). Keypoint discs must agree with the
pointing game's (:class:`protopool.interpretability.regions.KeypointDiscs`) at the original
resolution.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from protopool.data.base import BBox, PartLocation, Sample
from protopool.interpretability.map_measures import (
    annotation_masks,
    box_mask,
    energy_share_in,
    keypoint_mask,
    map_measures,
    normalised_entropy,
    resize_mask,
    shown_map,
    top_share,
)
from protopool.interpretability.regions import KeypointDiscs
from protopool.rendering import RenderStyle

shapes = st.tuples(st.integers(2, 24), st.integers(2, 24))
values = st.floats(0.0, 1e6, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def maps_and_masks(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    shape = draw(shapes)
    values_map = draw(arrays(np.float64, shape, elements=values))
    mask = draw(arrays(np.bool_, shape))
    return values_map, mask


# --- properties ------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(maps_and_masks())
def test_every_share_and_the_entropy_lie_in_the_unit_interval(
    case: tuple[np.ndarray, np.ndarray],
) -> None:
    values_map, mask = case
    measures = map_measures(values_map, {"part": mask}, activation=2.5)
    for value in (measures.energy_in["part"], measures.area["part"], measures.top_share,
                  measures.entropy):  # fmt: skip
        assert 0.0 <= value <= 1.0
    assert measures.activation == 2.5
    # The top pixels hold at least their share of the pixels: they are the brightest.
    assert measures.top_share >= math.ceil(0.05 * values_map.size - 1e-9) / values_map.size - 1e-9


@settings(max_examples=100, deadline=None)
@given(maps_and_masks(), st.floats(1e-3, 1e3))
def test_scaling_the_map_changes_no_measure(
    case: tuple[np.ndarray, np.ndarray], factor: float
) -> None:
    values_map, mask = case
    before = map_measures(values_map, {"part": mask}).as_dict()
    after = map_measures(values_map * factor, {"part": mask}).as_dict()
    for name, value in before.items():
        if math.isnan(value):
            assert math.isnan(after[name])
        else:
            assert after[name] == pytest.approx(value, abs=1e-9), name


@settings(max_examples=100, deadline=None)
@given(maps_and_masks())
def test_a_mask_and_its_complement_share_the_whole_energy(
    case: tuple[np.ndarray, np.ndarray],
) -> None:
    values_map, mask = case
    assert energy_share_in(values_map, mask) + energy_share_in(values_map, ~mask) == (
        pytest.approx(1.0)
    )


@settings(max_examples=60, deadline=None)
@given(shapes, st.floats(1e-3, 1e3))
def test_a_flat_map_has_the_chance_shares_and_full_entropy(
    shape: tuple[int, int], level: float
) -> None:
    flat = np.full(shape, level)
    n = flat.size
    assert top_share(flat) == pytest.approx(math.ceil(0.05 * n - 1e-9) / n)
    assert normalised_entropy(flat) == pytest.approx(1.0)
    mask = np.zeros(shape, dtype=bool)
    mask[0] = True
    assert energy_share_in(flat, mask) == pytest.approx(mask.mean())


@settings(max_examples=60, deadline=None)
@given(shapes, st.data())
def test_a_map_lit_on_one_pixel_is_fully_concentrated(
    shape: tuple[int, int], data: st.DataObject
) -> None:
    row = data.draw(st.integers(0, shape[0] - 1))
    col = data.draw(st.integers(0, shape[1] - 1))
    delta = np.zeros(shape)
    delta[row, col] = 7.0
    assert top_share(delta) == pytest.approx(1.0)
    assert normalised_entropy(delta) == pytest.approx(0.0, abs=1e-12)
    mask = np.zeros(shape, dtype=bool)
    mask[row, col] = True
    assert energy_share_in(delta, mask) == 1.0
    assert energy_share_in(delta, ~mask) == 0.0


# --- hand-computed cases and bad input --------------------------------------------------------


def test_top_share_of_a_hand_computed_map() -> None:
    # 40 pixels: the top 5 % is ceil(2) = 2 pixels, holding 9 + 6 of a total of 15 + 25 = 40.
    values_map = np.r_[9.0, 6.0, np.ones(25), np.zeros(13)].reshape(5, 8)
    assert top_share(values_map) == pytest.approx(15 / 40)
    # Entropy by hand: p = 9/40, 6/40 and 25 x 1/40, over log(40).
    p = np.r_[9, 6, np.ones(25)] / 40
    assert normalised_entropy(values_map) == pytest.approx(-(p * np.log(p)).sum() / np.log(40))


def test_an_empty_map_is_scored_as_the_flat_map_it_is_drawn_as() -> None:
    empty = np.zeros((10, 10))
    mask = np.zeros((10, 10), dtype=bool)
    mask[:3] = True
    measures = map_measures(empty, {"object": mask})
    assert measures.energy_in["object"] == pytest.approx(0.3)
    assert measures.top_share == pytest.approx(0.05)
    assert measures.entropy == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.ones(5), "2-D"),
        (np.ones((1, 1)), "two pixels"),
        (np.array([[1.0, np.nan]]), "NaN"),
        (np.array([[1.0, -0.5]]), "negative"),
    ],
)
def test_maps_that_are_not_maps_are_refused(bad: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        map_measures(bad)


def test_a_mask_of_another_resolution_is_refused() -> None:
    with pytest.raises(ValueError, match="resolution"):
        energy_share_in(np.ones((4, 4)), np.ones((8, 8), dtype=bool))


def test_flat_columns_name_each_mask() -> None:
    masks = {"part": np.eye(3, dtype=bool), "object": np.ones((3, 3), dtype=bool)}
    row = map_measures(np.eye(3), masks).as_dict()
    assert set(row) == {"energy_in_part", "energy_in_object", "area_part", "area_object",
                        "top5_share", "entropy", "activation"}  # fmt: skip
    assert row["energy_in_part"] == 1.0 and row["energy_in_object"] == 1.0
    assert math.isnan(row["activation"])


# --- annotations as masks ---------------------------------------------------------------------


def test_a_box_is_moved_to_the_shown_resolution() -> None:
    # A 200 x 100 image shown at 20 x 10 (one map pixel covers 10 x 10 original pixels): the
    # box x 50..150, y 20..60 holds the map pixels whose centres 55..145 and 25..55 it covers.
    mask = box_mask(BBox(50.0, 20.0, 100.0, 40.0), (200, 100), (10, 20))
    expected = np.zeros((10, 20), dtype=bool)
    expected[2:6, 5:15] = True
    np.testing.assert_array_equal(mask, expected)


def test_cars_boxes_from_the_devkit_corners() -> None:
    # The Cars loader turns 1-based inclusive corners (11, 21)-(30, 40) into BBox(10, 20, 20,
    # 20): 20 x 20 original pixels, exactly the 0-based rows 20..39 and columns 10..29.
    mask = box_mask(BBox(10.0, 20.0, 20.0, 20.0), (64, 48), (48, 64))
    assert mask.sum() == 400
    assert mask[20:40, 10:30].all()


def test_keypoint_discs_match_the_pointing_games_at_the_original_size(tmp_path: Path) -> None:
    path = tmp_path / "i.png"
    Image.new("RGB", (100, 80)).save(path)
    parts = (PartLocation(1, 30.0, 30.0, True), PartLocation(2, 70.0, 50.0, True),
             PartLocation(3, 10.0, 10.0, False))  # fmt: skip
    sample = Sample("1", path, 0, BBox(0, 0, 50, 40), parts)
    ours = annotation_masks(sample, (100, 80), (80, 100))
    np.testing.assert_array_equal(ours["part"], KeypointDiscs(radius_fraction=0.1).mask(sample))
    assert not ours["part"][10, 10]  # the hidden part draws no disc


def test_discs_keep_their_size_in_original_pixels_when_the_picture_is_resized() -> None:
    # Radius 20 original pixels around (100, 100) in a 200 x 200 image shown at 50 x 50: a
    # disc of radius 5 map pixels, area about 25 pi.
    mask = keypoint_mask([PartLocation(1, 100.0, 100.0, True)], (200, 200), (50, 50), 20.0)
    assert mask.sum() == pytest.approx(25 * np.pi, rel=0.1)
    assert mask[25, 25] and not mask[25, 31]


def test_synthbirds_labels_become_the_part_mask() -> None:
    labels = np.zeros((40, 60), dtype=np.uint8)
    labels[10:30, 20:50] = 3
    sample = Sample("1", Path("unused.png"), 0, BBox(15.0, 5.0, 40.0, 30.0))
    masks = annotation_masks(sample, (60, 40), (20, 30), part_labels=labels)
    expected = np.zeros((20, 30), dtype=bool)
    expected[5:15, 10:25] = True
    np.testing.assert_array_equal(masks["part"], expected)
    assert masks["object"].sum() == 20 * 15
    np.testing.assert_array_equal(resize_mask(labels > 0, (40, 60)), labels > 0)


def test_a_dataset_without_annotations_has_no_masks() -> None:
    assert annotation_masks(Sample("x", Path("x.png"), 0), (10, 10), (10, 10)) == {}


def test_the_shown_map_is_the_overlays_normalised_resized_map() -> None:
    image = Image.new("RGB", (40, 20), (90, 90, 90))
    activation = np.zeros((20, 40), dtype=np.float32)
    activation[5:10, 10:20] = 4.0
    activation[0, 0] = -1.0
    shown = shown_map(image, activation, RenderStyle(size=(20, 10), resample="nearest"))
    assert shown.shape == (10, 20)
    assert shown.min() >= 0.0 and shown.max() == pytest.approx(1.0)
    mask = box_mask(BBox(10.0, 5.0, 10.0, 5.0), (40, 20), shown.shape)
    # minmax puts the background (0 of -1..4) at 0.2: the box's share is 1 x 15 px against
    # 0.2 x 185 px outside it.
    assert energy_share_in(shown, mask) == pytest.approx(15 / (15 + 0.2 * 185), rel=1e-5)
