"""Training on several processes (torchrun, DDP over gloo on the CPU) trains the model one
process trains: the same global batches, the same parameters, the same run directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from protopool.cli import main
from protopool.config import ConfigError
from protopool.data.base import DatasetIndex
from protopool.training.augment import augment_batch
from protopool.training.data import DistributedRepeatedShuffle, RepeatedShuffle, make_loader
from protopool.training.distributed import Shard
from protopool.training.runs import train_run
from protopool.training.sync_norm import AllReduceBatchNorm2d, synchronise_batch_norms
from tests.protopool.fixtures import TINY, quiet, tiny_config

REPO = Path(__file__).resolve().parents[3]

# A global batch of 4 (2 per process): 3 steps an epoch, 12 steps over warm-up, two joint epochs,
# projection and fine-tuning. Augmentation is on, to check that every image gets the warp a lone
# process gives it; mixup is off, because its partners cannot cross processes (engine's
# shard_mixup). One thread per process, as in the lone run, so no kernel changes its summation
# order with the thread count.
RUN = [
    *TINY,
    "data.batch_size=4",
    "data.augment=true",
    "loss.mixup=false",
    "train.joint_epochs=2",
    "train.num_threads=1",
]

# Float32 rounding differs between a batch of 4 and two batches of 2 whose gradients are
# averaged (sums split and re-added, BN statistics reduced across processes). Over these 12
# Adam steps it moves parameters by ~6e-6. A real divergence moves them by the order of a step,
# lr = 3e-3: the same run with each process's batch norms left unsynchronised ends 0.06-0.18
# away. 1e-4 sits well between the two.
ATOL = 1e-4


def torchrun(*args: str, processes: int = 2) -> subprocess.CompletedProcess[str]:
    """``torchrun --standalone`` (a free loopback port) with ``processes`` CPU processes."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += [f"--nproc-per-node={processes}", *args]
    return subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def run_files(run: Path) -> list[str]:
    return sorted(str(path.relative_to(run)) for path in run.rglob("*") if path.is_file())


def model_state(run: Path, name: str = "last.pt") -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = torch.load(run / "checkpoints" / name, weights_only=True)[
        "model_state"
    ]
    return state


