"""What every explanation needs from a run: checked indices, provenance, who uses a prototype.

All user errors raise :class:`ExplanationError` (a ``ValueError``, so the CLI exits with
status 2) with a message that says how to fix the call.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import torch

from protopool.data.base import Sample
from protopool.execution import StepSettings
from protopool.inference.maps import Box, PairMap, maps_for_pairs, percentile_box, prototree_box
from protopool.inference.runs import Run, prototype_provenance
from protopool.models import ProtoPool, ProtoTree
from protopool.rundir import RunDirError, RunPaths
from protopool.seed import resolve_device


class ExplanationError(ValueError):
    """An explanation asked for something the run does not have; the message says what to do."""


def require_pool(run: Run, what: str) -> ProtoPool:
    """The run's ProtoPool model.

    Args:
        run: A loaded run.
        what: The explanation asked for, for the message.

    Raises:
        ExplanationError: The run is a ProtoTree, which has no slots.
    """
    if not isinstance(run.model, ProtoPool):
        raise ExplanationError(
            f"{what} needs a ProtoPool run (it is read from the class slots), but this run is a "
            "ProtoTree, which has no slots; use `protopool explain`, `protopool class` or "
            "`protopool gallery` for trees"
        )
    return run.model


def class_index(run: Run, name: str) -> int:
    """The label of a class given by its name (or by its 0-based index written as digits).

    Raises:
        ExplanationError: No class has that name; the message lists the closest names.
    """
    if name in run.class_names:
        return run.class_names.index(name)
    if name.isdigit() and int(name) < len(run.class_names):
        return int(name)
    close = difflib.get_close_matches(name, run.class_names, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ExplanationError(
        f"unknown class {name!r}: the run has {len(run.class_names)} classes "
        f"(see class_names.json){hint}"
    )


def check_prototype(run: Run, prototype: int) -> int:
    """``prototype`` if it is an index into the run's pool.

    Raises:
        ExplanationError: The index lies outside the pool.
    """
    count = run.model.num_prototypes
    if not 0 <= prototype < count:
        raise ExplanationError(
            f"prototype {prototype} does not exist: the run has {count} prototypes "
            f"(0 to {count - 1})"
        )
    return prototype


def provenance_by_prototype(run_dir: str | Path) -> dict[int, dict[str, Any]]:
    """Projection records by pool index; empty when the run was never projected."""
    if not RunPaths(run_dir).projection.is_file():
        return {}
    try:
        records = prototype_provenance(run_dir)
    except (RunDirError, KeyError, TypeError):
        return {}
    return {int(record["prototype"]): record for record in records}


@torch.no_grad()
def users(run: Run) -> list[list[int]]:
    """For each prototype, the classes using it: a ProtoPool's slots, or for a ProtoTree the
    top classes of the leaves below the prototype's node."""
    matrix = run.model.prototype_classes().cpu()
    return [torch.nonzero(matrix[:, p]).flatten().tolist() for p in range(matrix.shape[1])]


def original_index(run: Run, prototype: int) -> int:
    """The prototype's index in the pool as first built (its heap node for a ProtoTree)."""
    return int(run.model.prototype_ids[prototype])


def step_settings(run: Run) -> StepSettings:
    """How to run the model for pictures: on its own device, with the run's bf16 autocast on
    CUDA (so maps match what evaluation and projection saw), in fp32 on a CPU."""
    device = run.model.prototypes.device
    return StepSettings(device, run.config.train.amp if device.type == "cuda" else "none")


def device_for(name: str | None) -> torch.device:
    """The device a ``--device`` value names (``auto`` when None)."""
    return resolve_device(name or "auto")


def source_maps(
    run: Run, prototypes: list[int], records: dict[int, dict[str, Any]], settings: StepSettings
) -> dict[int, PairMap]:
    """Each prototype's map on the training image it was projected onto, batched per image.

    Prototypes without a recorded source image are left out.
    """
    pairs = [
        (p, str(records[p]["image_path"]), records[p].get("crop_box"))
        for p in dict.fromkeys(prototypes)
        if records.get(p, {}).get("image_path")
    ]
    found = maps_for_pairs(run.model, pairs, run.config.data, settings)
    return {pair.prototype: pair for pair in found}


def sample_crop(run: Run, sample: Sample) -> tuple[float, float, float, float] | None:
    """The ``(x, y, width, height)`` box the run's data pipeline crops a sample to, if any."""
    box = sample.bbox
    if not run.config.data.crop_to_bbox or box is None:
        return None
    return (box.x, box.y, box.width, box.height)


def pair_box(run: Run, pair: PairMap) -> Box:
    """The high-activation box of a map by the run's own model's rule: ProtoTree's arg-max mask
    for a tree, ProtoPNet's 95th percentile otherwise."""
    if isinstance(run.model, ProtoTree):
        return prototree_box(pair.latent, pair.prepared)
    return percentile_box(pair.activation)


__all__ = [
    "ExplanationError",
    "check_prototype",
    "class_index",
    "device_for",
    "original_index",
    "pair_box",
    "provenance_by_prototype",
    "require_pool",
    "sample_crop",
    "source_maps",
    "step_settings",
    "users",
]
