"""Webhook endpoints of recruiters: Prolific's deliveries arrive at ``hooks/prolific/``.

Prolific posts JSON, signed with the workspace's hook secret; the view hands the raw body and
headers to :func:`do_receive_hook` and answers 200 for an event kept or already seen (so
Prolific stops redelivering it), 4xx with one line for a delivery refused (nothing stored),
and 503 while no secret is configured (Prolific retries). A subscription's confirmation
request carries ``X-Hook-Secret``: it is echoed back, which is how Prolific's REST hooks
confirm the target, and nothing else happens.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from surveys.recruiting.prolific.hooks import HookRejected, do_receive_hook

HANDSHAKE = "X-Hook-Secret"
HANDSHAKE_MAX_LENGTH = 512


@csrf_exempt
@require_POST
def prolific_hook(request: HttpRequest) -> HttpResponse:
    handshake = request.headers.get(HANDSHAKE, "")
    if handshake:
        if len(handshake) > HANDSHAKE_MAX_LENGTH or not handshake.isprintable():
            return HttpResponse("bad X-Hook-Secret", status=400, content_type="text/plain")
        response = JsonResponse({"status": "confirmed"})
        response[HANDSHAKE] = handshake
        return response
    try:
        outcome = do_receive_hook(request.headers, request.body)
    except HookRejected as refused:
        return HttpResponse(refused.message, status=refused.status, content_type="text/plain")
    return JsonResponse({"status": outcome.status, "event_id": outcome.event_id})
