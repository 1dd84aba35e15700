"""Tiny in-memory datasets and configs so model and engine tests run in seconds on a CPU."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from protopool.config import Config, DataConfig, LossConfig, ModelConfig, TrainConfig
from protopool.data.base import DatasetIndex, Sample

TINY_SIZE = 32
COLOURS = ((220, 40, 40), (40, 200, 40), (40, 60, 220))


def draw_square(colour: tuple[int, int, int], rng: np.random.Generator, size: int) -> Image.Image:
    """A grey image with one coloured square at a random position: the class is the colour."""
    pixels = np.full((size, size, 3), 128, dtype=np.uint8)
    pixels += rng.integers(0, 20, size=pixels.shape, dtype=np.uint8)
    side = size // 3
    top, left = rng.integers(0, size - side, size=2)
    pixels[top : top + side, left : left + side] = colour
    return Image.fromarray(pixels)


def make_index(
    root: Path, per_class_train: int = 8, per_class_test: int = 4, seed: int = 0
) -> DatasetIndex:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    splits: dict[str, list[Sample]] = {"train": [], "test": []}
    for label, colour in enumerate(COLOURS):
        for split, count in (("train", per_class_train), ("test", per_class_test)):
            for number in range(count):
                image_id = f"{split}-{label}-{number}"
                path = root / f"{image_id}.png"
                draw_square(colour, rng, TINY_SIZE).save(path)
                splits[split].append(Sample(image_id, path, label))
    return DatasetIndex(
        format="test-squares",
        root=root,
        class_names=["red", "green", "blue"],
        train=splits["train"],
        test=splits["test"],
    )


@pytest.fixture
def tiny_index(tmp_path: Path) -> DatasetIndex:
    return make_index(tmp_path / "squares")


def tiny_config(**train_overrides: object) -> Config:
    """Three classes, six prototypes, two slots each, 32 px images, a tiny CNN."""
    train = dataclasses.replace(
        TrainConfig(lr=3e-3, warmup_epochs=1, joint_epochs=2, finetune_epochs=1, device="cpu"),
        **train_overrides,
    )
    return Config(
        model=ModelConfig(
            backbone="tiny",
            weights="none",
            num_prototypes=6,
            prototype_depth=8,
            slots_per_class=2,
            gumbel_scale_epochs=3,
        ),
        data=DataConfig(
            image_size=TINY_SIZE,
            augment=False,
            validation_fraction=0.25,
            batch_size=6,
            eval_batch_size=8,
            num_workers=0,
        ),
        loss=LossConfig(),
        train=train,
    )


@pytest.fixture
def config() -> Config:
    return tiny_config()


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


# A tiny ProtoPool for CLI tests (`protopool train ... *TINY_CLI`): a few seconds on a CPU.
TINY_CLI = [
    "model.backbone=tiny",
    "model.weights=none",
    "model.num_prototypes=8",
    "model.prototype_depth=16",
    "model.slots_per_class=2",
    "data.image_size=32",
    "data.batch_size=8",
    "data.num_workers=0",
    "data.augment=false",
    "data.validation_fraction=0.2",
    "train.warmup_epochs=1",
    "train.finetune_epochs=1",
    "train.lr=0.003",
    "train.device=cpu",
]
