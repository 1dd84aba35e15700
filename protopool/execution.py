"""How batches run: device, bf16 autocast and memory format, shared by training and projection.

Projection must see the latent patches exactly as evaluation does; with one definition of the
precision settings for both, a projected prototype matches its own patch at evaluation.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class StepSettings:
    """How batches are executed.

    Attributes:
        device: Where to compute.
        amp: ``none`` or ``bf16`` autocast (the backbone only; see
            :meth:`protopool.models.ProtoPool.latent`).
        channels_last: Feed images in channels-last memory format.
        mixup_alpha: Beta parameter for mixup, or None for no mixup (training only).
        augment: Augment training batches (training only).
    """

    device: torch.device
    amp: str = "none"
    channels_last: bool = False
    mixup_alpha: float | None = None
    augment: bool = False


def autocast(settings: StepSettings) -> contextlib.AbstractContextManager[object]:
    """bf16 autocast on the settings' device, or nothing."""
    if settings.amp == "bf16":
        return torch.autocast(device_type=settings.device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_device(images: torch.Tensor, settings: StepSettings) -> torch.Tensor:
    """Move a batch of images to the device, in the configured memory format."""
    images = images.to(settings.device, non_blocking=True)
    if settings.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return images
