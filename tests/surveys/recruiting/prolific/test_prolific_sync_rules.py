"""Which Prolific rows the sync follows and which of our participants a submission is."""

from __future__ import annotations

import pytest

from surveys.models import StudyStatus
from surveys.recruiting.prolific.sync import _participant, syncable_study_ids
from tests.surveys.factories import ParticipantFactory, StudyFactory

pytestmark = pytest.mark.django_db

PROLIFIC_STUDY = "a" * 24


def test_closed_studies_are_still_synced_so_their_people_are_verified_and_paid():
    # Closing a study stops new entries only; people already in may finish afterwards.
    synced = {
        status: StudyFactory(recruiter="prolific", status=status,
                             recruiter_config={"study_id": PROLIFIC_STUDY})
        for status in (StudyStatus.DRAFT, StudyStatus.OPEN, StudyStatus.CLOSED)
    }  # fmt: skip

    assert sorted(syncable_study_ids()) == sorted(
        [synced[StudyStatus.OPEN].pk, synced[StudyStatus.CLOSED].pk]
    )


def test_a_submission_is_the_row_that_holds_its_session_not_a_row_with_the_same_pid():
    study = StudyFactory(recruiter="prolific")
    pid, submission = "b" * 24, "c" * 24
    # A row made up earlier with the real person's ID, and the person's own row with the
    # SESSION_ID (the submission's ID) recorded at entry.
    made_up = ParticipantFactory(study=study, recruiter="prolific", external_id=pid)
    real = ParticipantFactory(study=study, recruiter="prolific", external_id=pid + "-x",
                              recruiter_session=submission)  # fmt: skip

    assert _participant(study, pid, submission) == real
    # Without a recorded session anywhere, the participant ID is the only way to match.
    assert _participant(study, pid, "d" * 24) == made_up
