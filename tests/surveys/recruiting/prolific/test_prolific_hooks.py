"""Prolific's webhooks at ``hooks/prolific/``: signatures checked (good, bad, missing, stale),
repeats dropped, statuses applied in the signed order, events matched only to what is shown to
be ours (another study's events never act on ours), the handshake echoed, and bad deliveries
refused with nothing stored."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client

from surveys.models import (
    HookEvent,
    HookResolution,
    HookSecret,
    Participant,
    ParticipantStatus,
    Submission,
    SubmissionStatus,
)
from surveys.recruiting.prolific.api import ProlificClient
from surveys.recruiting.prolific.hook_match import do_resolve_hook_event
from surveys.recruiting.prolific.sync import do_sync
from tests.surveys.factories import ParticipantFactory, StudyFactory
from tests.surveys.recruiting.prolific.fixtures import (
    SECRET,
    URL,
    deliver,
    sign,
    status_event,
)
from tests.surveys.recruiting.prolific.stub import ProlificStub, new_id

pytestmark = pytest.mark.django_db


def client() -> ProlificClient:
    return ProlificClient.from_env(sleep=lambda _: None)


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
    assert HookEvent.objects.filter(processed=True, resolution=HookResolution.APPLIED).count() == 2


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


@pytest.mark.parametrize("milliseconds", [False, True], ids=["seconds", "milliseconds"])
def test_the_signed_timestamp_is_read_in_seconds_or_milliseconds(taking_part, milliseconds):
    study, person, session = taking_part
    now = time.time()
    answer = deliver(status_event(session, person.external_id, "ACTIVE"), timestamp=now,
                     milliseconds=milliseconds)  # fmt: skip
    assert answer.status_code == 200 and answer.json()["status"] == "applied"
    assert Submission.objects.get().data["reported_at"] == pytest.approx(now, abs=1.5)
    stale = deliver(status_event(session, person.external_id, "RETURNED"), timestamp=now - 3600,
                    milliseconds=milliseconds)  # fmt: skip
    assert stale.status_code == 403 and b"stale" in stale.content


def test_a_replay_under_a_new_event_id_and_a_future_time_cannot_move_a_submission_back(
    taking_part,
):
    study, person, session = taking_part
    body = json.dumps(status_event(session, person.external_id, "ACTIVE")).encode()
    stamp = str(int(time.time()) - 30)
    captured = {"HTTP_X_PROLIFIC_REQUEST_TIMESTAMP": stamp,
                "HTTP_X_PROLIFIC_REQUEST_SIGNATURE": sign(body, stamp)}  # fmt: skip
    post = Client().post
    assert post(URL, body, content_type="application/json", HTTP_X_EVENT_ID="ev-a",
                **captured).json()["status"] == "applied"  # fmt: skip
    deliver(status_event(session, person.external_id, "AWAITING REVIEW"), "ev-b")
    future = str(time.time() + 10**6)
    replay = post(URL, body, content_type="application/json", HTTP_X_EVENT_ID=new_id(),
                  HTTP_X_TIMESTAMP=future, **captured)  # fmt: skip
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
    assert Submission.objects.get().status == SubmissionStatus.SUBMITTED
    assert HookEvent.objects.count() == 2


def test_a_future_event_time_is_capped_so_the_sync_still_corrects_it(
    taking_part, prolific_stub: ProlificStub
):
    study, person, session = taking_part
    prolific_id = prolific_stub.add_study()
    study.recruiter_config = {"study_id": prolific_id}
    study.save()
    answer = deliver(status_event(session, person.external_id, "RETURNED"),
                     event_time=str(time.time() + 10**6))  # fmt: skip
    assert answer.json()["status"] == "applied"
    row = Submission.objects.get()
    assert row.data["reported_at"] <= time.time()
    made = prolific_stub.add_submission(prolific_id, person.external_id, "AWAITING REVIEW")
    prolific_stub.submissions[session] = {**prolific_stub.submissions.pop(made), "id": session}
    do_sync(study, client())
    row.refresh_from_db()
    assert row.status == SubmissionStatus.SUBMITTED


def test_a_study_status_change_is_recorded(taking_part):
    study, person, session = taking_part
    event = {"event_type": "study.status.change", "resource_id": study.recruiter_config["study_id"],
             "metadata": {}, "status": "AWAITING REVIEW"}  # fmt: skip
    assert deliver(event).json()["status"] == "applied"
    study.refresh_from_db()
    assert study.recruiter_config["status"] == "AWAITING REVIEW"
    other = {**event, "resource_id": new_id()}
    assert deliver(other).json()["status"] == "recorded"
    assert HookEvent.objects.get(payload__resource_id=other["resource_id"]).resolution == (
        HookResolution.FOREIGN
    )


def test_an_event_about_nothing_we_know_is_kept_unmatched(taking_part):
    answer = deliver(status_event(new_id(), new_id(), "APPROVED"))
    assert answer.status_code == 200 and answer.json()["status"] == "recorded"
    assert not Submission.objects.exists()
    event = HookEvent.objects.get()
    assert (event.processed, event.resolution) == (False, HookResolution.UNMATCHED)
    unknown_status = deliver(status_event(taking_part[2], taking_part[1].external_id, "ODD"))
    assert unknown_status.json()["status"] == "recorded" and not Submission.objects.exists()


@pytest.mark.parametrize("status", ["RETURNED", "AWAITING REVIEW"])
def test_another_studys_event_for_one_of_our_participants_never_acts_on_ours(
    taking_part, prolific_stub: ProlificStub, status
):
    """Finding 1: the same PID took another study of the workspace."""
    study, person, session = taking_part
    elsewhere = prolific_stub.add_study(name="another lab's study")
    theirs = prolific_stub.add_submission(elsewhere, person.external_id, status)
    answer = deliver(status_event(theirs, person.external_id, status))
    assert answer.status_code == 200 and answer.json()["status"] == "recorded"
    event = HookEvent.objects.get()
    assert do_resolve_hook_event(event.pk, client()) == HookResolution.FOREIGN
    event.refresh_from_db()
    person.refresh_from_db()
    assert (event.resolution, event.processed) == (HookResolution.FOREIGN, False)
    assert person.status == ParticipantStatus.CONSENTED
    assert not Submission.objects.exists()


def test_an_unmatched_event_of_our_study_is_recorded_from_the_api(
    taking_part, prolific_stub: ProlificStub, eager, django_capture_on_commit_callbacks
):
    study, person, session = taking_part
    prolific_id = prolific_stub.add_study()
    study.recruiter_config = {"study_id": prolific_id}
    study.save()
    ours = prolific_stub.add_submission(prolific_id, person.external_id, "AWAITING REVIEW")
    # The event says ACTIVE; the API, asked afterwards, says what is true now.
    with django_capture_on_commit_callbacks(execute=True):
        answer = deliver(status_event(ours, person.external_id, "ACTIVE"))
    assert answer.json()["status"] == "recorded"
    assert HookEvent.objects.get().resolution == HookResolution.APPLIED
    row = Submission.objects.get()
    assert (row.study, row.participant, row.status) == (study, person, SubmissionStatus.SUBMITTED)
    assert prolific_stub.calls("GET", f"/submissions/{ours}/$")


def test_a_submission_prolific_does_not_show_us_is_foreign(taking_part, prolific_stub):
    deliver(status_event(new_id(), taking_part[1].external_id, "RETURNED"))
    assert do_resolve_hook_event(HookEvent.objects.get().pk, client()) == HookResolution.FOREIGN
    assert not Submission.objects.exists()


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


def test_the_signature_covers_the_raw_bytes_not_a_reserialised_form(taking_part):
    study, person, session = taking_part
    payload = status_event(session, person.external_id, "ACTIVE")
    compact = json.dumps(payload, separators=(",", ":")).encode()
    stamp = str(int(time.time()))
    refused = deliver(compact, signature=sign(json.dumps(payload).encode(), stamp),
                      timestamp=float(stamp))  # fmt: skip
    assert refused.status_code == 403 and not HookEvent.objects.exists()
    assert deliver(compact).status_code == 200


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
def test_bad_deliveries_get_a_clear_400_and_nothing_is_stored(hook_secret, body, event_id, message):
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


def test_the_subscription_handshake_is_echoed_and_stores_nothing(hook_secret):
    answer = Client().post(URL, b"{}", content_type="application/json",
                           HTTP_X_HOOK_SECRET="abc123")  # fmt: skip
    assert answer.status_code == 200 and answer["X-Hook-Secret"] == "abc123"
    assert not HookEvent.objects.exists()
    odd = Client().post(URL, b"{}", content_type="application/json",
                        HTTP_X_HOOK_SECRET="a b\u00e9")  # fmt: skip
    assert odd.status_code == 400 and "X-Hook-Secret" not in odd


def test_a_signed_delivery_carrying_a_handshake_header_is_still_verified(taking_part):
    study, person, session = taking_part
    body = json.dumps(status_event(session, person.external_id, "RETURNED")).encode()
    answer = Client().post(URL, body, content_type="application/json",
                           HTTP_X_HOOK_SECRET="abc", HTTP_X_EVENT_ID="ev",
                           HTTP_X_PROLIFIC_REQUEST_TIMESTAMP=str(int(time.time())),
                           HTTP_X_PROLIFIC_REQUEST_SIGNATURE="forged")  # fmt: skip
    assert answer.status_code == 403 and not HookEvent.objects.exists()


def test_only_post_is_answered():
    assert Client().get(URL).status_code == 405


def test_the_secret_kept_from_subscribing_verifies_deliveries(taking_part, monkeypatch):
    monkeypatch.delenv("PROLIFIC_HOOK_SECRET")
    HookSecret.objects.create(recruiter="prolific", workspace_id="ws", value="kept-secret")
    study, person, session = taking_part
    event = status_event(session, person.external_id, "ACTIVE")
    assert deliver(event, secret="kept-secret").json()["status"] == "applied"
    assert deliver(event, secret=SECRET).status_code == 403
