"""The pictures of a participant's questions, streamed from storage under neutral URLs.

The URL carries the participant's code and position, never the stored file's name; the
response carries no file name, date or tag either, so neither the address nor the headers of
a picture can tell one method's overlay from another's.
"""

from __future__ import annotations

import mimetypes

from django.core.files.storage import default_storage
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, HttpRequest
from django.views.decorators.http import require_safe

from surveys.models import Participant
from surveys.participation.errors import NotFound
from surveys.participation.pages import participant_view
from surveys.participation.progress import PICTURES, access_picture
from surveys.studies.practice import access_practice_picture

# Each participant's pictures are theirs alone: a browser may keep them, a shared cache not.
PICTURE_CACHE_CONTROL = "private, max-age=3600"


def stream_picture(picture: FieldFile) -> FileResponse:
    """``picture``'s bytes as they are stored, without its name, size aside."""
    name = picture.name or ""
    content_type, _ = mimetypes.guess_type(name)
    if content_type is None or not content_type.startswith("image/"):
        content_type = "application/octet-stream"
    response = FileResponse(default_storage.open(name, "rb"), content_type=content_type)
    # FileResponse names the file it streams; that name must not reach the participant.
    del response["Content-Disposition"]
    response["Cache-Control"] = PICTURE_CACHE_CONTROL
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_safe
@participant_view
def picture(
    request: HttpRequest, participant: Participant, position: int, which: str
) -> FileResponse:
    """The original or the overlay of a question the participant has been shown."""
    return stream_picture(access_picture(participant, position, which))


@require_safe
@participant_view
def practice_picture(
    request: HttpRequest, participant: Participant, end: str, which: str
) -> FileResponse:
    """The original or the overlay of the instructions' practice picture of one scale end."""
    practice = access_practice_picture(participant.study, end)
    if practice is None or which not in PICTURES:
        raise NotFound("There is no such picture.")
    return stream_picture(getattr(practice, which))
