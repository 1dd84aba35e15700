"""The one loop that runs a list of phases, with checkpoints, metrics and resumption."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from protopool.checkpoint import (
    Checkpoint,
    CheckpointError,
    Progress,
    check_compatible,
    model_from_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from protopool.config import Config
from protopool.execution import StepSettings
from protopool.models import ProtoTree, PrototypeModel, gumbel_scale
from protopool.projection import project_prototypes, prune_tree_before_projection
from protopool.rundir import RunPaths, append_jsonl, count_lines, truncate_jsonl, write_json
from protopool.training.data import RunData
from protopool.training.distributed import SINGLE, Shard
from protopool.training.engine import evaluate, train_one_epoch
from protopool.training.phases import (
    Phase,
    build_phases,
    make_optimizer,
    make_scheduler,
    phase_steps,
)
from protopool.training.report import evaluation_report
from protopool.training.sync_norm import synchronise_batch_norms

# Primes spacing the per-epoch shuffle seeds of different runs and phases apart, so that no two
# (seed, phase, epoch) triples of realistic size share a shuffle.
SEED_STRIDE_RUN = 1_000_003
SEED_STRIDE_PHASE = 10_007


def check_resumable(checkpoint: Checkpoint, config: Config, class_names: list[str]) -> None:
    """Refuse to resume from a checkpoint of another model, dataset or phase list.

    Longer or shorter phases are fine; adding or removing a phase is not, because the
    checkpoint records its position as an index into the phase list.

    Raises:
        CheckpointError: Naming what differs and how to go on.
    """
    check_compatible(checkpoint, config, class_names)
    stored = checkpoint.progress.phases
    current = [phase.name for phase in build_phases(config)]
    if stored != current:
        raise CheckpointError(
            f"cannot resume: the run's phases are {stored} but this config gives {current}; "
            "keep train.project and the phases with zero epochs as they were, or start a new run"
        )


@dataclass(frozen=True)
class ResumeState:
    """What a resumed phase restores before its first epoch."""

    optimizer: dict[str, Any]
    scheduler: dict[str, Any]


@dataclass
class Trainer:
    """Everything one run needs; :meth:`run` executes the phases from wherever it stands.

    With several processes (``shard``) every process runs this same loop in step: process 0
    alone writes checkpoints and metrics, logs and projects, and every decision that depends on
    data (model selection, plateau decay, early stopping) comes from validation results summed
    over all processes, so every process decides alike.
    """

    config: Config
    data: RunData
    class_names: list[str]
    paths: RunPaths
    device: torch.device
    rng: np.random.Generator
    model: PrototypeModel
    log: Callable[[str], object] = print
    shard: Shard = SINGLE

    def __post_init__(self) -> None:
        self.phases = build_phases(self.config)
        self.progress = Progress()
        self._resume_state: ResumeState | None = None

    @property
    def settings(self) -> StepSettings:
        return StepSettings(
            device=self.device,
            amp=self.config.train.amp,
            channels_last=self.config.train.channels_last,
            mixup_alpha=self.config.loss.mixup_alpha if self.config.loss.mixup else None,
            augment=self.config.data.augment,
        )

    def _prepare_model(self) -> None:
        if self.shard.distributed:
            # Batch statistics over the global batch, not each process's share: otherwise the
            # number of processes would change the trained model (see sync_norm).
            self.model = cast(PrototypeModel, synchronise_batch_norms(self.model, self.device))
        if self.config.train.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)

    # --- resumption ---------------------------------------------------------------------------

    def resume(self, checkpoint: Checkpoint | None = None) -> None:
        """Continue from ``checkpoints/last.pt`` (refusing one from another config).

        Args:
            checkpoint: That file, when the caller has already read it.
        """
        checkpoint = checkpoint if checkpoint is not None else read_checkpoint(self.paths.last)
        check_resumable(checkpoint, self.config, self.class_names)
        self.model = model_from_checkpoint(checkpoint, self.device)
        self.model.config = self.config.model
        self.progress = checkpoint.progress
        if self.shard.is_main:
            # Epochs logged after this checkpoint will run again: drop their lines.
            truncate_jsonl(self.paths.metrics, checkpoint.progress.metrics_lines)
        if checkpoint.progress.numpy_rng:
            self.rng.bit_generator.state = checkpoint.progress.numpy_rng
        if checkpoint.rng_state:
            torch.set_rng_state(checkpoint.rng_state["torch"])
        if checkpoint.optimizer_state is not None and checkpoint.scheduler_state is not None:
            self._resume_state = ResumeState(checkpoint.optimizer_state, checkpoint.scheduler_state)
        self.log(f"resuming at phase {self.progress.phase} epoch {self.progress.phase_epoch}")

    def _save(
        self,
        path: Path,
        optimizer: torch.optim.Optimizer | None = None,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    ) -> None:
        # The processes' models, optimizers and generators are equal: one copy is the run's.
        if not self.shard.is_main:
            return
        self.progress.numpy_rng = dict(self.rng.bit_generator.state)
        self.progress.metrics_lines = count_lines(self.paths.metrics)
        self.progress.phases = [phase.name for phase in self.phases]
        save_checkpoint(
            path, self.model, self.config, self.class_names, self.progress, optimizer, scheduler
        )

    def _load_best(self) -> None:
        # Process 0 may still be writing best.pt.
        self.shard.barrier()
        if self.paths.best.is_file():
            self._load_state(self.paths.best)

    def _load_state(self, path: Path) -> None:
        checkpoint = read_checkpoint(path)
        self.model.resize_pool(checkpoint.model_state["prototypes"].shape[0])
        self.model.load_state_dict(checkpoint.model_state)

    # --- phases -------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Run every remaining phase, then evaluate the best model on the test set."""
        self._prepare_model()
        steps = phase_steps(self.config, len(self.data.train))
        self.log(
            "schedule: "
            + ", ".join(f"{name} {count:,} steps" for name, count in steps.items() if count)
        )
        for index, phase in enumerate(self.phases):
            if index < self.progress.phase:
                continue
            if phase.is_projection:
                self._project()
            else:
                self._train_phase(phase)
            self.progress.phase = index + 1
            self.progress.phase_epoch = 0
            self._save(self.paths.last)
        self._load_best()
        return self.final_evaluation()

    def _validate(self) -> dict[str, float]:
        if self.data.validation_loader is None:
            return {}
        result = evaluate(self.model, self.data.validation_loader, self.settings, "validate")
        if not self.shard.distributed:
            return result
        # Each process scored its share of the split; the split's scores are the sums'.
        images = result["images"]
        correct, loss_sum, count = self.shard.sum(
            [round(result["accuracy"] * images), result["cross_entropy"] * images, images]
        )
        return {
            "accuracy": correct / max(count, 1),
            "cross_entropy": loss_sum / max(count, 1),
            "images": int(count),
        }

    def _select(self, validation: dict[str, float], force: bool = False) -> bool:
        """Keep ``best.pt`` as the best model on validation (never the test set).

        Without a validation split the latest model is the only honest choice, so it is
        always kept and the plateau and early-stopping counters never advance.
        """
        accuracy = validation.get("accuracy")
        loss = validation.get("cross_entropy", float("inf"))
        # Small validation splits saturate at 100 %; the loss then tells the models apart.
        improved = (
            force
            or accuracy is None
            or accuracy > self.progress.best_accuracy
            or (accuracy == self.progress.best_accuracy and loss < self.progress.best_loss)
        )
        if improved:
            self.progress.best_accuracy = accuracy if accuracy is not None else -1.0
            self.progress.best_loss = loss
            self.progress.stale_epochs = 0
            self._save(self.paths.best)
        else:
            self.progress.stale_epochs += 1
        return improved

    def _train_phase(self, phase: Phase) -> None:
        self.shard.sync_rng(self.rng)
        optimizer = make_optimizer(self.model, phase, self.config.train.lr)
        scheduler = make_scheduler(optimizer, phase)
        forward = self.shard.wrap(self.model)
        if self._resume_state is not None and self.progress.phase_epoch > 0:
            optimizer.load_state_dict(self._resume_state.optimizer)
            scheduler.load_state_dict(self._resume_state.scheduler)
        self._resume_state = None
        train = self.config.train
        for epoch in range(self.progress.phase_epoch, phase.epochs):
            started = time.perf_counter()
            scale = None
            if phase.learnable_assignment:
                scale = gumbel_scale(self.progress.global_epoch + 1, self.config.model)
            # Reseeding the shuffle per epoch makes a resumed run see the same batches.
            shuffle_seed = (
                train.seed * SEED_STRIDE_RUN + self.progress.phase * SEED_STRIDE_PHASE + epoch
            )
            self.data.train_loader.generator.manual_seed(shuffle_seed)
            stats = train_one_epoch(
                self.model,
                self.data.train_loader,
                optimizer,
                scale,
                phase.loss,
                self.settings,
                self.rng,
                f"{phase.name} {epoch + 1}/{phase.epochs}",
                frozen_norms_eval=phase.frozen_norms_eval,
                forward=forward,
                shard=self.shard,
            )
            scheduler.step()
            validation = self._validate()
            improved = self._select(validation) if phase.selects_best else False
            if phase.plateau_decay and self.progress.stale_epochs > train.plateau_patience:
                for group in optimizer.param_groups:
                    group["lr"] *= train.plateau_factor
            self.progress.phase_epoch = epoch + 1
            self.progress.global_epoch += int(phase.learnable_assignment)
            self._record(phase, epoch, stats, validation, scale, optimizer, started, improved)
            if (epoch + 1) % train.checkpoint_every == 0 or epoch + 1 == phase.epochs:
                self._save(self.paths.last, optimizer, scheduler)
            if phase.early_stopping and self.progress.stale_epochs >= phase.early_stopping:
                self.log(
                    f"{phase.name}: no validation improvement for "
                    f"{phase.early_stopping} epochs, stopping early"
                )
                break
        if phase.restore_best:
            self._load_best()

    def _record(
        self,
        phase: Phase,
        epoch: int,
        stats: dict[str, float],
        validation: dict[str, float],
        scale: float | None,
        optimizer: torch.optim.Optimizer,
        started: float,
        improved: bool,
    ) -> None:
        record = {
            "phase": phase.name,
            "epoch": epoch + 1,
            "global_epoch": self.progress.global_epoch,
            "gumbel_scale": scale,
            "lr": {g["name"]: g["lr"] for g in optimizer.param_groups},
            "train": stats,
            "validation": validation,
            "best": improved,
            "seconds": round(time.perf_counter() - started, 3),
        }
        if self.shard.is_main:
            append_jsonl(self.paths.metrics, record)
        accuracy = validation.get("accuracy")
        shown = f" val acc {accuracy:.3f}" if accuracy is not None else ""
        self.log(
            f"{phase.name} {epoch + 1}/{phase.epochs}: loss {stats.get('loss', 0):.4f}{shown}"
            f" ({record['seconds']:.1f}s){' *' if improved else ''}"
        )

    def _project(self) -> None:
        # Kept for Table 3: test accuracy before projection, beside the one after it.
        self._save(self.paths.before_projection)
        pruned = self._project_on_main() if self.shard.is_main else 0
        self.shard.barrier()
        if not self.shard.is_main:
            # The projected (and, for a tree, pruned) model, as process 0 saved it.
            self._load_state(self.paths.projected)
        # The fine-tuning stage selects among projected models only.
        self.progress.best_accuracy = -1.0
        self.progress.best_loss = float("inf")
        validation = self._validate()
        self._select(validation, force=True)
        if self.shard.is_main:
            append_jsonl(
                self.paths.metrics,
                {"phase": "projection", "validation": validation, "pruned": pruned},
            )

    def _project_on_main(self) -> int:
        """Prune (a tree) and project; save the projected model. Returns the unused pruned."""
        started = time.perf_counter()
        if isinstance(self.model, ProtoTree):
            removed = prune_tree_before_projection(self.model)
            self.log(f"pruning: {removed} prototypes removed, {self.model.num_prototypes} left")
        result = project_prototypes(
            self.model,
            self.data.projection_loader,
            self.data.train,
            self.class_names,
            self.settings,
            cropped=self.config.data.crop_to_bbox,
        )
        self._save(self.paths.projected)
        write_json(self.paths.projection, result.to_dict())
        self.log(
            f"projection: {len(result.prototypes)} prototypes projected, "
            f"{len(result.pruned)} unused pruned ({time.perf_counter() - started:.1f}s)"
        )
        return len(result.pruned)

    def final_evaluation(self) -> dict[str, Any]:
        """The test-set report, computed and written by process 0 and handed to every process."""
        report: dict[str, Any] = {}
        if self.shard.is_main:
            report = evaluation_report(self.model, self.data, self.settings, self.paths)
            write_json(self.paths.evaluation, report)
            for error in report["errors"]:
                self.log(f"error: {error}")
        return self.shard.broadcast(report)
