"""Celery tasks of the platform itself: a round trip that proves a worker answers."""

from __future__ import annotations

import socket

from celery import shared_task


@shared_task(name="surveys.echo")
def echo(payload: dict[str, object]) -> dict[str, object]:
    """Round-trip a payload through a worker: proves the queue and the result backend work."""
    return {"payload": payload, "worker": socket.gethostname()}
