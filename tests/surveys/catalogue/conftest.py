"""The catalogue package's fixture: the ProtoPool (focal) run imported into private storage."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from surveys.catalogue.importing import do_import_run
from surveys.models import Run
from tests.surveys.catalogue.fixtures import TOP_K


@pytest.fixture
def import_pool(media: Path, pool_run: Path, db: None) -> Callable[..., Run]:
    """Import the ProtoPool (focal) run; returns a function so a test can pass options."""

    def run_import(**options: object) -> Run:
        options.setdefault("top_k", TOP_K)
        return do_import_run(pool_run, "ProtoPool (focal)", **options).run

    return run_import
