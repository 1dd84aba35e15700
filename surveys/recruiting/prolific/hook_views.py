"""Webhook endpoints of recruiters: Prolific's deliveries arrive at ``hooks/prolific/``.

Prolific posts JSON, signed with the workspace's hook secret; the view hands the raw body and
headers to :func:`do_receive_hook` and answers 200 for an event kept or already seen (so
Prolific stops redelivering it), 4xx with one line for a delivery refused (nothing stored),
and 503 while no secret is known (Prolific retries). An unsigned request carrying only
``X-Hook-Secret`` (a REST-hooks confirmation handshake) has the value echoed back and nothing
else happens; a signed delivery is always verified, whatever else it carries.
"""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from surveys.recruiting.prolific.hooks import SIGNATURE, HookRejected, do_receive_hook

HANDSHAKE = "X-Hook-Secret"
_HANDSHAKE = re.compile(r"^[A-Za-z0-9._~+/=-]{1,512}$")


def _refused(status: int, message: str) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt
@require_POST
def prolific_hook(request: HttpRequest) -> HttpResponse:
    handshake = request.headers.get(HANDSHAKE, "")
    if handshake and not request.headers.get(SIGNATURE):
        if not _HANDSHAKE.match(handshake):
            return _refused(400, "bad X-Hook-Secret: letters, digits and ._~+/=- only")
        response = JsonResponse({"status": "confirmed"})
        response[HANDSHAKE] = handshake
        return response
    try:
        outcome = do_receive_hook(request.headers, request.body)
    except HookRejected as refused:
        return _refused(refused.status, refused.message)
    return JsonResponse({"status": outcome.status, "event_id": outcome.event_id})
