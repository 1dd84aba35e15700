"""The recruiting desks' tests act as a researcher who may pay; ``test_pay_permission.py``
covers staff who may not."""

from __future__ import annotations

import pytest

from tests.surveys.factories import StaffFactory
from tests.surveys.recruiting.fixtures import grant_pay


@pytest.fixture
def staff_user(db):
    """Staff in the "Can pay" group: approving, bonusing and paying need it."""
    return grant_pay(StaffFactory(username="researcher"))
