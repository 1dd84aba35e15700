"""The studies package's fixture: the three real tiny runs registered in the catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest

from surveys.models import Run
from tests.surveys.studies.fixtures import make_catalogue


@pytest.fixture
def catalogue(db, pool_run: Path, protopnet_run: Path, tree_run: Path) -> dict[str, Run]:
    return make_catalogue(pool_run, protopnet_run, tree_run)
