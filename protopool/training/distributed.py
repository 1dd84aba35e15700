"""Training on several processes with ``torchrun``: one process per device, one global batch.

``torchrun --nproc-per-node N -m protopool train ...`` starts N copies of the command; each
reads its place (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``) from the environment, and
:func:`launch` joins them in one process group (NCCL on GPUs, gloo on CPUs). ``data.batch_size``
stays the global batch: every process takes ``batch_size / N`` images of each step's batch, and
DistributedDataParallel averages the gradients, so a step sees the batch one process would.

Every process seeds the same generators and draws the same random numbers: draws that depend on
the batch (augmentation warps, mixup's permutation) are made for the whole global batch and each
process keeps its own rows, so the Gumbel noise, the warps and the mixup weight of a step are the
ones a single process draws. Only process 0 writes the run directory, logs, shows progress bars
and projects; the others wait at a barrier and then read what it wrote.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from protopool.config import ConfigError
from protopool.seed import resolve_device

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    """This process's place among the training processes; ``Shard()`` is a lone process.

    Attributes:
        rank: Index of this process among all of them.
        world_size: Number of processes.
        local_rank: Index among the processes on this machine (picks the GPU).
        local_world_size: Processes on this machine (they share its CPU cores).
        device: Where this process computes, and where its collectives' tensors live.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    device: torch.device | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def _tensor_device(self) -> torch.device:
        return self.device if self.device is not None else torch.device("cpu")

    def barrier(self) -> None:
        """Wait until every process gets here (nothing to wait for when alone)."""
        if not self.distributed:
            return
        if self._tensor_device().type == "cuda":
            dist.barrier(device_ids=[self._tensor_device().index or 0])
        else:
            dist.barrier()

    def sum(self, values: Sequence[float]) -> list[float]:
        """Element-wise sums over every process, in float64."""
        if not self.distributed:
            return list(values)
        tensor = torch.tensor(list(values), dtype=torch.float64, device=self._tensor_device())
        dist.all_reduce(tensor)
        return [float(value) for value in tensor.cpu()]

    def broadcast(self, value: T) -> T:
        """Process 0's ``value``, on every process (any picklable value)."""
        if not self.distributed:
            return value
        box: list[Any] = [value]
        dist.broadcast_object_list(box, src=0, device=self._tensor_device())
        return cast(T, box[0])

    def gather_rows(self, tensor: torch.Tensor) -> torch.Tensor:
        """Every process's ``tensor`` ``(b, ...)`` concatenated in rank order ``(N * b, ...)``."""
        if not self.distributed:
            return tensor
        parts = [torch.empty_like(tensor) for _ in range(self.world_size)]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts)

    def rows(self, tensor: torch.Tensor) -> torch.Tensor:
        """This process's rows of a tensor drawn for the whole global batch.

        The training sampler deals a global batch out like cards (see
        :class:`protopool.training.data.DistributedRepeatedShuffle`), so row ``j`` of this
        process's batch is row ``rank + j * world_size`` of the global one.
        """
        return tensor[self.rank :: self.world_size]

    def per_process_batch(self, global_batch: int) -> int:
        """This process's share of a global training batch.

        Raises:
            ConfigError: The batch does not split evenly, naming the batches that would.
        """
        if global_batch % self.world_size:
            lower = global_batch - global_batch % self.world_size
            upper = lower + self.world_size
            shown = f"{lower} or {upper}" if lower else str(upper)
            raise ConfigError(
                f"data.batch_size={global_batch} is the global batch, split evenly over the "
                f"{self.world_size} training processes, and {global_batch} is not divisible by "
                f"{self.world_size}: set data.batch_size={shown}, or start a number of "
                "processes that divides it (torchrun --nproc-per-node)"
            )
        return global_batch // self.world_size

    def loader_workers(self, requested: int) -> int:
        """Data-loading workers per process: the machine's cores are shared by its processes."""
        cores = max((os.cpu_count() or 1) // self.local_world_size, 1)
        return min(requested, cores)

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module a training step calls: DistributedDataParallel, or the model when alone.

        Built once per phase, after the phase has chosen which parameters train: DDP registers
        the trainable parameters when it is built, and it broadcasts process 0's parameters and
        buffers then, so every phase starts from one model.
        """
        if not self.distributed:
            return model
        device = self._tensor_device()
        ids = [device.index or 0] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def sync_rng(self, rng: np.random.Generator) -> None:
        """Give every process process 0's torch and numpy generator states.

        Projection and the final evaluation run on process 0 alone; this keeps the processes'
        draws identical whatever those consumed.
        """
        if not self.distributed:
            return
        device = self._tensor_device()
        cuda_state = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
        torch_state, numpy_state, cuda_state = self.broadcast(
            (torch.get_rng_state(), dict(rng.bit_generator.state), cuda_state)
        )
        torch.set_rng_state(torch_state)
        rng.bit_generator.state = numpy_state
        if cuda_state is not None:
            torch.cuda.set_rng_state(cuda_state, device)


SINGLE = Shard()
"""A lone training process."""


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        raise ConfigError(f"environment variable {name}={value!r} is not an integer") from None


def _process_device(device_name: str, local_rank: int, world_size: int) -> torch.device:
    device = resolve_device(device_name)
    if device.type != "cuda":
        return device
    if str(device) != "cuda":  # cuda:N
        raise ConfigError(
            f"train.device={device_name} names one GPU, but {world_size} training processes "
            "each take the GPU of their local rank: set train.device=cuda or auto"
        )
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise ConfigError(
            f"process {local_rank} on this machine has no GPU of its own ({count} visible): "
            f"start at most {count} processes per machine (torchrun --nproc-per-node)"
        )
    return torch.device("cuda", local_rank)


@contextlib.contextmanager
def launch(device_name: str) -> Iterator[Shard]:
    """Join the process group ``torchrun`` set up, for the duration of the block.

    Without ``torchrun`` (no ``WORLD_SIZE``, or 1) nothing is joined and the shard is
    :data:`SINGLE` (the caller resolves ``device_name`` as for any run).

    Args:
        device_name: ``train.device``; ``cuda`` or ``auto`` give each process the GPU of its
            local rank, ``cpu`` runs every process on the CPU (gloo).

    Raises:
        ConfigError: A device this many processes cannot share.
    """
    world_size = _env_int("WORLD_SIZE", 1)
    if world_size <= 1:
        yield SINGLE
        return
    rank, local_rank = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    device = _process_device(device_name, local_rank, world_size)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, rank=rank, world_size=world_size)
    try:
        yield Shard(
            rank=rank,
            world_size=world_size,
            local_rank=local_rank,
            local_world_size=_env_int("LOCAL_WORLD_SIZE", world_size),
            device=device,
        )
    finally:
        dist.destroy_process_group()


__all__ = ["SINGLE", "Shard", "launch"]
