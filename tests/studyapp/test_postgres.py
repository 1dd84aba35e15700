"""The schema migrates and serves requests on a real PostgreSQL server."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.conftest import REPO_ROOT, django_env

pytestmark = pytest.mark.postgres


@pytest.fixture
def fresh_database(postgres_url: str) -> str:
    """A new, empty database on the server; dropped afterwards."""
    name = f"protopool_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(postgres_url)
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _manage(tmp_path: Path, database_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=django_env(tmp_path, DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_migrations_apply_and_health_reports_postgresql(fresh_database: str, tmp_path: Path):
    migrate = _manage(tmp_path, fresh_database, "migrate", "--noinput")
    assert migrate.returncode == 0, migrate.stderr
    with psycopg.connect(fresh_database) as connection:
        tables = {
            row[0]
            for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
        }
    assert {"django_migrations", "auth_user", "django_session"} <= tables

    probe = _manage(
        tmp_path,
        fresh_database,
        "shell",
        "-c",
        "from surveys.platform.health import check_health; "
        "print(next(c.detail for c in check_health() if c.name == 'database'))",
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip().splitlines()[-1] == "postgresql"


def test_no_migration_is_missing(fresh_database: str, tmp_path: Path):
    check = _manage(tmp_path, fresh_database, "makemigrations", "--check", "--dry-run")
    assert check.returncode == 0, check.stdout + check.stderr
