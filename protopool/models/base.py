"""What every prototype model shares: a backbone, a 1x1 add-on, prototypes and fp32 distances.

ProtoPool and ProtoTree differ in what they do with the distances; how the distances are
computed, and in which precision, is defined once here.
"""

from __future__ import annotations

import torch
from torch import nn

from protopool import similarity as similarities


class InputShapeError(ValueError):
    """Images of a size the model was not configured for."""


def check_images(images: torch.Tensor, image_size: int) -> None:
    """Raise :class:`InputShapeError` unless ``images`` is ``(B, 3, S, S)`` with the model's S."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise InputShapeError(f"expected images of shape (B, 3, H, W); got {tuple(images.shape)}")
    if images.shape[-2:] != (image_size, image_size):
        raise InputShapeError(
            f"this model takes {image_size}x{image_size} images; got "
            f"{images.shape[-2]}x{images.shape[-1]}: resize them (data.image_size)"
        )


class PrototypeNetwork(nn.Module):
    """Base of both models; subclasses set ``features``, ``add_on``, ``prototypes``, ``image_size``.

    ``prototypes`` is ``(P, D)``; ``add_on`` maps backbone features to ``(B, D, H, W)``.
    """

    features: nn.Module
    add_on: nn.Module
    prototypes: nn.Parameter
    image_size: int

    @property
    def num_prototypes(self) -> int:
        return self.prototypes.shape[0]

    def latent(self, images: torch.Tensor) -> torch.Tensor:
        """Latent patches ``(B, D, H, W)`` in [0, 1], in fp32, for images ``(B, 3, S, S)``.

        Only the backbone runs under an enclosing bf16 autocast. The add-on and everything
        after it run in fp32: in bf16 the latent's rounding keeps a patch from ever being at
        distance 0 from itself, so the log similarity would peak near 8.2 instead of
        ``log(1 / eps)``, and logits near 55 would be rounded to steps of 0.25.
        """
        check_images(images, self.image_size)
        features = self.features(images)
        with torch.autocast(device_type=features.device.type, enabled=False):
            latent: torch.Tensor = self.add_on(features.float())
        return latent

    def distances(self, images: torch.Tensor) -> torch.Tensor:
        """Squared distances ``(B, P, H, W)`` between latent patches and prototypes (fp32)."""
        latent = self.latent(images)
        with torch.autocast(device_type=latent.device.type, enabled=False):
            return similarities.squared_distances(latent, self.prototypes.float())
