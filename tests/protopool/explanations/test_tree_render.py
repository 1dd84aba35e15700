"""The picture of a ProtoTree run: its layout, an image's greedy path, and the ``tree`` verb."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from protopool.cli import main
from protopool.config import config_to_yaml
from protopool.data import generate_synthbirds
from protopool.data.base import DatasetIndex
from protopool.training.runs import train_run
from tests.protopool.fixtures import quiet, tiny_config, tree_config


def test_layout_replaces_a_bypassed_parent_by_its_child() -> None:
    from protopool.explanations.tree_render import layout
    from protopool.models import tree_ops

    # Depth 2: node 1 is bypassed to its present child (leaf 4 in heap order = leaf 1).
    routes = torch.tensor([tree_ops.ROUTED, tree_ops.TO_PRESENT, tree_ops.ROUTED])
    root = layout(routes)
    assert [child.heap for child in root.children] == [4, 2]
    assert [leaf.heap for leaf in root.children[1].children] == [5, 6]
    assert [leaf.x for leaf in (root.children[0], *root.children[1].children)] == [0, 1, 2]
    assert root.x == pytest.approx((0 + 1.5) / 2)


def test_the_tree_is_drawn_with_an_image_path(tmp_path: Path) -> None:
    from PIL import Image

    from protopool.explanations.tree_render import greedy_path, render_tree

    data = generate_synthbirds(
        tmp_path / "birds", classes=3, images_per_class=12, size=48, seed=1, progress=False
    )
    path = tmp_path / "tree.yaml"
    path.write_text(config_to_yaml(tree_config(joint_epochs=1)))
    run = tmp_path / "run"
    assert main(["train", "--config", str(path), "--data", str(data), "--out", str(run)]) == 0
    image = sorted((data / "images").rglob("*.jpg"))[0]
    from protopool.inference.runs import load_run

    nodes, similarity = greedy_path(load_run(run), image)
    assert nodes[0] == 0 and nodes[-1] >= 3  # from the root down to a leaf of depth 2
    assert all(0 < value <= 1 for value in similarity.values())
    out = render_tree(run, tmp_path / "tree.png", image)
    with Image.open(out) as picture:
        assert picture.width > 300 and picture.height > 200
    assert main(["tree", str(run), "--out", str(tmp_path / "tree.svg")]) == 0
    assert (tmp_path / "tree.svg").read_text().lstrip().startswith("<?xml")


def test_drawing_a_protopool_run_as_a_tree_is_a_clear_error(
    tiny_index: DatasetIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "pool"
    train_run(tiny_config(joint_epochs=1, project=False), run, index=tiny_index, log=quiet)
    assert main(["tree", str(run)]) == 2
    assert "only a ProtoTree can be drawn" in capsys.readouterr().err
