"""Staff pages' pictures are served with DEBUG off (gunicorn), to staff only.

Before: their ``/media/…`` URLs were routed only when DEBUG was on, so under gunicorn every
figure, source patch and top image of the catalogue was a broken image (404) — and with DEBUG
on, anyone could fetch any stored file (participants' overlays too) by its name.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

from tests.studyapp.fixtures import media  # noqa: F401
from tests.surveys.factories import PrototypeFactory, png_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def picture(media: Path, settings) -> str:  # noqa: F811
    assert settings.DEBUG is False, "the test runs as deployed"
    prototype = PrototypeFactory()
    prototype.source_patch.save("patch.png", ContentFile(png_bytes((10, 200, 30))), save=True)
    return str(prototype.source_patch.url)


@pytest.fixture
def staff(django_user_model) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.create_user("ada", is_staff=True))
    return client


def test_a_staff_picture_url_serves_the_stored_bytes(picture: str, staff: Client) -> None:
    response = staff.get(picture)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == png_bytes((10, 200, 30))
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"].startswith("private")
    assert "sandbox" in response["Content-Security-Policy"]


def test_visitors_who_are_not_staff_get_no_stored_file(picture: str, django_user_model) -> None:
    someone = Client()
    someone.force_login(django_user_model.objects.create_user("eve"))
    for client in (Client(), someone):
        response = client.get(picture)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize("name", ["missing.png", "../settings.py", "a/../../etc/passwd", "a//b"])
def test_anything_but_a_stored_file_is_404(media: Path, staff: Client, name: str) -> None:  # noqa: F811
    (media.parent / "settings.py").write_text("SECRET = 1")
    assert staff.get(f"/media/{name}").status_code == 404


def test_the_catalogue_page_shows_pictures_that_load(picture: str, staff: Client) -> None:
    from surveys.models import Prototype

    prototype = Prototype.objects.get()
    page = staff.get(f"/staff/runs/{prototype.run.code}/")
    assert page.status_code == 200
    assert f'src="{picture}"' in page.content.decode()
    assert staff.get(picture).status_code == 200
    assert default_storage.exists(picture.removeprefix("/media/"))
