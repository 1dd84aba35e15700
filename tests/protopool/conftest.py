"""Fixtures every protopool test may use: tiny datasets and configs, seeded torch, SynthBirds
datasets, and small trained runs that several test folders read.

The builders behind them are in :mod:`tests.protopool.fixtures`; ``TINY_CLI`` is re-exported for
the study platform's tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from protopool.cli import main
from protopool.config import Config
from protopool.data import generate_synthbirds
from protopool.data.base import DatasetIndex
from tests.protopool.fixtures import TINY, TINY_CLI, make_index, tiny_config

__all__ = ["TINY_CLI"]


@pytest.fixture
def tiny_index(tmp_path: Path) -> DatasetIndex:
    return make_index(tmp_path / "squares")


@pytest.fixture
def config() -> Config:
    return tiny_config()


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


@pytest.fixture
def sq_dist() -> torch.Tensor:
    # One image, two prototypes, a 1x3 map.
    return torch.tensor([[[[0.0, 1.0, 4.0]], [[9.0, 9.0, 9.0]]]])


@pytest.fixture(scope="session")
def synthbirds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small SynthBirds dataset (4 classes x 6 images, 64 px), generated once per session."""
    out = tmp_path_factory.mktemp("synthbirds") / "birds"
    return generate_synthbirds(out, classes=4, images_per_class=6, size=64, seed=3, progress=False)


@pytest.fixture(scope="module")
def birds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SynthBirds for the interpretability metrics: 3 classes x 12 images, 48 px."""
    root = tmp_path_factory.mktemp("synth") / "birds"
    return generate_synthbirds(
        root, classes=3, images_per_class=12, size=48, seed=1, progress=False
    )


# The explanation runs are read, never changed, by the explanation tests and the figure verbs'
# tests, so they are trained once per session.
@pytest.fixture(scope="session")
def explained_birds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SynthBirds for the explanation runs: 3 classes x 12 images, 48 px."""
    root = tmp_path_factory.mktemp("synth") / "birds"
    return generate_synthbirds(
        root, classes=3, images_per_class=12, size=48, seed=0, progress=False
    )


def _train(synthbirds: Path, out: Path, *extra: str) -> Path:
    args = ["train", "--data", str(synthbirds), "--out", str(out), *TINY, "train.joint_epochs=2"]
    assert main([*args, *extra]) == 0
    return out


@pytest.fixture(scope="session")
def pool_run(explained_birds: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _train(explained_birds, tmp_path_factory.mktemp("runs") / "pool")


@pytest.fixture(scope="session")
def tree_run(explained_birds: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "tree"
    return _train(explained_birds, out, "model.kind=prototree", "tree.depth=2")
