"""Settings come from the environment: database, broker and storage switch without code."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT, django_env

PRINT_SETTINGS = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({'db': settings.DATABASES['default']['ENGINE'], "
    "'broker': settings.CELERY_BROKER_URL, 'backend': settings.CELERY_RESULT_BACKEND, "
    "'storage': settings.STORAGES['default']['BACKEND'], 'debug': settings.DEBUG}))"
)


def _settings(tmp_path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=REPO_ROOT,
        env=django_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_embedded_defaults_need_no_server(tmp_path):
    result = _settings(tmp_path)
    values = json.loads(result.stdout)
    assert values["db"] == "django.db.backends.sqlite3"
    assert values["broker"] == "filesystem://localhost//"
    assert values["backend"].startswith("file://")
    assert values["storage"] == "django.core.files.storage.FileSystemStorage"


def test_servers_are_chosen_by_environment(tmp_path):
    result = _settings(
        tmp_path,
        DATABASE_URL="postgres://u@db.internal:5432/study",
        CELERY_BROKER_URL="redis://cache.internal:6379/0",
        STORAGE="s3",
        AWS_STORAGE_BUCKET_NAME="overlays",
    )
    values = json.loads(result.stdout)
    assert values["db"] == "django.db.backends.postgresql"
    assert values["broker"] == "redis://cache.internal:6379/0"
    assert values["backend"] == "redis://cache.internal:6379/0"
    assert values["storage"] == "storages.backends.s3.S3Storage"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "0", "SECRET_KEY": ""}, "SECRET_KEY is not set"),
        ({"STORAGE": "s3"}, "AWS_STORAGE_BUCKET_NAME"),
        ({"STORAGE": "ftp"}, "must be one of: local, s3"),
        ({"DEBUG": "maybe"}, "is not a boolean"),
    ],
)
def test_bad_environment_is_a_clear_error(tmp_path, env, message):
    result = _settings(tmp_path, **env)
    assert result.returncode != 0
    assert message in result.stderr
