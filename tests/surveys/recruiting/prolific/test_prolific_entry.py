"""A Prolific participant's way in and out: PROLIFIC_PID, STUDY_ID and SESSION_ID recorded, the
same PID resuming, a link of another study refused, and the completion redirect with the code."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from surveys.models import Participant, ParticipantStatus
from surveys.recruiting.prolific.recruiter import (
    ProlificRecruiter,
    check_prolific_config,
    prolific_entry_url,
)
from surveys.recruiting.registry import RecruiterConfigError, get_recruiter
from tests.surveys.participation.fixtures import build_study

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

PID = "5f1d2e3c4b5a69788796a5b4"
PROLIFIC_STUDY = "60ffe5c8371090c7041d43f8"
SESSION = "6123456789abcdef01234567"


def _entry(study, **params: str) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"/s/{study.code}/?{query}"


def prolific_study(**config: Any):
    return build_study(recruiter="prolific", recruiter_config=config).study


def test_the_three_ids_are_recorded_and_the_pid_is_the_participant():
    study = prolific_study(study_id=PROLIFIC_STUDY)
    response = Client().get(
        _entry(study, PROLIFIC_PID=PID, STUDY_ID=PROLIFIC_STUDY, SESSION_ID=SESSION), follow=True
    )
    assert response.redirect_chain[-1][0].endswith("/consent/")
    participant = Participant.objects.get()
    assert (participant.external_id, participant.recruiter) == (PID, "prolific")
    assert participant.recruiter_data == {"STUDY_ID": PROLIFIC_STUDY, "SESSION_ID": SESSION}
    # Prolific's link brings the participant back: no resume link of our own.
    assert b"open this study again from where you found it" in response.content


def test_the_same_pid_resumes_on_another_device_where_it_left_off():
    study = prolific_study()
    first = Client()
    url = _entry(study, PROLIFIC_PID=PID, STUDY_ID=PROLIFIC_STUDY, SESSION_ID=SESSION)
    base = first.get(url, follow=True).redirect_chain[-1][0].removesuffix("consent/")
    first.post(base + "consent/", {"decision": "agree"})
    first.get(base + "q/1/")
    first.post(base + "q/1/", {"score": "4"})
    # upper case, another browser, the same session: the same participant, at question 2
    again = Client().get(_entry(study, PROLIFIC_PID=PID.upper(), SESSION_ID=SESSION), follow=True)
    assert again.redirect_chain[-1][0] == base + "q/2/"
    assert Participant.objects.count() == 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, b"The link has no PROLIFIC_PID"),
        ({"PROLIFIC_PID": ""}, b"The link has no PROLIFIC_PID"),
        ({"PROLIFIC_PID": "{{%PROLIFIC_PID%}}"}, b"still Prolific&#x27;s placeholder"),
        ({"PROLIFIC_PID": "alice"}, b"PROLIFIC_PID is not a Prolific ID"),
        ({"PROLIFIC_PID": PID + "0"}, b"PROLIFIC_PID is not a Prolific ID"),
        ({"PROLIFIC_PID": PID, "STUDY_ID": "xyz"}, b"STUDY_ID is not a Prolific ID"),
        ({"PROLIFIC_PID": PID, "SESSION_ID": "%25SESSION_ID%25"}, b"SESSION_ID is still"),
        ({"PROLIFIC_PID": PID, "STUDY_ID": SESSION}, b"belongs to another Prolific study"),
    ],
)
def test_a_missing_or_garbled_id_is_refused_clearly_and_stores_nothing(params, message):
    study = prolific_study(study_id=PROLIFIC_STUDY)
    response = Client().get(_entry(study, **params))
    assert response.status_code == 400
    assert message in response.content
    assert not Participant.objects.exists()


def test_before_the_study_knows_its_prolific_id_any_study_id_is_taken():
    study = prolific_study()
    Client().get(_entry(study, PROLIFIC_PID=PID, STUDY_ID=SESSION))
    assert Participant.objects.get().recruiter_data == {"STUDY_ID": SESSION}


def test_the_end_redirects_to_prolific_with_the_study_code():
    study = prolific_study(study_id=PROLIFIC_STUDY)
    client = Client()
    url = _entry(study, PROLIFIC_PID=PID, STUDY_ID=PROLIFIC_STUDY, SESSION_ID=SESSION)
    base = client.get(url, follow=True).redirect_chain[-1][0].removesuffix("consent/")
    client.post(base + "consent/", {"decision": "agree"})
    participant = Participant.objects.get()
    for position in range(1, participant.items.count() + 1):
        client.get(f"{base}q/{position}/")
        client.post(f"{base}q/{position}/", {"score": "2"})
    finish = client.post(base + "debrief/")
    expected = f"https://app.prolific.com/submissions/complete?cc={study.completion_code}"
    assert finish.status_code == 302 and finish["Location"] == expected
    # the done page (a reload after finishing) sends them to the same place
    assert client.get(base + "done/")["Location"] == expected
    participant.refresh_from_db()
    assert participant.status == ParticipantStatus.COMPLETED


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"study_id": "abc"}, "24 hexadecimal digits"),
        ({"review": "sometimes"}, "manual or automatic"),
        ({"reward": 3}, "unknown Prolific setting"),
        ({"status": "<b>"}, "Prolific study status"),
    ],
)
def test_bad_prolific_settings_are_refused(config, message):
    with pytest.raises(RecruiterConfigError, match=message):
        check_prolific_config(config)


def test_settings_are_normalised_and_the_entry_url_carries_the_placeholders():
    checked = ProlificRecruiter.check_config({"study_id": PROLIFIC_STUDY.upper()})
    assert checked == {"study_id": PROLIFIC_STUDY, "review": "manual"}
    assert isinstance(get_recruiter("prolific"), ProlificRecruiter)
    study = prolific_study()
    assert get_recruiter("prolific").participant_link(study) == prolific_entry_url(
        f"/s/{study.code}/"
    )
    assert prolific_entry_url("https://x.org/s/abc/") == (
        "https://x.org/s/abc/?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}"
        "&SESSION_ID={{%SESSION_ID%}}"
    )


def test_a_broken_prolific_config_refuses_entry_without_a_server_error():
    study = prolific_study()
    study.recruiter_config = {"study_id": "not-an-id"}
    study.save()
    response = Client().get(_entry(study, PROLIFIC_PID=PID))
    assert response.status_code == 400 and b"Prolific settings are not valid" in response.content
    assert not Participant.objects.exists()
