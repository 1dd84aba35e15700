"""A task sent through a real broker to a real worker process comes back done."""

from __future__ import annotations

from pathlib import Path

import pytest
from celery import Celery

RESULT_TIMEOUT_S = 60


def _round_trip(app: Celery, queue: str) -> dict:
    result = app.send_task("surveys.echo", args=[{"question": 7}], queue=queue)
    return result.get(timeout=RESULT_TIMEOUT_S)


def test_task_round_trips_through_the_serverless_filesystem_broker(start_worker, tmp_path: Path):
    # given a worker on the default broker, which needs no server
    broker_dir = tmp_path / "var" / "broker"
    _, queue = start_worker()
    # when a task is sent through the same folders
    app = Celery(
        broker="filesystem://localhost//",
        backend=f"file://{broker_dir / 'results'}",
        broker_transport_options={
            "data_folder_in": str(broker_dir / "queue"),
            "data_folder_out": str(broker_dir / "queue"),
            "control_folder": str(broker_dir / "control"),
        },
    )
    reply = _round_trip(app, queue)
    # then the worker process ran it and the result came back
    assert reply["payload"] == {"question": 7}
    assert reply["worker"]


@pytest.mark.redis
def test_task_round_trips_through_redis(start_worker, redis_url: str):
    _, queue = start_worker(CELERY_BROKER_URL=redis_url, CELERY_RESULT_BACKEND=redis_url)
    app = Celery(broker=redis_url, backend=redis_url)
    try:
        reply = _round_trip(app, queue)
    finally:
        app.close()
    assert reply["payload"] == {"question": 7}
