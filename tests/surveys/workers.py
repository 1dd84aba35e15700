"""Worker processes that share a test's database and broker: the fixtures and a clean kill.

The worker shares the test's database: PostgreSQL's test database when the suite runs on it,
otherwise a SQLite file (the default in-memory test database is out of a worker's reach).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from django.core.management import call_command
from django.db import connections

from studyapp.celery import app as celery_app

PRIVATE_REDIS_DB = 12


@pytest.fixture
def shared_database(transactional_db, tmp_path: Path) -> Iterator[str]:
    """The URL of this test's database, as a worker process can reach it."""
    connection = connections["default"]
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        password = f":{quote(settings['PASSWORD'])}" if settings.get("PASSWORD") else ""
        port = f":{settings['PORT']}" if settings.get("PORT") else ""
        host = settings.get("HOST") or "127.0.0.1"
        yield f"postgres://{settings['USER']}{password}@{host}{port}/{settings['NAME']}"
        return
    # SQLite: point this process at a file for the test. Closing the in-memory test database's
    # connection would drop it, so it is set aside and put back afterwards.
    path = tmp_path / "shared.sqlite3"
    memory_name, memory_connection = settings["NAME"], connection.connection
    connection.connection = None
    settings["NAME"] = str(path)
    try:
        call_command("migrate", verbosity=0, interactive=False)
        yield f"sqlite:///{path}"
    finally:
        connection.close()
        settings["NAME"] = memory_name
        connection.connection = memory_connection


def reset_broker_connections() -> None:
    # The app keeps its broker connection and producer pools; new settings need new ones.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Point this process's Celery app at the worker's broker; the worker's environment."""
    kind = request.param
    saved = {k: celery_app.conf[k] for k in ("broker_url", "broker_transport_options")}
    env: dict[str, str] = {}
    if kind == "redis":
        from tests.conftest import service_url

        url = urlunsplit(urlsplit(service_url("redis"))._replace(path=f"/{PRIVATE_REDIS_DB}"))
        env = {"CELERY_BROKER_URL": url, "CELERY_RESULT_BACKEND": url}
        celery_app.conf.broker_url, celery_app.conf.broker_transport_options = url, {}
    else:
        folder = tmp_path / "var" / "broker"
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        celery_app.conf.broker_url = "filesystem://localhost//"
        celery_app.conf.broker_transport_options = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        }
    reset_broker_connections()
    yield env
    celery_app.conf.update(saved)
    reset_broker_connections()
    if kind == "redis":
        import redis

        redis.Redis.from_url(env["CELERY_BROKER_URL"]).flushdb()


def kill_with_children(process: subprocess.Popen) -> None:
    """SIGKILL the worker and its pool processes at once, as a crashed machine would stop."""
    children_file = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    children = [int(pid) for pid in children_file.read_text().split()]
    process.send_signal(signal.SIGKILL)
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=20)
