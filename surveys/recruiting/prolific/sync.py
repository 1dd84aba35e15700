"""Prolific's submissions mirrored as :class:`Submission` rows, from the API or from webhooks.

Each Prolific submission becomes one row (unique per recruiter and submission ID), matched to
our participant by ``PROLIFIC_PID`` (or the ``SESSION_ID`` recorded at entry); one that matches
nobody is kept and flagged ``unmatched`` so no one is paid blind. A submission that Prolific
reports RETURNED or TIMED-OUT marks its participant returned, which frees the place in the
balanced allocation; a participant who already completed keeps their completed answers (the
researcher sees the returned submission beside them and decides).

Events can arrive late and out of order (webhooks are delivered at least once, and a sync may
run at any time), so each row remembers when its status was last set and an older report
never overwrites a newer one.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q

from surveys.models import (
    Participant,
    ParticipantStatus,
    Study,
    Submission,
    SubmissionStatus,
)
from surveys.recruiting.base import SYNCED_STATUSES
from surveys.recruiting.prolific.api import PAGE_SIZE, ProlificClient, ProlificError
from surveys.recruiting.prolific.plans import RECRUITER, prolific_study_id
from surveys.recruiting.prolific.recruiter import SESSION_ID, is_prolific_id

STATUSES = {
    "RESERVED": SubmissionStatus.ACCEPTED,
    "ACTIVE": SubmissionStatus.ACCEPTED,
    "AWAITING REVIEW": SubmissionStatus.SUBMITTED,
    "APPROVED": SubmissionStatus.APPROVED,
    "PARTIALLY APPROVED": SubmissionStatus.APPROVED,
    "REJECTED": SubmissionStatus.REJECTED,
    "RETURNED": SubmissionStatus.RETURNED,
    "TIMED-OUT": SubmissionStatus.RETURNED,
    "SCREENED OUT": SubmissionStatus.RETURNED,
}
# Prolific statuses that end a participation without completing it.
ENDED = ("RETURNED", "TIMED-OUT")
STILL_TAKING_PART = (
    ParticipantStatus.STARTED,
    ParticipantStatus.CONSENTED,
    ParticipantStatus.DECLINED,
)
KEPT_FIELDS = ("status", "started_at", "completed_at", "entered_code", "bonus_payments")


def prolific_status(value: object) -> str:
    """Prolific's status in its documented spelling (``AWAITING_REVIEW`` -> ``AWAITING REVIEW``).

    Raises:
        ProlificError: not a submission status Prolific documents.
    """
    text = " ".join(str(value or "").upper().replace("_", " ").split())
    text = text.replace("TIMED OUT", "TIMED-OUT")
    if text not in STATUSES:
        raise ProlificError(f"{str(value)[:40]!r} is not a Prolific submission status")
    return text


@dataclass(frozen=True)
class Recorded:
    """What recording one report did."""

    submission: Submission
    created: bool
    applied: bool
    returned: bool


def _participant(study: Study, participant_id: str, submission_id: str) -> Participant | None:
    # Prolific's SESSION_ID is the submission's ID: the row that recorded it at entry is the
    # one this submission belongs to. The participant ID alone is the fallback for rows that
    # entered without a SESSION_ID, so a row made up with a real person's ID is never
    # preferred over the row that holds the session.
    rows = Participant.objects.filter(study=study)
    by_session = Q(recruiter_session=submission_id) | Q(
        **{f"recruiter_data__{SESSION_ID}": submission_id}
    )
    found = rows.filter(by_session).order_by("id").first()
    if found is not None:
        return found
    return rows.filter(external_id=participant_id, recruiter_session="").order_by("id").first()


def _mark_returned(participant: Participant | None) -> bool:
    if participant is None:
        return False
    updated = Participant.objects.filter(pk=participant.pk, status__in=STILL_TAKING_PART).update(
        status=ParticipantStatus.RETURNED
    )
    return bool(updated)


def do_record_submission(
    study: Study, record: Mapping[str, Any], reported_at: float | None = None
) -> Recorded:
    """Create or update the row of one Prolific submission of ``study``.

    Args:
        study: The study the submission belongs to.
        record: Prolific's submission (``id``, ``participant_id`` or ``participant``,
            ``status``, ...), from the API or a webhook.
        reported_at: When Prolific reported this status (epoch seconds); a report older than
            the row's last one changes nothing. Defaults to now.

    Raises:
        ProlificError: the record has no valid ID or status, or its ID belongs to another
            study.
    """
    submission_id = str(record.get("id") or "").lower()
    participant_id = str(record.get("participant_id") or record.get("participant") or "").lower()
    if not is_prolific_id(submission_id):
        raise ProlificError(f"a submission without a valid ID: {submission_id[:40]!r}")
    raw_status = prolific_status(record.get("status"))
    when = time.time() if reported_at is None else reported_at
    participant = _participant(study, participant_id, submission_id)
    kept = {key: record[key] for key in KEPT_FIELDS if key in record}
    with transaction.atomic():
        row, created = Submission.objects.select_for_update().get_or_create(
            recruiter=RECRUITER,
            external_id=submission_id,
            defaults={"study": study, "status": STATUSES[raw_status], "batch_id": ""},
        )
        if row.study_id != study.pk:
            raise ProlificError(f"submission {submission_id} belongs to another study")
        last = float(row.data.get("reported_at", 0)) if not created else 0.0
        applied = when >= last
        if applied:
            row.status = STATUSES[raw_status]
            row.data = {**row.data, **kept, "status": raw_status, "reported_at": when}
        row.participant = row.participant or participant
        row.worker_id = participant_id or row.worker_id
        row.batch_id = str(record.get("study_id") or row.batch_id or "")
        row.unmatched = row.participant is None
        row.save()
        returned = applied and raw_status in ENDED and _mark_returned(row.participant)
    return Recorded(row, created, applied, returned)


@dataclass(frozen=True)
class SyncSummary:
    """What one sync found."""

    seen: int
    created: int
    unmatched: int
    returned: int
    study_status: str

    @property
    def message(self) -> str:
        return (
            f"Synced {self.seen} submission(s) ({self.created} new, {self.unmatched} without a "
            f"participant of ours, {self.returned} participant(s) marked returned); Prolific "
            f"says the study is {self.study_status or 'of unknown status'}."
        )


def do_record_study_status(study: Study, status: str) -> None:
    """Keep Prolific's status of the study in its settings (shown on the Prolific page)."""
    text = " ".join(str(status).upper().replace("_", " ").split())[:40]
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        locked.recruiter_config = {**(locked.recruiter_config or {}), "status": text}
        locked.save(update_fields=["recruiter_config", "updated_at"])
    study.recruiter_config = locked.recruiter_config


