"""Celery tasks of the Prolific recruiter: the periodic sync that covers missed webhooks, and
the look-up that says whose an unmatched webhook event is.

:func:`sync_prolific_studies` (on the beat schedule below) queues :func:`sync_prolific_study`
for every open Prolific study that has a Prolific study ID; each one re-reads the study row and
mirrors its submissions. It also queues :func:`resolve_prolific_hook_event` for webhook events
still unmatched (each is queued on arrival too; the sweep covers a broker that was down).
Both only read from Prolific and write idempotently, so a message delivered twice costs one
more read. A busy or unreachable API is retried with backoff; a missing token or a refused
request is logged in one line and not retried, since retrying cannot fix it.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task

from surveys.models import RecruiterKind, Study
from surveys.recruiting.prolific.api import (
    ProlificBusy,
    ProlificClient,
    ProlificError,
    ProlificInputError,
    ProlificUnreachable,
)
from surveys.recruiting.prolific.hook_match import do_resolve_hook_event, unresolved_hook_event_ids
from surveys.recruiting.prolific.sync import do_sync, syncable_study_ids

logger = logging.getLogger(__name__)

SYNC_EVERY_S = 600.0
SYNC_MAX_RETRIES = 4
SYNC_RETRY_BACKOFF_MAX_S = 300

# Merged into CELERY_BEAT_SCHEDULE by the settings (behind their on/off switch).
BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "prolific-sync-open-studies": {
        "task": "surveys.prolific.sync_studies",
        "schedule": SYNC_EVERY_S,
    },
}


@shared_task(name="surveys.prolific.sync_studies", bind=True, ignore_result=True)
def sync_prolific_studies(self: Task[Any, Any]) -> int:
    """Queue a sync of every open Prolific study; how many were queued.

    The syncs go to the queue this task came from, so a deployment that routes recruiter work
    to its own workers keeps it there.
    """
    queue = (self.request.delivery_info or {}).get("routing_key")
    study_ids = syncable_study_ids()
    for study_id in study_ids:
        _queue(sync_prolific_study, study_id, queue)
    for event_pk in unresolved_hook_event_ids():
        _queue(resolve_prolific_hook_event, event_pk, queue)
    return len(study_ids)


# The tasks that call Prolific: retried with backoff while it is busy or out of reach.
RETRIED_WHILE_BUSY: dict[str, Any] = {
    "bind": True,
    "ignore_result": True,
    "autoretry_for": (ProlificBusy, ProlificUnreachable),
    "max_retries": SYNC_MAX_RETRIES,
    "retry_backoff": True,
    "retry_backoff_max": SYNC_RETRY_BACKOFF_MAX_S,
    "retry_jitter": True,
}


def _queue(task: Task[Any, Any], pk: int, queue: object) -> None:
    if queue:
        task.apply_async(args=(pk,), queue=str(queue))
    else:
        task.apply_async(args=(pk,))


@shared_task(name="surveys.prolific.sync_study", **RETRIED_WHILE_BUSY)
def sync_prolific_study(self: Task[Any, Any], study_id: int) -> int:
    """Mirror one study's Prolific submissions; how many were seen (0 when nothing to do)."""
    study = Study.objects.filter(pk=study_id, recruiter=RecruiterKind.PROLIFIC).first()
    if study is None:
        return 0
    try:
        summary = do_sync(study, ProlificClient.from_env())
    except (ProlificBusy, ProlificUnreachable):
        raise
    except (ProlificError, ProlificInputError) as exc:
        logger.warning("Prolific sync of %s skipped: %s", study.slug, exc)
        return 0
    logger.info("Prolific sync of %s: %s", study.slug, summary.message)
    return summary.seen


@shared_task(name="surveys.prolific.resolve_hook_event", **RETRIED_WHILE_BUSY)
def resolve_prolific_hook_event(self: Task[Any, Any], event_pk: int) -> str:
    """Ask Prolific whose submission an unmatched webhook event names; its resolution."""
    try:
        return do_resolve_hook_event(event_pk, ProlificClient.from_env())
    except (ProlificBusy, ProlificUnreachable):
        raise
    except ProlificError as exc:
        logger.warning("Prolific webhook event %s left unmatched: %s", event_pk, exc)
        return ""
