"""ProtoTree on the shared engine: train, resume, prune, project and evaluate a tiny tree."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from protopool.checkpoint import model_from_checkpoint, read_checkpoint
from protopool.cli import main
from protopool.config import Config, ConfigError, TreeConfig, config_to_yaml, load_config
from protopool.data import generate_synthbirds
from protopool.data.base import DatasetIndex
from protopool.models import ProtoTree, build_model
from protopool.rundir import RunPaths
from protopool.training.phases import build_phases, make_optimizer
from protopool.training.runs import train_run

from .conftest import tiny_config
from .test_training import Interrupted, interrupt_at


def quiet(_: str) -> None:
    pass


def tree_config(**train_overrides: object) -> Config:
    config = tiny_config(**train_overrides)
    return dataclasses.replace(
        config,
        model=dataclasses.replace(config.model, kind="prototree"),
        tree=TreeConfig(depth=2),
    )


def test_a_tree_trains_prunes_projects_and_reports(tiny_index: DatasetIndex, tmp_path: Path):
    run = tmp_path / "tree"
    report = train_run(tree_config(joint_epochs=3), run, index=tiny_index, log=quiet)
    assert set(report["test_by_mode"]) == {"distributed", "sample_max", "greedy"}
    assert set(report["fidelity"]) == {"sample_max", "greedy"}
    assert all(0 <= value <= 1 for value in report["fidelity"].values())
    assert report["prototypes_before_pruning"] == 3
    assert 1 <= report["prototypes_after_pruning"] <= 3
    assert report["test"]["accuracy"] == pytest.approx(report["test_by_mode"]["distributed"])
    assert list(report["test_by_stage"]) == ["before_projection", "after_projection"]
    assert report["errors"] == []
    # Projection wrote the same provenance records as for ProtoPool.
    projection = json.loads((run / "projection.json").read_text())
    assert len(projection["prototypes"]) == report["prototypes_after_pruning"]
    for record in projection["prototypes"]:
        assert record["image_id"] and record["classes"]
    # The best checkpoint rebuilds the (possibly pruned) tree exactly.
    checkpoint = read_checkpoint(RunPaths(run).best)
    model = model_from_checkpoint(checkpoint, torch.device("cpu"))
    assert isinstance(model, ProtoTree)
    assert torch.equal(model.prototypes, checkpoint.model_state["prototypes"])


def test_derivative_free_leaves_move_without_gradients(tiny_index: DatasetIndex, tmp_path: Path):
    config = tree_config(joint_epochs=1, project=False)
    train_run(config, tmp_path / "tree", index=tiny_index, log=quiet)
    model = model_from_checkpoint(
        read_checkpoint(RunPaths(tmp_path / "tree").best), torch.device("cpu")
    )
    assert isinstance(model, ProtoTree)
    assert model.leaf_logits.abs().sum() > 0  # they started at zero
    assert not isinstance(model.leaf_logits, torch.nn.Parameter)


def test_gradient_leaves_are_an_optimizer_group() -> None:
    config = tree_config()
    config = dataclasses.replace(config, tree=TreeConfig(depth=2, leaf_update="gradient"))
    model = build_model(config, 3)
    joint = build_phases(config)[1]
    names = [group["name"] for group in make_optimizer(model, joint, 1e-3).param_groups]
    assert names == ["backbone", "add_on", "prototypes", "leaves"]
    assert [phase.name for phase in build_phases(config)] == ["warmup", "joint", "projection"]


def test_a_tree_run_resumes_to_the_same_result(tiny_index: DatasetIndex, tmp_path: Path) -> None:
    config = tree_config(joint_epochs=3)
    straight = train_run(config, tmp_path / "straight", index=tiny_index, log=quiet)
    run = tmp_path / "run"
    with pytest.raises(Interrupted):
        train_run(config, run, index=tiny_index, log=interrupt_at("joint 2/3"))
    resumed = train_run(config, run, resume=True, index=tiny_index, log=quiet)
    assert resumed == straight


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("tree.depth=0", "tree.depth must be at least 1"),
        ("tree.inference=vote", "distributed, sample_max, greedy"),
        ("tree.leaf_update=adam", "derivative_free, gradient"),
        ("model.kind=forest", "protopool, prototree"),
        ("train.milestones=[5, 3]", "increasing"),
    ],
)
def test_bad_tree_settings_are_fix_it_errors(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(None, ["model.kind=prototree", override])


def test_the_cli_trains_projects_and_evaluates_a_tree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tree.yaml"
    path.write_text(config_to_yaml(tree_config(joint_epochs=2)))
    run = tmp_path / "run"
    # The CLI opens a dataset folder: a small SynthBirds in CUB format.
    data = generate_synthbirds(
        tmp_path / "birds", classes=3, images_per_class=12, size=48, seed=0, progress=False
    )
    assert main(["train", "--config", str(path), "--data", str(data), "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 0
    line = capsys.readouterr().out
    assert "by mode: distributed" in line and "prototypes after pruning" in line
    assert main(["project", str(run)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["depth"] >= 1 and report["num_leaves"] >= 2
    assert report["prototypes_before_pruning"] == 3


def test_layout_replaces_a_bypassed_parent_by_its_child() -> None:
    from protopool.models import tree_ops
    from protopool.tree_render import layout

    # Depth 2: node 1 is bypassed to its present child (leaf 4 in heap order = leaf 1).
    routes = torch.tensor([tree_ops.ROUTED, tree_ops.TO_PRESENT, tree_ops.ROUTED])
    root = layout(routes)
    assert [child.heap for child in root.children] == [4, 2]
    assert [leaf.heap for leaf in root.children[1].children] == [5, 6]
    assert [leaf.x for leaf in (root.children[0], *root.children[1].children)] == [0, 1, 2]
    assert root.x == pytest.approx((0 + 1.5) / 2)


def test_the_tree_is_drawn_with_an_image_path(tmp_path: Path) -> None:
    from PIL import Image

    from protopool.tree_render import greedy_path, render_tree

    data = generate_synthbirds(
        tmp_path / "birds", classes=3, images_per_class=12, size=48, seed=1, progress=False
    )
    path = tmp_path / "tree.yaml"
    path.write_text(config_to_yaml(tree_config(joint_epochs=1)))
    run = tmp_path / "run"
    assert main(["train", "--config", str(path), "--data", str(data), "--out", str(run)]) == 0
    image = sorted((data / "images").rglob("*.jpg"))[0]
    from protopool.explain import load_run

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
