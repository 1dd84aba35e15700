"""One training step, one epoch, one evaluation: the pieces every phase reuses."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from protopool.config import LossConfig
from protopool.execution import StepSettings, autocast, to_device
from protopool.losses import Targets, mixup, plain_targets
from protopool.models import PrototypeModel
from protopool.training.augment import augment_batch
from protopool.training.data import ImageLoader
from protopool.training.distributed import SINGLE, Shard
from protopool.training.objectives import after_step, begin_epoch, training_forward, training_loss

# What a loader yields once its items are collated: images (B, 3, S, S) and labels (B,).
Batch = tuple[torch.Tensor, torch.Tensor]


def progress_bar(loader: ImageLoader, description: str) -> Iterator[Batch]:
    """A progress bar on a terminal, a plain iterator otherwise (logs stay clean).

    Under ``torchrun`` every process shares the terminal; only process 0 draws its bar.
    """
    secondary = dist.is_available() and dist.is_initialized() and dist.get_rank() != 0
    bar: Iterator[Batch] = tqdm(
        loader, desc=description, leave=False, disable=secondary or not sys.stderr.isatty()
    )
    return bar


def set_train_mode(model: PrototypeModel, frozen_norms_eval: bool = False) -> None:
    """Put the model in training mode, optionally leaving frozen batch norms in eval mode.

    A batch norm in training mode updates its running statistics even when its parameters
    are frozen; after projection that would shift the latent patches, so a prototype would
    no longer equal the training patch its provenance names.

    Args:
        model: The model.
        frozen_norms_eval: Keep every batch norm without a trainable parameter in eval mode.
    """
    model.train()
    if not frozen_norms_eval:
        return
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and not any(
            parameter.requires_grad for parameter in module.parameters()
        ):
            module.eval()


def train_step(
    model: PrototypeModel,
    images: torch.Tensor,
    labels: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    scale: float | None,
    weights: LossConfig,
    settings: StepSettings,
    rng: np.random.Generator,
    batches_in_epoch: int = 1,
    *,
    forward: nn.Module | None = None,
    shard: Shard = SINGLE,
) -> dict[str, float]:
    """Forward, loss, backward and update on one batch; returns the loss stats.

    Args:
        batches_in_epoch: Batches in the epoch (the tree's leaf rule decays by it).
        forward: What the forward pass calls: the DistributedDataParallel wrapper of ``model``
            when several processes train (default: ``model``).
        shard: This process's place; ``images`` are its rows of the global batch.
    """
    images, labels = to_device(images, settings), labels.to(settings.device, non_blocking=True)
    if settings.augment:
        images = augment_batch(images, shard.rank, shard.world_size)
    targets: Targets = plain_targets(labels)
    if settings.mixup_alpha is not None:
        if shard.distributed:
            images, targets = shard_mixup(images, labels, settings.mixup_alpha, rng, shard)
        else:
            images, targets = mixup(images, labels, settings.mixup_alpha, rng)
    with autocast(settings):
        output = training_forward(model, images, scale, forward)
    loss, stats = training_loss(model, output, targets, weights)
    optimizer.zero_grad(set_to_none=True)
    torch.autograd.backward(loss)
    optimizer.step()
    after_step(model, output, targets, batches_in_epoch, shard)
    return stats


def shard_mixup(
    images: torch.Tensor,
    labels: torch.Tensor,
    alpha: float,
    rng: np.random.Generator,
    shard: Shard,
) -> tuple[torch.Tensor, Targets]:
    """Mixup of this process's rows, with the draws of :func:`protopool.losses.mixup`.

    The mixing weight and the permutation are drawn as a lone process draws them, for the
    global batch, so every process's generators stay where a lone process's are. A partner must
    be an image this process holds, so the pairs differ from a lone process's: the partners
    are this process's rows in the order the global permutation ranks them (a uniformly random
    permutation of them). Mixup runs on several processes are therefore equal to a lone
    process's in distribution, not image for image.
    """
    lam = float(rng.beta(alpha, alpha))
    order = torch.randperm(images.shape[0] * shard.world_size, device=images.device)
    local = shard.rows(order).argsort().argsort()
    mixed = lam * images + (1 - lam) * images[local]
    return mixed, Targets(labels, labels[local], lam)


def train_one_epoch(
    model: PrototypeModel,
    loader: ImageLoader,
    optimizer: torch.optim.Optimizer,
    scale: float | None,
    weights: LossConfig,
    settings: StepSettings,
    rng: np.random.Generator,
    description: str = "train",
    frozen_norms_eval: bool = False,
    *,
    forward: nn.Module | None = None,
    shard: Shard = SINGLE,
) -> dict[str, float]:
    """Run one pass over ``loader``.

    Args:
        scale: Gumbel scale for this epoch, or None to train with the hard assignment.
        frozen_norms_eval: See :func:`set_train_mode`.
        forward: See :func:`train_step`.
        shard: This process's place; ``loader`` yields its share of every global batch.

    Returns:
        Mean of every loss stat over the epoch, plus ``steps``; with several processes the
        means are over all of them (every process's share is the same size, so the mean of
        their means is the global batch's).

    Raises:
        NonFiniteLossError: From the loss, naming the term that diverged.
    """
    set_train_mode(model, frozen_norms_eval)
    begin_epoch(model)
    totals: dict[str, float] = {}
    steps = 0
    for images, labels in progress_bar(loader, description):
        stats = train_step(
            model,
            images,
            labels,
            optimizer,
            scale,
            weights,
            settings,
            rng,
            len(loader),
            forward=forward,
            shard=shard,
        )
        for name, value in stats.items():
            totals[name] = totals.get(name, 0.0) + value
        steps += 1
    if shard.distributed:
        names = list(totals)
        summed = shard.sum([totals[name] for name in names])
        totals = {name: value / shard.world_size for name, value in zip(names, summed, strict=True)}
    means = {name: value / max(steps, 1) for name, value in totals.items()}
    means["steps"] = steps
    return means


@torch.no_grad()
def evaluate(
    model: PrototypeModel, loader: ImageLoader, settings: StepSettings, description: str = "eval"
) -> dict[str, float]:
    """Accuracy and cross-entropy with the hard test-time assignment.

    Returns:
        ``{"accuracy", "cross_entropy", "images"}``.
    """
    model.eval()
    correct, loss_sum, count = 0, 0.0, 0
    for images, labels in progress_bar(loader, description):
        images, labels = to_device(images, settings), labels.to(settings.device)
        with autocast(settings):
            logits = model(images, None).logits.float()
        loss_sum += float(F.cross_entropy(logits, labels, reduction="sum"))
        correct += int((logits.argmax(dim=1) == labels).sum())
        count += labels.shape[0]
    return {
        "accuracy": correct / max(count, 1),
        "cross_entropy": loss_sum / max(count, 1),
        "images": count,
    }
