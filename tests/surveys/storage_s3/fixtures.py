"""A real S3-compatible server for the storage tests: moto's standalone server on a loopback
port, a private bucket, and the storage settings ``studyapp.settings`` makes of the environment
that points at it. This module holds no tests."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from django.test import Client

from tests.conftest import REPO_ROOT, django_env

# Distinctive, so that a leak of the bucket or the site's prefix is found by a plain search.
BUCKET = "zqxbucket-overlays"
LOCATION = "zqxsite"
REGION = "us-east-1"
# moto accepts any key pair; these never leave the loopback interface.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "zqxkeyid", "AWS_SECRET_ACCESS_KEY": "zqxsecret"}

PRINT_STORAGE = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps(settings.STORAGES['default']))"
)


@dataclass(frozen=True)
class S3Site:
    """The server, the bucket, and one test's prefix in it."""

    endpoint: str
    bucket: str
    prefix: str
    client: BaseClient

    def environment(self) -> dict[str, str]:
        """The variables a deployment sets for this bucket (the README's S3 settings)."""
        return {
            "STORAGE": "s3",
            "AWS_STORAGE_BUCKET_NAME": self.bucket,
            "AWS_S3_ENDPOINT_URL": self.endpoint,
            "AWS_S3_REGION_NAME": REGION,
            "AWS_S3_ADDRESSING_STYLE": "path",
            "AWS_LOCATION": self.prefix,
            **CREDENTIALS,
        }

    def keys(self, under: str = "") -> list[str]:
        """Every object key under this test's prefix (and ``under`` inside it), sorted."""
        start = f"{self.prefix}/{under}".rstrip("/") + "/"
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=start
        )
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def names(self, under: str = "") -> list[str]:
        """:meth:`keys` as storage names (the prefix taken off), as the rows record them."""
        return [key.removeprefix(f"{self.prefix}/") for key in self.keys(under)]

    def read(self, name: str) -> bytes:
        """The bytes of the stored file ``name``, straight from the bucket."""
        body = self.client.get_object(Bucket=self.bucket, Key=f"{self.prefix}/{name}")["Body"]
        return bytes(body.read())

    def secrets(self) -> list[str]:
        """What must never reach a participant: the endpoint, its port, the bucket, the prefix."""
        host = self.endpoint.removeprefix("http://")
        return [self.endpoint, host, self.bucket, self.prefix, "amazonaws", "X-Amz-"]


def s3_client(endpoint: str) -> BaseClient:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(s3={"addressing_style": "path"}),
    )


def new_site(endpoint: str, client: BaseClient) -> S3Site:
    """A prefix of its own in the shared bucket (so tests never see each other's files)."""
    return S3Site(endpoint, BUCKET, f"{LOCATION}/{uuid.uuid4().hex[:10]}", client)


def storage_settings(site: S3Site, tmp_path: Path) -> dict[str, Any]:
    """``STORAGES['default']`` as ``studyapp.settings`` builds it from the site's environment,
    read in a fresh process (nothing here restates what the settings module decides)."""
    result = subprocess.run(
        [sys.executable, "-c", PRINT_STORAGE],
        cwd=REPO_ROOT,
        env=django_env(tmp_path, **site.environment()),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    storage: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return storage


_LINKS = re.compile(rb"""(?:href|src|action)=["']([^"']*)["']""")


@dataclass
class Walk:
    """Everything one participant's browser received: URLs, headers, pages and pictures."""

    client: Client
    urls: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    pages: dict[str, bytes] = field(default_factory=dict)
    pictures: dict[str, bytes] = field(default_factory=dict)
    picture_headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def fetch(self, url: str, data: dict[str, str] | None = None) -> tuple[int, str]:
        """GET (or POST ``data`` to) ``url``, follow redirects; the status and the last URL."""
        response = self.client.post(url, data) if data is not None else self.client.get(url)
        self._record(url, response)
        while response.status_code in (301, 302, 303):
            url = response.headers["Location"]
            response = self.client.get(url)
            self._record(url, response)
        return response.status_code, url

    def _record(self, url: str, response: Any) -> None:
        self.urls.append(url)
        self.headers += [f"{k}: {v}" for k, v in response.headers.items()]
        body = b"".join(response.streaming_content) if response.streaming else response.content
        kind = response.headers.get("Content-Type", "")
        if kind.startswith("text/html"):
            self.pages[url] = body
            self._pictures_of(url, body)
        elif kind.startswith("image/"):
            self.pictures[url] = body
            self.picture_headers[url] = dict(response.headers.items())

    def _pictures_of(self, base: str, body: bytes) -> None:
        for raw in _LINKS.findall(body):
            parts = urlsplit(urljoin(base, raw.decode()))
            if parts.netloc not in ("", "testserver"):
                # An absolute link elsewhere (the bucket's, say) is recorded and never followed.
                self.urls.append(raw.decode())
                continue
            if ("/img/" in parts.path or "/practice/" in parts.path) and (
                parts.path not in self.pictures
            ):
                self._record(parts.path, self.client.get(parts.path))

    def everything(self) -> str:
        text = [*self.urls, *self.headers]
        return "\n".join(text) + "\n".join(b.decode("latin-1") for b in self.pages.values())


def take_part(study_code: str) -> Walk:
    """One participant through consent, instructions and every question (score 3 each)."""
    walk = Walk(Client())
    _, url = walk.fetch(f"/s/{study_code}/")
    assert url.endswith("/consent/"), url
    _, url = walk.fetch(url, {"decision": "agree"})
    assert url.endswith("/instructions/"), url
    _, url = walk.fetch(url.replace("/instructions/", "/q/1/"))
    while "/q/" in url:
        status, url = walk.fetch(url, {"score": "3", "client_rt_ms": "1500"})
        assert status == 200, url
    assert url.endswith("/debrief/"), url
    return walk
