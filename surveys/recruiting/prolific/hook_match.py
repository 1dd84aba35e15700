"""Whose is a verified webhook event? Only what is shown to be ours acts on our studies.

Prolific's webhook subscriptions cover the whole workspace, ``submission.status.change``
carries no study ID, and ``participant_id`` is the same person in every study of the
workspace. So a submission event is matched only

* to a submission ID we already know (a :class:`Submission` row, from the sync or an earlier
  match), or
* to the ``SESSION_ID`` (Prolific's submission ID) a participant of ours entered with,

never by participant ID. Anything else is kept ``unmatched`` and resolved by asking the API for
the submission (:func:`do_resolve_hook_event`): the study the API names decides. Another
study's submission is recorded ``foreign`` and never touches ours; a submission of ours is
recorded from the API's own record (its current status), not from the event.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q

from surveys.models import HookEvent, HookResolution, Participant, Study, Submission
from surveys.recruiting.prolific.api import (
    ProlificBusy,
    ProlificClient,
    ProlificError,
    ProlificHTTPError,
)
from surveys.recruiting.prolific.plans import RECRUITER
from surveys.recruiting.prolific.recruiter import SESSION_ID, is_prolific_id
from surveys.recruiting.prolific.sync import (
    do_record_study_status,
    do_record_submission,
    prolific_status,
)

SUBMISSION_EVENT = "submission.status.change"
STUDY_EVENT = "study.status.change"
# The event types whose body must carry a status (Prolific's "Receiving" page).
STATUS_EVENTS = (SUBMISSION_EVENT, STUDY_EVENT)
RESOLVE_BATCH = 50


@dataclass(frozen=True)
class HookEventData:
    """A verified event's fields, checked: Prolific IDs lower-cased, ``""`` where absent."""

    kind: str
    resource: str
    status: str
    participant: str


def _session_study(submission_id: str) -> Study | None:
    """The one study of ours whose participant entered with this SESSION_ID."""
    # recruiter_session is the proof recorded at entry; recruiter_data holds it for older rows.
    session = Q(recruiter_session=submission_id) | Q(
        **{f"recruiter_data__{SESSION_ID}": submission_id}
    )
    entered = Participant.objects.filter(session, study__recruiter=RECRUITER)
    studies = list(entered.order_by().values_list("study_id", flat=True).distinct()[:2])
    return Study.objects.get(pk=studies[0]) if len(studies) == 1 else None


def _match_submission(event: HookEventData, reported_at: float) -> str:
    try:
        prolific_status(event.status)
    except ProlificError:
        # A status Prolific added since: kept, and the sync records what it means.
        return HookResolution.IGNORED
    known = Submission.objects.filter(recruiter=RECRUITER, external_id=event.resource).first()
    study = known.study if known is not None else _session_study(event.resource)
    if study is None:
        return HookResolution.UNMATCHED
    record = {"id": event.resource, "participant_id": event.participant, "status": event.status}
    try:
        with transaction.atomic():
            do_record_submission(study, record, reported_at)
    except ProlificError:
        return HookResolution.IGNORED
    return HookResolution.APPLIED


def do_match_event(event: HookEventData, reported_at: float) -> str:
    """Apply a verified event to what it names of ours; the event's resolution."""
    if event.kind == SUBMISSION_EVENT:
        return _match_submission(event, reported_at)
    if event.kind == STUDY_EVENT:
        study = Study.objects.filter(
            recruiter=RECRUITER, recruiter_config__study_id=event.resource
        ).first()
        if study is None:
            return HookResolution.FOREIGN
        do_record_study_status(study, event.status)
        return HookResolution.APPLIED
    return HookResolution.IGNORED


def _settle(event: HookEvent, resolution: str) -> str:
    HookEvent.objects.filter(pk=event.pk, resolution=HookResolution.UNMATCHED).update(
        resolution=resolution, processed=resolution == HookResolution.APPLIED
    )
    return resolution


def do_resolve_hook_event(event_pk: int, client: ProlificClient) -> str:
    """Ask the API whose submission an unmatched event is about, and act only if it is ours;
    the event's resolution (``""`` for no such event).

    Raises:
        ProlificError: the API failed (busy, unreachable, token refused); the event stays
            unmatched for the next try.
    """
    event = HookEvent.objects.filter(pk=event_pk, recruiter=RECRUITER).first()
    if event is None or event.resolution != HookResolution.UNMATCHED:
        return event.resolution if event is not None else ""
    resource = str(event.payload.get("resource_id") or "").lower()
    if event.event_type != SUBMISSION_EVENT or not is_prolific_id(resource):
        return _settle(event, HookResolution.IGNORED)
    asked_at = time.time()
    try:
        record = client.get_submission(resource)
    except ProlificHTTPError as error:
        if error.status == 404 and not isinstance(error, ProlificBusy):
            # Not visible to our token: no study of ours.
            return _settle(event, HookResolution.FOREIGN)
        raise
    study_id = str(record.get("study_id") or "").lower()
    study = None
    if is_prolific_id(study_id):
        study = Study.objects.filter(
            recruiter=RECRUITER, recruiter_config__study_id=study_id
        ).first()
    if study is None:
        return _settle(event, HookResolution.FOREIGN)
    participant = record.get("participant_id") or record.get("participant") or ""
    ours = {**record, "id": resource, "participant_id": participant, "study_id": study_id}
    try:
        with transaction.atomic():
            do_record_submission(study, ours, asked_at)
            return _settle(event, HookResolution.APPLIED)
    except ProlificError:
        return _settle(event, HookResolution.IGNORED)


def unresolved_hook_event_ids(limit: int = RESOLVE_BATCH) -> list[int]:
    """The oldest events still waiting for the API to say whose they are."""
    waiting = HookEvent.objects.filter(recruiter=RECRUITER, resolution=HookResolution.UNMATCHED)
    return list(waiting.order_by("id").values_list("pk", flat=True)[:limit])
