"""The platform's own pages: the landing page, and ``/healthz`` (200 when the database, the
cache, the broker and the file storage answer; 503 naming the ones that did not, otherwise)."""

from __future__ import annotations

from dataclasses import asdict

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from surveys.platform.health import check_health


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "surveys/home.html")


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    components = check_health()
    healthy = all(component.ok for component in components)
    return JsonResponse(
        {
            "status": "ok" if healthy else "unavailable",
            "failed": [c.name for c in components if not c.ok],
            "components": [asdict(c) for c in components],
        },
        status=200 if healthy else 503,
    )
