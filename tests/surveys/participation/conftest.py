"""Fixtures of the participation tests: PostgreSQL runs of the tests whose behaviour differs there.

Tests named ``test_pg_*`` need the test database to be PostgreSQL (``on_postgresql`` skips them
elsewhere); a module that has some runs them from a ``postgres``-marked test on SQLite through
``tests.surveys.concurrency.run_on_postgresql``, in a child pytest against a private database.
"""

from __future__ import annotations

import pytest
from django.db import connection


@pytest.fixture
def on_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL; the module's postgres test runs this there")
