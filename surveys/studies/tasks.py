"""Celery tasks of the study build. Tasks take IDs, re-read rows, and return early when done.

A build is :func:`build_study` (one per study) fanning out into :func:`render_stimuli` batches
of one run's pending stimuli. Follow-up work goes to ``SURVEYS_BUILD_QUEUE`` when it is set (the
``render`` workers of docker-compose.yml, on any machine), so a build a web server or another
queue's worker started or resumed reaches the render workers; without it, to the queue the task
itself came from.

Losing a worker loses nothing. With ``acks_late`` a broker that tracks unacknowledged messages
(Redis) hands them out again; the file-system broker forgets a message once a worker has taken
it, and a broker restarted without persistence forgets them all, so every worker, whenever it
connects to its broker, also queues the pending work of every unfinished build
(:func:`resume_builds`, from :mod:`.worker_steps`). Rendering skips what is done, so a message
delivered twice costs one look at the rows.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from django.db import DatabaseError

from surveys.studies.lifecycle import build_queue
from surveys.studies.rendering import (
    building_study_ids,
    do_finish_build,
    do_record_render_failure,
    do_render_stimuli,
    pending_batches,
)

logger = logging.getLogger(__name__)

RENDER_MAX_RETRIES = 3
# Backoff doubles from 1 s up to this cap (with jitter), for storage or database hiccups.
RENDER_RETRY_BACKOFF_MAX_S = 60


def _send(task: Task[Any, Any], args: tuple[Any, ...], queue: str | None) -> None:
    """Send ``task`` to ``queue``, or to Celery's default queue when None."""
    if queue:
        task.apply_async(args=args, queue=queue)
    else:
        task.apply_async(args=args)


def _own_queue(task: Task[Any, Any]) -> str | None:
    """The queue the running task was delivered from (None when run eagerly)."""
    delivery = task.request.delivery_info or {}
    queue = delivery.get("routing_key")
    return str(queue) if queue else None


def _render_queue(task: Task[Any, Any]) -> str | None:
    """Where the build's follow-up work goes: the build queue, else the task's own queue.

    A default worker that resumes builds when it comes up must hand them to the render
    workers, not render them itself (it may lack the GPU, or the run directories).
    """
    return build_queue() or _own_queue(task)


@shared_task(name="surveys.build_study", bind=True, ignore_result=True)
def build_study(self: Task[Any, Any], study_id: int) -> int:
    """Queue the pending stimuli of a building study in batches; the number of batches.

    Re-runnable: a study that is not building (Ready, say) queues nothing, and rendering skips
    stimuli another delivery already stored.
    """
    batches = pending_batches(study_id)
    if not batches:
        do_finish_build(study_id)
        return 0
    queue = _render_queue(self)
    for batch in batches:
        _send(render_stimuli, (batch,), queue)
    logger.info("study %s: %d render batch(es) queued", study_id, len(batches))
    return len(batches)


@shared_task(
    name="surveys.render_stimuli",
    bind=True,
    ignore_result=True,
    autoretry_for=(Exception,),
    max_retries=RENDER_MAX_RETRIES,
    retry_backoff=True,
    retry_backoff_max=RENDER_RETRY_BACKOFF_MAX_S,
    retry_jitter=True,
    # A worker process that dies mid-batch puts the message back instead of acknowledging it.
    reject_on_worker_lost=True,
)
def render_stimuli(self: Task[Any, Any], stimulus_ids: list[int]) -> int:
    """Render one run's batch of stimuli; how many this delivery stored.

    A failure records the error (and, after the last retry, marks the batch's unrendered
    stimuli failed) before Celery retries with backoff.
    """
    try:
        return do_render_stimuli(stimulus_ids)
    except Exception as exc:
        final = self.request.retries >= RENDER_MAX_RETRIES
        do_record_render_failure(stimulus_ids, exc, final=final)
        raise


@shared_task(name="surveys.resume_builds", bind=True, ignore_result=True)
def resume_builds(self: Task[Any, Any]) -> int:
    """Queue the pending work of every unfinished build again; how many builds."""
    try:
        studies = building_study_ids()
    except DatabaseError as exc:
        # A worker on a database without this app's tables has no builds to resume.
        logger.warning("no builds resumed: the database cannot be read (%s)", exc)
        return 0
    queue = _render_queue(self)
    for study_id in studies:
        _send(build_study, (study_id,), queue)
    if studies:
        logger.info("resuming %d unfinished build(s)", len(studies))
    return len(studies)
