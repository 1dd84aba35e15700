"""Batched online augmentation on the compute device, after ProtoPNet's offline pipelines.

The official code trains on a folder that ProtoPNet's ``img_aug.py`` (Augmentor) wrote once: 10
passes of each of three pipelines over every training image, each ending in a left-right flip
with probability 0.5:

* rotation by up to 15 degrees either way;
* perspective skew of magnitude 0.2 (one side tilted, or one corner pulled);
* shear by up to 10 degrees, horizontal or vertical.

Augmentor crops what it warps to the largest region with no filled-in border and resizes it back
to the image size. Here every training draw goes through one of the three pipelines, chosen at
random, as one homography per image: the output square is mapped onto a quadrilateral *inside*
the input image, so no padding is ever sampled. One ``grid_sample`` warps the whole batch, which
keeps the data loader down to decoding and resizing.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MAX_ROTATION_DEG = 15.0
MAX_SHEAR_DEG = 10.0
SKEW_MAGNITUDE = 0.2
FLIP_PROBABILITY = 0.5
PIPELINES = ("rotate", "skew", "shear")

# The corners of the output square in normalised (x, y) coordinates, clockwise from top left.
CORNERS = ((-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0))


def rotation_warps(angles: torch.Tensor) -> torch.Tensor:
    """Rotations zoomed in just enough to keep the output inside the image ``(B, 3, 3)``.

    The largest axis-aligned square inside a square rotated by ``a`` has side
    ``1 / (|cos a| + |sin a|)`` of the original.

    Args:
        angles: Radians ``(B,)``.
    """
    cos, sin = torch.cos(angles), torch.sin(angles)
    zoom = 1.0 / (cos.abs() + sin.abs())
    matrix = _eye(angles)
    matrix[:, 0, 0], matrix[:, 0, 1] = zoom * cos, -zoom * sin
    matrix[:, 1, 0], matrix[:, 1, 1] = zoom * sin, zoom * cos
    return matrix


def shear_warps(angles: torch.Tensor, vertical: torch.Tensor) -> torch.Tensor:
    """Horizontal or vertical shears, zoomed in to stay inside the image ``(B, 3, 3)``.

    Args:
        angles: Shear angles in radians ``(B,)``.
        vertical: Shear along y instead of x ``(B,)`` bool.
    """
    tan = torch.tan(angles)
    zoom = 1.0 / (1.0 + tan.abs())
    matrix = _eye(angles)
    matrix[:, 0, 0] = zoom
    matrix[:, 1, 1] = zoom
    matrix[:, 0, 1] = torch.where(vertical, 0.0, zoom * tan)
    matrix[:, 1, 0] = torch.where(vertical, zoom * tan, 0.0)
    return matrix


def skew_warps(offsets: torch.Tensor, kinds: torch.Tensor) -> torch.Tensor:
    """Perspective skews: one side tilted or one corner pulled inwards ``(B, 3, 3)``.

    Args:
        offsets: How far the moved corners go inwards, in normalised units ``(B,)``, at most
            ``2 * SKEW_MAGNITUDE`` (the magnitude is a fraction of the side).
        kinds: 0–3 tilt the top, right, bottom or left side; 4–7 pull one corner (clockwise
            from top left) ``(B,)``.
    """
    corners = torch.tensor(CORNERS, device=offsets.device).expand(len(offsets), 4, 2).clone()
    inward = -torch.tensor(CORNERS, device=offsets.device)  # towards the centre, per corner
    for kind in range(8):
        chosen = kinds == kind
        if not bool(chosen.any()):
            continue
        shift = offsets[chosen, None]
        if kind < 4:
            # Tilting a side narrows it: its two corners move along the side, towards each other.
            first, second = kind, (kind + 1) % 4
            axis = 0 if kind % 2 == 0 else 1
            for corner in (first, second):
                corners[chosen, corner, axis] += shift[:, 0] * inward[corner, axis]
        else:
            corner = kind - 4
            corners[chosen, corner] += shift * inward[corner]
    return homographies(corners)


def homographies(targets: torch.Tensor) -> torch.Tensor:
    """The projective maps sending the output square's corners to ``targets`` ``(B, 3, 3)``.

    Args:
        targets: ``(B, 4, 2)`` input coordinates of the corners in :data:`CORNERS` order.
    """
    batch = targets.shape[0]
    source = torch.tensor(CORNERS, device=targets.device, dtype=targets.dtype)
    rows = []
    for index in range(4):
        x, y = source[index]
        u, v = targets[:, index, 0], targets[:, index, 1]
        zero, one = torch.zeros_like(u), torch.ones_like(u)
        rows.append(torch.stack([x * one, y * one, one, zero, zero, zero, -u * x, -u * y], 1))
        rows.append(torch.stack([zero, zero, zero, x * one, y * one, one, -v * x, -v * y], 1))
    system = torch.stack(rows, dim=1)
    solution = torch.linalg.solve(system, targets.reshape(batch, 8))
    return torch.cat([solution, torch.ones(batch, 1, device=targets.device)], 1).view(batch, 3, 3)


def flips(matrices: torch.Tensor, flipped: torch.Tensor) -> torch.Tensor:
    """Compose a left-right flip of the output into the chosen warps ``(B, 3, 3)``."""
    sign = torch.where(flipped, -1.0, 1.0)
    return matrices * torch.stack([sign, torch.ones_like(sign), torch.ones_like(sign)], 1)[:, None]


def sample_warps(batch: int, device: torch.device) -> torch.Tensor:
    """Draw one warp per image from the three pipelines, flip included ``(B, 3, 3)``."""

    def uniform(limit: float) -> torch.Tensor:
        return (torch.rand(batch, device=device) * 2 - 1) * limit

    pipeline = torch.randint(len(PIPELINES), (batch,), device=device)
    rotate = rotation_warps(uniform(math.radians(MAX_ROTATION_DEG)))
    skew = skew_warps(
        torch.rand(batch, device=device) * 2 * SKEW_MAGNITUDE,
        torch.randint(8, (batch,), device=device),
    )
    shear = shear_warps(
        uniform(math.radians(MAX_SHEAR_DEG)), torch.rand(batch, device=device) < 0.5
    )
    choice = pipeline[:, None, None]
    warps = torch.where(choice == 0, rotate, torch.where(choice == 1, skew, shear))
    return flips(warps, torch.rand(batch, device=device) < FLIP_PROBABILITY)


def warp(images: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Resample every image through its homography (output coordinates to input ones).

    Args:
        images: ``(B, C, H, W)``.
        matrices: ``(B, 3, 3)`` acting on normalised homogeneous ``(x, y, 1)``; pixel centres
            follow ``align_corners=False``.

    Returns:
        Warped images ``(B, C, H, W)``.
    """
    batch, _, height, width = images.shape
    ys = (torch.arange(height, device=images.device, dtype=torch.float32) * 2 + 1) / height - 1
    xs = (torch.arange(width, device=images.device, dtype=torch.float32) * 2 + 1) / width - 1
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    points = torch.stack([grid_x, grid_y, torch.ones_like(grid_x)], dim=-1).view(1, -1, 3)
    mapped = points @ matrices.float().transpose(1, 2)
    grid = (mapped[..., :2] / mapped[..., 2:]).view(batch, height, width, 2)
    # Every warp maps into the image; "border" only guards against rounding at its edge.
    return F.grid_sample(images, grid.to(images.dtype), padding_mode="border", align_corners=False)


def augment_batch(images: torch.Tensor, rank: int = 0, world_size: int = 1) -> torch.Tensor:
    """One random draw of ProtoPNet's augmentation for each image of a batch ``(B, C, H, W)``.

    Args:
        images: This process's rows of the global batch (all of it for a lone process).
        rank: This process's index; its rows are ``rank, rank + world_size, ...``.
        world_size: Processes sharing the global batch. The warps are drawn for the whole
            global batch and each process keeps its rows, so an image gets the warp a lone
            process would give it and every process's generator advances alike.
    """
    warps = sample_warps(images.shape[0] * world_size, images.device)
    return warp(images, warps[rank::world_size])


def _eye(like: torch.Tensor) -> torch.Tensor:
    return torch.eye(3, device=like.device).repeat(len(like), 1, 1)
