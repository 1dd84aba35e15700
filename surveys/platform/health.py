"""Liveness checks of the services the platform depends on.

``/healthz`` answers anyone, so what a probe found out stays in the server's log: the public
report names the component that failed and says so in fixed words, never with the exception
(whose text carries database hosts, addresses, user names and file paths).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.cache import caches
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connections
from django.utils.crypto import get_random_string

from studyapp.celery import app as celery_app

log = logging.getLogger(__name__)
BROKER_TIMEOUT_S = 2
# What a failed component's report says, whatever went wrong: the operator reads the log.
FAILURES = {
    "database": "the database did not answer",
    "cache": "the cache did not answer",
    "broker": "the task broker did not answer",
    "storage": "the file storage did not answer",
}
CACHE_PROBE_SECONDS = 10
# A name never stored, so asking for it reaches the storage without touching a file.
STORAGE_PROBE_NAME = "healthz/probe"


@dataclass(frozen=True)
class ComponentHealth:
    """One component's state. ``detail`` is the backend in use when ``ok``, else the fixed
    sentence of :data:`FAILURES`."""

    name: str
    ok: bool
    detail: str
    latency_ms: float


def _timed(name: str, probe: Callable[[], str]) -> ComponentHealth:
    started = time.perf_counter()
    try:
        detail = probe()
        ok = True
    except Exception:  # noqa: BLE001 - any failure means "unhealthy"; the log keeps the why
        log.exception("health check: %s failed", name)
        detail = FAILURES[name]
        ok = False
    return ComponentHealth(name, ok, detail, round((time.perf_counter() - started) * 1000, 1))


def _probe_database() -> str:
    connection = connections["default"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def _probe_cache() -> str:
    """Store, read back and delete a value in every configured cache (the entry limits' cache
    is Redis at scale)."""
    backends = []
    for alias in settings.CACHES:
        backend = caches[alias]
        # A key of its own per probe: concurrent probes never read each other's value.
        key = f"healthz:{get_random_string(12)}"
        backend.set(key, "1", CACHE_PROBE_SECONDS)
        found = backend.get(key)
        backend.delete(key)
        if found != "1":
            raise RuntimeError(f"cache {alias!r} did not return the value just stored")
        backends.append(type(backend).__name__)
    return ", ".join(sorted(set(backends)))


def _probe_broker(url: str | None) -> str:
    with celery_app.connection_for_write(url) as connection:
        connection.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_S)
        driver = connection.transport.driver_name
        if driver == "filesystem":
            _check_broker_folders(connection.transport_options or {})
        return str(driver)


def _check_broker_folders(options: Mapping[str, object]) -> None:
    # The file-system transport "connects" even when its folders are gone; a send would fail.
    for key in ("data_folder_in", "data_folder_out"):
        folder = options.get(key)
        if isinstance(folder, str | os.PathLike) and folder and not os.access(folder, os.W_OK):
            raise OSError(f"broker folder {folder} is missing or not writable")


def _probe_storage() -> str:
    storage = default_storage
    if isinstance(storage, FileSystemStorage):
        # A local folder "answers" any question even when it cannot be written; a save would
        # fail. A folder not made yet is fine if the first save can make it.
        if not _can_write(Path(storage.location)):
            raise OSError(f"media folder {storage.location} cannot be written or created")
    else:
        # One request to the store (S3: a HEAD of an absent object) proves it is reachable and
        # the credentials are accepted.
        storage.exists(STORAGE_PROBE_NAME)
    return type(storage).__name__


def _can_write(folder: Path) -> bool:
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return candidate.is_dir() and os.access(candidate, os.W_OK | os.X_OK)
    return False


def check_health(broker_url: str | None = None) -> list[ComponentHealth]:
    """Probe the database, the cache, the Celery broker (the configured one unless given) and
    the file storage; never raises."""
    return [
        _timed("database", _probe_database),
        _timed("cache", _probe_cache),
        _timed("broker", lambda: _probe_broker(broker_url)),
        _timed("storage", _probe_storage),
    ]
