"""The page a server error shows: polite, without details, and visible inside a recruiter's frame.

Django's own 500 page is a bare "Server Error (500)" sent with ``X-Frame-Options: DENY``, so a
participant taking the study inside MTurk's frame saw a blank box. This one is rendered from a
template alone, because the failure may be the database itself.
"""

from __future__ import annotations

import logging
import re

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.template import loader
from django.utils.cache import patch_cache_control
from django.views.decorators.csrf import requires_csrf_token

from surveys.recruiting.registry import RECRUITERS

log = logging.getLogger(__name__)
TEMPLATE = "500.html"
FALLBACK = "Something went wrong on our side. Please wait a minute and reload the page."
# Every participant URL lives under s/<study>/ (surveys.participation.urls).
_PARTICIPANT_PATH = re.compile(r"^/s/[^/]+/")


def participant_frame_ancestors() -> tuple[str, ...]:
    """The origins any recruiter frames participant pages from, in a stable order.

    The failed request's own study, which would name its recruiter, cannot be read when the
    database is what failed; an error page holds nothing to click, so allowing every
    recruiter's frame gives a clickjacker nothing.
    """
    origins = {origin for adapter in RECRUITERS.values() for origin in adapter.frame_ancestors}
    return tuple(sorted(origins))


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: the polite page, framable on participant pages, never cached."""
    try:
        body = loader.get_template(TEMPLATE).render({})
    except Exception:  # noqa: BLE001 - the error page must not fail in its turn
        log.exception("the %s template could not be rendered", TEMPLATE)
        body = FALLBACK
    response = HttpResponseServerError(body)
    patch_cache_control(response, private=True, no_store=True)
    response["X-Robots-Tag"] = "noindex, nofollow"
    ancestors = participant_frame_ancestors()
    if _PARTICIPANT_PATH.match(request.path_info) and ancestors:
        response.xframe_options_exempt = True
        response["Content-Security-Policy"] = "frame-ancestors 'self' " + " ".join(ancestors)
    return response
