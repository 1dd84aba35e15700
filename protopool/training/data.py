"""From a :class:`DatasetIndex` to the loaders of one run: train, validation, projection, test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from protopool.config import DataConfig
from protopool.data.base import DatasetError, DatasetIndex, ImageDataset, Sample, split_validation
from protopool.data.transforms import eval_transform


def check_index(index: DatasetIndex) -> None:
    """Refuse datasets a classifier cannot be trained or evaluated on.

    Raises:
        DatasetError: No classes, an empty split, or a class with no training image.
    """
    if not index.class_names:
        raise DatasetError(f"dataset at {index.root} has no classes")
    if not index.train or not index.test:
        raise DatasetError(f"dataset at {index.root} has an empty train or test split")
    present = {sample.label for sample in index.train}
    missing = [name for label, name in enumerate(index.class_names) if label not in present]
    if missing:
        raise DatasetError(
            f"{len(missing)} class(es) have no training image ({', '.join(missing[:5])}): "
            "add images for them or remove them from the dataset"
        )


class RepeatedShuffle(Sampler[int]):
    """Every index ``repeats`` times per epoch, in one shuffled order.

    The copies of an image are spread over the epoch, as the augmented copies of the official
    offline set are; the shared generator lets the training loop reseed every epoch.
    """

    def __init__(self, length: int, repeats: int, generator: torch.Generator) -> None:
        self.length = length
        self.repeats = repeats
        self.generator = generator

    def __len__(self) -> int:
        return self.length * self.repeats

    def __iter__(self) -> Iterator[int]:
        order = torch.randperm(len(self), generator=self.generator) % self.length
        return iter(order.tolist())


Item = tuple[object, int]
"""A dataset item: the transformed image (a tensor after :func:`eval_transform`) and its label."""

ImageLoader = DataLoader[Item]


class CachedDataset(Dataset[Item]):
    """Keeps every transformed item in memory after its first load (small datasets only)."""

    def __init__(self, dataset: ImageDataset) -> None:
        self.dataset = dataset
        self.items: dict[int, Item] = {}

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Item:
        if index not in self.items:
            self.items[index] = self.dataset[index]
        return self.items[index]


@dataclass
class RunData:
    """Samples and loaders of one run; ``projection`` is the un-augmented training split."""

    train: list[Sample]
    validation: list[Sample]
    test: list[Sample]
    train_loader: ImageLoader
    validation_loader: ImageLoader | None
    projection_loader: ImageLoader
    test_loader: ImageLoader


def make_loader(
    samples: list[Sample],
    config: DataConfig,
    train: bool,
    seed: int = 0,
    pin_memory: bool = False,
) -> ImageLoader:
    """One loader; training loaders shuffle with a seeded generator and drop the last batch.

    A training loader draws every sample ``config.epoch_repeats`` times per epoch.
    """
    images = ImageDataset(samples, eval_transform(config), config.crop_to_bbox)
    dataset: Dataset[Item] = CachedDataset(images) if config.cache_images else images
    batch = config.batch_size if train else config.eval_batch_size
    generator = torch.Generator().manual_seed(seed)
    sampler = RepeatedShuffle(len(samples), config.epoch_repeats, generator) if train else None
    # More workers than cores only adds contention with the training threads.
    workers = min(config.num_workers, os.cpu_count() or 1)
    return DataLoader(
        dataset,
        batch_size=min(batch, len(samples) * config.epoch_repeats) if train else batch,
        sampler=sampler,
        drop_last=train,
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=pin_memory,
        generator=generator,
    )


def build_run_data(
    index: DatasetIndex, config: DataConfig, seed: int, pin_memory: bool = False
) -> RunData:
    """Split off validation (stratified, seeded) and build every loader."""
    check_index(index)
    train, validation = split_validation(index.train, config.validation_fraction, seed)
    return RunData(
        train=train,
        validation=validation,
        test=index.test,
        train_loader=make_loader(train, config, True, seed, pin_memory),
        validation_loader=(
            make_loader(validation, config, False, pin_memory=pin_memory) if validation else None
        ),
        projection_loader=make_loader(train, config, False, pin_memory=pin_memory),
        test_loader=make_loader(index.test, config, False, pin_memory=pin_memory),
    )
