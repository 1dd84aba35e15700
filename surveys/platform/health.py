"""Liveness checks of the services the platform depends on."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from django.db import connections

from studyapp.celery import app as celery_app

BROKER_TIMEOUT_S = 2


@dataclass(frozen=True)
class ComponentHealth:
    name: str
    ok: bool
    detail: str
    latency_ms: float


def _timed(name: str, probe: Callable[[], str]) -> ComponentHealth:
    started = time.perf_counter()
    try:
        detail = probe()
        ok = True
    except Exception as exc:  # noqa: BLE001 - any failure means "unhealthy", reported verbatim
        detail = f"{type(exc).__name__}: {exc}"
        ok = False
    return ComponentHealth(name, ok, detail, round((time.perf_counter() - started) * 1000, 1))


def _probe_database() -> str:
    connection = connections["default"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def _probe_broker(url: str | None) -> str:
    with celery_app.connection_for_write(url) as connection:
        connection.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_S)
        driver = connection.transport.driver_name
        if driver == "filesystem":
            _check_broker_folders(connection.transport_options or {})
        return driver


def _check_broker_folders(options: Mapping[str, object]) -> None:
    # The file-system transport "connects" even when its folders are gone; a send would fail.
    for key in ("data_folder_in", "data_folder_out"):
        folder = options.get(key)
        if isinstance(folder, str | os.PathLike) and folder and not os.access(folder, os.W_OK):
            raise OSError(f"broker folder {folder} is missing or not writable")


def check_health(broker_url: str | None = None) -> list[ComponentHealth]:
    """Probe the database and the Celery broker (the configured one unless given); never raises."""
    return [
        _timed("database", _probe_database),
        _timed("broker", lambda: _probe_broker(broker_url)),
    ]
