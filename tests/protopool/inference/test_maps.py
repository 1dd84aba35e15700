"""Activation maps in original pixels: crops mapped back, boxes, batching by image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from protopool.config import Config
from protopool.data.base import DatasetError
from protopool.execution import StepSettings
from protopool.inference.maps import (
    MapError,
    crop_region,
    latent_maps,
    maps_for_pairs,
    percentile_box,
    place_in_original,
    prepare_image,
    prototree_box,
    upsample,
)
from protopool.models import build_model

CPU = StepSettings(torch.device("cpu"))


def test_percentile_box_bounds_the_hot_square() -> None:
    # A faint gradient, and a hot 10x10 square: exactly the top 5 % of 2,000 pixels.
    activation = np.linspace(0, 0.4, 40 * 50, dtype=np.float32).reshape(40, 50)
    activation[10:20, 20:30] = 1.0
    assert percentile_box(activation) == (20, 10, 30, 20)


def test_crop_region_matches_the_loader_and_refuses_a_box_outside() -> None:
    assert crop_region((100, 80), None) == (0, 0, 100, 80)
    assert crop_region((100, 80), (10.7, 5.2, 30.6, 40.4)) == (10, 5, 41, 46)
    with pytest.raises(MapError, match="outside"):
        crop_region((100, 80), (120, 5, 10, 10))


def test_a_crop_map_lands_where_the_crop_was() -> None:
    cropped = np.arange(6, dtype=np.float32).reshape(2, 3) + 1
    full = place_in_original(cropped, (4, 1, 7, 3), (10, 5))
    assert full.shape == (5, 10)
    assert np.array_equal(full[1:3, 4:7], cropped)
    assert (full[0] == 1).all() and (full[:, :4] == 1).all()  # the map's minimum elsewhere


def test_bicubic_upsampling_keeps_a_constant_map_and_the_peak_location() -> None:
    constant = upsample(torch.full((4, 4), 2.5), (40, 30))
    assert constant.shape == (30, 40) and np.allclose(constant, 2.5, atol=1e-5)
    peaked = torch.zeros(4, 4)
    peaked[1, 3] = 1.0
    up = upsample(peaked, (40, 40))
    row, column = np.unravel_index(up.argmax(), up.shape)
    assert 10 <= row < 20 and 30 <= column < 40


def test_prototree_box_is_the_upsampled_argmax_cell(config: Config, tmp_path: Path) -> None:
    path = tmp_path / "i.png"
    Image.new("RGB", (64, 48), (90, 90, 90)).save(path)
    prepared = prepare_image(path, config.data, crop_box=(16, 8, 32, 32))
    latent = torch.zeros(4, 4)
    latent[0, 0] = 1.0
    left, top, right, bottom = prototree_box(latent, prepared)
    # The top-left latent cell of the 32x32 crop covers x 16-24, y 8-16, widened by the cubic.
    assert (left, top) == (16, 8)
    assert 24 <= right <= 32 and 16 <= bottom <= 24


def test_pairs_share_one_pass_per_image_and_keep_their_order(
    config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = build_model(config, num_classes=3)
    paths = []
    for n in range(2):
        path = tmp_path / f"{n}.png"
        Image.fromarray(
            np.random.default_rng(n).integers(0, 255, (40, 50, 3), dtype=np.uint8)
        ).save(path)
        paths.append(path)
    calls: list[int] = []
    from protopool.inference import maps

    real = maps.latent_maps

    def counting(model_, images, settings):
        calls.append(images.shape[0])
        return real(model_, images, settings)

    monkeypatch.setattr(maps, "latent_maps", counting)
    pairs = [(3, paths[1], None), (0, paths[0], None), (5, paths[1], None)]
    result = maps_for_pairs(model, pairs, config.data, CPU)
    assert calls == [2]  # two distinct images, one batch
    assert [(r.prototype, Path(r.image)) for r in result] == [(p, Path(i)) for p, i, _ in pairs]
    for record in result:
        assert record.activation.shape == (40, 50)
        direct = real(model, record.prepared.tensor[None], CPU)[0, record.prototype]
        assert torch.allclose(record.latent, direct, atol=1e-5)
        assert record.score == pytest.approx(float(direct.max()), rel=1e-5)


def test_bad_pairs_are_clear_errors(config: Config, tmp_path: Path) -> None:
    model = build_model(config, num_classes=3)
    with pytest.raises(MapError, match="prototype 6 does not exist"):
        maps_for_pairs(model, [(6, tmp_path / "x.png", None)], config.data, CPU)
    with pytest.raises(DatasetError, match="not found"):
        maps_for_pairs(model, [(0, tmp_path / "missing.png", None)], config.data, CPU)


def test_latent_maps_are_the_models_own_similarity(config: Config) -> None:
    model = build_model(config, num_classes=3)
    images = torch.randn(2, 3, 32, 32)
    maps = latent_maps(model, images, CPU)
    with torch.no_grad():
        expected = model.similarity.activation_map(model.distances(images))
    assert torch.allclose(maps, expected)


def test_separable_upsampling_equals_torchs_bicubic() -> None:
    import torch.nn.functional as F

    latent = torch.randn(3, 7, 5)
    ours = upsample(latent, (41, 33))
    theirs = F.interpolate(latent[None], size=(33, 41), mode="bicubic", align_corners=False)[0]
    assert ours.shape == (3, 33, 41)
    assert np.allclose(ours, theirs.numpy(), atol=1e-5)
