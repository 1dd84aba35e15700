"""``/healthz`` reports the database and the broker, and fails loudly when one is down."""

from __future__ import annotations

import functools

import pytest
from django.test import Client

from surveys.platform import views as health_view
from surveys.platform.health import check_health


@pytest.mark.django_db
def test_healthz_is_ok_when_database_and_broker_answer(client: Client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {c["name"] for c in body["components"]} == {"database", "broker"}
    assert all(c["ok"] for c in body["components"])


@pytest.mark.django_db
def test_healthz_is_503_when_the_broker_is_down(client: Client, monkeypatch):
    # a port nothing listens on stands for a Redis that went away
    down = functools.partial(check_health, broker_url="redis://127.0.0.1:9/0")
    monkeypatch.setattr(health_view, "check_health", down)
    response = client.get("/healthz")
    assert response.status_code == 503
    broker = next(c for c in response.json()["components"] if c["name"] == "broker")
    assert not broker["ok"]
    assert broker["detail"]


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
