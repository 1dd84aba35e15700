"""Closing a study stops new entries only: everyone already in may consent, answer, finish, see
their completion and go back to the recruiter to be paid."""

from __future__ import annotations

import pytest
from django.test import Client

from surveys.models import Participant, ParticipantStatus, Response, Study, StudyStatus
from surveys.studies.lifecycle import do_close_study
from tests.surveys.participation.fixtures import build_study

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

PID = "5f1d2e3c4b5a69788796a5b4"
SESSION = "6123456789abcdef01234567"


def answer_from(client: Client, base: str, first: int, last: int) -> None:
    for position in range(first, last + 1):
        assert client.get(f"{base}q/{position}/").status_code == 200
        response = client.post(f"{base}q/{position}/", {"score": "3"})
        assert response.status_code == 302, response.content


def closed(study: Study) -> None:
    do_close_study(study)
    assert Study.objects.get(pk=study.pk).status == StudyStatus.CLOSED


def test_a_participant_mid_survey_finishes_a_closed_study_and_gets_the_code():
    # given a participant halfway through
    study = build_study().study
    client = Client()
    consent_url = client.get(f"/s/{study.code}/")["Location"]
    base = consent_url.removesuffix("consent/")
    client.post(consent_url, {"decision": "agree"})
    participant = Participant.objects.get()
    total = participant.items.count()
    answer_from(client, base, 1, 2)

    # when the researcher closes the study
    closed(study)

    # then the rest can be answered, the debrief shown and the completion code reached
    answer_from(client, base, 3, total)
    assert client.get(base + "debrief/").status_code == 200
    done = client.post(base + "debrief/", follow=True)
    assert study.completion_code.encode() in done.content
    participant.refresh_from_db()
    assert participant.status == ParticipantStatus.COMPLETED
    assert Response.objects.filter(participant=participant).count() == total
    # and the same browser reopening the study link lands on its completion, not on "closed"
    assert client.get(f"/s/{study.code}/")["Location"] == base + "debrief/"


def test_a_prolific_participant_mid_survey_is_sent_back_to_be_paid():
    study = build_study(recruiter="prolific").study
    client = Client()
    entry = f"/s/{study.code}/?PROLIFIC_PID={PID}&SESSION_ID={SESSION}"
    consent_url = client.get(entry)["Location"]
    base = consent_url.removesuffix("consent/")
    client.post(consent_url, {"decision": "agree"})
    participant = Participant.objects.get()

    closed(study)
    answer_from(client, base, 1, participant.items.count())

    finish = client.post(base + "debrief/")
    expected = f"https://app.prolific.com/submissions/complete?cc={study.completion_code}"
    assert finish.status_code == 302 and finish["Location"] == expected


def test_someone_who_entered_before_closing_may_still_consent():
    study = build_study().study
    client = Client()
    consent_url = client.get(f"/s/{study.code}/")["Location"]
    closed(study)
    assert client.get(consent_url).status_code == 200
    agreed = client.post(consent_url, {"decision": "agree"})
    assert agreed.status_code == 302 and agreed["Location"].endswith("/instructions/")


def test_nobody_new_can_start_a_closed_study():
    study = build_study().study
    Client().get(f"/s/{study.code}/")
    closed(study)
    for query in ("", "?pid=newcomer"):
        response = Client().get(f"/s/{study.code}/{query}")
        assert response.status_code == 410 and b"has closed" in response.content
    assert Participant.objects.count() == 1
