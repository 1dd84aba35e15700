"""A tiny trained run for the inference entry points."""

from __future__ import annotations

from pathlib import Path

import pytest

from protopool.training.runs import train_run
from tests.protopool.fixtures import make_index, tiny_config


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("explain")
    index = make_index(root / "squares")
    run = root / "run"
    train_run(tiny_config(joint_epochs=1), run, index=index, log=lambda *_: None)
    return run
