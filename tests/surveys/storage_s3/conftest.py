"""The S3 tests' fixtures: moto's standalone server for the session, and a test's storage on it.

Every test here stores through the settings ``studyapp.settings`` makes of ``STORAGE=s3`` and
the ``AWS_*`` variables, against a real S3 server on 127.0.0.1; nothing reaches the internet.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from tests.surveys.storage_s3.fixtures import (
    BUCKET,
    CREDENTIALS,
    S3Site,
    new_site,
    s3_client,
    storage_settings,
)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on a free loopback port, with the bucket the tests share."""
    # Its request log would bury a failing test's own output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3_client(endpoint).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture(scope="session")
def s3_storage_options(s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The storage settings' S3 options for the server, with a placeholder prefix."""
    site = new_site(s3_endpoint, s3_client(s3_endpoint))
    storage = storage_settings(site, tmp_path_factory.mktemp("s3-settings"))
    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    assert storage["OPTIONS"]["location"] == site.prefix
    return storage, site.prefix


@pytest.fixture
def s3(
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    s3_endpoint: str,
    s3_storage_options: Any,
    tmp_path: Path,
) -> S3Site:
    """Django's default storage on the S3 server, under a prefix of this test's own.

    ``MEDIA_ROOT`` points at an empty folder, so a test can check that nothing was written to
    local disk instead.
    """
    storage, placeholder = s3_storage_options
    site = new_site(s3_endpoint, s3_client(s3_endpoint))
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "local-media").mkdir()
    settings.MEDIA_ROOT = tmp_path / "local-media"
    options = {**storage["OPTIONS"], "location": site.prefix}
    assert placeholder != site.prefix
    settings.STORAGES = {**settings.STORAGES, "default": {**storage, "OPTIONS": options}}
    return site
