"""Every staff page refuses anonymous and non-staff users; participant pages are not gated.

The sweep discovers the URL patterns from ``get_resolver()`` (the project's and the
``surveys`` namespace's, whoever added them), fills their path parameters with the codes, slugs
and ids of real objects, and requests each page as an anonymous visitor and as a logged-in
user who is not staff. A staff page is one under ``/staff/`` or ``/admin/`` (except the admin's
own login and logout), one whose view lives in a staff views module, or one wrapped by
``staff_only``; it must answer with a redirect to the login page or a 403 — never a 200, a 404
(which would mean the view ran) or an error. A new staff URL without the gate fails this test.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path

from surveys.common.access import staff_only
from tests.surveys.platform.staff_pages import (
    PUBLIC_ADMIN_PAGES,
    Objects,
    clients,
    discover_pages,
    gate_failures,
    is_staff_only,
    sent_to_login,
)
from tests.surveys.storage import private_media


@pytest.fixture
def objects(db: None, settings: Any, tmp_path: Path) -> Objects:
    private_media(settings, tmp_path)
    return Objects()


def test_every_staff_page_refuses_anonymous_and_non_staff(objects, non_staff_client) -> None:
    pages = [page for page in discover_pages(objects) if page.is_staff]

    assert {"surveys:desk", "surveys:desk_export", "admin:index"} <= {p.name for p in pages}
    failures = [
        f"{who}: {reason}"
        for who, client in clients(non_staff_client).items()
        for page in pages
        for reason in gate_failures(page, client)
    ]
    assert not failures, "staff pages reachable without a staff login:\n" + "\n".join(failures)


def test_participant_pages_and_health_are_not_staff_pages(objects, non_staff_client) -> None:
    pages = [page for page in discover_pages(objects) if not page.is_staff]

    names = {page.name for page in pages}
    assert {"surveys:healthz", "surveys:home", "admin:login"} <= names
    for page in pages:
        assert not page.url.startswith("/staff/")
        if page.name in PUBLIC_ADMIN_PAGES:
            continue
        for who, client in clients(non_staff_client).items():
            # A participant page may refuse a stranger (403, 404); it never asks for a login.
            response = client.get(page.url)
            assert not sent_to_login(response), f"{who}: {page.url} is gated like a staff page"


# --- the sweep itself: it must catch a staff page without the gate --------------------------


def _leaky(request: HttpRequest, slug: str) -> HttpResponse:
    return HttpResponse(f"secret numbers of {slug}")


@staff_only
def _gated_elsewhere(request: HttpRequest) -> HttpResponse:
    return HttpResponse("staff only, outside /staff/")


def test_the_sweep_catches_a_staff_url_without_the_gate(objects, settings) -> None:
    urlconf = types.ModuleType("leaky_urls")
    urlconf.urlpatterns = [  # type: ignore[attr-defined]
        path("staff/studies/<slug:slug>/leak/", _leaky, name="leak"),
        path("reports/latest/", _gated_elsewhere, name="gated_elsewhere"),
        path("admin/", admin.site.urls),
    ]
    settings.ROOT_URLCONF = urlconf

    pages = {page.name: page for page in discover_pages(objects)}

    assert pages["leak"].url == f"/staff/studies/{objects.study.slug}/leak/"
    assert pages["leak"].is_staff and pages["gated_elsewhere"].is_staff
    leak = gate_failures(pages["leak"], Client())
    assert leak and "answered 200" in leak[0]
    assert gate_failures(pages["gated_elsewhere"], Client()) == []


def test_staff_only_is_recognised_under_other_decorators() -> None:
    from django.views.decorators.http import require_GET

    assert is_staff_only(require_GET(_gated_elsewhere))
    assert not is_staff_only(_leaky)
