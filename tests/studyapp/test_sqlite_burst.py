"""A study going live takes its first crowd at once: no request of the burst answers 5xx.

A real gunicorn (two processes, many threads, as deployed) serves a real database: the
embedded default's SQLite file, and PostgreSQL where it answers. Fifty newcomers open the
study link at the same moment, then all consent at the same moment, five of them with a
double click. With SQLite's default deferred transactions the consent's read-then-write
transaction could not wait for the write lock and answered 500 "database is locked".
"""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from tests.conftest import REPO_ROOT, django_env

NEWCOMERS = 50
DOUBLE_CLICKS = 5
SERVER_WORKERS = 2
SERVER_THREADS = 32
START_TIMEOUT_S = 180
REQUEST_TIMEOUT_S = 90


@dataclass(frozen=True)
class Answer:
    status: int
    location: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database: a SQLite file, or a fresh database on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'burst.sqlite3'}"
        return
    import psycopg

    from tests.conftest import service_url

    server = service_url("postgres")
    name = f"protopool_burst_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _env(tmp_path: Path, database_url: str) -> dict[str, str]:
    # Deployed as in production (DEBUG off), on the embedded broker and local media.
    return django_env(
        tmp_path / "var",
        DATABASE_URL=database_url,
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        # One loopback address stands for fifty participants' own addresses.
        SURVEYS_ENTRY_RATE_PER_ADDRESS="1000/m",
    )


def _database(env: dict[str, str], *argv: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "tests.studyapp.burst_study", *argv],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], str]]:
    """Start gunicorn with ``env`` on a loopback port; returns its base URL. Stopped after."""
    started: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(env: dict[str, str]) -> str:
        port = _free_port()
        log_path = tmp_path / "gunicorn.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "studyapp.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    str(SERVER_WORKERS),
                    "--threads",
                    str(SERVER_THREADS),
                    "--timeout",
                    "120",
                ],  # fmt: skip
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        started.append((process, log_path))
        base = f"http://127.0.0.1:{port}"
        _wait_until_serving(base, process, log_path)
        return base

    yield start
    for process, _ in started:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def _wait_until_serving(base: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    ready = 0
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited early:\n{log_path.read_text()}")
        try:
            if requests.get(base + "/", timeout=5).status_code == 200:
                ready += 1
                # every worker has booted once a few answers in a row came back
                if ready >= 2 * SERVER_WORKERS:
                    return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"gunicorn did not answer in {START_TIMEOUT_S}s:\n{log_path.read_text()}")


def _all_at_once(calls: list[Callable[[], Answer]]) -> list[Answer]:
    """Run every call in its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Answer]) -> Answer:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def _send(method: str, url: str, **kwargs: object) -> Answer:
    try:
        response = requests.request(
            method, url, allow_redirects=False, timeout=REQUEST_TIMEOUT_S, **kwargs
        )
    except requests.RequestException as exc:
        # a dropped connection is a failure of the server too; 599 counts it as one
        return Answer(599, type(exc).__name__)
    return Answer(response.status_code, response.headers.get("Location", ""))


def _failures(answers: list[Answer]) -> list[Answer]:
    return [answer for answer in answers if answer.status >= 500]


def test_a_burst_of_newcomers_and_double_clicks_never_answers_5xx(
    tmp_path: Path, database_url: str, serve: Callable[[dict[str, str]], str]
) -> None:
    # given an open study on a fresh database, served by gunicorn
    env = _env(tmp_path, database_url)
    code = _database(env, "create")
    base = serve(env)
    entry = f"{base}/s/{code}/"

    # when fifty newcomers open the study link at once
    entries = _all_at_once([lambda: _send("GET", entry) for _ in range(NEWCOMERS)])

    # then each of them is sent to a consent page of their own
    assert not _failures(entries), f"{len(_failures(entries))} of {NEWCOMERS} entries: {entries}"
    consents = [answer.location for answer in entries]
    assert all(answer.status == 302 and "/consent/" in answer.location for answer in entries)
    assert len(set(consents)) == NEWCOMERS

    # when they all agree at once, five of them clicking twice
    clicks = [*consents, *consents[:DOUBLE_CLICKS]]
    agreed = _all_at_once(
        [lambda url=url: _send("POST", base + url, data={"decision": "agree"}) for url in clicks]
    )

    # then no consent failed, and every click (the second one too) goes on to the instructions
    failed = _failures(agreed)
    assert not failed, f"{len(failed)} of {len(clicks)} consents answered 5xx: {failed}"
    assert all(answer.status == 302 for answer in agreed), agreed
    assert all("/instructions/" in answer.location for answer in agreed), agreed

    # and the database holds exactly one consented participant with one order per newcomer
    rows = json.loads(_database(env, "count", code))
    assert rows["participants"] == NEWCOMERS
    assert rows["consented"] == NEWCOMERS
    assert rows["with_question_set"] == NEWCOMERS
    assert rows["items"] == rows["expected_items"] > 0
    assert rows["repeated_items"] == 0
