"""``/healthz`` reports the database, the cache, the broker and the storage, and says which one
failed without ever showing why (the exception's text named hosts, addresses and users)."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from django.db import OperationalError, connection
from django.test import Client

from surveys.platform import views as health_view
from surveys.platform.health import FAILURES, check_health
from tests.studyapp.fixtures import media  # noqa: F401

COMPONENTS = {"database", "cache", "broker", "storage"}
# What a real driver's error says: none of it may reach a visitor.
SECRET_DETAILS = ("db.internal", "10.1.2.3", "study_owner", "password", "Error", "/")


def _refuse(execute, sql, params, many, context):
    raise OperationalError(
        'connection to server at "db.internal" (10.1.2.3), port 5432 failed: FATAL:  '
        'password authentication failed for user "study_owner"'
    )


def _assert_reports_only(body: dict, failed: str) -> None:
    assert body["status"] == "unavailable"
    assert body["failed"] == [failed]
    report = next(c for c in body["components"] if c["name"] == failed)
    assert report == {**report, "ok": False, "detail": FAILURES[failed]}


@pytest.mark.django_db
def test_healthz_is_ok_when_every_component_answers(client: Client, media: Path):  # noqa: F811
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["failed"] == []
    assert {c["name"] for c in body["components"]} == COMPONENTS
    assert all(c["ok"] for c in body["components"])


@pytest.mark.django_db
def test_healthz_is_503_when_the_broker_is_down(client: Client, monkeypatch, media: Path):  # noqa: F811
    # a port nothing listens on stands for a Redis that went away
    down = functools.partial(check_health, broker_url="redis://127.0.0.1:9/0")
    monkeypatch.setattr(health_view, "check_health", down)
    response = client.get("/healthz")
    assert response.status_code == 503
    _assert_reports_only(response.json(), "broker")
    assert "127.0.0.1" not in response.content.decode()


@pytest.mark.django_db
def test_a_database_failure_names_the_database_and_nothing_of_the_error(
    client: Client,
    media: Path,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
):
    with connection.execute_wrapper(_refuse):
        response = client.get("/healthz")
    assert response.status_code == 503
    text = response.content.decode()
    _assert_reports_only(response.json(), "database")
    assert not [secret for secret in SECRET_DETAILS if secret in text]
    # the operator still finds the reason in the server's log
    assert "db.internal" in caplog.text


@pytest.mark.django_db
def test_a_cache_failure_names_the_cache(client: Client, settings, media: Path):  # noqa: F811
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        },
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    _assert_reports_only(response.json(), "cache")
    assert "127.0.0.1" not in response.content.decode()


@pytest.mark.django_db
def test_a_storage_failure_names_the_storage(client: Client, settings, tmp_path: Path):
    # the media "folder" is a file: nothing can ever be stored there
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(blocked / "media"), "base_url": "/media/"},
        },
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    _assert_reports_only(response.json(), "storage")
    assert str(tmp_path) not in response.content.decode()


@pytest.mark.django_db
def test_a_media_folder_not_made_yet_is_healthy(client: Client, settings, tmp_path: Path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "new" / "media"), "base_url": "/media/"},
        },
    }
    assert client.get("/healthz").status_code == 200


def test_healthz_rejects_writes(client: Client):
    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_home_page_links_admin_and_health(client: Client):
    html = client.get("/").content.decode()
    assert 'href="/admin/"' in html
    assert 'href="/healthz"' in html


@pytest.mark.django_db
def test_admin_requires_staff_login(client: Client, django_user_model):
    assert client.get("/admin/").status_code == 302
    django_user_model.objects.create_superuser("ada", "ada@example.org", "pw-long-enough-1")
    client.login(username="ada", password="pw-long-enough-1")
    assert client.get("/admin/").status_code == 200
