"""Prolific's webhooks at ``hooks/prolific/``: signatures checked (good, bad, missing, stale),
repeats dropped by event ID, statuses applied in order, the subscription handshake echoed, and
bad deliveries refused with nothing stored."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from django.test import Client

from surveys.models import (
    HookEvent,
    Participant,
    ParticipantStatus,
    Submission,
    SubmissionStatus,
)
from tests.surveys.factories import ParticipantFactory, StudyFactory
from tests.surveys.prolific_stub import new_id

pytestmark = pytest.mark.django_db

SECRET = "hook-secret-of-the-workspace"
URL = "/hooks/prolific/"


@pytest.fixture(autouse=True)
def hook_secret(monkeypatch):
    monkeypatch.setenv("PROLIFIC_HOOK_SECRET", SECRET)


def sign(body: bytes, timestamp: str, secret: str = SECRET) -> str:
    """As Prolific's docs sign: base64(HMAC-SHA256(secret, timestamp + body))."""
    mac = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def deliver(
    payload: dict[str, Any] | bytes,
    event_id: str | None = None,
    *,
    timestamp: float | None = None,
    secret: str = SECRET,
    signature: str | None = None,
    event_time: str | None = None,
):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    stamp = str(int(time.time() if timestamp is None else timestamp))
    headers = {
        "HTTP_X_PROLIFIC_REQUEST_TIMESTAMP": stamp,
        "HTTP_X_PROLIFIC_REQUEST_SIGNATURE": signature
        if signature is not None
        else sign(body, stamp, secret),
        "HTTP_X_EVENT_ID": event_id if event_id is not None else new_id(),
    }
    if event_time is not None:
        headers["HTTP_X_TIMESTAMP"] = event_time
    return Client().post(URL, body, content_type="application/json", **headers)


@pytest.fixture
def taking_part():
    """A Prolific study with one participant who entered with a SESSION_ID."""
    prolific_id, pid, session = new_id(), new_id(), new_id()
    study = StudyFactory(recruiter="prolific", recruiter_config={"study_id": prolific_id})
    entered = {"STUDY_ID": prolific_id, "SESSION_ID": session}
    person = ParticipantFactory(study=study, external_id=pid, recruiter="prolific",
                                status=ParticipantStatus.CONSENTED,
                                recruiter_data=entered)  # fmt: skip
    return study, person, session


def status_event(session: str, pid: str, status: str) -> dict[str, str]:
    return {"event_type": "submission.status.change", "resource_id": session,
            "participant_id": pid, "status": status}  # fmt: skip


def test_a_signed_status_change_creates_the_submission_and_returns_the_participant(taking_part):
    study, person, session = taking_part
    answer = deliver(status_event(session, person.external_id, "AWAITING REVIEW"), "ev-1")
    assert answer.status_code == 200 and answer.json() == {"status": "applied", "event_id": "ev-1"}
    row = Submission.objects.get()
    assert (row.study, row.participant, row.status) == (study, person, SubmissionStatus.SUBMITTED)
    assert deliver(status_event(session, person.external_id, "RETURNED")).status_code == 200
    row.refresh_from_db()
    person.refresh_from_db()
    assert row.status == SubmissionStatus.RETURNED
    assert person.status == ParticipantStatus.RETURNED
    assert HookEvent.objects.filter(processed=True).count() == 2


def test_a_repeated_event_is_dropped(taking_part):
    study, person, session = taking_part
    first = deliver(status_event(session, person.external_id, "TIMED-OUT"), "ev-7")
    # the same event again, after the researcher put the participant back: nothing changes
    Participant.objects.filter(pk=person.pk).update(status=ParticipantStatus.CONSENTED)
    again = deliver(status_event(session, person.external_id, "TIMED-OUT"), "ev-7")
    assert first.json()["status"] == "applied" and again.json()["status"] == "duplicate"
    assert HookEvent.objects.count() == 1
    person.refresh_from_db()
    assert person.status == ParticipantStatus.CONSENTED


def test_an_older_event_arriving_late_does_not_undo_a_newer_one(taking_part):
    study, person, session = taking_part
    now = time.time()
    deliver(status_event(session, person.external_id, "APPROVED"), event_time=str(now))
    late = deliver(status_event(session, person.external_id, "AWAITING_REVIEW"),
                   event_time=str(now - 60))  # fmt: skip
    assert late.status_code == 200
    assert Submission.objects.get().status == SubmissionStatus.APPROVED


