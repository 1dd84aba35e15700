"""What ``studyapp.settings`` makes of the S3 variables, read in a fresh process each time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, django_env
from tests.surveys.storage_s3.fixtures import PRINT_STORAGE

BUCKET_ONLY = {"STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "overlays"}


def _settings(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", PRINT_STORAGE], cwd=REPO_ROOT,
                          env=django_env(tmp_path, **env), capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def test_a_bucket_alone_gives_private_signed_never_overwritten_objects(tmp_path: Path):
    result = _settings(tmp_path, **BUCKET_ONLY)
    assert result.returncode == 0, result.stderr
    options = json.loads(result.stdout.splitlines()[-1])["OPTIONS"]
    assert options["bucket_name"] == "overlays"
    assert (options["endpoint_url"], options["region_name"], options["location"]) == (
        None,
        None,
        "",
    )
    assert options["default_acl"] == "private" and options["querystring_auth"] is True
    assert options["querystring_expire"] == 600 and options["file_overwrite"] is False
    assert (options["addressing_style"], options["signature_version"]) == ("auto", "s3v4")


def test_a_self_hosted_server_is_reached_by_path_under_the_sites_prefix(tmp_path: Path):
    result = _settings(
        tmp_path,
        **BUCKET_ONLY,
        AWS_S3_ENDPOINT_URL="http://minio.internal:9000",
        AWS_S3_ADDRESSING_STYLE="path",
        AWS_LOCATION="/site-a/",
        AWS_QUERYSTRING_EXPIRE="120",
    )
    assert result.returncode == 0, result.stderr
    options = json.loads(result.stdout.splitlines()[-1])["OPTIONS"]
    assert options["endpoint_url"] == "http://minio.internal:9000"
    assert (options["addressing_style"], options["location"]) == ("path", "site-a")
    assert options["querystring_expire"] == 120


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AWS_S3_ADDRESSING_STYLE": "sideways"}, "must be one of: auto, path, virtual"),
        ({"AWS_QUERYSTRING_EXPIRE": "0"}, "expire at once"),
        ({"AWS_QUERYSTRING_EXPIRE": "soon"}, "is not an integer"),
    ],
)
def test_a_bad_s3_variable_is_a_clear_error(tmp_path: Path, env: dict[str, str], message: str):
    result = _settings(tmp_path, **BUCKET_ONLY, **env)
    assert result.returncode != 0
    assert message in result.stderr
