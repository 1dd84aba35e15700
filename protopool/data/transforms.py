"""The image transform every model input goes through: training, projection and inference."""

from __future__ import annotations

from torchvision import transforms

from protopool.config import DataConfig


def eval_transform(config: DataConfig) -> transforms.Compose:
    """Resize to the square input size and normalise.

    Training uses the same transform: its augmentation runs batched on the compute device
    (:mod:`protopool.training.augment`).
    """
    return transforms.Compose(
        [
            transforms.Resize((config.image_size, config.image_size)),
            transforms.ToTensor(),
            transforms.Normalize(config.mean, config.std),
        ]
    )
