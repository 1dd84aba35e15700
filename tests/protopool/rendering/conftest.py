"""Three models of different kinds and similarities, small image files, and a pass counter."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import torch

import protopool.inference.maps
from protopool.config import Config, TreeConfig
from protopool.execution import StepSettings
from protopool.models import PrototypeModel, build_model
from tests.protopool.fixtures import noise_image, tiny_config


def three_models() -> dict[str, PrototypeModel]:
    """ProtoPool with the focal and the ProtoPNet similarity, and a depth-2 ProtoTree."""
    config = tiny_config()
    protopnet = dataclasses.replace(config.model, similarity="protopnet")
    tree = dataclasses.replace(config.model, kind="prototree")
    return {
        "protopool-focal": build_model(config, 3),
        "protopool-protopnet": build_model(dataclasses.replace(config, model=protopnet), 3),
        "prototree": build_model(Config(model=tree, data=config.data, tree=TreeConfig(depth=2)), 3),
    }


@pytest.fixture(scope="module")
def models() -> dict[str, PrototypeModel]:
    torch.manual_seed(0)
    return three_models()


@pytest.fixture(scope="module")
def image_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("images")
    paths = []
    for number, size in enumerate(((24, 18), (17, 23), (32, 32))):
        path = root / f"image-{number}.png"
        noise_image(*size, seed=number).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def counted_passes() -> Iterator[list[int]]:
    """Batch sizes of every forward pass ``maps_for_pairs`` makes."""
    passes: list[int] = []
    real = protopool.inference.maps.latent_maps

    def counting(model: PrototypeModel, images: torch.Tensor, settings: StepSettings) -> Any:
        passes.append(len(images))
        return real(model, images, settings)

    with mock.patch.object(protopool.inference.maps, "latent_maps", counting):
        yield passes
