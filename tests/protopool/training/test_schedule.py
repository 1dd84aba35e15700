"""The shipped GPU configs run as many optimisation steps per phase as the official code."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from protopool.config import DataConfig, load_config
from protopool.data.base import Sample, split_validation
from protopool.training.data import make_loader
from protopool.training.phases import phase_steps, steps_per_epoch

CONFIGS = Path(__file__).resolve().parents[3] / "configs"

# The official schedule (gmum/ProtoPool main.py with ProtoPNet's img_aug.py): each training image
# becomes 3 pipelines x 10 passes = 30 augmented images; batch 80 with drop_last; epoch 0 only
# validates, so `--warmup_time 10` trains epochs 1-9; the joint phase runs epochs 10-99 of
# the default 100; the last layer is tuned for 25 epochs on the same loader.
OFFICIAL_COPIES = 30
OFFICIAL_BATCH = 80
OFFICIAL_EPOCHS = {"warmup": 9, "joint": 90, "finetune": 25}
# CUB-200-2011: 5,994 training images over 200 classes (6 classes have 29, the rest 30).
CUB_TRAIN = [29] * 6 + [30] * 194
# Stanford Cars: 8,144 training images over 196 classes, 41.6 a class on average (modelled as
# 41 or 42 a class: only the per-class rounding of the validation split depends on it).
CARS_TRAIN = [42] * 108 + [41] * 88


def official_steps(train_images: int) -> dict[str, int]:
    per_epoch = train_images * OFFICIAL_COPIES // OFFICIAL_BATCH
    return {phase: epochs * per_epoch for phase, epochs in OFFICIAL_EPOCHS.items()}


def our_training_split(per_class: list[int], fraction: float, seed: int) -> int:
    samples = [
        Sample(f"{label}-{n}", Path(f"{label}-{n}.jpg"), label)
        for label, count in enumerate(per_class)
        for n in range(count)
    ]
    train, _ = split_validation(samples, fraction, seed)
    return len(train)


@pytest.mark.parametrize(
    ("config_name", "per_class"),
    [
        ("cub-resnet50-inat.yaml", CUB_TRAIN),
        ("cub-resnet34.yaml", CUB_TRAIN),
        ("cars-resnet50.yaml", CARS_TRAIN),
    ],
)
def test_steps_per_phase_match_the_official_schedule(config_name: str, per_class: list[int]):
    assert sum(CUB_TRAIN) == 5994 and sum(CARS_TRAIN) == 8144
    config = load_config(CONFIGS / config_name)
    train_images = our_training_split(per_class, config.data.validation_fraction, 0)
    ours = phase_steps(config, train_images)
    official = official_steps(sum(per_class))
    assert ours.pop("projection") == 0
    assert set(ours) == set(official)
    for phase, steps in official.items():
        assert ours[phase] == pytest.approx(steps, rel=0.05), phase


def test_the_gumbel_ramp_and_step_lr_span_the_official_number_of_steps() -> None:
    config = load_config(CONFIGS / "cub-resnet50-inat.yaml")
    per_epoch = steps_per_epoch(our_training_split(CUB_TRAIN, 0.1, 0), config.data)
    official_per_epoch = sum(CUB_TRAIN) * OFFICIAL_COPIES // OFFICIAL_BATCH
    assert config.model.gumbel_scale_epochs * per_epoch == pytest.approx(
        30 * official_per_epoch, rel=0.05
    )
    assert config.train.step_size * per_epoch == pytest.approx(5 * official_per_epoch, rel=0.05)


def test_a_training_epoch_draws_every_image_epoch_repeats_times() -> None:
    samples = [Sample(str(i), Path(f"{i}.png"), i % 2) for i in range(10)]
    config = DataConfig(batch_size=4, epoch_repeats=3, num_workers=0)
    loader = make_loader(samples, config, train=True, seed=0)
    order = list(loader.batch_sampler.sampler)
    assert sorted(order) == sorted(list(range(10)) * 3)
    assert len(loader) == 30 // 4
    # Reseeding the loader's generator (as the training loop does every epoch) replays it.
    loader.generator.manual_seed(5)
    first = list(loader.batch_sampler.sampler)
    loader.generator.manual_seed(5)
    assert list(loader.batch_sampler.sampler) == first
    assert first != sorted(first)
    assert isinstance(loader.generator, torch.Generator)