def assert_same_parameters(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    # The same keys: the 2-process checkpoint is the unwrapped model, no "module." prefix.
    assert list(a) == list(b)
    for key, value in a.items():
        if value.is_floating_point():
            torch.testing.assert_close(b[key], value, rtol=0, atol=ATOL, msg=key)
        else:
            assert torch.equal(b[key], value), key


def metrics(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def epochs(lines: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    return [(line["phase"], line.get("epoch")) for line in lines]


@pytest.fixture(scope="module")
def lone_run(birds: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: the run trained by one process, through the same command."""
    run = tmp_path_factory.mktemp("lone") / "run"
    assert main(["train", "--data", str(birds), "--out", str(run), *RUN]) == 0
    return run


def test_the_processes_batches_of_a_step_are_the_lone_process_batch() -> None:
    draws, repeats, batch = 10, 3, 6
    lone = list(RepeatedShuffle(draws, repeats, torch.Generator().manual_seed(5)))
    steps = len(lone) // batch
    for world_size in (2, 3):
        shares = [
            list(
                DistributedRepeatedShuffle(
                    draws,
                    repeats,
                    torch.Generator().manual_seed(5),
                    batch,
                    Shard(rank, world_size),
                )
            )
            for rank in range(world_size)
        ]
        per_process = batch // world_size
        assert all(len(share) == steps * per_process for share in shares)
        for step in range(steps):
            dealt = [share[step * per_process : (step + 1) * per_process] for share in shares]
            # Dealt like cards: row j of process r is row r + j * N of the lone batch.
            rebuilt = [dealt[row % world_size][row // world_size] for row in range(batch)]
            assert rebuilt == lone[step * batch : (step + 1) * batch]


def test_each_process_augments_its_rows_as_the_lone_process_does() -> None:
    images = torch.randn(6, 3, 8, 8)
    torch.manual_seed(1)
    lone = augment_batch(images)
    for rank in (0, 1):
        torch.manual_seed(1)
        share = augment_batch(images[rank::2], rank, 2)
        torch.testing.assert_close(share, lone[rank::2])


def test_a_global_batch_the_processes_cannot_share_is_refused_before_anything_is_written(
    tiny_index: DatasetIndex, tmp_path: Path
) -> None:
    config = tiny_config()  # data.batch_size=6
    with pytest.raises(ConfigError, match=r"batch_size=6 .* not divisible by 4.*4 or 8"):
        make_loader(tiny_index.train, config.data, True, shard=Shard(0, 4))
    # The same refusal from a whole run, as every process of a 4-process torchrun sees it.
    with pytest.raises(ConfigError, match="--nproc-per-node"):
        train_run(config, tmp_path / "run", index=tiny_index, log=quiet, shard=Shard(0, 4))
    assert not (tmp_path / "run").exists()


def test_synchronised_batch_norm_is_batch_norm_for_a_lone_process() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    reference = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    reference.load_state_dict(model.state_dict())
    synced = synchronise_batch_norms(model, torch.device("cpu"))
    assert isinstance(synced[1], AllReduceBatchNorm2d)
    # The state dict is a plain batch norm's: checkpoints load either way.
    assert list(synced.state_dict()) == list(reference.state_dict())
    images = torch.randn(5, 3, 7, 7)
    torch.testing.assert_close(synced(images), reference(images))
    torch.testing.assert_close(synced[1].running_var, reference[1].running_var)


def test_two_processes_train_the_model_one_process_trains(
    birds: Path, lone_run: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    # Given the same command and global batch, run by torchrun as two gloo processes,
    done = torchrun("-m", "protopool", "train", "--data", str(birds), "--out", str(run), *RUN)
    assert done.returncode == 0, done.stderr[-3000:]
    # one process printed the run's summary, and the other nothing.
    assert done.stdout.count("test accuracy:") == 1
    # The run directory holds the same files, each written once,
    assert run_files(run) == run_files(lone_run)
    for name in ("config.yaml", "class_names.json"):
        assert (run / name).read_bytes() == (lone_run / name).read_bytes()
    assert (
        json.loads((run / "done.json").read_text())["fingerprint"]
        == json.loads((lone_run / "done.json").read_text())["fingerprint"]
    )
    # and every checkpoint the same model.
    for name in ("before_projection.pt", "projected.pt", "best.pt", "last.pt"):
        assert_same_parameters(model_state(lone_run, name), model_state(run, name))
    # The logged epochs are the lone run's: one line each, losses over the whole global batch.
    two, one = metrics(run), metrics(lone_run)
    assert epochs(two) == epochs(one)
    for mine, theirs in zip(two, one, strict=True):
        if "train" in mine:
            assert mine["train"] == pytest.approx(theirs["train"], rel=1e-4, abs=1e-6)
        assert mine["validation"] == pytest.approx(theirs["validation"], rel=1e-4)
    # Projection, run by process 0, chose the same patches.
    projected = [json.loads((r / "projection.json").read_text()) for r in (run, lone_run)]
    for mine, theirs in zip(projected[0]["prototypes"], projected[1]["prototypes"], strict=True):
        assert mine["distance"] == pytest.approx(theirs["distance"], rel=1e-4)
        assert {**mine, "distance": 0} == {**theirs, "distance": 0}
    evaluations = [json.loads((r / "evaluation.json").read_text()) for r in (run, lone_run)]
    assert evaluations[0]["test"] == pytest.approx(evaluations[1]["test"], rel=1e-4)


def test_a_two_process_run_resumes_in_one_process(
    birds: Path, lone_run: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    # Given a 2-process run stopped after joint epoch 2 was logged but before its checkpoint,
    stopped = torchrun(
        "-m", "tests.protopool.training.ddp_worker", "joint 2/2", str(birds), str(run), *RUN
    )
    assert stopped.returncode != 0
    assert "Interrupted: joint 2/2" in stopped.stderr
    assert (run / "checkpoints" / "last.pt").is_file() and not (run / "done.json").exists()
    # when one process resumes it, it re-runs joint epoch 2 and ends as the lone run ended.
    resumed = ["train", "--data", str(birds), "--out", str(run), *RUN, "--resume"]
    assert main(resumed) == 0
    assert_same_parameters(model_state(lone_run), model_state(run))
    assert run_files(run) == run_files(lone_run)
    assert epochs(metrics(run)) == epochs(metrics(lone_run))
