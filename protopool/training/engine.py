"""One training step, one epoch, one evaluation: the pieces every phase reuses."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from protopool.config import LossConfig
from protopool.execution import StepSettings, autocast, to_device
from protopool.losses import Targets, mixup, plain_targets
from protopool.models import PrototypeModel
from protopool.training.augment import augment_batch
from protopool.training.data import ImageLoader
from protopool.training.objectives import after_step, begin_epoch, training_forward, training_loss

# What a loader yields once its items are collated: images (B, 3, S, S) and labels (B,).
Batch = tuple[torch.Tensor, torch.Tensor]


def progress_bar(loader: ImageLoader, description: str) -> Iterator[Batch]:
    """A progress bar on a terminal, a plain iterator otherwise (logs stay clean)."""
    bar: Iterator[Batch] = tqdm(
        loader, desc=description, leave=False, disable=not sys.stderr.isatty()
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
) -> dict[str, float]:
    """Forward, loss, backward and update on one batch; returns the loss stats.

    Args:
        batches_in_epoch: Batches in the epoch (the tree's leaf rule decays by it).
    """
    images, labels = to_device(images, settings), labels.to(settings.device, non_blocking=True)
    if settings.augment:
        images = augment_batch(images)
    targets: Targets = plain_targets(labels)
    if settings.mixup_alpha is not None:
        images, targets = mixup(images, labels, settings.mixup_alpha, rng)
    with autocast(settings):
        output = training_forward(model, images, scale)
    loss, stats = training_loss(model, output, targets, weights)
    optimizer.zero_grad(set_to_none=True)
    torch.autograd.backward(loss)
    optimizer.step()
    after_step(model, output, targets, batches_in_epoch)
    return stats


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
) -> dict[str, float]:
    """Run one pass over ``loader``.

    Args:
        scale: Gumbel scale for this epoch, or None to train with the hard assignment.
        frozen_norms_eval: See :func:`set_train_mode`.

    Returns:
        Mean of every loss stat over the epoch, plus ``steps``.

    Raises:
        NonFiniteLossError: From the loss, naming the term that diverged.
    """
    set_train_mode(model, frozen_norms_eval)
    begin_epoch(model)
    totals: dict[str, float] = {}
    steps = 0
    for images, labels in progress_bar(loader, description):
        stats = train_step(
            model, images, labels, optimizer, scale, weights, settings, rng, len(loader)
        )
        for name, value in stats.items():
            totals[name] = totals.get(name, 0.0) + value
        steps += 1
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
