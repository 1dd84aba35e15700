"""Fixtures shared by the study app's tests: users and logged-in clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client

from tests.surveys.factories import StaffFactory, UserFactory
from tests.surveys.storage import private_media


@pytest.fixture
def staff_user(db):
    return StaffFactory(username="researcher")


@pytest.fixture
def staff_client(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture
def non_staff_client(db) -> Client:
    client = Client()
    client.force_login(UserFactory(username="someone"))
    return client


from tests.surveys.runs import pool_run, protopnet_run, synth_data, tree_run  # noqa: E402,F401
from tests.surveys.workers import broker, shared_database  # noqa: E402,F401


@pytest.fixture
def media(settings, tmp_path: Path) -> Path:
    """Django's default storage in a private folder of the test."""
    return private_media(settings, tmp_path)


@pytest.fixture
def eager() -> Iterator[None]:
    """Celery tasks run in this process the moment they are sent."""
    from studyapp.celery import app as celery_app

    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous
