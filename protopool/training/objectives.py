"""What a training step computes for each kind of model: forward pass, loss, after-step work.

The loop and the epoch code in :mod:`protopool.training.engine` call these four functions and
nothing model-specific; ProtoPool's loss terms live in :mod:`protopool.losses`, the tree's
routing, leaf rule and pruning in :mod:`protopool.models.prototree`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from protopool.config import LossConfig
from protopool.losses import Targets, cross_entropy, protopool_loss, weighted_sum
from protopool.models import ProtoPoolOutput, ProtoTree, ProtoTreeOutput, PrototypeModel
from protopool.training.distributed import SINGLE, Shard

Output = ProtoPoolOutput | ProtoTreeOutput

# Training always routes softly through the tree: the other modes have no gradient.
TREE_TRAINING_MODE = "distributed"


def training_forward(
    model: PrototypeModel,
    images: torch.Tensor,
    scale: float | None,
    forward: nn.Module | None = None,
) -> Output:
    """The forward pass a training step differentiates.

    Args:
        model: Either model.
        images: ``(B, 3, S, S)``.
        scale: ProtoPool's Gumbel scale (None: the hard assignment); a tree has none.
        forward: The module to call, ``model`` or its DistributedDataParallel wrapper (whose
            forward arranges the gradient all-reduce); default ``model``.
    """
    call = forward if forward is not None else model
    if isinstance(model, ProtoTree):
        tree_output: ProtoTreeOutput = call(images, TREE_TRAINING_MODE)
        return tree_output
    pool_output: ProtoPoolOutput = call(images, scale)
    return pool_output


def training_loss(
    model: PrototypeModel, output: Output, targets: Targets, weights: LossConfig
) -> tuple[torch.Tensor, dict[str, float]]:
    """ProtoPool's full objective, or the tree's negative log-likelihood of its ``log y``.

    The tree's logits are log class probabilities, so the cross-entropy on them is exactly the
    reference's NLL; ProtoPool's cluster, separation, L1 and orthogonality weights do not apply.
    """
    if isinstance(model, ProtoTree):
        return weighted_sum({"cross_entropy": cross_entropy(output.logits, targets)})
    if not isinstance(output, ProtoPoolOutput):
        raise TypeError("a ProtoPool step needs a ProtoPoolOutput")
    return protopool_loss(output, targets, model, weights)


def begin_epoch(model: PrototypeModel) -> None:
    """Per-epoch set-up: the tree's derivative-free rule decays the leaves as of the epoch start."""
    if isinstance(model, ProtoTree) and model.tree.leaf_update == "derivative_free":
        model.begin_leaf_epoch()


def after_step(
    model: PrototypeModel,
    output: Output,
    targets: Targets,
    batches_in_epoch: int,
    shard: Shard = SINGLE,
) -> None:
    """Work after the optimizer step: the tree's derivative-free leaf update.

    Args:
        model: Either model.
        output: The step's forward output.
        targets: Its labels; the leaf rule counts the images' own labels (mixup is not part
            of the reference's tree training, and its partner labels are left out).
        batches_in_epoch: Batches in the epoch, the rule's decay denominator.
        shard: This process's place. The rule sums over the batch, and leaves are buffers no
            gradient all-reduce reaches, so every process applies it to the whole global batch
            (gathered) and the leaves stay equal everywhere.
    """
    if not isinstance(model, ProtoTree) or model.tree.leaf_update != "derivative_free":
        return
    if not isinstance(output, ProtoTreeOutput):
        raise TypeError("a ProtoTree step needs a ProtoTreeOutput")
    onehot = F.one_hot(targets.primary, model.num_classes)
    # Log space is exact whichever routing the tree uses, and cannot underflow at depth 9.
    model.update_leaves(
        shard.gather_rows(output.log_leaf_probs.detach()),
        shard.gather_rows(onehot),
        shard.gather_rows(output.logits.detach()),
        batches_in_epoch,
        log_space=True,
    )


__all__ = ["Output", "after_step", "begin_epoch", "training_forward", "training_loss"]
