"""Starting a training from the catalogue page: check the request, store the job, queue it.

The web server resolves the config (the YAML file with the researcher's overrides) and stores
it on the job, so the GPU worker trains exactly what was checked here. It cannot check the
dataset: that lives on the worker machines (at the path they all share), and a dataset the
worker cannot open fails the job with protopool's message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import IntegrityError, transaction

from protopool.config import Config, ConfigError, load_config
from protopool.training.phases import build_phases
from surveys.catalogue.importing import LABEL_MAX
from surveys.models import Run, TrainingJob
from surveys.models.codes import new_code
from surveys.models.training import ACTIVE_STATUSES

# Jobs listed on the catalogue page, newest first.
JOBS_SHOWN = 10
MAX_OVERRIDES = 50
# The loss curve's box on the page, in SVG user units.
CURVE_W = 240
CURVE_H = 48


class TrainingError(ValueError):
    """A training cannot start as asked; the message says why and what to do."""


@dataclass(frozen=True)
class TrainingRequest:
    """A checked request: the config file, the resolved config and the run's label."""

    config_name: str
    config: Config
    overrides: list[str]
    label: str


def train_queue() -> str:
    """The Celery queue training goes to (``SURVEYS_TRAIN_QUEUE``, default ``gpu``)."""
    return str(getattr(settings, "SURVEYS_TRAIN_QUEUE", "") or "gpu")


def config_folder() -> Path:
    return Path(settings.SURVEYS_TRAIN_CONFIG_DIR)


def available_configs() -> list[str]:
    """The YAML files a training may start from (the folder's own, not its subfolders')."""
    folder = config_folder()
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def check_training_request(
    config_name: str, label: str, data_dir: str, overrides_text: str
) -> TrainingRequest:
    """Parse the form's fields into a request.

    Args:
        config_name: One of :func:`available_configs`.
        label: The label the run gets in the catalogue.
        data_dir: The dataset folder as the workers see it (empty: the config's ``data.root``).
        overrides_text: ``section.field=value`` lines, e.g. ``train.device=cuda``.

    Raises:
        TrainingError: Any field is wrong; nothing is stored.
    """
    configs = available_configs()
    if config_name not in configs or PurePosixPath(config_name).name != config_name:
        known = ", ".join(configs) or f"none: put YAML files in {config_folder()}"
        raise TrainingError(f"choose one of the configs ({known}); got {config_name!r}")
    label = label.strip()
    if not label:
        raise TrainingError("the label is empty: name the run, e.g. ProtoPool (focal)")
    if len(label) > LABEL_MAX:
        raise TrainingError(f"the label is {len(label)} characters long; {LABEL_MAX} at most")
    if (
        Run.objects.filter(label=label).exists()
        or TrainingJob.objects.filter(label=label, status__in=ACTIVE_STATUSES).exists()
    ):
        raise TrainingError(
            f"a run (or a training) is already labelled {label!r}; studies name runs by their "
            "label, so give this one another"
        )
    overrides = [line.strip() for line in overrides_text.splitlines() if line.strip()]
    if len(overrides) > MAX_OVERRIDES:
        raise TrainingError(f"{len(overrides)} overrides; {MAX_OVERRIDES} at most")
    if data_dir.strip():
        overrides.append(f"data.root={json.dumps(data_dir.strip())}")
    try:
        config = load_config(config_folder() / config_name, overrides)
    except ConfigError as exc:
        raise TrainingError(f"the config does not load: {exc}") from None
    root = config.data.root
    if not root or not Path(root).is_absolute():
        shown = repr(root) if root else "none"
        raise TrainingError(
            f"the dataset folder ({shown}) must be an absolute path, as every worker machine "
            "sees it: fill in the dataset folder"
        )
    if not any(phase.epochs for phase in build_phases(config) if not phase.is_projection):
        raise TrainingError("the config trains for no epoch at all: check train.*_epochs")
    return TrainingRequest(config_name, config, overrides, label)


def schedule_steps(config: Config) -> int:
    """Steps of the schedule a job counts: every epoch of every phase, and each projection."""
    return sum(1 if phase.is_projection else phase.epochs for phase in build_phases(config))


def do_create_training(
    request: TrainingRequest, user: AbstractBaseUser | AnonymousUser | None = None
) -> TrainingJob:
    """Store the job and queue it for a worker on :func:`train_queue` once it is committed.

    Raises:
        TrainingError: A job with the label started since the request was checked.
    """
    code = new_code()
    runs = Path(settings.SURVEYS_TRAIN_RUNS_DIR).resolve()
    try:
        with transaction.atomic():
            job = TrainingJob.objects.create(
                code=code,
                label=request.label,
                config_name=request.config_name,
                config=request.config.to_dict(),
                overrides=request.overrides,
                run_dir=str(runs / f"{Path(request.config_name).stem}-{code}"),
                queue=train_queue(),
                steps_total=schedule_steps(request.config),
                created_by=user if isinstance(user, User) else None,
            )
            # The worker must find the committed row, never a transaction still in flight.
            transaction.on_commit(lambda: _enqueue(job.pk, job.queue))
    except IntegrityError:
        # The label was free when the request was checked; another request took it since.
        raise TrainingError(
            f"a training labelled {request.label!r} was started just now; give this one "
            "another label"
        ) from None
    return job


def _enqueue(job_id: int, queue: str) -> None:
    # Imported here: the tasks module imports the worker's services, which import this one.
    from surveys.catalogue.tasks import train

    train.apply_async(args=(job_id,), queue=queue)


def recent_trainings() -> list[TrainingJob]:
    """The newest jobs, for the catalogue page."""
    return list(TrainingJob.objects.select_related("run")[:JOBS_SHOWN])


def any_active(jobs: list[TrainingJob]) -> bool:
    return any(job.active for job in jobs)


@dataclass(frozen=True)
class TrainingRow:
    """A job as the page shows it, with its loss curve as SVG polyline points."""

    job: TrainingJob
    curve: str
    last_loss: float | None


def training_rows(jobs: list[TrainingJob]) -> list[TrainingRow]:
    return [TrainingRow(job, loss_curve(job.history), _last_loss(job.history)) for job in jobs]


def loss_curve(
    history: list[dict[str, object]], width: int = CURVE_W, height: int = CURVE_H
) -> str:
    """The training loss of each epoch as ``x,y`` points in a ``width`` x ``height`` box
    (the first epoch on the left, the highest loss at the top); empty under two epochs."""
    losses = [float(v) for item in history if isinstance(v := item.get("loss"), int | float)]
    if len(losses) < 2:
        return ""
    low, high = min(losses), max(losses)
    span = high - low or 1.0
    step = width / (len(losses) - 1)
    return " ".join(
        f"{index * step:.1f},{height - (loss - low) / span * height:.1f}"
        for index, loss in enumerate(losses)
    )


def _last_loss(history: list[dict[str, object]]) -> float | None:
    value = history[-1].get("loss") if history else None
    return float(value) if isinstance(value, int | float) else None


__all__ = [
    "TrainingError",
    "TrainingRequest",
    "TrainingRow",
    "any_active",
    "available_configs",
    "check_training_request",
    "do_create_training",
    "loss_curve",
    "recent_trainings",
    "schedule_steps",
    "train_queue",
    "training_rows",
]
