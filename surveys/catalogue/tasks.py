"""Celery tasks of the catalogue: training a config into a run and importing it, on the GPU queue.

``surveys.train`` is routed to ``SURVEYS_TRAIN_QUEUE`` (default ``gpu``), which only the GPU
workers consume (``celery -A studyapp worker -Q gpu``, the ``gpu-worker`` of
docker-compose.yml). The task takes the job's ID and re-reads the row; a delivery of a job
that is finished, or that a live worker is on, returns at once (:mod:`.train_job`).

The file-system broker forgets a message once a worker has taken it, so a worker on the
training queue, when it comes up, queues every unfinished job again (:func:`resume_trainings`);
the claim lets only one delivery work on each.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready
from django.db import DatabaseError

from surveys.catalogue.train_job import do_train_job
from surveys.catalogue.training import train_queue
from surveys.models import TrainingJob
from surveys.models.training import ACTIVE_STATUSES

logger = logging.getLogger(__name__)


@shared_task(
    name="surveys.train",
    bind=True,
    ignore_result=True,
    # A training runs for hours: the message is acknowledged when it ends, and a worker that
    # dies meanwhile gives it back rather than losing it.
    acks_late=True,
    reject_on_worker_lost=True,
)
def train(self: Task[Any, Any], job_id: int) -> str:
    """Train the job's config into its run directory and import the run; the job's status."""
    status = do_train_job(job_id)
    logger.info("training job %s: %s", job_id, status)
    return status


@shared_task(name="surveys.resume_trainings", bind=True, ignore_result=True)
def resume_trainings(self: Task[Any, Any]) -> int:
    """Queue every unfinished training job again; how many."""
    try:
        jobs = list(
            TrainingJob.objects.filter(status__in=ACTIVE_STATUSES).values_list("pk", "queue")
        )
    except DatabaseError as exc:
        # A worker on a database without this app's tables has no trainings to resume.
        logger.warning("no trainings resumed: the database cannot be read (%s)", exc)
        return 0
    for job_id, queue in jobs:
        train.apply_async(args=(job_id,), queue=queue or train_queue())
    if jobs:
        logger.info("re-queued %d unfinished training(s)", len(jobs))
    return len(jobs)


@worker_ready.connect
def _resume_on_start(sender: Any = None, **_: Any) -> None:
    """A worker on the training queue picks up the jobs a lost worker left (see the module)."""
    app = getattr(sender, "app", None)
    if app is None:
        return
    queues = {str(name) for name in app.amqp.queues.consume_from or {}}
    queue = train_queue()
    if queue in queues:
        resume_trainings.apply_async(queue=queue)
