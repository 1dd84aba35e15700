"""Root URL configuration and the server-error page."""

from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from surveys.catalogue.media_views import staff_media

urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/", admin.site.urls),
    path("", include("surveys.urls")),
]

# Local media are served by a staff-only view, with DEBUG on or off: under gunicorn nothing
# else serves them, and Django's DEBUG-only helper would show every stored file (participants'
# overlays included) to anyone who guessed a name. S3 files carry signed URLs of their own.
_MEDIA_PREFIX = settings.MEDIA_URL.strip("/")
if settings.STORAGE == "local" and settings.MEDIA_URL.startswith("/") and _MEDIA_PREFIX:
    urlpatterns.append(path(f"{_MEDIA_PREFIX}/<path:name>", staff_media, name="staff_media"))

handler500 = "surveys.platform.errors.server_error"
