"""Builders the protopool tests share: tiny in-memory datasets and configs, CLI overrides for a
tiny model, hand-assigned slots, and log functions for training runs.

Plain functions and constants, imported by test modules; the pytest fixtures built on them are in
the ``conftest.py`` files.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from protopool.config import Config, DataConfig, LossConfig, ModelConfig, TrainConfig, TreeConfig
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


def noise_image(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


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


def tree_config(**train_overrides: object) -> Config:
    """:func:`tiny_config` as a depth-2 ProtoTree."""
    config = tiny_config(**train_overrides)
    return dataclasses.replace(
        config,
        model=dataclasses.replace(config.model, kind="prototree"),
        tree=TreeConfig(depth=2),
    )


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
# The training verbs' tests and the explanation runs anneal the Gumbel scale over 3 epochs.
TINY = [*TINY_CLI, "model.gumbel_scale_epochs=3"]


def assign(model, assignment: list[list[int]]) -> None:
    """Give class c exactly the prototypes ``assignment[c]``, slot k holding the k-th."""
    with torch.no_grad():
        model.slot_logits.fill_(-10.0)
        for c, prototypes in enumerate(assignment):
            for k, p in enumerate(prototypes):
                model.slot_logits[c, p, k] = 10.0


def first_source(run_dir: Path) -> tuple[str, list[float] | None]:
    """The image and crop box prototype 0 was projected from."""
    record = json.loads((run_dir / "projection.json").read_text())["prototypes"][0]
    return record["image_path"], record["crop_box"]


def quiet(*_: object) -> None:
    """A training log that prints nothing."""


class Interrupted(Exception):
    pass


def interrupt_at(message_start: str) -> Callable[[str], None]:
    """A log function that stops training when a message starting with ``message_start`` comes."""

    def log(message: str) -> None:
        if message.startswith(message_start):
            raise Interrupted(message)

    return log
