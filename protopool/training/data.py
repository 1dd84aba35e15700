"""From a :class:`DatasetIndex` to the loaders of one run: train, validation, projection, test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from protopool.config import DataConfig
from protopool.data.base import DatasetError, DatasetIndex, ImageDataset, Sample, split_validation
from protopool.data.transforms import eval_transform
from protopool.training.distributed import SINGLE, Shard


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
        order = torch.randperm(self.length * self.repeats, generator=self.generator) % self.length
        return iter(order.tolist())


class DistributedRepeatedShuffle(RepeatedShuffle):
    """One process's share of :class:`RepeatedShuffle`'s epoch, for a global batch.

    Every process draws the whole epoch's order from the same reseeded generator, keeps the
    complete global batches (the last incomplete one is dropped, as a lone process drops it)
    and deals each batch out like cards: process ``r`` takes positions ``r, r + N, ...``. The
    processes' batches of a step are therefore together the lone process's batch of that step,
    whatever the number of processes, so a run resumes on any number of them.

    torch's ``DistributedSampler`` is not used: its order, drawn from ``seed + epoch`` without
    repeats, and its padding of the last batch with repeated images differ from a lone
    process's epoch, and a run would then depend on its number of processes.
    """

    def __init__(
        self, length: int, repeats: int, generator: torch.Generator, global_batch: int, shard: Shard
    ) -> None:
        super().__init__(length, repeats, generator)
        self.global_batch = global_batch
        self.shard = shard

    def __len__(self) -> int:
        whole = (self.length * self.repeats) // self.global_batch * self.global_batch
        return whole // self.shard.world_size

    def __iter__(self) -> Iterator[int]:
        order = list(super().__iter__())
        whole = len(order) // self.global_batch * self.global_batch
        return iter(order[self.shard.rank : whole : self.shard.world_size])


class StridedShard(Sampler[int]):
    """Indices ``rank, rank + N, ...`` of a dataset, unshuffled and unpadded (evaluation).

    Every image is evaluated by exactly one process, so summing the processes' counts gives the
    whole split's; a shard may be one image shorter than another.
    """

    def __init__(self, length: int, shard: Shard) -> None:
        self.length = length
        self.shard = shard

    def __len__(self) -> int:
        return len(range(self.shard.rank, self.length, self.shard.world_size))

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.shard.rank, self.length, self.shard.world_size))


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
    shard: Shard = SINGLE,
) -> ImageLoader:
    """One loader; training loaders shuffle with a seeded generator and drop the last batch.

    A training loader draws every sample ``config.epoch_repeats`` times per epoch.

    Args:
        shard: This process's place; with several processes a training loader yields this
            process's share of each global batch of ``config.batch_size``, an evaluation loader
            this process's share of the images.

    Raises:
        ConfigError: The global batch does not split evenly over the processes.
    """
    images = ImageDataset(samples, eval_transform(config), config.crop_to_bbox)
    dataset: Dataset[Item] = CachedDataset(images) if config.cache_images else images
    generator = torch.Generator().manual_seed(seed)
    draws = len(samples) * config.epoch_repeats
    sampler: Sampler[int] | None = None
    if train:
        batch = shard.per_process_batch(min(config.batch_size, draws))
        sampler = RepeatedShuffle(len(samples), config.epoch_repeats, generator)
        if shard.distributed:
            sampler = DistributedRepeatedShuffle(
                len(samples), config.epoch_repeats, generator, batch * shard.world_size, shard
            )
    else:
        batch = config.eval_batch_size
        sampler = StridedShard(len(samples), shard) if shard.distributed else None
    # More workers than cores only adds contention with the training threads.
    workers = shard.loader_workers(config.num_workers)
    return DataLoader(
        dataset,
        batch_size=batch,
        sampler=sampler,
        drop_last=train,
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=pin_memory,
        generator=generator,
    )


def build_run_data(
    index: DatasetIndex,
    config: DataConfig,
    seed: int,
    pin_memory: bool = False,
    shard: Shard = SINGLE,
) -> RunData:
    """Split off validation (stratified, seeded) and build every loader.

    Args:
        shard: This process's place: the training and validation loaders yield its share.
            Projection and the test set are process 0's work, so their loaders stay whole.
    """
    check_index(index)
    train, validation = split_validation(index.train, config.validation_fraction, seed)
    return RunData(
        train=train,
        validation=validation,
        test=index.test,
        train_loader=make_loader(train, config, True, seed, pin_memory, shard),
        validation_loader=(
            make_loader(validation, config, False, pin_memory=pin_memory, shard=shard)
            if validation
            else None
        ),
        projection_loader=make_loader(train, config, False, pin_memory=pin_memory),
        test_loader=make_loader(index.test, config, False, pin_memory=pin_memory),
    )
