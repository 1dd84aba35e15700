"""Batched augmentation on the compute device.

Flips, rotations and shears stand in for ProtoPNet's offline augmentation. Applying them to a
whole batch with one ``affine_grid``/``grid_sample`` keeps the data loader down to decoding and
resizing, which lets a small in-memory cache remove loading from the epoch time entirely.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MAX_ROTATION_DEG = 15.0
MAX_SHEAR_DEG = 10.0
FLIP_PROBABILITY = 0.5


def random_flip_affine(
    images: torch.Tensor,
    rotation_deg: float = MAX_ROTATION_DEG,
    shear_deg: float = MAX_SHEAR_DEG,
) -> torch.Tensor:
    """Flip, rotate and shear every image by its own random amount.

    Images are normalised, so the zero padding that the warp brings in is the dataset mean.

    Args:
        images: ``(B, C, H, W)``.
        rotation_deg: Rotation drawn uniformly in ``[-rotation_deg, rotation_deg]``.
        shear_deg: Horizontal shear drawn uniformly in ``[-shear_deg, shear_deg]``.

    Returns:
        Augmented images ``(B, C, H, W)``.
    """
    batch = images.shape[0]
    device = images.device
    angle = (torch.rand(batch, device=device) * 2 - 1) * math.radians(rotation_deg)
    shear = (torch.rand(batch, device=device) * 2 - 1) * math.radians(shear_deg)
    flip = torch.where(torch.rand(batch, device=device) < FLIP_PROBABILITY, -1.0, 1.0)
    cos, sin, tan = torch.cos(angle), torch.sin(angle), torch.tan(shear)
    # Rotation @ shear @ flip, acting on normalised (x, y) output coordinates.
    matrix = torch.zeros(batch, 2, 3, device=device)
    matrix[:, 0, 0] = cos * flip
    matrix[:, 0, 1] = cos * tan - sin
    matrix[:, 1, 0] = sin * flip
    matrix[:, 1, 1] = sin * tan + cos
    grid = F.affine_grid(matrix.to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, padding_mode="zeros", align_corners=False)
