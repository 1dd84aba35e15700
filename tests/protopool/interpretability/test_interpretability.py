"""Interpretability metrics against hand-computed cases and SynthBirds ground truth.

Reference values are computed by hand from the definitions in EvalProtoPNet
(``util/eval_interpretability.py``: hit rates, the 0.8 consistency threshold, unchanged hit
vectors for stability) and PIP-Net (``util/eval_cub_csv.py``: purity over the top-k patches).
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from protopool.config import Config
from protopool.data import load_cub
from protopool.data.base import BBox, DatasetIndex, PartLocation, Sample
from protopool.data.synth.masks import PART_LABELS, load_synth_truth
from protopool.execution import StepSettings
from protopool.inference.maps import latent_maps
from protopool.interpretability.inputs import PartsRequiredError, require_parts
from protopool.interpretability.metrics import (
    energy_share,
    is_consistent,
    part_hit_rates,
    stability,
)
from protopool.interpretability.naming import ClaimedValue, NamingConfig, name_prototype
from protopool.interpretability.parts import PartSpace, fixed_box, high_activation_box
from protopool.interpretability.regions import KeypointDiscs, SegmentationRegions
from protopool.interpretability.synth_accuracy import check_name, naming_accuracy, peak_part
from protopool.interpretability.topk import TopImage, stream_top_k
from protopool.models import build_model

CPU = StepSettings(torch.device("cpu"))


# --- formulas ---------------------------------------------------------------------------------


def test_hit_rates_divide_by_the_images_where_the_part_is_visible() -> None:
    hits = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=bool)
    visible = np.array([[1, 1, 0], [1, 1, 0], [1, 0, 0]], dtype=bool)
    # part 0: 2 of 3 visible; part 1: 1 of 2 (a hit where it is hidden does not count);
    # part 2: never visible, so 0 / 1
    assert np.allclose(part_hit_rates(hits, visible), [2 / 3, 1 / 2, 0.0])
    assert not is_consistent(hits, visible)  # no part reaches 0.8
    assert is_consistent(hits, visible, threshold=0.6)


def test_stability_counts_images_whose_whole_hit_vector_survives_the_noise() -> None:
    clean = np.array([[1, 0], [0, 1], [1, 1]], dtype=bool)
    noisy = np.array([[1, 0], [1, 1], [1, 1]], dtype=bool)
    assert stability(clean, noisy) == pytest.approx(2 / 3)
    assert np.isnan(stability(clean[:0], noisy[:0]))


def test_energy_share_is_measured_above_the_maps_floor() -> None:
    view = np.array([[1.0, 1.0], [1.0, 3.0]])
    corner = np.array([[False, False], [False, True]])
    assert energy_share(view, corner) == (1.0, 0.25)
    assert energy_share(view, ~corner) == (0.0, 0.75)
    # A flat map has no energy anywhere: it scores the chance level, the area share
    assert energy_share(np.ones((2, 2)), corner) == (0.25, 0.25)
    with pytest.raises(ValueError, match="differ"):
        energy_share(view, np.ones((3, 3), dtype=bool))


def test_the_fixed_box_is_72_pixels_at_224_and_scales_with_the_view() -> None:
    assert fixed_box((100, 100), (0, 0, 224, 224)) == (64, 64, 137, 137)  # +-36, inclusive
    # A 112 px view offset by (10, 20): half-size 18, clipped to the view
    assert fixed_box((50, 60), (10, 20, 122, 132)) == (32, 42, 69, 79)
    assert fixed_box((12, 22), (10, 20, 122, 132)) == (10, 20, 31, 41)


def test_the_percentile_box_moves_into_original_pixels() -> None:
    view = np.zeros((20, 20))
    view[2:4, 5:7] = 1.0  # 4 of 400 pixels: above the 95th percentile
    assert high_activation_box(view, (30, 40, 50, 60), 99.0) == (35, 42, 37, 44)


def test_part_hits_merge_sides_and_exclude_the_right_and_bottom_edges() -> None:
    space = PartSpace.of(["beak", "left wing", "right wing"], merge=True)
    parts = (
        PartLocation(1, 10.0, 10.0, True),
        PartLocation(2, 0.0, 0.0, False),
        PartLocation(3, 19.5, 5.0, True),
    )
    hit, visible = space.hits((10, 0, 20, 10), parts)
    assert space.names == ("beak", "wing")
    assert hit.tolist() == [False, True]  # the beak sits on the bottom edge
    assert visible.tolist() == [True, True]


# --- streamed top-k ---------------------------------------------------------------------------


def test_streamed_top_k_matches_ranking_all_images_at_once(config: Config) -> None:
    model = build_model(config, num_classes=3).eval()
    images = torch.randn(10, 3, 32, 32)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    batches = [(images[i : i + 3], labels[i : i + 3]) for i in range(0, 10, 3)]
    top = stream_top_k(model, batches, 4, CPU)
    every = latent_maps(model, images, CPU)
    scores = every.flatten(2).amax(2).T  # (P, N)
    assert torch.equal(top.positions, scores.topk(4, dim=1).indices)
    assert torch.allclose(top.latents[2, 0], every[top.positions[2, 0], 2])
    # Class-aware: prototype 0 may only rank images of class 1
    allowed = torch.zeros(3, model.num_prototypes, dtype=torch.bool)
    allowed[1, 0] = True
    own = stream_top_k(model, batches, 4, CPU, allowed)
    assert set(own.positions[0].tolist()) == {1, 4, 7, -1}
    assert own.positions[1].tolist() == [-1] * 4 and own.entries(1) == []


# --- SynthBirds ground truth ------------------------------------------------------------------


def test_re_rendering_gives_the_written_image_and_masks_under_the_keypoints(birds: Path) -> None:
    truth = load_synth_truth(birds)
    assert truth is not None
    index = load_cub(birds)
    on_own_part = shown = 0
    for sample in index.train[:12]:
        written = (birds / "images" / sample.path.relative_to(birds / "images")).read_bytes()
        buffer = io.BytesIO()
        truth.render(sample.image_id).image.save(buffer, "JPEG", quality=90)
        assert buffer.getvalue() == written
        labels = truth.part_labels(sample.image_id)
        assert labels.shape == (48, 48)
        for name, part in zip(index.part_names, sample.parts, strict=True):
            if part.visible:
                shown += 1
                on_own_part += labels[int(part.y), int(part.x)] == PART_LABELS[name]
    assert on_own_part / shown >= 0.9


def _wing(part_names: list[str], sample: Sample) -> tuple[int, int] | None:
    for name, part in zip(part_names, sample.parts, strict=True):
        if "wing" in name and part.visible:
            return int(part.x), int(part.y)
    return None


def _top_image(sample: Sample, peak: tuple[int, int]) -> TopImage:
    x, y = peak
    return TopImage(sample, 5.0, (0, 0, 48, 48), peak, (x - 2, y - 2, x + 3, y + 3), (6.0, 6.0))


def test_a_name_is_right_where_the_peak_lands_on_its_part_with_the_species_value(
    birds: Path,
) -> None:
    truth = load_synth_truth(birds)
    assert truth is not None
    index = load_cub(birds)
    # Images of class 0 with a visible wing keypoint, the peak right on it
    wing_at = {s.image_id: _wing(index.part_names, s) for s in index.train if s.label == 0}
    with_wing = [s for s in index.train if wing_at.get(s.image_id)][:3]
    images = [_top_image(s, wing_at[s.image_id] or (0, 0)) for s in with_wing]
    assert all(peak_part(truth, image) == "wing" for image in images)
    colour = truth.species[0].wing
    space = PartSpace.of(index.part_names, merge=True)
    name = name_prototype(0, images, space, None, NamingConfig())
    assert name.part == "wing"
    claim = ClaimedValue("wing_color", colour, f"has_wing_color::{colour}", 1.0, 0.3)
    right = check_name(dataclasses.replace(name, attributes=[claim]), images, truth)
    assert right.counted and right.part_correct and right.value_correct and right.correct
    wrong_colour = "black" if colour != "black" else "white"
    claim = ClaimedValue("wing_color", wrong_colour, "", 1.0, 0.3)
    wrong = check_name(dataclasses.replace(name, attributes=[claim]), images, truth)
    assert wrong.part_correct and not wrong.value_correct
    # A part-only name claims no value: it is not counted as right
    assert not check_name(name, images, truth).correct
    assert naming_accuracy([right, wrong]) == (0.5, 2)
    # A peak in the empty corner lands on background
    corner = _top_image(with_wing[0], (0, 0))
    assert peak_part(truth, corner, tolerance=0.0) == "background"


# --- part regions ------------------------------------------------------------------------------


def test_keypoint_discs_have_the_stated_radius(tmp_path: Path) -> None:
    path = tmp_path / "i.png"
    Image.new("RGB", (100, 80)).save(path)
    sample = Sample("1", path, 0, BBox(0, 0, 50, 40), (PartLocation(1, 30.0, 30.0, True),))
    mask = KeypointDiscs(radius_fraction=0.1).mask(sample)  # radius 5 px
    assert mask.shape == (80, 100)
    assert mask.sum() == pytest.approx(np.pi * 25, rel=0.15)
    assert mask[30, 30] and not mask[30, 36]


def test_segmentations_are_read_beside_the_images(tmp_path: Path) -> None:
    image = tmp_path / "images" / "001.A" / "a.jpg"
    image.parent.mkdir(parents=True)
    Image.new("RGB", (4, 2)).save(image)
    segmentation = tmp_path / "segmentations" / "001.A" / "a.png"
    segmentation.parent.mkdir(parents=True)
    Image.fromarray(np.array([[0, 255, 200, 100], [0, 0, 255, 0]], dtype=np.uint8)).save(
        segmentation
    )
    regions = SegmentationRegions(tmp_path / "images", tmp_path / "segmentations")
    mask = regions.mask(Sample("1", image, 0))
    assert mask.tolist() == [[False, True, True, False], [False, False, True, False]]


def test_a_dataset_without_parts_is_refused_with_what_to_use() -> None:
    cars = DatasetIndex("stanford_cars", Path("/data/cars"), ["a"], [Sample("1", Path("x"), 0)], [])
    with pytest.raises(PartsRequiredError, match="needs part annotations.*stanford_cars"):
        require_parts(cars)
