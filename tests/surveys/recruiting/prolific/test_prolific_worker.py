"""The periodic Prolific sync on a real Celery worker process: the beat task fans out to every
open Prolific study, the worker mirrors the stub's submissions, and a task without a token
ends in one logged line instead of a retry loop."""

from __future__ import annotations

import time

import pytest

from studyapp.celery import app as celery_app
from surveys.models import Participant, StudyStatus, Submission, SubmissionStatus
from surveys.recruiting.prolific.tasks import (
    BEAT_SCHEDULE,
    sync_prolific_studies,
    sync_prolific_study,
)
from tests.surveys.factories import ParticipantFactory, StudyFactory
from tests.surveys.recruiting.prolific.stub import ProlificStub, new_id
from tests.surveys.workers import kill_with_children

SYNC_TIMEOUT_S = 60


def test_the_beat_schedule_names_a_registered_task():
    (entry,) = BEAT_SCHEDULE.values()
    assert entry["task"] in celery_app.tasks and entry["schedule"] > 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("broker", ["filesystem"], indirect=True)
def test_a_worker_syncs_every_open_prolific_study(
    shared_database: str,
    broker: dict[str, str],
    prolific_stub: ProlificStub,
    start_worker,
):
    prolific_id = prolific_stub.add_study(name="open")
    study = StudyFactory(recruiter="prolific", status=StudyStatus.OPEN,
                         recruiter_config={"study_id": prolific_id})  # fmt: skip
    person = ParticipantFactory(study=study, external_id=new_id(), recruiter="prolific",
                                status="consented")  # fmt: skip
    prolific_stub.add_submission(prolific_id, person.external_id, "TIMED-OUT")
    prolific_stub.add_submission(prolific_id)
    draft = StudyFactory(recruiter="prolific", status=StudyStatus.DRAFT,
                         recruiter_config={"study_id": prolific_stub.add_study()})  # fmt: skip
    worker, queue = start_worker(DATABASE_URL=shared_database, **broker)

    sync_prolific_studies.apply_async(queue=queue)

    deadline = time.monotonic() + SYNC_TIMEOUT_S
    while Submission.objects.count() < 2:
        assert time.monotonic() < deadline, "the worker did not sync in time"
        time.sleep(0.1)
    assert set(Submission.objects.values_list("study", flat=True)) == {study.pk}
    returned = Submission.objects.get(participant=person)
    assert returned.status == SubmissionStatus.RETURNED
    person.refresh_from_db()
    assert person.status == "returned"
    assert not prolific_stub.calls("GET", f"studies/{draft.recruiter_config['study_id']}/")
    # The work is recorded: stopping at once spares the warm shutdown's wait.
    kill_with_children(worker)


@pytest.mark.django_db
def test_a_sync_without_a_token_logs_one_line_and_gives_up(monkeypatch, caplog):
    monkeypatch.delenv("PROLIFIC_TOKEN", raising=False)
    study = StudyFactory(recruiter="prolific", status=StudyStatus.OPEN,
                         recruiter_config={"study_id": new_id()})  # fmt: skip
    assert sync_prolific_study.apply(args=(study.pk,)).get() == 0
    assert "PROLIFIC_TOKEN is not set" in caplog.text
    assert sync_prolific_study.apply(args=(10**9,)).get() == 0  # no such study: nothing to do
    assert not Participant.objects.exists()
