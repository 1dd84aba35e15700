"""The participant's pages over HTTP: post-redirect-get, resuming, and polite refusals."""

from __future__ import annotations

import pytest
from django.test import Client

from surveys.models import Participant, ParticipantStatus, Response, StudyStatus
from tests.surveys.participation.fixtures import build_study

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def enter(client: Client, study, query: str = "") -> str:
    """Open the study link; the URL it redirects to."""
    response = client.get(f"/s/{study.code}/{query}")
    assert response.status_code == 302, response.content
    return response["Location"]


def consent(client: Client, study) -> Participant:
    consent_url = enter(client, study)
    response = client.post(consent_url, {"decision": "agree"})
    assert response.status_code == 302 and response["Location"].endswith("/instructions/")
    return Participant.objects.get(code=consent_url.split("/")[4])


def question_url(participant: Participant, position: int) -> str:
    return f"/s/{participant.study.code}/p/{participant.code}/q/{position}/"


@pytest.fixture
def study(request):
    request.getfixturevalue("media")
    return build_study(participants_wanted=3).study


# --- entry ----------------------------------------------------------------------------------


def test_the_study_link_starts_a_participant_and_sends_them_to_consent(client, study):
    location = enter(client, study)
    participant = Participant.objects.get()
    assert location == f"/s/{study.code}/p/{participant.code}/consent/"
    assert participant.recruiter == "link" and participant.status == ParticipantStatus.STARTED
    page = client.get(location)
    assert page.status_code == 200
    assert study.consent_text.encode() in page.content
    # The resume link carries the participant's random code, never the recruiter's ID.
    assert f"/s/{study.code}/p/{participant.code}/".encode() in page.content
    assert participant.external_id.encode() not in page.content


def test_the_same_browser_opening_the_link_again_resumes(client, study):
    first = enter(client, study)
    assert enter(client, study) == first
    assert Participant.objects.count() == 1
    # Another browser is another participant.
    assert enter(Client(), study) != first
    assert Participant.objects.count() == 2


def test_a_personal_pid_link_names_the_participant(client, study):
    first = enter(client, study, "?pid=alice-01")
    assert Participant.objects.get().external_id == "alice-01"
    assert enter(client, study, "?pid=alice-01") == first
    # Another browser with only the ID gets the polite page, not alice's participation.
    elsewhere = Client().get(f"/s/{study.code}/?pid=alice-01")
    assert elsewhere.status_code == 409 and b"already started" in elsewhere.content
    assert Participant.objects.count() == 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?pid=", b"is empty"),
        ("?pid=" + "a" * 201, b"longer than 200"),
        ("?pid=%3Cscript%3E", b"only letters, digits"),
    ],
)
def test_a_garbled_pid_is_refused_with_a_fix(client, study, query, message):
    response = client.get(f"/s/{study.code}/{query}")
    assert response.status_code == 400 and message in response.content
    assert not Participant.objects.exists()


def test_an_unknown_study_link_is_not_found(client, study):
    response = client.get("/s/nosuchstudy/")
    assert response.status_code == 404 and b"no study at this address" in response.content


@pytest.mark.parametrize(
    ("status", "code", "text"),
    [(StudyStatus.CLOSED, 410, b"has closed"), (StudyStatus.DRAFT, 403, b"not open yet")],
)
def test_a_study_that_is_not_open_says_so_politely(client, study, status, code, text):
    study.status = status
    study.save()
    response = client.get(f"/s/{study.code}/")
    assert response.status_code == code and text in response.content
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert not Participant.objects.exists()


def test_a_full_study_says_so_politely(client, study):
    for n in range(study.participants_wanted):
        Participant.objects.create(
            study=study, external_id=f"done-{n}", recruiter="link", status="completed"
        )
    response = client.get(f"/s/{study.code}/")
    assert response.status_code == 200 and b"This study is full" in response.content
    assert Participant.objects.count() == study.participants_wanted


def test_a_study_whose_recruiter_is_not_installed_cannot_be_entered(client, study):
    study.recruiter = "nosuchrecruiter"
    study.save()
    response = client.get(f"/s/{study.code}/")
    assert response.status_code == 503 and b"cannot be entered" in response.content
    assert not Participant.objects.exists()


def test_the_entry_link_only_answers_get(client, study):
    assert client.post(f"/s/{study.code}/").status_code == 405
    assert not Participant.objects.exists()


# --- consent --------------------------------------------------------------------------------


def test_an_unclear_consent_decision_is_refused(client, study):
    url = enter(client, study)
    response = client.post(url, {"decision": "maybe"})
    assert response.status_code == 400 and b"I agree" in response.content
    participant = Participant.objects.get()
    assert participant.status == ParticipantStatus.STARTED and not participant.items.exists()


def test_declining_leads_to_a_goodbye_with_a_way_back(client, study):
    url = enter(client, study)
    response = client.post(url, {"decision": "decline"}, follow=True)
    assert response.redirect_chain[-1][0].endswith("/goodbye/")
    assert b"chose not to take part" in response.content
    assert Participant.objects.get().status == ParticipantStatus.DECLINED
    assert client.get(url).status_code == 200  # the consent form is open again


# --- questions ------------------------------------------------------------------------------


