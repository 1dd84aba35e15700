"""The periodic sync: a real Celery worker syncs every open MTurk study whose sync is on, through a
real boto3 client talking MTurk's JSON protocol to a stand-in endpoint on this machine; the
per-study and global switches turn it off, and a study with nothing to sync returns early."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from studyapp.celery import app as celery_app
from surveys.models import StudyStatus, Submission
from surveys.recruiting.mturk.sync import do_periodic_sync, syncable_study_ids
from surveys.recruiting.mturk.tasks import BEAT_SCHEDULE, sync_open_studies
from tests.surveys.recruiting.mturk.fixtures import answer_xml, mturk_study, publish

SYNC_TIMEOUT_S = 60
TARGET_PREFIX = "MTurkRequesterServiceV20170117."


class FakeMTurk(BaseHTTPRequestHandler):
    """Answers ListAssignmentsForHIT as MTurk's JSON API does, two pages per HIT."""

    calls: list[dict[str, Any]] = []
    completion_code = ""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        operation = self.headers.get("X-Amz-Target", "").removeprefix(TARGET_PREFIX)
        type(self).calls.append({"operation": operation, **body})
        if operation != "ListAssignmentsForHIT":
            self._answer(400, {"__type": "RequestError", "Message": f"{operation} not here"})
            return
        hit_id, page = body["HITId"], body.get("NextToken", "")
        number = 2 if page else 1
        answer: dict[str, Any] = {"Assignments": [self._assignment(hit_id, number)]}
        if number == 1:
            answer["NextToken"] = f"{hit_id}-2"
        self._answer(200, answer)

    def _assignment(self, hit_id: str, number: int) -> dict[str, Any]:
        submitted = datetime(2026, 8, 1, 12, 30, tzinfo=UTC).timestamp()
        return {
            "AssignmentId": f"{hit_id}ASSIGN{number}",
            "WorkerId": f"AWORKER{number}",
            "HITId": hit_id,
            "AssignmentStatus": "Submitted",
            "AcceptTime": submitted - 600,
            "SubmitTime": submitted,
            "Answer": answer_xml(type(self).completion_code),
        }

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def fake_mturk() -> Iterator[str]:
    FakeMTurk.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeMTurk)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_schedule_names_a_registered_task_every_ten_minutes():
    entry = BEAT_SCHEDULE["surveys-mturk-sync"]
    assert entry["schedule"] == 600.0 and entry["task"] in celery_app.tasks


@pytest.mark.django_db
@pytest.mark.usefixtures("media")
def test_the_switches_and_early_returns(settings):
    on = mturk_study(participants_wanted=9)
    off = mturk_study({"auto_sync": False}, participants_wanted=9)
    # Closing stops new entries only: a closed study's people may still finish and be paid.
    closed = mturk_study(status=StudyStatus.CLOSED, participants_wanted=9)
    mturk_study(status=StudyStatus.DRAFT)
    assert syncable_study_ids() == [on.pk, closed.pk]
    assert do_periodic_sync(on.pk) == f"study {on.slug}: no HITs yet"
    assert do_periodic_sync(off.pk) == f"study {off.slug}: periodic sync is off"
    assert do_periodic_sync(10**9).endswith("not an open or closed MTurk study; nothing to sync")
    settings.SURVEYS_RECRUITER_SYNC = False
    assert sync_open_studies.apply().get() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("media")
@pytest.mark.parametrize("broker", ["filesystem"], indirect=True)
def test_a_worker_syncs_the_open_studies_through_the_mturk_protocol(
    shared_database: str,
    broker: dict[str, str],
    start_worker,
    fake_mturk: str,
):
    synced = mturk_study(participants_wanted=9)
    quiet = mturk_study({"auto_sync": False}, participants_wanted=9)
    publish(synced, ["HITSYNCED"])
    publish(quiet, ["HITQUIET"])
    FakeMTurk.completion_code = synced.completion_code
    _, queue = start_worker(
        DATABASE_URL=shared_database, MTURK_ENDPOINT_URL=fake_mturk,
        AWS_ACCESS_KEY_ID="AKIATESTING", AWS_SECRET_ACCESS_KEY="testing-secret",
        AWS_EC2_METADATA_DISABLED="true", **broker,
    )  # fmt: skip
    sync_open_studies.apply_async(queue=queue)
    deadline = time.monotonic() + SYNC_TIMEOUT_S
    while Submission.objects.count() < 2:
        assert time.monotonic() < deadline, f"no sync within {SYNC_TIMEOUT_S}s: {FakeMTurk.calls}"
        time.sleep(0.1)
    rows = Submission.objects.order_by("external_id")
    assert [(s.external_id, s.worker_id, s.batch_id, s.study_id) for s in rows] == [
        ("HITSYNCEDASSIGN1", "AWORKER1", "HITSYNCED", synced.pk),
        ("HITSYNCEDASSIGN2", "AWORKER2", "HITSYNCED", synced.pk),
    ]
    assert all(s.unmatched and s.data["code_ok"] for s in rows)
    assert rows[0].data["submit_time"] == "2026-08-01T12:30:00+00:00"
    # Both pages of the synced study's one HIT, and nothing of the study with sync off.
    assert [(c["operation"], c["HITId"], c.get("NextToken")) for c in FakeMTurk.calls] == [
        ("ListAssignmentsForHIT", "HITSYNCED", None),
        ("ListAssignmentsForHIT", "HITSYNCED", "HITSYNCED-2"),
    ]
    assert all(call["MaxResults"] == 100 for call in FakeMTurk.calls)
