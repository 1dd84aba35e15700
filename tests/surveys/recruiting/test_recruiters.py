"""The recruiter interface and the plain link, and that the interface carries a panel-style
adapter (IDs from the URL, a preview, a completion redirect, framing) through the survey."""

from __future__ import annotations

from typing import ClassVar

import pytest
from django.http import HttpRequest
from django.test import Client, RequestFactory

from surveys.models import Participant, ParticipantStatus, Study
from surveys.recruiting.base import check_external_id
from surveys.recruiting.link import LinkRecruiter
from surveys.recruiting.registry import (
    RECRUITERS,
    Completion,
    EntryError,
    Identity,
    Recruiter,
    UnknownRecruiter,
    get_recruiter,
)
from tests.surveys.participation.fixtures import build_study

pytestmark = pytest.mark.usefixtures("media")


def test_the_registry_gives_the_link_adapter_and_names_the_installed_ones():
    assert isinstance(get_recruiter("link"), LinkRecruiter)
    with pytest.raises(UnknownRecruiter, match="installed: link"):
        get_recruiter("carrier-pigeon")


def test_a_completion_is_a_redirect_or_a_code():
    assert Completion(code="ABC").code == "ABC"
    assert Completion(redirect_url="https://example.org/done").redirect_url
    for bad in ({}, {"code": "A", "redirect_url": "https://example.org"}):
        with pytest.raises(ValueError, match="either a redirect URL or a code"):
            Completion(**bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("abc", "abc"), ("  A1_b-2.c:d@e ", "A1_b-2.c:d@e")],
)
def test_external_ids_are_trimmed(value, expected):
    assert check_external_id(value, "pid") == expected


@pytest.mark.parametrize("value", ["", "   ", "a b", "x" * 201, "<b>", "é"])
def test_odd_external_ids_are_refused_naming_the_parameter(value):
    with pytest.raises(EntryError, match="pid"):
        check_external_id(value, "pid")


@pytest.mark.django_db
def test_the_link_mints_a_fresh_id_or_takes_the_pid():
    study = build_study().study
    link = LinkRecruiter()
    factory = RequestFactory()
    first = link.read_entry(factory.get("/"), study)
    second = link.read_entry(factory.get("/"), study)
    assert first.fresh and second.fresh and first.external_id != second.external_id
    named = link.read_entry(factory.get("/", {"pid": "P-7"}), study)
    assert named == Identity(external_id="P-7")
    with pytest.raises(EntryError):
        link.read_entry(factory.get("/", {"pid": "no spaces"}), study)


@pytest.mark.django_db
def test_the_link_gives_the_researcher_a_link_and_the_participant_a_resume_link():
    study = build_study().study
    participant = Participant.objects.create(study=study, external_id="P 1&2", recruiter="link")
    link = LinkRecruiter()
    request = RequestFactory().get("/")
    assert link.participant_link(study) == f"/s/{study.code}/"
    assert link.participant_link(study, request) == f"http://testserver/s/{study.code}/"
    # The resume link carries the participant's random code, never the recruiter's ID.
    assert link.resume_url(participant, request) == (
        f"http://testserver/s/{study.code}/p/{participant.code}/"
    )
    assert link.completion(participant) == Completion(code=study.completion_code)


class PanelRecruiter(Recruiter):
    """A panel-shaped adapter, written the way the Prolific and MTurk ones will be."""

    kind = "testpanel"
    frame_ancestors: ClassVar[tuple[str, ...]] = ("https://panel.example.org",)

    def read_entry(self, request: HttpRequest, study: Study) -> Identity:
        if request.GET.get("assignment") == "PREVIEW":
            return Identity(external_id="", preview=True)
        if "PANEL_ID" not in request.GET:
            raise EntryError("The link has no PANEL_ID parameter; open it from the panel.")
        return Identity(
            external_id=check_external_id(request.GET["PANEL_ID"], "PANEL_ID"),
            data={"session": request.GET.get("SESSION", "")},
        )

    def completion(self, participant: Participant) -> Completion:
        code = participant.study.completion_code
        return Completion(redirect_url=f"https://panel.example.org/complete?cc={code}")


@pytest.fixture
def panel_study(request, monkeypatch):
    request.getfixturevalue("media")
    monkeypatch.setitem(RECRUITERS, PanelRecruiter.kind, PanelRecruiter)
    return build_study(recruiter=PanelRecruiter.kind).study


@pytest.mark.django_db
def test_a_panel_adapter_records_its_ids_and_ends_with_its_redirect(panel_study):
    client = Client()
    entry = f"/s/{panel_study.code}/?PANEL_ID=W123&SESSION=S9"
    response = client.get(entry, follow=True)
    assert response.redirect_chain[-1][0].endswith("/consent/")
    participant = Participant.objects.get()
    assert (participant.external_id, participant.recruiter) == ("W123", "testpanel")
    assert participant.recruiter_data == {"session": "S9"}
    # The panel brings people back itself: no resume link of our own.
    assert b"open this study again from where you found it" in response.content
    # Framed by the panel, and by no one else.
    assert "X-Frame-Options" not in response.headers
    assert response["Content-Security-Policy"] == (
        "frame-ancestors 'self' https://panel.example.org"
    )
    base = response.redirect_chain[-1][0].removesuffix("consent/")
    client.post(base + "consent/", {"decision": "agree"})
    for position in range(1, participant.items.count() + 1):
        client.get(f"{base}q/{position}/")
        client.post(f"{base}q/{position}/", {"score": "3"})
    finish = client.post(base + "debrief/")
    assert finish.status_code == 302
    assert finish["Location"] == (
        f"https://panel.example.org/complete?cc={panel_study.completion_code}"
    )
    participant.refresh_from_db()
    assert participant.status == ParticipantStatus.COMPLETED


@pytest.mark.django_db
def test_a_panel_preview_starts_nothing_and_a_bad_entry_is_refused(panel_study):
    client = Client()
    preview = client.get(f"/s/{panel_study.code}/?assignment=PREVIEW")
    assert preview.status_code == 200 and b"This is a preview" in preview.content
    missing = client.get(f"/s/{panel_study.code}/")
    assert missing.status_code == 400 and b"no PANEL_ID parameter" in missing.content
    assert not Participant.objects.exists()
