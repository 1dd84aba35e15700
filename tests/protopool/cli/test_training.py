"""The train / project / evaluate verbs on a tiny SynthBirds dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from protopool.cli import main
from tests.protopool.fixtures import TINY


def test_train_evaluate_project_and_reuse(
    training_birds: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    args = ["train", "--data", str(training_birds), "--out", str(run), *TINY]
    assert main([*args, "train.joint_epochs=4"]) == 0
    losses = [
        json.loads(line)["train"]["cross_entropy"]
        for line in (run / "metrics.jsonl").read_text().splitlines()
        if json.loads(line)["phase"] in ("warmup", "joint")
    ]
    assert losses[-1] < losses[0]

    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for key in (
        "test",
        "prototypes_used",
        "slots_per_class",
        "mean_max_slot_probability",
        "sharing_histogram",
    ):
        assert key in report
    # Table 3: the models kept around projection are scored on the test set too.
    stages = report["test_by_stage"]
    assert list(stages) == ["before_projection", "after_projection", "after_finetuning"]
    assert stages["after_finetuning"] == report["test"]
    assert all(0 <= stage["accuracy"] <= 1 for stage in stages.values())
    assert report["empty_slots"] == 0 and report["errors"] == []

    before = (run / "evaluation.json").stat().st_mtime_ns
    assert main(["project", str(run)]) == 0
    assert json.loads((run / "projection.json").read_text())["prototypes"]
    # the stored evaluation describes the re-projected model, for evaluate and --reuse alike
    assert (run / "evaluation.json").stat().st_mtime_ns > before
    evaluation = json.loads((run / "evaluation.json").read_text())
    assert json.loads((run / "done.json").read_text())["evaluation"] == evaluation

    assert main([*args, "train.joint_epochs=4", "--reuse"]) == 0
    assert "reused" in capsys.readouterr().out


def test_empty_slots_are_an_error_of_evaluate(
    training_birds: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The softmax ablation read with a 0.5 threshold: flat slots, none above the threshold."""
    run = tmp_path / "run"
    softmax = ["model.assignment=softmax", "train.joint_epochs=1", "train.project=false"]
    args = ["train", "--data", str(training_birds), "--out", str(run), *TINY, *softmax]
    assert main([*args, "model.test_assignment=threshold"]) == 1
    assert "slots hold no prototype" in capsys.readouterr().err
    assert main(["evaluate", str(run), "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["empty_slots"] == 3 * 2
    assert "model.test_assignment=argmax" in captured.err

    # By default the ablation is read with the argmax, as the official code reads every variant.
    assert main([*args, "--overwrite"]) == 0
    assert json.loads((run / "evaluation.json").read_text())["empty_slots"] == 0


def test_evaluating_a_directory_without_a_run_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "protopool train" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["model.similarity=cosine"], "unknown similarity"),
        (["--weights", "{tmp}/missing.pth", *TINY[2:]], "--weights none"),
    ],
    ids=["unknown-similarity", "missing-weights"],
)
def test_bad_train_input_is_a_clean_message_and_leaves_no_run(
    training_birds: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    run = tmp_path / "r"
    extra = [arg.format(tmp=tmp_path) for arg in extra]
    assert main(["train", "--data", str(training_birds), "--out", str(run), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not run.exists()
