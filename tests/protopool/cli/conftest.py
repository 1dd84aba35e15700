"""Datasets and trained runs for the verbs' tests; the explanation runs are in the parent
``conftest.py``, shared with the explanation tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from protopool.cli import main
from protopool.data import generate_synthbirds
from protopool.training.runs import train_run
from tests.protopool.fixtures import TINY_CLI, make_index, tiny_config

# The run the naming and interpretability verbs read.
NAMING_TINY = [*TINY_CLI, "model.gumbel_scale_epochs=2", "train.joint_epochs=2"]


@pytest.fixture(scope="module")
def training_birds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SynthBirds for the training verbs: 3 classes x 16 images, 48 px."""
    root = tmp_path_factory.mktemp("synth") / "birds"
    return generate_synthbirds(
        root, classes=3, images_per_class=16, size=48, seed=0, progress=False
    )


@pytest.fixture(scope="module")
def square_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny trained ProtoPool run and one of its 32 px images."""
    root = tmp_path_factory.mktemp("render")
    index = make_index(root / "squares")
    run = root / "run"
    train_run(tiny_config(joint_epochs=1), run, index=index, log=lambda *_: None)
    return run, index.test[0].path


@pytest.fixture(scope="module")
def trained(birds: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ProtoPool trained on ``birds``, whose parts name its prototypes."""
    run = tmp_path_factory.mktemp("runs") / "run"
    assert main(["train", "--data", str(birds), "--out", str(run), *NAMING_TINY]) == 0
    return run
