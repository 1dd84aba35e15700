"""Checkpoints round-trip and refuse foreign configurations."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from protopool.checkpoint import (
    CheckpointError,
    Progress,
    check_compatible,
    model_from_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from protopool.config import Config
from protopool.models import build_model
from protopool.training.phases import build_phases, make_optimizer

NAMES = ["red", "green", "blue"]


def test_round_trip_restores_model_optimizer_progress(config: Config, tmp_path: Path) -> None:
    model = build_model(config, 3)
    model.keep_prototypes(torch.tensor([0, 2, 5]))  # a pruned pool must come back pruned
    optimizer = make_optimizer(model, build_phases(config)[0], 1e-3)
    path = tmp_path / "c.pt"
    save_checkpoint(path, model, config, NAMES, Progress(phase=1, phase_epoch=2), optimizer)

    checkpoint = read_checkpoint(path)
    restored = model_from_checkpoint(checkpoint, torch.device("cpu"))

    assert checkpoint.config == config and checkpoint.class_names == NAMES
    assert checkpoint.progress.phase_epoch == 2
    assert checkpoint.optimizer_state is not None
    restored_state = restored.state_dict()
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, restored_state[name]), name
    images = torch.randn(2, 3, 32, 32)
    assert torch.allclose(model.eval()(images).logits, restored.eval()(images).logits)


def test_checkpoint_from_another_config_is_refused(config: Config, tmp_path: Path) -> None:
    path = tmp_path / "c.pt"
    save_checkpoint(path, build_model(config, 3), config, NAMES, Progress())
    other = dataclasses.replace(config, model=dataclasses.replace(config.model, num_prototypes=9))
    with pytest.raises(CheckpointError, match="model.num_prototypes: checkpoint 6 vs config 9"):
        check_compatible(read_checkpoint(path), other, NAMES)
    with pytest.raises(CheckpointError, match="same dataset"):
        check_compatible(read_checkpoint(path), config, ["a", "b", "c"])


def test_garbage_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        read_checkpoint(path)
    with pytest.raises(CheckpointError, match="not found"):
        read_checkpoint(tmp_path / "missing.pt")


def test_atomic_writes_get_the_mode_a_plain_open_would(tmp_path) -> None:
    import os

    from protopool.rundir import write_text

    write_text(tmp_path / "a.txt", "x")
    (tmp_path / "b.txt").write_text("x")
    assert os.stat(tmp_path / "a.txt").st_mode == os.stat(tmp_path / "b.txt").st_mode
