"""A server error shows participants a polite page, inside a recruiter's frame too.

Before: a database error answered Django's bare "Server Error (500)" with
``X-Frame-Options: DENY``, so inside MTurk's frame the participant saw a blank box.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import OperationalError, connection
from django.test import Client

from surveys.models import Participant, RecruiterKind
from surveys.platform.errors import participant_frame_ancestors
from surveys.recruiting.registry import get_recruiter
from tests.studyapp.fixtures import media  # noqa: F401
from tests.surveys.participation.fixtures import build_study, consented

LEAKS = ("db.internal", "10.1.2.3", "study_owner", "OperationalError", "Traceback")


def _refuse(execute, sql, params, many, context):
    raise OperationalError(
        'connection to server at "db.internal" (10.1.2.3), port 5432 failed: FATAL:  '
        'password authentication failed for user "study_owner"'
    )


@pytest.fixture
def participant(db: None, media: Path) -> Participant:  # noqa: F811
    study = build_study(per_condition=1, cells=1, recruiter=RecruiterKind.MTURK).study
    return consented(study, "A1B2C3WORKER")


def _get_while_the_database_is_down(url: str, client: Client | None = None):
    client = client or Client()
    client.raise_request_exception = False
    with connection.execute_wrapper(_refuse):
        return client.get(url)


def test_a_participant_page_with_the_database_down_is_a_polite_framable_page(
    participant: Participant,
) -> None:
    url = f"/s/{participant.study.code}/p/{participant.code}/consent/"

    response = _get_while_the_database_is_down(url)

    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html
    assert "reload the page" in html
    assert not [leak for leak in LEAKS if leak in html]
    assert participant.code not in html
    # MTurk shows the survey in its frame: the page may be framed by MTurk, and only by it
    assert "X-Frame-Options" not in response.headers
    ancestors = response["Content-Security-Policy"]
    assert ancestors.startswith("frame-ancestors 'self' ")
    for origin in get_recruiter(RecruiterKind.MTURK).frame_ancestors:
        assert origin in ancestors
    assert "*" not in ancestors
    assert "no-store" in response["Cache-Control"]


def test_the_error_page_allows_exactly_the_recruiters_frames() -> None:
    origins = participant_frame_ancestors()
    assert "https://worker.mturk.com" in origins
    assert all(origin.startswith("https://") for origin in origins)


def test_a_staff_page_error_stays_unframable(participant: Participant, django_user_model) -> None:
    staff = Client()
    staff.force_login(django_user_model.objects.create_user("ada", is_staff=True))

    response = _get_while_the_database_is_down("/staff/studies/", staff)

    assert response.status_code == 500
    assert response["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" not in response.headers
    assert not [leak for leak in LEAKS if leak in response.content.decode()]


def test_the_error_page_renders_when_its_template_is_broken(
    participant: Participant, settings
) -> None:
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [], "APP_DIRS": False, "OPTIONS": {"loaders": []}}
    ]
    response = _get_while_the_database_is_down(f"/s/{participant.study.code}/p/x/consent/")
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content
