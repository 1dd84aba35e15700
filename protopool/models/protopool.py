"""ProtoPool: a shared pool of prototypes assigned to per-class slots (Rymarczyk et al., 2022).

Shapes: B images, C classes, K slots per class, P prototypes in the pool, D prototype depth,
H x W the latent map.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from protopool import similarity as similarities
from protopool.backbones import build_backbone
from protopool.config import ModelConfig
from protopool.models.base import PrototypeNetwork

HARD_THRESHOLD = 0.5


class ProtoPoolOutput(NamedTuple):
    """What :meth:`ProtoPool.forward` returns.

    Attributes:
        logits: Class scores ``(B, C)``.
        min_distances: Smallest squared distance of each prototype to the image ``(B, P)``.
        slot_probs: Slot distributions over the pool used for this pass ``(C, P, K)``.
        distances: Squared distances at every location ``(B, P, H, W)``.
    """

    logits: torch.Tensor
    min_distances: torch.Tensor
    slot_probs: torch.Tensor
    distances: torch.Tensor


class ProtoPool(PrototypeNetwork):
    """Backbone, 1x1 add-on with sigmoid, prototype pool, slots and a positive last layer.

    Args:
        config: Architecture settings.
        num_classes: Number of classes C.
        image_size: Side of the square inputs the model accepts.
    """

    class_identity: torch.Tensor
    prototype_ids: torch.Tensor

    def __init__(self, config: ModelConfig, num_classes: int, image_size: int) -> None:
        super().__init__()
        self.config = config
        self.num_classes = num_classes
        self.image_size = image_size
        self.slots_per_class = config.slots_per_class
        self.similarity = similarities.get(config.similarity)
        self.features, channels = build_backbone(config.backbone, config.weights)
        depth = config.prototype_depth
        projection = nn.Conv2d(channels, depth, kernel_size=1)
        nn.init.kaiming_normal_(projection.weight, mode="fan_out", nonlinearity="relu")
        if projection.bias is not None:
            nn.init.zeros_(projection.bias)
        self.add_on = nn.Sequential(projection, nn.Sigmoid())
        # Uniform in [0, 1) matches the sigmoid range of the latent patches.
        self.prototypes = nn.Parameter(torch.rand(config.num_prototypes, depth))
        self.slot_logits = nn.Parameter(
            torch.empty(num_classes, config.num_prototypes, config.slots_per_class)
        )
        nn.init.xavier_normal_(self.slot_logits)
        self.last_layer = nn.Linear(num_classes * config.slots_per_class, num_classes, bias=False)
        identity = self._class_identity()
        self.register_buffer("class_identity", identity, persistent=False)
        self.last_layer.weight.data.copy_(identity)
        # Original pool index of each prototype, so provenance survives pruning.
        self.register_buffer("prototype_ids", torch.arange(config.num_prototypes))

    def _class_identity(self) -> torch.Tensor:
        """``(C, C*K)`` with 1 where slot column j belongs to class c (j // K == c)."""
        columns = torch.arange(self.num_classes * self.slots_per_class) // self.slots_per_class
        return (columns.unsqueeze(0) == torch.arange(self.num_classes).unsqueeze(1)).float()

    # --- slot distributions -------------------------------------------------------------------

    def slot_distributions(self, scale: float | None) -> torch.Tensor:
        """Slot distributions over the pool ``(C, P, K)``.

        Args:
            scale: Gumbel logit scale for a training pass, or None for the hard test-time
                assignment. Ignored by the softmax ablation while training.
        """
        if scale is None:
            return self.hard_slots()
        if self.config.assignment == "softmax":
            return F.softmax(self.slot_logits, dim=1)
        return F.gumbel_softmax(self.slot_logits * scale, tau=self.config.gumbel_tau, dim=1)

    def noise_free_slots(self) -> torch.Tensor:
        """The distributions training converges to, without Gumbel noise ``(C, P, K)``."""
        if self.config.assignment == "softmax":
            return F.softmax(self.slot_logits, dim=1)
        scale = self.config.gumbel_scale_max / self.config.gumbel_tau
        return F.softmax(self.slot_logits * scale, dim=1)

    @torch.no_grad()
    def hard_slots(self) -> torch.Tensor:
        """Test-time one-hot assignment ``(C, P, K)``; a thresholded slot may be all zero."""
        if self.config.test_time_assignment == "argmax":
            winners = self.slot_logits.argmax(dim=1)
            return F.one_hot(winners, self.num_prototypes).permute(0, 2, 1).float()
        return (self.noise_free_slots() > HARD_THRESHOLD).float()

    def slot_prototypes(self) -> torch.Tensor:
        """Index of the most likely prototype in every slot ``(C, K)``."""
        return self.slot_logits.argmax(dim=1)

    def prototype_classes(self) -> torch.Tensor:
        """Which classes use each prototype under the hard assignment ``(C, P)`` bool."""
        return self.hard_slots().amax(dim=2) > 0

    # --- forward ------------------------------------------------------------------------------

    def forward(self, images: torch.Tensor, scale: float | None = None) -> ProtoPoolOutput:
        """Classify images.

        Args:
            images: Normalised images ``(B, 3, S, S)``.
            scale: Gumbel logit scale (training), or None for the hard test-time assignment.
        """
        sq_dist = self.distances(images)
        with torch.autocast(device_type=sq_dist.device.type, enabled=False):
            slots = self.slot_distributions(scale)
            min_dist = sq_dist.flatten(2).amin(dim=2)
            if self.config.slot_mixing == "similarities":
                slot_scores = torch.einsum("bp,cpk->bck", self.similarity.score(sq_dist), slots)
            else:
                mean_dist = sq_dist.flatten(2).mean(dim=2)
                slot_scores = self.similarity.score_from_pooled_distances(
                    torch.einsum("bp,cpk->bck", min_dist, slots),
                    torch.einsum("bp,cpk->bck", mean_dist, slots),
                )
            logits = self.last_layer(slot_scores.flatten(1))
        return ProtoPoolOutput(logits, min_dist, slots, sq_dist)

    # --- pool surgery -------------------------------------------------------------------------

    @torch.no_grad()
    def keep_prototypes(self, keep: torch.Tensor) -> None:
        """Shrink the pool to the prototypes at indices ``keep`` (in their order).

        Used to prune prototypes no slot uses after projection, and to rebuild a pruned
        model before loading its state dict. Optimizers must be rebuilt afterwards.
        """
        keep = keep.to(self.prototypes.device)
        self.prototypes = nn.Parameter(self.prototypes[keep].clone())
        self.slot_logits = nn.Parameter(self.slot_logits[:, keep].clone())
        self.prototype_ids = self.prototype_ids[keep].clone()

    def resize_pool(self, size: int) -> None:
        """Give the pool ``size`` prototypes so a pruned checkpoint's tensors fit."""
        if size != self.num_prototypes:
            self.keep_prototypes(torch.arange(size) % self.num_prototypes)


def gumbel_scale(epoch: int, config: ModelConfig) -> float:
    """The paper's schedule: ``max * sqrt(epoch / epochs)``, capped at ``max``.

    The official code writes it as ``1.3 * sqrt(alpha * e)`` with
    ``alpha = (max / 1.3)^2 / epochs``; the start value cancels out.

    Args:
        epoch: 1-based count of training epochs with a learnable assignment.
    """
    fraction = min(1.0, max(epoch, 0) / max(config.gumbel_scale_epochs, 1))
    return config.gumbel_scale_max * math.sqrt(fraction)
