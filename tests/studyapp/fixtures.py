"""Fixtures of the deployment tests (test_deploy_settings, test_error_page, test_health, …).
This module holds no tests; import the fixtures a test module uses from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.surveys.storage import private_media


@pytest.fixture
def media(settings, tmp_path: Path) -> Path:
    """Django's default storage in a private folder of the test."""
    return private_media(settings, tmp_path)
