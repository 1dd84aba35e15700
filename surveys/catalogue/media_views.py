"""Stored files of the staff pages (figures, source patches, top images) under MEDIA_URL.

With local storage nothing else serves ``MEDIA_URL``: Django's static helper works only with
DEBUG on, and gunicorn serves no files, so the catalogue's pictures broke in production. This
view streams them from the default storage to staff only; participants never come here (their
pictures have neutral URLs of their own, :mod:`surveys.participation.image_views`). With S3 the
files' own signed URLs are used instead and this view is not routed.
"""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_safe

from surveys.common.access import staff_only

# Staff may keep a picture for a while; a shared cache may not (it would serve it to anyone).
MEDIA_CACHE_CONTROL = "private, max-age=3600"


def _checked_name(name: str) -> str:
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise Http404("No such file.")
    return name


@require_safe
@staff_only
def staff_media(request: HttpRequest, name: str) -> FileResponse:
    """The stored file ``name``, or 404."""
    name = _checked_name(name)
    if not default_storage.exists(name):
        raise Http404("No such file.")
    content_type, _ = mimetypes.guess_type(name)
    response = FileResponse(
        default_storage.open(name, "rb"), content_type=content_type or "application/octet-stream"
    )
    response["Cache-Control"] = MEDIA_CACHE_CONTROL
    response["X-Content-Type-Options"] = "nosniff"
    # A stored SVG or HTML file must not run scripts in the staff's session.
    response["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'"
    return response
