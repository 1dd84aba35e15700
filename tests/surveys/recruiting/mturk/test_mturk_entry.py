"""A worker inside MTurk's frame: the preview starts nothing, an accepted assignment starts the
survey once per worker, odd or forged parameters are refused with a clear message, and the end
posts the assignment to MTurk's externalSubmit (only ever on MTurk's own hosts)."""

from __future__ import annotations

import pytest
from django.test import Client

from surveys.models import Participant, ParticipantStatus
from surveys.recruiting.mturk.recruiter import SUBMIT_HOSTS, allowed_submit_hosts
from tests.surveys.participation.fixtures import build_study
from tests.surveys.recruiting.mturk.fixtures import entry_url, mturk_study, publish, take_part

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]
SANDBOX_SUBMIT = "https://workersandbox.mturk.com/mturk/externalSubmit"


@pytest.fixture
def study():
    study = mturk_study()
    publish(study, ["HITONE", "HITTWO", "HITTHREE"], sizes=[9, 9, 2])
    return study


def test_the_default_submit_hosts_are_exactly_mturk_s_two_worker_sites():
    assert SUBMIT_HOSTS == ("https://www.mturk.com", "https://workersandbox.mturk.com")
    assert allowed_submit_hosts() == SUBMIT_HOSTS


def test_a_preview_shows_the_study_in_mturk_s_frame_and_starts_nothing(study):
    response = Client().get(
        f"/s/{study.code}/?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=HITONE"
        "&turkSubmitTo=https%3A%2F%2Fworkersandbox.mturk.com"
    )
    assert response.status_code == 200 and b"This is a preview" in response.content
    assert not Participant.objects.exists()
    assert "X-Frame-Options" not in response.headers
    policy = response["Content-Security-Policy"]
    assert "https://www.mturk.com" in policy and "https://workersandbox.mturk.com" in policy


def test_an_accepted_assignment_starts_the_survey_as_the_worker(study):
    url = entry_url(study, "ASSIGN1", "AWORKER1", "HITONE", turkSubmitTo="https://www.mturk.com/")
    response = Client().get(url)
    assert response.status_code == 302 and response["Location"].endswith("/consent/")
    participant = Participant.objects.get()
    assert (participant.external_id, participant.recruiter) == ("AWORKER1", "mturk")
    assert participant.recruiter_data == {
        "assignmentId": "ASSIGN1", "hitId": "HITONE", "turkSubmitTo": "https://www.mturk.com",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("hitId=HITONE&workerId=AW1&turkSubmitTo=https://www.mturk.com", b"has no assignmentId"),
        ("assignmentId=&hitId=HITONE&workerId=AW1", b"has no assignmentId"),
        ("assignmentId=3x%3Cscript%3E&hitId=HITONE&workerId=AW1", b"assignmentId is not one"),
        ("assignmentId=abc123&hitId=HITONE&workerId=AW1", b"assignmentId is not one"),
        ("assignmentId=A1&hitId=HITONE&turkSubmitTo=https://www.mturk.com", b"has no workerId"),
        ("assignmentId=A1&hitId=HITONE&workerId=W1", b"workerId is not one"),
        ("assignmentId=A1&workerId=AW1&turkSubmitTo=https://www.mturk.com", b"has no hitId"),
        ("assignmentId=A1&hitId=FORGED&workerId=AW1&turkSubmitTo=https://www.mturk.com",
         b"not one of this study"),
    ],
)  # fmt: skip
def test_missing_or_forged_ids_are_refused_and_nothing_starts(study, params, message):
    response = Client().get(f"/s/{study.code}/?{params}")
    assert response.status_code == 400 and message in response.content
    assert not Participant.objects.exists()


