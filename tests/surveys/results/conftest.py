"""The results package's fixture: the hand-built desk study of ``fixtures.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.surveys.results.fixtures import DeskStudy, build_desk_study
from tests.surveys.storage import private_media


@pytest.fixture
def desk_study(db: None, settings: Any, tmp_path: Path) -> DeskStudy:
    private_media(settings, tmp_path)
    return build_desk_study()
