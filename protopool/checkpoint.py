"""Checkpoints: model, optimizer, progress, resolved config and class names in one file.

Only tensors and plain Python values are stored, so files load with ``weights_only=True``.
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from protopool.config import Config, config_from_dict
from protopool.models import PrototypeModel, build_model
from protopool.rundir import write_atomic

FORMAT_VERSION = 2


class CheckpointError(ValueError):
    """A checkpoint is unreadable or belongs to another configuration or dataset."""


@dataclass
class Progress:
    """Where training stands, enough to resume exactly.

    Attributes:
        phase: Index of the phase in progress.
        phase_epoch: Epochs completed in that phase.
        global_epoch: Training epochs completed with a learnable assignment (Gumbel schedule).
        best_accuracy: Best validation accuracy in the current selection stage.
        best_loss: Validation cross-entropy of that model (breaks accuracy ties).
        stale_epochs: Epochs since the validation accuracy last improved.
        lr_scale: Accumulated plateau decay of the learning rates.
        phases: Names of the run's phases, so a resume with another phase list is refused.
        metrics_lines: Lines of ``metrics.jsonl`` written when the checkpoint was saved.
        numpy_rng: State of the run's numpy generator (mixup draws).
    """

    phase: int = 0
    phase_epoch: int = 0
    global_epoch: int = 0
    best_accuracy: float = -1.0
    best_loss: float = float("inf")
    stale_epochs: int = 0
    lr_scale: float = 1.0
    phases: list[str] = field(default_factory=list)
    metrics_lines: int = 0
    numpy_rng: dict[str, Any] = field(default_factory=dict)


@dataclass
class Checkpoint:
    model_state: dict[str, torch.Tensor]
    config: Config
    class_names: list[str]
    progress: Progress
    optimizer_state: dict[str, Any] | None = None
    scheduler_state: dict[str, Any] | None = None
    rng_state: dict[str, Any] | None = None


def save_checkpoint(
    path: Path,
    model: PrototypeModel,
    config: Config,
    class_names: list[str],
    progress: Progress,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
) -> None:
    payload = {
        "format_version": FORMAT_VERSION,
        "model_state": model.state_dict(),
        "config": config.to_dict(),
        "class_names": list(class_names),
        "progress": asdict(progress),
        "optimizer_state": optimizer.state_dict() if optimizer is not None else None,
        "scheduler_state": scheduler.state_dict() if scheduler is not None else None,
        "rng_state": {"torch": torch.get_rng_state()},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_atomic(path, lambda file: file.write(buffer.getvalue()))


def read_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint file without building a model."""
    if not Path(path).is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt files raise anything from EOFError to RuntimeError
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} is not a protopool checkpoint of format {FORMAT_VERSION}; checkpoints of "
            "older versions cannot be resumed: retrain the run with --overwrite"
        )
    return Checkpoint(
        model_state=payload["model_state"],
        config=config_from_dict(payload["config"]),
        class_names=payload["class_names"],
        progress=Progress(**payload["progress"]),
        optimizer_state=payload.get("optimizer_state"),
        scheduler_state=payload.get("scheduler_state"),
        rng_state=payload.get("rng_state"),
    )


def _differences(stored: dict[str, Any], current: dict[str, Any], prefix: str) -> list[str]:
    return [
        f"{prefix}.{key}: checkpoint {stored.get(key)!r} vs config {current.get(key)!r}"
        for key in sorted(set(stored) | set(current))
        if stored.get(key) != current.get(key)
    ]


def check_compatible(checkpoint: Checkpoint, config: Config, class_names: list[str]) -> None:
    """Refuse a checkpoint whose architecture or classes differ from this run's.

    Raises:
        CheckpointError: Listing every differing model field, or the class mismatch.
    """
    stored = checkpoint.config.to_dict()
    current = config.to_dict()
    # Weights only matter when building from scratch; a trained checkpoint supersedes them.
    stored["model"].pop("weights", None)
    current["model"].pop("weights", None)
    diffs = _differences(stored["model"], current["model"], "model")
    if current["model"]["kind"] == "prototree":
        # The tree's shape and routing; a checkpoint from before the tree section has none.
        diffs += _differences(stored.get("tree", {}), current["tree"], "tree")
    if stored["data"]["image_size"] != current["data"]["image_size"]:
        diffs.append("data.image_size differs")
    if diffs:
        raise CheckpointError(
            "checkpoint comes from another configuration: "
            + "; ".join(diffs)
            + ". Use the run's own config.yaml or start a new run directory."
        )
    if list(checkpoint.class_names) != list(class_names):
        raise CheckpointError(
            f"checkpoint was trained on {len(checkpoint.class_names)} other classes "
            f"(first: {checkpoint.class_names[:3]}); point --data at the same dataset"
        )


def model_from_checkpoint(checkpoint: Checkpoint, device: torch.device) -> PrototypeModel:
    """Rebuild the model, pruned pool included, without touching any weights file."""
    config = checkpoint.config
    # The backbone's pretrained weights are overwritten by the state dict anyway.
    model_config = dataclasses.replace(config.model, weights="none")
    model = build_model(
        dataclasses.replace(config, model=model_config), len(checkpoint.class_names)
    )
    model.resize_pool(checkpoint.model_state["prototypes"].shape[0])
    model.load_state_dict(checkpoint.model_state)
    model.config = config.model
    return model.to(device)
