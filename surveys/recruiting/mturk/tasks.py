"""Celery tasks of the Mechanical Turk recruiter: the periodic sync of open studies.

:data:`BEAT_SCHEDULE` runs :func:`sync_open_studies` every 10 minutes; it fans out one
:func:`sync_study` per open MTurk study whose periodic sync is on. The researcher switches it
off per study (``recruiter_config.auto_sync: false``) or for every recruiter
(``SURVEYS_RECRUITER_SYNC = False``). Syncing writes no money: paying stays a researcher's
decision on the desk or the command line.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task

from surveys.recruiting.mturk.sync import do_periodic_sync, sync_switched_on, syncable_study_ids

logger = logging.getLogger(__name__)

SYNC_EVERY_S = 600.0
BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "surveys-mturk-sync": {"task": "surveys.mturk.sync_open_studies", "schedule": SYNC_EVERY_S},
}


@shared_task(name="surveys.mturk.sync_open_studies", bind=True, ignore_result=True)
def sync_open_studies(self: Task[Any, Any]) -> int:
    """Queue a sync of every open MTurk study with periodic sync on; how many were queued."""
    if not sync_switched_on():
        return 0
    delivery = self.request.delivery_info or {}
    # Follow-up work goes where this task came from (a worker may read a private queue).
    queue = delivery.get("routing_key")
    study_ids = syncable_study_ids()
    for study_id in study_ids:
        if queue:
            sync_study.apply_async(args=(study_id,), queue=str(queue))
        else:
            sync_study.apply_async(args=(study_id,))
    return len(study_ids)


@shared_task(name="surveys.mturk.sync_study", ignore_result=True)
def sync_study(study_id: int) -> str:
    """Sync one study (re-read, early return when there is nothing to do); the line logged."""
    line = do_periodic_sync(study_id)
    logger.info("mturk %s", line)
    return line
