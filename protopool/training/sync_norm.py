"""Batch norms whose training statistics cover the global batch, on every device kind.

Why synchronise at all: without it each process normalises over its own share of the batch
(the paper's 80 images over 8 GPUs: 10 each), so the number of processes would change the model
a config describes, and the joint phase, which trains the backbone's batch norms, would train
another model than one GPU does. Synchronised, the statistics and their gradients are the
global batch's, as on one device; the cost is a few small all-reduces per batch norm per step,
little beside a ResNet's gradient all-reduce. In eval mode (validation, projection, frozen norms
in fine-tuning) no statistics are computed and nothing is synchronised.

torch's :class:`~torch.nn.SyncBatchNorm` runs on GPUs only; on CPUs (gloo) the same statistics
come from :class:`AllReduceBatchNorm2d`. Both keep :class:`~torch.nn.BatchNorm2d`'s state-dict
keys, so checkpoints load into an unsynchronised model and back.
"""

from __future__ import annotations

from typing import Any, cast

import torch
import torch.distributed as dist
from torch import nn


class _SumOverProcesses(torch.autograd.Function):
    """``sum_r x_r`` on every process; the gradient of each ``x_r`` is the sum of the
    processes' gradients of the result, since every process's loss depends on every ``x_r``."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:
        summed = tensor.clone()
        dist.all_reduce(summed)
        return summed

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        summed = grad.clone()
        dist.all_reduce(summed)
        return summed


def all_reduce(tensor: torch.Tensor) -> torch.Tensor:
    """A differentiable sum over every process."""
    return cast(torch.Tensor, _SumOverProcesses.apply(tensor))


class AllReduceBatchNorm2d(nn.BatchNorm2d):
    """:class:`~torch.nn.BatchNorm2d` with statistics summed over every process (any device).

    Two passes, as a single-device batch norm computes them: the global mean first, then the
    global mean squared deviation from it, which keeps the variance free of the cancellation
    of ``E[x^2] - E[x]^2``. The all-reduces are differentiable, so the gradient through the
    statistics reaches every process's images.
    """

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized()):
            return super().forward(input)
        if dist.get_world_size() == 1:
            return super().forward(input)
        self._check_input_dim(input)
        x = input.float()
        dims = (0, 2, 3)
        shape = (1, -1, 1, 1)
        local_count = torch.tensor([x.numel() / x.shape[1]], device=x.device)
        totals = all_reduce(torch.cat([x.sum(dims), local_count]))
        count = totals[-1].detach()
        mean = totals[:-1] / count
        centred = x - mean.view(shape)
        var = all_reduce((centred * centred).sum(dims)) / count
        if self.track_running_stats and self.running_mean is not None:
            self._update_running_stats(mean.detach(), var.detach(), float(count))
        out = centred * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out.to(input.dtype)

    @torch.no_grad()
    def _update_running_stats(self, mean: torch.Tensor, var: torch.Tensor, count: float) -> None:
        assert self.running_mean is not None and self.running_var is not None
        assert self.num_batches_tracked is not None
        self.num_batches_tracked.add_(1)
        momentum = self.momentum
        if momentum is None:  # a cumulative average, as BatchNorm2d keeps one
            momentum = 1.0 / float(self.num_batches_tracked)
        # Like BatchNorm2d, the running variance is the unbiased estimate.
        unbiased = var * count / max(count - 1.0, 1.0)
        self.running_mean.lerp_(mean.to(self.running_mean.dtype), momentum)
        self.running_var.lerp_(unbiased.to(self.running_var.dtype), momentum)


def _to_all_reduce(module: nn.Module) -> nn.Module:
    if type(module) is not nn.BatchNorm2d:
        for name, child in module.named_children():
            module.add_module(name, _to_all_reduce(child))
        return module
    synced = AllReduceBatchNorm2d(
        module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats
    )
    # The same parameter and buffer objects: trainability and values carry over unchanged.
    if module.affine:
        synced.weight, synced.bias = module.weight, module.bias
    synced.running_mean = module.running_mean
    synced.running_var = module.running_var
    synced.num_batches_tracked = module.num_batches_tracked
    synced.train(module.training)
    return synced


def synchronise_batch_norms(model: nn.Module, device: torch.device) -> nn.Module:
    """Replace the model's batch norms by synchronised ones (in place where possible).

    Args:
        model: Any module; the returned module is ``model`` unless ``model`` is a batch norm.
        device: Where the model runs: CUDA gets torch's SyncBatchNorm, anything else
            :class:`AllReduceBatchNorm2d`.
    """
    if device.type == "cuda":
        # torch leaves this classmethod unannotated.
        convert = nn.SyncBatchNorm.convert_sync_batchnorm
        converted: nn.Module = convert(model)  # type: ignore[no-untyped-call]
        return converted
    return _to_all_reduce(model)


__all__ = ["AllReduceBatchNorm2d", "synchronise_batch_norms"]