@pytest.mark.parametrize(
    "submit_to",
    [
        "",
        "https://evil.example.org",
        "https://www.mturk.com.evil.example.org",
        "http://www.mturk.com",
        "https://www.mturk.com:8443",
        "https://www.mturk.com/elsewhere",
        "https://www.mturk.com?next=https://evil.example.org",
        "https://someone@www.mturk.com",
        "javascript:alert(1)",
        "//evil.example.org",
    ],
)
def test_a_turk_submit_to_that_is_not_an_mturk_host_is_refused(study, submit_to):
    client = Client()
    response = client.get(entry_url(study, "ASSIGN1", "AWORKER1", "HITONE", turkSubmitTo=submit_to))
    assert response.status_code == 400
    assert b"turkSubmitTo is not a Mechanical Turk address" in response.content
    assert not Participant.objects.exists()


def test_a_worker_who_took_the_study_through_an_earlier_batch_is_turned_away(study):
    first = take_part(study, "ASSIGN1", "AWORKER1", "HITONE")
    assert first.status == ParticipantStatus.COMPLETED
    again = Client().get(entry_url(study, "ASSIGN2", "AWORKER1", "HITTWO"))
    assert again.status_code == 400
    assert b"already taken part in this study" in again.content
    # The same assignment is the same participation: it resumes.
    resumed = Client().get(entry_url(study, "ASSIGN1", "AWORKER1", "HITONE"))
    assert resumed.status_code == 302 and first.code in resumed["Location"]
    assert Participant.objects.count() == 1


def test_another_worker_s_assignment_is_refused(study):
    Client().get(entry_url(study, "ASSIGN1", "AWORKER1", "HITONE"))
    response = Client().get(entry_url(study, "ASSIGN1", "AWORKER2", "HITONE"))
    assert response.status_code == 400 and b"belongs to another worker" in response.content
    assert Participant.objects.count() == 1


def test_the_end_posts_the_assignment_and_the_code_to_mturk_from_the_frame(study):
    participant = take_part(study, "ASSIGN1", "AWORKER1", "HITONE")
    client = Client()
    finish = client.post(f"/s/{study.code}/p/{participant.code}/debrief/")
    assert finish.status_code == 302
    assert finish["Location"] == f"/s/{study.code}/p/{participant.code}/mturk/submit/"
    page = client.get(finish["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert f'action="{SANDBOX_SUBMIT}"' in html and 'method="post"' in html
    assert 'name="assignmentId" value="ASSIGN1"' in html
    assert f'name="completion_code" value="{study.completion_code}"' in html
    assert "form.submit()" in html and "Submit the HIT" in html
    assert "frame-ancestors" in page["Content-Security-Policy"]


def test_the_submit_page_waits_for_the_last_answer(study):
    client = Client()
    client.get(entry_url(study, "ASSIGN1", "AWORKER1", "HITONE"))
    participant = Participant.objects.get()
    page = client.get(f"/s/{study.code}/p/{participant.code}/mturk/submit/")
    assert page.status_code == 409 and b"externalSubmit" not in page.content


def test_a_tampered_turk_submit_to_is_never_used_as_a_target(study):
    participant = take_part(study, "ASSIGN1", "AWORKER1", "HITONE")
    participant.recruiter_data["turkSubmitTo"] = "https://evil.example.org"
    participant.save()
    page = Client().get(f"/s/{study.code}/p/{participant.code}/mturk/submit/")
    assert page.status_code == 400 and b"evil.example.org" not in page.content
    assert b"<form" not in page.content


def test_the_submit_page_is_only_for_mturk_workers():
    study = build_study().study
    participant = Participant.objects.create(study=study, external_id="P1", recruiter="link")
    page = Client().get(f"/s/{study.code}/p/{participant.code}/mturk/submit/")
    assert page.status_code == 404


def test_a_stand_in_submit_host_is_taken_only_when_the_setting_names_it(study, settings):
    url = entry_url(study, "ASSIGN1", "AWORKER1", "HITONE", turkSubmitTo="http://127.0.0.1:9")
    assert Client().get(url).status_code == 400
    settings.SURVEYS_MTURK_SUBMIT_HOSTS = ["http://127.0.0.1:9"]
    assert Client().get(url).status_code == 302
    assert Participant.objects.get().recruiter_data["turkSubmitTo"] == "http://127.0.0.1:9"
