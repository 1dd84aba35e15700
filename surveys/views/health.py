"""``/healthz``: 200 when the database and the broker answer, 503 otherwise."""

from __future__ import annotations

from dataclasses import asdict

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from surveys.services.health import check_health


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    components = check_health()
    healthy = all(component.ok for component in components)
    return JsonResponse(
        {
            "status": "ok" if healthy else "unavailable",
            "components": [asdict(c) for c in components],
        },
        status=200 if healthy else 503,
    )
