"""ProtoPool's training objective, one function per term plus their weighted sum.

The cross-entropy with mixup, the targets and :func:`weighted_sum` serve ProtoTree too
(:mod:`protopool.training.objectives`).

Every function returns a scalar tensor; :func:`protopool_loss` returns ``(loss, stats)`` where
``stats`` holds each weighted term as a float, so that a non-finite loss can be traced to its
term.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from protopool.config import LossConfig
from protopool.models.protopool import ProtoPool, ProtoPoolOutput


class NonFiniteLossError(ValueError):
    """A loss term became NaN or infinite; the message names the term."""


class Targets(NamedTuple):
    """Labels for a (possibly mixup) batch.

    Attributes:
        primary: Labels of the images as loaded ``(B,)``.
        partner: Labels of the mixed-in images ``(B,)`` (equal to ``primary`` without mixup).
        lam: Weight of ``primary`` in the mix.
    """

    primary: torch.Tensor
    partner: torch.Tensor
    lam: float


def plain_targets(labels: torch.Tensor) -> Targets:
    return Targets(labels, labels, 1.0)


def mixup(
    images: torch.Tensor, labels: torch.Tensor, alpha: float, rng: np.random.Generator
) -> tuple[torch.Tensor, Targets]:
    """Mix each image with a random partner, ``lam ~ Beta(alpha, alpha)``.

    Args:
        images: ``(B, 3, S, S)``.
        labels: ``(B,)``.
        alpha: Beta parameter.
        rng: Source of ``lam`` (kept apart from torch's generator for reproducibility).
    """
    lam = float(rng.beta(alpha, alpha))
    order = torch.randperm(images.shape[0], device=images.device)
    mixed = lam * images + (1 - lam) * images[order]
    return mixed, Targets(labels, labels[order], lam)


def cross_entropy(logits: torch.Tensor, targets: Targets) -> torch.Tensor:
    """Mixup cross-entropy ``lam * CE(y_a) + (1 - lam) * CE(y_b)`` for logits ``(B, C)``."""
    loss = F.cross_entropy(logits, targets.primary)
    if targets.lam == 1.0:
        return loss
    return targets.lam * loss + (1 - targets.lam) * F.cross_entropy(logits, targets.partner)


def class_prototype_mask(slot_probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The K prototypes each image's class relies on most ``(B, P)`` bool.

    Args:
        slot_probs: ``(C, P, K)``.
        labels: ``(B,)``.
    """
    usage = slot_probs.detach()[labels].sum(dim=2)
    top = usage.topk(slot_probs.shape[2], dim=1).indices
    return torch.zeros_like(usage, dtype=torch.bool).scatter_(1, top, True)


def cluster_and_separation(
    min_distances: torch.Tensor, slot_probs: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean over images of the distance to the nearest own-class and other-class prototype.

    Args:
        min_distances: ``(B, P)``.
        slot_probs: ``(C, P, K)``.
        labels: ``(B,)``.
    """
    own = class_prototype_mask(slot_probs, labels)
    inf = torch.finfo(min_distances.dtype).max
    cluster = min_distances.masked_fill(~own, inf).amin(dim=1).mean()
    if bool(own.all()):
        return cluster, min_distances.new_zeros(())
    separation = min_distances.masked_fill(own, inf).amin(dim=1).mean()
    return cluster, separation


def off_class_l1(model: ProtoPool) -> torch.Tensor:
    """L1 norm of the last layer's weights that connect a class to other classes' slots."""
    return (model.last_layer.weight * (1 - model.class_identity)).abs().sum()


def slot_orthogonality(slot_probs: torch.Tensor) -> torch.Tensor:
    """Eq. (2): sum over slot pairs i < j of cos(q_i, q_j), averaged over classes.

    Zero exactly when no two slots of a class put mass on the same prototype.

    Args:
        slot_probs: Slot distributions ``(C, P, K)``.
    """
    unit = F.normalize(slot_probs, dim=1)
    cosines = torch.einsum("cpi,cpj->cij", unit, unit)
    upper = torch.triu(torch.ones_like(cosines[0], dtype=torch.bool), diagonal=1)
    return cosines[:, upper].sum(dim=1).mean()


def raw_logit_orthogonality(slot_logits: torch.Tensor) -> torch.Tensor:
    """The official code's variant: mean cosine of the raw slot logits, diagonal removed.

    ``sum_c sum_{i,j} cos(theta_ci, theta_cj) / (K * C) - 1``; can be negative.

    Args:
        slot_logits: ``(C, P, K)``.
    """
    unit = F.normalize(slot_logits, dim=1)
    cosines = torch.einsum("cpi,cpj->cij", unit, unit)
    classes, _, slots = slot_logits.shape
    return cosines.sum() / (slots * classes) - 1


def orthogonality(output: ProtoPoolOutput, model: ProtoPool, variant: str) -> torch.Tensor:
    """The orthogonality term of ``loss.orthogonality_on`` (see :class:`LossConfig`)."""
    if variant == "raw_logits":
        return raw_logit_orthogonality(model.slot_logits)
    if variant == "gumbel_samples":
        return slot_orthogonality(output.slot_probs)
    if variant == "slot_distributions":
        return slot_orthogonality(model.slot_logits.softmax(dim=1))
    # Eq. (2) on the vectors q the paper's Gumbel-softmax takes, the slot logits (the Gumbel
    # scale drops out of a cosine). Neither probability form trains: softmax(theta) of
    # near-zero logits is close to uniform, so every pair's cosine is near 1 whatever its
    # winners and the gradient is ~1/P of classification's; at the Gumbel scale the slots are
    # one-hot from the first epoch and a pair that shares a winner has no gradient at all.
    return slot_orthogonality(model.slot_logits)


def protopool_loss(
    output: ProtoPoolOutput,
    targets: Targets,
    model: ProtoPool,
    weights: LossConfig,
) -> tuple[torch.Tensor, dict[str, float]]:
    """``CE + w_c * cluster - w_s * separation + w_l1 * L1 + w_o * orthogonality``.

    Terms with weight 0 are skipped entirely.

    Args:
        output: The model's output for the batch.
        targets: Its (mixup) labels.
        model: The model (last layer and slot logits).
        weights: Loss weights and variants.

    Returns:
        ``(loss, stats)``; stats hold each weighted term and ``loss``.

    Raises:
        NonFiniteLossError: Some term is NaN or infinite.
    """
    terms: dict[str, torch.Tensor] = {}
    if weights.cross_entropy:
        terms["cross_entropy"] = weights.cross_entropy * cross_entropy(output.logits, targets)
    if weights.cluster or weights.separation:
        cluster, separation = cluster_and_separation(
            output.min_distances, output.slot_probs, targets.primary
        )
        # A zero weight times an infinite distance would be NaN and blame the wrong term.
        if weights.cluster:
            terms["cluster"] = weights.cluster * cluster
        if weights.separation:
            terms["separation"] = -weights.separation * separation
    if weights.l1:
        terms["l1"] = weights.l1 * off_class_l1(model)
    if weights.orthogonality:
        terms["orthogonality"] = weights.orthogonality * orthogonality(
            output, model, weights.orthogonality_on
        )
    return weighted_sum(terms)


def weighted_sum(terms: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    """Add already weighted loss terms; stats hold each term and the sum as floats.

    Raises:
        NonFiniteLossError: Some term is NaN or infinite; the message names it.
    """
    loss = torch.stack(list(terms.values())).sum()
    stats = {name: float(value.detach()) for name, value in terms.items()}
    stats["loss"] = float(loss.detach())
    if not math.isfinite(stats["loss"]):
        bad = [name for name in terms if not math.isfinite(stats[name])] or ["loss (sum)"]
        raise NonFiniteLossError(
            f"training stopped: non-finite loss in term(s) {', '.join(bad)}; "
            "lower train.lr or check the input data"
        )
    return loss, stats
