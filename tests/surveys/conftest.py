"""Fixtures shared by the study app's tests: users and logged-in clients."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.surveys.factories import StaffFactory, UserFactory


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