def test_a_study_status_change_is_recorded(taking_part):
    study, person, session = taking_part
    event = {"event_type": "study.status.change", "resource_id": study.recruiter_config["study_id"],
             "metadata": {}, "status": "AWAITING REVIEW"}  # fmt: skip
    assert deliver(event).json()["status"] == "applied"
    study.refresh_from_db()
    assert study.recruiter_config["status"] == "AWAITING REVIEW"


def test_an_event_about_nothing_of_ours_is_kept_for_the_sync(taking_part):
    answer = deliver(status_event(new_id(), new_id(), "APPROVED"))
    assert answer.status_code == 200 and answer.json()["status"] == "recorded"
    assert not Submission.objects.exists()
    assert HookEvent.objects.get().processed is False
    unknown_status = deliver(status_event(taking_part[2], taking_part[1].external_id, "ODD"))
    assert unknown_status.json()["status"] == "recorded" and not Submission.objects.exists()


def test_a_pid_in_two_of_our_studies_is_matched_only_by_its_session(taking_part):
    study, person, session = taking_part
    other = StudyFactory(recruiter="prolific", recruiter_config={"study_id": new_id()})
    ParticipantFactory(study=other, external_id=person.external_id, recruiter="prolific")
    unknown_session = deliver(status_event(new_id(), person.external_id, "APPROVED"))
    assert unknown_session.json()["status"] == "recorded" and not Submission.objects.exists()
    by_session = deliver(status_event(session, person.external_id, "APPROVED"))
    assert by_session.json()["status"] == "applied"
    assert Submission.objects.get().study == study


@pytest.mark.parametrize(
    ("tamper", "status", "message"),
    [
        ({"signature": ""}, 401, b"unsigned"),
        ({"secret": "another-workspace"}, 403, b"bad signature"),
        ({"signature": "bm90IGEgc2lnbmF0dXJl"}, 403, b"bad signature"),
        ({"timestamp": time.time() - 3600}, 403, b"stale"),
        ({"timestamp": time.time() + 3600}, 403, b"stale"),
    ],
)
def test_unsigned_forged_or_stale_deliveries_are_refused(taking_part, tamper, status, message):
    study, person, session = taking_part
    answer = deliver(status_event(session, person.external_id, "RETURNED"), **tamper)
    assert answer.status_code == status and message in answer.content
    assert not HookEvent.objects.exists() and not Submission.objects.exists()
    person.refresh_from_db()
    assert person.status == ParticipantStatus.CONSENTED


def test_a_signature_over_prolifics_json_form_of_the_body_is_accepted(taking_part):
    study, person, session = taking_part
    payload = status_event(session, person.external_id, "ACTIVE")
    compact = json.dumps(payload, separators=(",", ":")).encode()
    stamp = str(int(time.time()))
    answer = deliver(compact, signature=sign(json.dumps(payload).encode(), stamp),
                     timestamp=float(stamp))  # fmt: skip
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("body", "event_id", "message"),
    [
        (b"not json", "ev", b"not JSON"),
        (b"[1, 2]", "ev", b"must be a JSON object"),
        (b'{"event_type": "submission.status.change"}', "ev", b"resource_id must be"),
        (b'{"event_type": 3, "resource_id": "x"}', "ev", b"event_type must be"),
        (b'{"event_type": "x", "resource_id": "y"}', "", b"X-Event-ID is required"),
    ],
)
def test_bad_deliveries_get_a_clear_400_and_nothing_is_stored(body, event_id, message):
    answer = deliver(body, event_id)
    assert answer.status_code == 400 and message in answer.content
    assert not HookEvent.objects.exists()


def test_a_huge_body_is_refused(taking_part):
    answer = deliver(b'{"pad": "' + b"x" * 70_000 + b'"}')
    assert answer.status_code == 413 and not HookEvent.objects.exists()


def test_without_a_secret_nothing_is_accepted_and_prolific_retries_later(taking_part, monkeypatch):
    monkeypatch.delenv("PROLIFIC_HOOK_SECRET")
    study, person, session = taking_part
    answer = deliver(status_event(session, person.external_id, "RETURNED"))
    assert answer.status_code == 503 and b"PROLIFIC_HOOK_SECRET is not set" in answer.content
    assert not HookEvent.objects.exists()


def test_the_subscription_handshake_is_echoed_and_stores_nothing():
    answer = Client().post(URL, b"{}", content_type="application/json",
                           HTTP_X_HOOK_SECRET="abc123")  # fmt: skip
    assert answer.status_code == 200 and answer["X-Hook-Secret"] == "abc123"
    assert not HookEvent.objects.exists()


def test_only_post_is_answered():
    assert Client().get(URL).status_code == 405
