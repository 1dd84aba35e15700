"""The worker's side of a training job: claim it, train the run, import it, record progress.

A job is claimed by one delivery at a time (a conditional UPDATE sets a fresh claim token).
While it works, the delivery touches ``heartbeat_at`` every :data:`HEARTBEAT_EVERY_S`; a
second delivery (Redis hands an unacknowledged message out again after its visibility
timeout, or a worker coming up re-queues unfinished jobs) returns at once while the heartbeat
is fresh and takes over once it is :data:`STALE_AFTER` old: the worker died, and training
resumes from the run directory's last checkpoint. Re-running a finished job changes nothing.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.db import connection
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from protopool.config import config_from_dict
from protopool.rundir import RunPaths
from protopool.training.runs import train_run
from surveys.catalogue.importing import do_import_run
from surveys.catalogue.training import schedule_steps
from surveys.models import TrainingJob, TrainingStatus
from surveys.models.codes import new_code
from surveys.studies.rendering import render_device

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY_S = 30.0
# Ten missed heartbeats: a worker this quiet is gone (a frozen one loses its claim).
STALE_AFTER = timedelta(seconds=10 * HEARTBEAT_EVERY_S)
MESSAGE_MAX = 300
ERROR_MAX = 4000
WORKING = (TrainingStatus.TRAINING, TrainingStatus.IMPORTING)


class ClaimLost(RuntimeError):
    """Another delivery took the job over: this one must stop writing."""


def claim_job(job_id: int) -> str | None:
    """Take the job for this delivery; its claim token, or None when it is not ours to run."""
    now = timezone.now()
    claimable = Q(status=TrainingStatus.QUEUED) | Q(
        Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=now - STALE_AFTER), status__in=WORKING
    )
    token = new_code()
    taken = TrainingJob.objects.filter(claimable, pk=job_id).update(
        status=TrainingStatus.TRAINING,
        claim=token,
        heartbeat_at=now,
        attempts=F("attempts") + 1,
        started_at=Coalesce(F("started_at"), now),
        error="",
    )
    return token if taken else None


def do_train_job(job_id: int) -> str:
    """Train and import the job's run; the job's status when this delivery is through."""
    token = claim_job(job_id)
    job = TrainingJob.objects.filter(pk=job_id).first()
    if job is None:
        return "missing"
    if token is None:
        # Done, failed, or claimed by a delivery whose worker is alive.
        return str(job.status)
    progress = _Progress(job, token)
    try:
        with _Heartbeat(job.pk, token):
            _train_and_import(job, progress)
    except ClaimLost:
        logger.warning("training %s: another delivery took it over; this one stops", job.code)
        return "lost"
    except (ValueError, OSError) as exc:
        # protopool's refusals (dataset, config, run directory, a non-finite loss) and the
        # import's say what to fix: the message is the record.
        progress.fail(f"{type(exc).__name__}: {exc}")
        return str(TrainingStatus.FAILED)
    except Exception as exc:
        logger.exception("training %s failed", job.code)
        progress.fail(f"{type(exc).__name__}: {exc}")
        return str(TrainingStatus.FAILED)
    return str(TrainingStatus.DONE)


def _train_and_import(job: TrainingJob, progress: _Progress) -> None:
    config = config_from_dict(job.config)
    progress.update(steps_total=schedule_steps(config), message="Training started")
    # Resume continues a run a dead worker left half-way; reuse returns a finished one as it is.
    report = train_run(config, Path(job.run_dir), resume=True, reuse=True, log=progress.log)
    errors = [str(error) for error in report.get("errors", [])]
    if errors:
        raise ValueError(
            f"the run trained, but its evaluation reports {'; '.join(errors)}; it stays in "
            f"{job.run_dir} and was not imported"
        )
    progress.update(
        status=TrainingStatus.IMPORTING,
        steps_done=F("steps_total"),
        message="Importing into the catalogue",
    )
    result = do_import_run(job.run_dir, job.label, device=render_device(), progress=progress.say)
    progress.update(
        status=TrainingStatus.DONE,
        run=result.run,
        finished_at=timezone.now(),
        message=f"Imported as {result.run.label}",
    )


class _Progress:
    """Writes what the training says on the job row, under this delivery's claim."""

    def __init__(self, job: TrainingJob, token: str) -> None:
        self.job_id = job.pk
        self.token = token
        self.paths = RunPaths(job.run_dir)

    def update(self, **fields: Any) -> None:
        if not TrainingJob.objects.filter(pk=self.job_id, claim=self.token).update(**fields):
            raise ClaimLost(self.job_id)

    def say(self, line: str) -> None:
        self.update(message=str(line)[:MESSAGE_MAX], heartbeat_at=timezone.now())

    def log(self, *parts: object) -> None:
        """The trainer's log: each line, with the epochs the run's metrics record so far."""
        line = " ".join(str(part) for part in parts)
        fields: dict[str, Any] = {"message": line[:MESSAGE_MAX], "heartbeat_at": timezone.now()}
        counted = self._metrics()
        if counted is not None:
            done, history = counted
            # Early stopping ends phases short, never long; the row keeps done <= total.
            fields.update(steps_done=Least(F("steps_total"), done), history=history)
        self.update(**fields)

    def fail(self, message: str) -> None:
        TrainingJob.objects.filter(pk=self.job_id, claim=self.token).update(
            status=TrainingStatus.FAILED,
            error=message[:ERROR_MAX],
            finished_at=timezone.now(),
        )

    def _metrics(self) -> tuple[int, list[dict[str, Any]]] | None:
        """Distinct steps in ``metrics.jsonl`` (a resumed epoch is written twice) and the loss
        of each epoch; None when the file cannot be read yet."""
        try:
            lines = self.paths.metrics.read_text().splitlines()
        except OSError:
            return None
        steps: set[tuple[str, int]] = set()
        history: list[dict[str, Any]] = []
        for text in lines:
            try:
                record = json.loads(text)
            except json.JSONDecodeError:
                # A line being written as we read; the next log call counts it.
                continue
            key = (str(record.get("phase", "")), int(record.get("epoch", 0) or 0))
            if key in steps:
                continue
            steps.add(key)
            loss = (record.get("train") or {}).get("loss")
            if loss is not None:
                history.append({"phase": key[0], "epoch": key[1], "loss": float(loss)})
        return len(steps), history


class _Heartbeat:
    """Touches the job's ``heartbeat_at`` from a thread while the block runs."""

    def __init__(self, job_id: int, token: str) -> None:
        self.job_id = job_id
        self.token = token
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"heartbeat-{job_id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()

    def _beat(self) -> None:
        try:
            while not self.stop.wait(HEARTBEAT_EVERY_S):
                TrainingJob.objects.filter(pk=self.job_id, claim=self.token).update(
                    heartbeat_at=timezone.now()
                )
        except Exception:
            logger.exception("training job %s: heartbeat failed", self.job_id)
        finally:
            # The thread's own database connection; Django opens one per thread.
            connection.close()


__all__ = ["ClaimLost", "claim_job", "do_train_job"]
