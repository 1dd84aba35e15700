"""Fixtures shared by the whole suite: reachable services and real Celery worker processes.

Tests that need PostgreSQL or Redis are marked ``postgres`` / ``redis``. They run whenever the
service answers and are skipped otherwise, unless ``REQUIRE_SERVICES`` names the service (as CI
does): then an unreachable service fails the run instead of hiding it. The same holds for the
outside tools ``chromium`` (browser tests) and ``compose`` (docker-compose.yml validation).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
WORKER_START_TIMEOUT_S = 60

# Playwright's sync API runs an event loop in the test thread; the ORM calls made by fixtures in
# that thread are still synchronous, so Django's async-safety guard would be a false alarm.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def service_url(service: str) -> str:
    if service == "postgres":
        return os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    return os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL)


def is_reachable(url: str, timeout: float = 1.0) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout):
            return True
    except OSError:
        return False


def require_tool(name: str, message: str) -> None:
    """Skip a test whose outside tool is missing, or fail it where REQUIRE_SERVICES names it."""
    if name in _required_services():
        pytest.fail(f"{message} (required by REQUIRE_SERVICES)")
    pytest.skip(message)


def _required_services() -> set[str]:
    return {s.strip() for s in os.environ.get("REQUIRE_SERVICES", "").split(",") if s.strip()}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    required = _required_services()
    for service in ("postgres", "redis"):
        marked = [item for item in items if item.get_closest_marker(service)]
        if not marked or is_reachable(service_url(service)):
            continue
        if service in required:
            raise pytest.UsageError(
                f"{service} is required (REQUIRE_SERVICES) but {service_url(service)} does not "
                "answer; start it or unset REQUIRE_SERVICES"
            )
        skip = pytest.mark.skip(reason=f"{service} not reachable at {service_url(service)}")
        for item in marked:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return service_url("postgres")


@pytest.fixture(scope="session")
def redis_url() -> str:
    return service_url("redis")


def django_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a child process running this project's Django/Celery code."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "CELERY_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="studyapp.settings",
        DEBUG="1",
        PROTOPOOL_VAR_DIR=str(var_dir),
        PYTHONPATH=str(REPO_ROOT),
    )
    env.update(extra)
    return env


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., tuple[subprocess.Popen, str]]]:
    """Start a real ``celery worker`` process on a private queue; stopped at teardown.

    Returns a function ``start(**env) -> (process, queue)``.
    """
    processes: list[subprocess.Popen] = []
    logs = []

    def start(**extra_env: str) -> tuple[subprocess.Popen, str]:
        queue = f"test-{uuid.uuid4().hex[:8]}"
        log = open(tmp_path / f"{queue}.log", "w")  # noqa: SIM115 - closed at teardown
        logs.append(log)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "studyapp",
                "worker",
                "--loglevel=INFO",
                "--concurrency=1",
                "-Q",
                queue,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--hostname",
                f"{queue}@%h",
            ],
            cwd=REPO_ROOT,
            env=django_env(tmp_path / "var", **extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
        _wait_for_worker(tmp_path / f"{queue}.log", process)
        return process, queue

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    for log in logs:
        log.close()


def _wait_for_worker(log_path: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + WORKER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"celery worker exited early:\n{log_path.read_text()}")
        if " ready." in log_path.read_text():
            return
        time.sleep(0.2)
    raise RuntimeError(
        f"celery worker not ready in {WORKER_START_TIMEOUT_S}s:\n{log_path.read_text()}"
    )


# The browser tests' page fixture, for every package (it needs require_tool above).
from tests.browser import page  # noqa: E402,F401