def do_sync(study: Study, client: ProlificClient, page_size: int = PAGE_SIZE) -> SyncSummary:
    """Mirror every submission of the study's Prolific study, and the study's status.

    Raises:
        ProlificInputError: the study has no Prolific study.
        ProlificError: the API failed; rows recorded before the failure stay (a re-run
            completes them).
    """
    study_id = prolific_study_id(study)
    status = str(client.get_study(study_id).get("status") or "")
    if status:
        do_record_study_status(study, status)
    seen = created = unmatched = returned = 0
    started = time.time()
    for record in client.list_submissions(study_id, page_size):
        named = str(record.get("study_id") or study_id).lower()
        if named != study_id:
            # The listing is filtered by study: a row naming another is never recorded as ours.
            continue
        done = do_record_submission(study, {**record, "study_id": study_id}, started)
        seen += 1
        created += done.created
        unmatched += done.submission.unmatched
        returned += done.returned
    return SyncSummary(seen, created, unmatched, returned, status)


def syncable_study_ids() -> list[int]:
    """Open and closed Prolific studies that have a Prolific study to sync with."""
    rows = Study.objects.filter(recruiter=RECRUITER, status__in=SYNCED_STATUSES).values_list(
        "pk", "recruiter_config"
    )
    return [pk for pk, config in rows if is_prolific_id((config or {}).get("study_id"))]
