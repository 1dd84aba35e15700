"""Real trained runs for the study app's tests: tiny SynthBirds models, trained once a session.

Import the fixtures into a test module (``from tests.surveys.runs import synth_data, pool_run``)
or use them through ``tests/surveys/conftest.py``, which re-exports them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from protopool.cli import main
from protopool.data import generate_synthbirds
from tests.protopool.conftest import TINY_CLI

TINY_TRAIN = [*TINY_CLI, "model.gumbel_scale_epochs=2", "train.joint_epochs=2"]


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SynthBirds, 3 classes x 12 images of 48 px, with parts and attributes (CUB format)."""
    root = tmp_path_factory.mktemp("synth") / "birds"
    return generate_synthbirds(root, classes=3, images_per_class=12, size=48, seed=0,
                               progress=False)  # fmt: skip


def train_tiny(data: Path, out: Path, *overrides: str) -> Path:
    assert main(["train", "--data", str(data), "--out", str(out), *TINY_TRAIN, *overrides]) == 0
    return out


@pytest.fixture(scope="session")
def pool_run(synth_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished ProtoPool (focal similarity) run on :func:`synth_data`."""
    return train_tiny(synth_data, tmp_path_factory.mktemp("runs") / "focal")


@pytest.fixture(scope="session")
def protopnet_run(synth_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished ProtoPool run with ProtoPNet's similarity on :func:`synth_data`."""
    return train_tiny(synth_data, tmp_path_factory.mktemp("runs") / "protopnet",
                      "model.similarity=protopnet")  # fmt: skip


@pytest.fixture(scope="session")
def tree_run(synth_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished ProtoTree (depth 2) run on :func:`synth_data`."""
    return train_tiny(synth_data, tmp_path_factory.mktemp("runs") / "tree",
                      "model.kind=prototree", "tree.depth=2")  # fmt: skip
