"""ProtoTree on the shared engine: train, resume, prune, project and evaluate a tiny tree."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from protopool.checkpoint import model_from_checkpoint, read_checkpoint
from protopool.cli import main
from protopool.config import ConfigError, TreeConfig, config_to_yaml, load_config
from protopool.data import generate_synthbirds
from protopool.data.base import DatasetIndex
from protopool.models import ProtoTree, build_model
from protopool.rundir import RunPaths
from protopool.training.phases import build_phases, make_optimizer
from protopool.training.runs import train_run
from tests.protopool.fixtures import Interrupted, interrupt_at, quiet, tree_config


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
