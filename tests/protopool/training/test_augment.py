"""Online augmentation: ProtoPNet's three pipelines as homographies that never sample padding."""

from __future__ import annotations

import math

import pytest
import torch

from protopool.training.augment import (
    CORNERS,
    augment_batch,
    flips,
    homographies,
    rotation_warps,
    sample_warps,
    shear_warps,
    skew_warps,
    warp,
)


def identity(batch: int) -> torch.Tensor:
    return torch.eye(3).repeat(batch, 1, 1)


def test_identity_warp_returns_the_images() -> None:
    images = torch.randn(4, 3, 9, 7)
    assert torch.allclose(warp(images, identity(4)), images, atol=1e-5)


def test_flip_mirrors_left_and_right_exactly() -> None:
    images = torch.randn(5, 3, 8, 6)
    flipped = torch.tensor([True, False, True, True, False])
    out = warp(images, flips(identity(5), flipped))
    for image, result, was_flipped in zip(images, out, flipped, strict=True):
        expected = image.flip(-1) if was_flipped else image
        assert torch.allclose(result, expected, atol=1e-5)
    # A flipped image is not its own mirror image: the check above can tell them apart.
    assert not torch.allclose(out[0], images[0], atol=1e-2)


def test_about_half_of_the_draws_are_flipped() -> None:
    torch.manual_seed(0)
    warps = sample_warps(4000, torch.device("cpu"))
    # A flip negates the first column; no pipeline alone makes the x-scale negative.
    share = (warps[:, 0, 0] < 0).float().mean().item()
    assert share == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize("seed", range(3))
def test_no_warp_samples_outside_the_image(seed: int) -> None:
    """Crop-and-resize, not padding: a constant image stays constant under every draw."""
    torch.manual_seed(seed)
    ones = torch.ones(256, 3, 16, 16)
    out = augment_batch(ones)
    assert torch.allclose(out, ones, atol=1e-5)


def test_every_corner_of_the_output_maps_inside_the_input() -> None:
    torch.manual_seed(1)
    warps = sample_warps(2000, torch.device("cpu"))
    corners = torch.tensor([[x, y, 1.0] for x, y in CORNERS])
    mapped = corners @ warps.transpose(1, 2)
    points = mapped[..., :2] / mapped[..., 2:]
    assert points.abs().max() <= 1 + 1e-5


def test_rotation_rotates_by_the_angle_and_zooms_to_fit() -> None:
    angle = math.radians(15)
    matrix = rotation_warps(torch.tensor([angle]))[0]
    zoom = 1 / (math.cos(angle) + math.sin(angle))
    # The output x axis lands on the input direction (cos, sin), scaled by the zoom.
    assert matrix[0, 0].item() == pytest.approx(zoom * math.cos(angle))
    assert matrix[1, 0].item() == pytest.approx(zoom * math.sin(angle))
    # The rotated corner (1, 1) touches the image edge: the crop is as large as it can be.
    corner = matrix @ torch.tensor([1.0, 1.0, 1.0])
    assert corner[:2].abs().max().item() == pytest.approx(1.0)


def test_shear_moves_x_with_y_or_y_with_x() -> None:
    angle = torch.tensor([math.radians(10), math.radians(10)])
    horizontal, vertical = shear_warps(angle, torch.tensor([False, True]))
    tan = math.tan(math.radians(10))
    assert horizontal[0, 1].item() == pytest.approx(tan / (1 + tan))
    assert horizontal[1, 0].item() == 0
    assert vertical[1, 0].item() == pytest.approx(tan / (1 + tan))
    assert vertical[0, 1].item() == 0


def test_homography_sends_the_corners_where_asked() -> None:
    targets = torch.tensor([[[-0.9, -0.7], [0.8, -1.0], [1.0, 0.6], [-0.5, 0.9]]])
    matrix = homographies(targets)[0]
    for (x, y), (u, v) in zip(CORNERS, targets[0].tolist(), strict=True):
        point = matrix @ torch.tensor([x, y, 1.0])
        assert (point[:2] / point[2]).tolist() == pytest.approx([u, v], abs=1e-5)


def test_tilting_the_top_side_narrows_only_the_top() -> None:
    matrix = skew_warps(torch.tensor([0.4]), torch.tensor([0]))[0]
    corners = torch.tensor([[x, y, 1.0] for x, y in CORNERS]) @ matrix.T
    points = (corners[:, :2] / corners[:, 2:]).tolist()
    assert points[0] == pytest.approx([-0.6, -1.0], abs=1e-5)
    assert points[1] == pytest.approx([0.6, -1.0], abs=1e-5)
    assert points[2] == pytest.approx([1.0, 1.0], abs=1e-5)
    assert points[3] == pytest.approx([-1.0, 1.0], abs=1e-5)


def test_the_three_pipelines_all_occur() -> None:
    torch.manual_seed(2)
    warps = sample_warps(600, torch.device("cpu"))
    perspective = warps[:, 2, :2].abs().sum(dim=1) > 1e-6
    sheared = (
        ~perspective
        & ((warps[:, 0, 0].abs() - warps[:, 1, 1].abs()).abs() < 1e-6)
        & ((warps[:, 0, 1].abs() < 1e-7) ^ (warps[:, 1, 0].abs() < 1e-7))
    )
    assert 150 < int(perspective.sum()) < 250
    assert 150 < int(sheared.sum()) < 250
