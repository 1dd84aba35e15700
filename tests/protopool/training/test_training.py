"""Short training runs on tiny data: the loss falls, runs are reproducible and resumable."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from protopool.checkpoint import CheckpointError
from protopool.data.base import DatasetError, DatasetIndex
from protopool.losses import NonFiniteLossError
from protopool.rundir import RunDirError
from protopool.training.runs import train_run
from tests.protopool.fixtures import Interrupted, interrupt_at, quiet, tiny_config


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_training_lowers_the_loss_and_writes_the_run_dir(
    tiny_index: DatasetIndex, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    config = tiny_config(warmup_epochs=1, joint_epochs=5, finetune_epochs=1)
    report = train_run(config, run, index=tiny_index, log=quiet)

    joint = [m["train"]["cross_entropy"] for m in metrics(run) if m["phase"] == "joint"]
    assert joint[-1] < joint[0]
    for name in (
        "config.yaml",
        "class_names.json",
        "metrics.jsonl",
        "projection.json",
        "evaluation.json",
        "done.json",
        "checkpoints/best.pt",
        "checkpoints/last.pt",
    ):
        assert (run / name).is_file(), name
    assert json.loads((run / "class_names.json").read_text()) == ["red", "green", "blue"]
    assert 0 <= report["test"]["accuracy"] <= 1
    assert not list(run.rglob("*.tmp"))


def test_same_seed_gives_the_same_run(tiny_index: DatasetIndex, tmp_path: Path) -> None:
    config = tiny_config(joint_epochs=1, project=False)
    train_run(config, tmp_path / "a", index=tiny_index, log=quiet)
    train_run(config, tmp_path / "b", index=tiny_index, log=quiet)
    losses = [[m["train"]["loss"] for m in metrics(tmp_path / r)] for r in ("a", "b")]
    assert losses[0] == losses[1]


def test_resume_continues_where_the_run_stopped(tiny_index: DatasetIndex, tmp_path: Path) -> None:
    config = tiny_config(joint_epochs=3, project=False)
    straight = train_run(config, tmp_path / "straight", index=tiny_index, log=quiet)
    run = tmp_path / "run"
    # Given a run stopped after joint epoch 2 was logged but before its checkpoint was saved,
    with pytest.raises(Interrupted):
        train_run(config, run, index=tiny_index, log=interrupt_at("joint 2/3"))
    # when it is resumed, it re-runs joint epoch 2 from last.pt and ends like the straight run.
    resumed = train_run(config, run, resume=True, index=tiny_index, log=quiet)
    # The lines of the re-run epoch are not duplicated.
    assert metrics(run) == [
        {**m, "seconds": r["seconds"]}
        for m, r in zip(metrics(tmp_path / "straight"), metrics(run), strict=True)
    ]
    assert resumed == straight
    # Resuming a finished run re-runs nothing but the final evaluation.
    lines = len(metrics(run))
    assert train_run(config, run, resume=True, index=tiny_index, log=quiet) == straight
    assert len(metrics(run)) == lines


def test_resume_with_another_config_is_refused_and_changes_nothing(
    tiny_index: DatasetIndex, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    config = tiny_config(joint_epochs=1, project=False)
    train_run(config, run, index=tiny_index, log=quiet)
    before = {path: path.read_bytes() for path in run.rglob("*") if path.is_file()}
    other = dataclasses.replace(config, model=dataclasses.replace(config.model, num_prototypes=9))
    with pytest.raises(CheckpointError, match="model.num_prototypes: checkpoint 6 vs config 9"):
        train_run(other, run, resume=True, index=tiny_index, log=quiet)
    with pytest.raises(CheckpointError, match="phases"):
        train_run(tiny_config(joint_epochs=1), run, resume=True, index=tiny_index, log=quiet)
    assert {path: path.read_bytes() for path in run.rglob("*") if path.is_file()} == before


def test_model_selection_never_evaluates_on_the_test_set(
    tiny_index: DatasetIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from protopool.training import loop, report

    seen: list[tuple[str, int]] = []
    real_evaluate = loop.evaluate

    def spy(where: str):
        def evaluate(model, loader, settings, description="eval"):
            seen.append((where, len(loader.dataset)))
            return real_evaluate(model, loader, settings, description)

        return evaluate

    monkeypatch.setattr(loop, "evaluate", spy("selection"))
    monkeypatch.setattr(report, "evaluate", spy("report"))
    train_run(tiny_config(), tmp_path / "run", index=tiny_index, log=quiet)
    # Every selection step sees the validation split; the test split comes only in the final
    # report: the final model and the two kept around projection (Table 3).
    test_size = len(tiny_index.test)
    validation_size = len(tiny_index.train) // 4
    assert validation_size != test_size
    selection = [size for where, size in seen if where == "selection"]
    assert selection and set(selection) == {validation_size}
    assert seen[-3:] == [("report", test_size)] * 3
    assert all(where == "selection" for where, _ in seen[:-3])


def test_reuse_returns_a_finished_run_unchanged(tiny_index: DatasetIndex, tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = tiny_config(joint_epochs=1, project=False)
    train_run(config, run, index=tiny_index, log=quiet)
    messages: list[str] = []
    train_run(config, run, reuse=True, index=tiny_index, log=messages.append)
    assert any("reused" in m for m in messages)
    assert len(metrics(run)) == 2


def test_existing_run_is_not_overwritten_silently(tiny_index: DatasetIndex, tmp_path: Path) -> None:
    config = tiny_config(joint_epochs=1, project=False)
    train_run(config, tmp_path / "run", index=tiny_index, log=quiet)
    with pytest.raises(RunDirError, match="--resume"):
        train_run(config, tmp_path / "run", index=tiny_index, log=quiet)


def test_class_missing_from_train_is_a_clear_error(
    tiny_index: DatasetIndex, tmp_path: Path
) -> None:
    index = DatasetIndex(
        tiny_index.format,
        tiny_index.root,
        tiny_index.class_names,
        [s for s in tiny_index.train if s.label != 2],
        tiny_index.test,
    )
    with pytest.raises(DatasetError, match="blue"):
        train_run(tiny_config(), tmp_path / "run", index=index, log=quiet)
    assert not (tmp_path / "run").exists()


def test_non_finite_loss_stops_training(tiny_index: DatasetIndex, tmp_path: Path) -> None:
    config = tiny_config(lr=1e30, warmup_epochs=0, joint_epochs=3, project=False)
    with pytest.raises(NonFiniteLossError, match="non-finite loss in term"):
        train_run(config, tmp_path / "run", index=tiny_index, log=quiet)