def test_answers_post_then_redirect_to_the_next_question_and_finally_the_code(client, study):
    participant = consent(client, study)
    total = participant.items.count()
    for position in range(1, total + 1):
        page = client.get(question_url(participant, position))
        assert page.status_code == 200
        assert f"Question {position} of {total}".encode() in page.content
        response = client.post(question_url(participant, position), {"score": "4"})
        expected = question_url(participant, position + 1) if position < total else "debrief/"
        assert response.status_code == 302 and response["Location"].endswith(expected)
    debrief = client.get(response["Location"])
    assert study.debrief_text.encode() in debrief.content
    done = client.post(response["Location"], follow=True)
    assert done.redirect_chain[-1][0].endswith("/done/")
    assert study.completion_code.encode() in done.content
    participant.refresh_from_db()
    assert participant.status == ParticipantStatus.COMPLETED
    assert Response.objects.filter(participant=participant).count() == total


def test_reload_back_button_and_new_device_resume_at_the_first_unanswered(client, study):
    participant = consent(client, study)
    for position in (1, 2):
        client.get(question_url(participant, position))
        client.post(question_url(participant, position), {"score": "2"})
    current = question_url(participant, 3)
    # The back button asks for question 1 again; a guessed URL asks for question 5.
    for stale in (1, 2, 5):
        response = client.get(question_url(participant, stale))
        assert response.status_code == 302 and response["Location"] == current
    assert client.get(f"/s/{study.code}/p/{participant.code}/")["Location"] == current
    new_device = Client()
    resume = f"/s/{study.code}/p/{participant.code}/"
    assert new_device.get(resume)["Location"] == current
    assert new_device.get(current).status_code == 200


def test_a_repeated_post_stores_one_answer_and_goes_to_the_same_place(client, study):
    participant = consent(client, study)
    client.get(question_url(participant, 1))
    first = client.post(question_url(participant, 1), {"score": "5", "client_rt_ms": "800"})
    again = client.post(question_url(participant, 1), {"score": "1", "client_rt_ms": "10"})
    assert first["Location"] == again["Location"] == question_url(participant, 2)
    assert list(Response.objects.values_list("score", "client_rt_ms")) == [(5, 800)]


@pytest.mark.parametrize("data", [{}, {"score": "0"}, {"score": "6"}, {"score": "x"}])
def test_a_bad_score_shows_the_question_again_with_the_problem(client, study, data):
    participant = consent(client, study)
    client.get(question_url(participant, 1))
    response = client.post(question_url(participant, 1), data)
    assert response.status_code == 400
    assert b'role="alert"' in response.content and b"1 to 5" in response.content
    assert b"Question 1 of" in response.content
    assert not Response.objects.exists()


def test_an_answer_sooner_than_the_minimum_time_is_refused(client):
    study = build_study(min_seconds_per_question=30).study
    participant = consent(client, study)
    page = client.get(question_url(participant, 1))
    assert b'data-min-ms="30000"' in page.content
    response = client.post(question_url(participant, 1), {"score": "3"})
    assert response.status_code == 400 and b"at least 30 seconds" in response.content
    assert not Response.objects.exists()


def test_answering_ahead_or_for_someone_else_is_refused(client, study):
    participant = consent(client, study)
    client.get(question_url(participant, 1))
    ahead = client.post(question_url(participant, 2), {"score": "3"})
    assert ahead.status_code == 409 and b"Continue where you left off" in ahead.content
    forged = question_url(participant, 1).replace(participant.code, "forgedcode12345x")
    assert client.post(forged, {"score": "3"}).status_code == 404
    outside = client.post(question_url(participant, 999), {"score": "3"})
    assert outside.status_code == 404
    assert not Response.objects.exists()


def test_a_closed_study_still_takes_the_answers_of_people_in_it(client, study):
    participant = consent(client, study)
    client.get(question_url(participant, 1))
    study.status = StudyStatus.CLOSED
    study.save()
    # Closing stops new entries only.
    response = client.post(question_url(participant, 1), {"score": "3"})
    assert response.status_code == 302 and response["Location"] == question_url(participant, 2)
    assert client.get(question_url(participant, 2)).status_code == 200
    assert Response.objects.count() == 1


def test_pages_out_of_turn_send_the_participant_where_they_belong(client, study):
    participant = consent(client, study)
    base = f"/s/{study.code}/p/{participant.code}/"
    for page in ("consent/", "goodbye/", "debrief/", "done/"):
        response = client.get(base + page)
        assert response.status_code == 302 and response["Location"] == base + "instructions/"
    assert client.post(base + "debrief/").status_code == 302
    assert participant.status == ParticipantStatus.CONSENTED


def test_an_excluded_participant_is_told_their_participation_ended(client, study):
    participant = consent(client, study)
    Participant.objects.filter(pk=participant.pk).update(status=ParticipantStatus.EXCLUDED)
    response = client.get(f"/s/{study.code}/p/{participant.code}/q/1/", follow=True)
    assert response.status_code == 200 and b"participation has ended" in response.content


def test_participant_pages_refuse_framing_and_indexing(client, study):
    response = client.get(enter(client, study))
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert response["Cache-Control"] == "private, no-store"
