"""Creating, reusing and reopening run directories."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from protopool.checkpoint import read_checkpoint
from protopool.config import Config, config_to_yaml, load_config
from protopool.data.base import DatasetIndex
from protopool.models import build_model
from protopool.rundir import RunDirError, RunPaths, read_json, write_json, write_text
from protopool.seed import resolve_device, seed_everything
from protopool.training.data import build_run_data, check_index
from protopool.training.distributed import SINGLE, Shard
from protopool.training.loop import Trainer, check_resumable


def open_index(root: str) -> DatasetIndex:
    """Open a dataset through the data package's auto-detecting loader."""
    if not root:
        raise RunDirError("no dataset given: pass --data DIR or set data.root in the config")
    from protopool.data import open_dataset

    return open_dataset(Path(root))


def dataset_listing_hash(index: DatasetIndex) -> str:
    """Hash of every sample's split, id, label, file name and size (cheap, content-sensitive)."""
    digest = hashlib.sha256()
    digest.update(json.dumps(index.class_names).encode())
    for split, samples in (("train", index.train), ("test", index.test)):
        for sample in samples:
            path = Path(sample.path)
            size = path.stat().st_size if path.exists() else -1
            digest.update(f"{split}|{sample.image_id}|{sample.label}|{path.name}|{size}\n".encode())
    return digest.hexdigest()[:16]


def run_fingerprint(config: Config, index: DatasetIndex) -> dict[str, str]:
    return {"config": config.fingerprint(), "dataset": dataset_listing_hash(index)}


def is_reusable(paths: RunPaths, fingerprint: dict[str, str]) -> bool:
    if not paths.done.is_file() or not paths.best.is_file():
        return False
    return bool(read_json(paths.done).get("fingerprint") == fingerprint)


def prepare_run_dir(paths: RunPaths, config: Config, class_names: list[str], fresh: bool) -> None:
    """Write the resolved config and class names; a fresh run clears old results."""
    if fresh:
        for path in (
            paths.done,
            paths.metrics,
            paths.projection,
            paths.evaluation,
            paths.last,
            paths.best,
            paths.before_projection,
            paths.projected,
        ):
            path.unlink(missing_ok=True)
    paths.root.mkdir(parents=True, exist_ok=True)
    write_text(paths.config, config_to_yaml(config))
    write_json(paths.class_names, class_names)


def train_run(
    config: Config,
    out: Path,
    resume: bool = False,
    reuse: bool = False,
    overwrite: bool = False,
    log: Any = print,
    index: DatasetIndex | None = None,
    shard: Shard = SINGLE,
) -> dict[str, Any]:
    """Train (or reuse, or resume) a run in ``out`` and return its evaluation.

    Args:
        index: An already opened dataset (default: open ``config.data.root``).
        shard: This process's place when ``torchrun`` started several (see
            :func:`protopool.training.distributed.launch`); every process calls this with the
            same arguments, only process 0 writes ``out`` and logs, and every process returns
            the same evaluation. ``shard.device`` then replaces ``train.device``.

    Raises:
        RunDirError: ``out`` holds another run and neither resume, reuse nor overwrite is set.
        ConfigError: ``data.batch_size`` does not split evenly over the processes.
    """
    if not shard.is_main:
        log = _silent
    index = index if index is not None else open_index(config.data.root)
    paths = RunPaths(out)
    fingerprint = run_fingerprint(config, index)
    if reuse and is_reusable(paths, fingerprint):
        log(f"reused finished run {out} (config and dataset unchanged)")
        report: dict[str, Any] = read_json(paths.evaluation)
        return report
    exists = paths.config.is_file()
    if exists and not (resume or reuse or overwrite):
        raise RunDirError(
            f"{out} already holds a run: pass --resume to continue it, --reuse to keep it when "
            "unchanged, --overwrite to start again, or choose another --out"
        )
    check_index(index)
    if config.train.num_threads:
        torch.set_num_threads(config.train.num_threads)
    device = resolve_device(config.train.device)
    if shard.distributed and shard.device is not None:
        device = shard.device
    rng = seed_everything(config.train.seed)
    # Built before anything is written, so a missing weights file leaves no run behind.
    model = build_model(config, len(index.class_names)).to(device)
    checkpoint = read_checkpoint(paths.last) if resume and paths.last.is_file() else None
    if checkpoint is not None:
        # Refused before prepare_run_dir rewrites config.yaml, so the run stays as it was.
        check_resumable(checkpoint, config, index.class_names)
    # Built before anything is written too: a batch the processes cannot share is refused here.
    data = build_run_data(index, config.data, config.train.seed, device.type == "cuda", shard)
    # Every process has read the directory before process 0 changes it.
    shard.barrier()
    if shard.is_main:
        prepare_run_dir(paths, config, index.class_names, fresh=checkpoint is None)
    shard.barrier()
    trainer = Trainer(config, data, index.class_names, paths, device, rng, model, log, shard)
    if checkpoint is not None:
        trainer.resume(checkpoint)
    report = trainer.run()
    if shard.is_main:
        write_json(paths.done, {"fingerprint": fingerprint, "evaluation": report})
    # No process returns before the run is done, so none reads a run without done.json.
    shard.barrier()
    return report


def _silent(*_: object) -> None:
    """The log of processes other than 0: the run's log is process 0's."""


def load_config_for_run(run_dir: Path, overrides: list[str] | None = None) -> Config:
    paths = RunPaths(run_dir)
    paths.require()
    return load_config(paths.config, overrides)
