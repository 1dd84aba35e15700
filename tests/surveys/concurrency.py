"""Concurrency helpers the tests share: calls released at one instant, and PostgreSQL child runs.

Tests named ``test_pg_*`` need the test database to be PostgreSQL; a module that has some runs
them from a ``postgres``-marked test on SQLite through :func:`run_on_postgresql`, in a child
pytest against a private database of the server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection, connections

from tests.conftest import REPO_ROOT

CHILD_TIMEOUT_S = 300
T = TypeVar("T")


def run_on_postgresql(test_file: str, database: str, postgres_url: str, expected: int) -> None:
    """Run ``test_file``'s ``test_pg_*`` tests on PostgreSQL; all ``expected`` must pass.

    ``database`` names the child's own database (pytest-django prefixes ``test_``), so modules
    running at the same time never share one.
    """
    if connection.vendor == "postgresql":
        pytest.skip("the test_pg_* tests run in this session directly")
    parts = urlsplit(postgres_url)
    env = {**os.environ, "DATABASE_URL": urlunsplit(parts._replace(path=f"/{database}"))}
    child = subprocess.run(
        [sys.executable, "-m", "pytest", test_file, "-k", "test_pg_", "-q",
         "-p", "no:cacheprovider", "--create-db"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S,
    )  # fmt: skip
    assert child.returncode == 0, child.stdout + child.stderr
    assert f"{expected} passed" in child.stdout, child.stdout


def at_once(action: Callable[[Any], T], items: list[Any]) -> list[T | Exception]:
    """Run ``action`` on every item in its own thread, all released at the same instant."""
    start = threading.Barrier(len(items))

    def run(item: Any) -> T | Exception:
        start.wait()
        try:
            return action(item)
        except Exception as error:  # the caller counts the refusals
            return error
        finally:
            connections.close_all()

    with ThreadPoolExecutor(len(items)) as pool:
        return list(pool.map(run, items))
