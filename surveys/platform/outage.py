"""An answer posted while the database is unreachable is kept in the page and sent again.

When PostgreSQL restarts (or SQLite's lock outlasts its busy timeout) a participant's post
fails with ``OperationalError`` or ``InterfaceError``. Nothing was stored, or the answer was
stored and what followed it failed; either way sending the same post again is safe, since an
answer is stored once (:mod:`surveys.common.insert_once`) and consent and completion check
their state first. So instead of the error page, a participant's post gets a 503 with
``Retry-After`` and a page holding the post's fields in a form that ``retry.js`` submits again
after that many seconds (the button does it without JavaScript). A re-post that fails again gets
the same page, until the database is back.

The page is rendered from the template alone, without the request or the database, like the
500 page; it is framable on participant pages as that one is. Pages that are read (GET) keep
the 500 page, which asks to reload: there is nothing of the participant's to keep.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.utils.cache import patch_cache_control

from surveys.platform.errors import participant_frame_ancestors

log = logging.getLogger(__name__)
TEMPLATE = "surveys/participant/retry.html"
# Seconds the page waits before sending the post again (the script adds up to half as much
# again, so a crowd that lost the database together does not come back in the same instant).
RETRY_AFTER_S = 3
# The participant forms hold a handful of short fields; anything beyond these bounds is not a
# form of ours and is not written back into a page.
MAX_FIELDS = 20
MAX_VALUE_LENGTH = 1000
_FIELD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
# A participant's own pages (surveys.participation.urls); the entry link is GET only.
_PARTICIPANT_PAGE = re.compile(r"^/s/[^/]+/p/[^/]+/")


def pending_fields(request: HttpRequest) -> list[tuple[str, str]]:
    """The post's fields as ``(name, value)`` pairs, in order, within the bounds above."""
    fields = [
        (name, value)
        for name, values in request.POST.lists()
        if _FIELD_NAME.match(name)
        for value in values
        if len(value) <= MAX_VALUE_LENGTH
    ]
    return fields[:MAX_FIELDS]


def retry_response(request: HttpRequest) -> HttpResponse:
    """The 503 page that sends ``request``'s post to the same address again."""
    body = loader.render_to_string(
        TEMPLATE,
        {
            "action": request.get_full_path(),
            "fields": pending_fields(request),
            "retry_after": RETRY_AFTER_S,
        },
    )
    response = HttpResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_S)
    patch_cache_control(response, private=True, no_store=True)
    response["X-Robots-Tag"] = "noindex, nofollow"
    ancestors = participant_frame_ancestors()
    if ancestors:
        response.xframe_options_exempt = True
        response["Content-Security-Policy"] = "frame-ancestors 'self' " + " ".join(ancestors)
    return response


class DatabaseOutageMiddleware:
    """Answers a participant's post that the database failed with :func:`retry_response`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        if request.method != "POST" or not _PARTICIPANT_PAGE.match(request.path_info):
            return None
        # The path would name the participant; the log's reader needs only what failed.
        log.warning("database unavailable, participant post kept for a retry: %r", exception)
        return retry_response(request)
