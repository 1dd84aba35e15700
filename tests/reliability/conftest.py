"""Fixtures of the fault tests: private servers to stop and kill, and a study site on them.

Every server a test breaks is its own (a PostgreSQL cluster, a ``redis-server``, gunicorn,
Celery processes on free loopback ports), so the shared PostgreSQL and Redis other tests use
are never touched.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from studyapp.celery import app as celery_app
from tests.conftest import REPO_ROOT, django_env
from tests.reliability.servers import Gunicorn, PostgresCluster, RedisServer
from tests.surveys.recruiting.prolific.stub import prolific_stub  # noqa: F401
from tests.surveys.runs import pool_run, protopnet_run, synth_data, tree_run  # noqa: F401
from tests.surveys.workers import reset_broker_connections, shared_database  # noqa: F401

TEMPLATE_DATABASE = "reliability_template"
HELPER_TIMEOUT_S = 300


@dataclass
class PostgresSite:
    """A private cluster with a migrated template database and collected static files."""

    cluster: PostgresCluster
    static_root: Path
    secret_key: str


def _helper(env: dict[str, str], *argv: str) -> str:
    """Run :mod:`tests.reliability.study_rows` with ``env``; its last line of output."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.reliability.study_rows", *argv],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=HELPER_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().splitlines()[-1]


def _site_env(var_dir: Path, database_url: str, static_root: Path, secret: str) -> dict[str, str]:
    # Deployed as in production (DEBUG off, gunicorn), on local media and the embedded broker.
    return django_env(
        var_dir,
        DATABASE_URL=database_url,
        DEBUG="0",
        SECRET_KEY=secret,
        ALLOWED_HOSTS="127.0.0.1",
        STATIC_ROOT=str(static_root),
        # Plain http on the loopback: the participants' cookies must travel over it.
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        # One loopback address stands for every participant's own address.
        SURVEYS_ENTRY_RATE_PER_ADDRESS="100000/m",
        SURVEYS_ENTRY_RATE_PER_STUDY="100000/h",
        SURVEYS_RECRUITER_SYNC="0",
        # Persistent connections, as a busy deployment runs: after the database restarts, each
        # web thread's connection is broken and must be dropped, not reused.
        CONN_MAX_AGE="60",
    )


@pytest.fixture(scope="session")
def postgres_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresSite]:
    """A PostgreSQL cluster of the tests' own, started; a migrated template database in it."""
    import psycopg

    cluster = PostgresCluster()
    try:
        cluster.start()
        with psycopg.connect(cluster.url(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{TEMPLATE_DATABASE}"')
        root = tmp_path_factory.mktemp("reliability-site")
        site = PostgresSite(cluster, root / "static", secrets.token_urlsafe(50))
        env = _site_env(root / "var", cluster.url(TEMPLATE_DATABASE), site.static_root,
                        site.secret_key)  # fmt: skip
        _helper(env, "migrate", "--static")
        yield site
    finally:
        cluster.remove()


class StudySite:
    """One test's database (a copy of the template), its env, and gunicorn serving it."""

    def __init__(self, postgres: PostgresSite, folder: Path) -> None:
        self.postgres = postgres
        self.database = f"reliability_{uuid.uuid4().hex[:10]}"
        self.folder = folder
        self.env = _site_env(folder / "var", postgres.cluster.url(self.database),
                             postgres.static_root, postgres.secret_key)  # fmt: skip
        self.servers: list[Gunicorn] = []

    def create_database(self) -> None:
        import psycopg

        with psycopg.connect(self.postgres.cluster.url(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.database}" TEMPLATE "{TEMPLATE_DATABASE}"')

    def drop_database(self) -> None:
        import psycopg

        with psycopg.connect(self.postgres.cluster.url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def create_study(self, questions: int, places: int) -> str:
        return _helper(self.env, "create", str(questions), str(places))

    def progress(self, code: str) -> dict[str, int]:
        result: dict[str, int] = json.loads(_helper(self.env, "progress", code))
        return result

    def rows(self, code: str) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(_helper(self.env, "rows", code))
        return result

    def gunicorn(self, workers: int = 2, threads: int = 16) -> Gunicorn:
        server = Gunicorn(self.env, self.folder, workers, threads)
        self.servers.append(server)
        server.start()
        return server


@pytest.fixture
def study_site(postgres_site: PostgresSite, tmp_path: Path) -> Iterator[StudySite]:
    """A fresh database on the private cluster; gunicorn serves it via ``site.gunicorn()``."""
    site = StudySite(postgres_site, tmp_path)
    site.create_database()
    try:
        yield site
    finally:
        for server in site.servers:
            server.stop()
        # A test that stopped the cluster may have failed before starting it again.
        if not postgres_site.cluster.running():
            postgres_site.cluster.start()
        site.drop_database()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A ``redis-server`` of this test's own, started; stopped after."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_broker(private_redis: RedisServer) -> Iterator[dict[str, str]]:
    """This process's Celery app on the private Redis; the workers' environment for it."""
    url = private_redis.url()
    saved = {k: celery_app.conf[k] for k in ("broker_url", "broker_transport_options")}
    celery_app.conf.broker_url, celery_app.conf.broker_transport_options = url, {}
    reset_broker_connections()
    yield {"CELERY_BROKER_URL": url, "CELERY_RESULT_BACKEND": url}
    celery_app.conf.update(saved)
    reset_broker_connections()
