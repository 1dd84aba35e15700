"""The hand-built CUB tree of the naming tests, loaded once per module."""

from __future__ import annotations

import pytest

from protopool.data import load_cub, load_cub_annotations
from protopool.interpretability.attributes import AttributeTable
from protopool.interpretability.parts import PartSpace
from tests.protopool.interpretability.fixtures import CLASSES, Fixture, write_tree


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    root = tmp_path_factory.mktemp("cub")
    for folder in CLASSES:
        (root / "images" / folder).mkdir(parents=True)
    write_tree(root)
    index = load_cub(root)
    table = AttributeTable.build(load_cub_annotations(root), [s.image_id for s in index.train])
    return Fixture(index.train, table, PartSpace.of(index.part_names, merge=True))
