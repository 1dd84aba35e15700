"""A worker that connects to its broker, the first time or again, resumes the unfinished builds.

Two faults lose a build's queued messages. The file-system broker forgets a message once a
worker has taken it, so a worker killed mid-batch takes its batch along. A broker that restarts
without persistence (Redis with neither snapshots nor an append-only file, or a lost volume)
forgets every queued and unacknowledged message at once, and the study would stay "building"
for good. Celery restarts a worker's consumer each time it reconnects and runs every consumer
step's ``start`` again, so this step covers both: it queues
:func:`~surveys.studies.tasks.resume_builds`, which queues what is still pending. Rendering skips
what is done, so a batch that was not lost after all costs one look at its rows.
"""

from __future__ import annotations

from typing import Any

from celery import bootsteps


class ResumeBuildsOnConnect(bootsteps.StartStopStep):
    """Queue ``resume_builds`` whenever the worker's consumer (re)starts on a connection."""

    # After the task consumer: the connection is up and this worker's queues are declared.
    requires = ("celery.worker.consumer.tasks:Tasks",)

    def start(self, parent: Any) -> None:
        from surveys.studies.tasks import resume_builds

        queues = [str(name) for name in parent.app.amqp.queues.consume_from or {}]
        if queues:
            resume_builds.apply_async(queue=queues[0])
        else:
            resume_builds.apply_async()
