"""Sync: what Mechanical Turk knows of the study's assignments, matched to our participants.

Every HIT's assignments are listed (100 a page, following ``NextToken``) and upserted as
:class:`Submission` rows, one per assignment ID. An assignment is matched to the participant who
entered with that very worker ID and assignment ID; one that matches nobody (a forged or
repeated submit, a worker who never reached the survey) is kept and flagged ``unmatched`` so it
is never paid without a look. When the study has a repeat qualification, every worker who
started is granted it (once, through the ledger), so later batches stay closed to them.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from surveys.models import (
    LedgerEntry,
    Participant,
    Study,
    Submission,
    SubmissionStatus,
)
from surveys.recruiting.base import SYNCED_STATUSES
from surveys.recruiting.ledger import Step
from surveys.recruiting.mturk.client import (
    MTurkSession,
    MTurkUnavailable,
    ledger_call,
    ledger_token,
    mturk_errors,
    open_session,
    pages,
    try_item,
)
from surveys.recruiting.mturk.plans import MTURK, ActionInput, ActionPlan, done_entry, mturk_plan
from surveys.recruiting.mturk.publish import study_hits
from surveys.recruiting.plans import PlanItem

STATUSES = {
    "Submitted": SubmissionStatus.SUBMITTED,
    "Approved": SubmissionStatus.APPROVED,
    "Rejected": SubmissionStatus.REJECTED,
}
DECIDED = (SubmissionStatus.APPROVED, SubmissionStatus.REJECTED)
COMPLETION_FIELD = "completion_code"
ANSWER_MAX_BYTES = 65535
SYNC_SETTING = "SURVEYS_RECRUITER_SYNC"


@dataclass
class SyncReport:
    """What one sync saw and changed."""

    hits: int = 0
    seen: int = 0
    created: int = 0
    updated: int = 0
    unmatched: int = 0
    qualified: int = 0
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        line = (
            f"sync: {self.hits} HIT(s), {self.seen} assignment(s) ({self.created} new, "
            f"{self.updated} changed, {self.unmatched} unmatched)"
        )
        if self.qualified:
            line += f", repeat qualification granted to {self.qualified} worker(s)"
        if self.failures:
            line += f", {len(self.failures)} failure(s)"
        return line


def check_sync(session: MTurkSession, request: ActionInput) -> ActionPlan:
    """The sync's plan: it reads, and grants the repeat qualification; no money moves."""
    hits = study_hits(session)
    items = tuple(
        PlanItem(hit.hit_id, f"list the assignments of batch {hit.batch}") for hit in hits
    )
    notes = ["No money moves: sync only reads MTurk's records."]
    workers = _workers_to_qualify(session) if session.config.repeat_qualification_id else []
    if workers:
        notes.append(
            f"Grants the repeat qualification {session.config.repeat_qualification_id} to "
            f"{len(workers)} worker(s) who started the study."
        )
    summary = f"Sync the assignments of {len(hits)} HIT(s)"
    return mturk_plan("sync", session.study, summary, items, notes=tuple(notes), request=request)


def do_sync(session: MTurkSession) -> SyncReport:
    """List every HIT's assignments, upsert and match them, grant the repeat qualification.

    Raises:
        MTurkUnavailable: MTurk refused or could not be reached (what was synced is kept).
    """
    report = SyncReport()
    hits = study_hits(session)
    report.hits = len(hits)
    with mturk_errors():
        for hit in hits:
            listing = pages(session, "list_assignments_for_hit", "Assignments", HITId=hit.hit_id)
            for assignment in listing:
                _upsert(session, assignment, report)
        if session.config.repeat_qualification_id:
            _grant_repeat_qualification(session, report)
    return report


def _upsert(session: MTurkSession, assignment: dict[str, Any], report: SyncReport) -> None:
    study = session.study
    assignment_id, worker_id = str(assignment["AssignmentId"]), str(assignment["WorkerId"])
    participant = Participant.objects.filter(
        study=study, external_id=worker_id, recruiter_data__assignmentId=assignment_id
    ).first()
    status = STATUSES.get(str(assignment.get("AssignmentStatus")), SubmissionStatus.SUBMITTED)
    code = _answered_code(str(assignment.get("Answer") or ""))
    hit_id = str(assignment.get("HITId", ""))
    data = {
        "hit_id": hit_id,
        "mturk_status": str(assignment.get("AssignmentStatus", "")),
        "accept_time": _iso(assignment.get("AcceptTime")),
        "submit_time": _iso(assignment.get("SubmitTime")),
        "answer_code": code,
        "code_ok": code == study.completion_code,
    }
    defaults = {
        "study": study, "participant": participant, "worker_id": worker_id,
        "batch_id": hit_id, "status": status, "unmatched": participant is None,
        "data": data,
    }  # fmt: skip
    submission, created = Submission.objects.get_or_create(
        recruiter=MTURK, external_id=assignment_id, defaults=defaults
    )
    report.seen += 1
    report.unmatched += participant is None
    if created:
        report.created += 1
        return
    if submission.study_id != study.pk:
        report.failures.append(f"{assignment_id}: belongs to another study; left alone")
        return
    if status == SubmissionStatus.SUBMITTED and submission.status in DECIDED:
        # Our own approval or rejection can be ahead of MTurk's listing for a while.
        status = SubmissionStatus(submission.status)
    changed = (submission.status, submission.participant_id, submission.data) != (
        status,
        participant.pk if participant else None,
        data,
    )
    if changed:
        submission.status, submission.participant = status, participant
        submission.unmatched, submission.data = participant is None, data
        submission.worker_id, submission.batch_id = worker_id, hit_id
        submission.save()
        report.updated += 1


def _answered_code(answer: str) -> str:
    """The completion code the worker's browser posted, read from MTurk's Answer XML."""
    if not answer or len(answer.encode()) > ANSWER_MAX_BYTES:
        return ""
    try:
        root = ElementTree.fromstring(answer)
    except ElementTree.ParseError:
        return ""
    for node in root.iter():
        if not node.tag.endswith("Answer"):
            continue
        children = {child.tag.rsplit("}", 1)[-1]: (child.text or "") for child in node}
        if children.get("QuestionIdentifier") == COMPLETION_FIELD:
            return children.get("FreeText", "").strip()
    return ""


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return ""


def _workers_to_qualify(session: MTurkSession) -> list[str]:
    study = session.study
    started = Participant.objects.filter(study=study, recruiter=MTURK).values_list(
        "external_id", flat=True
    )
    submitted = Submission.objects.filter(study=study, recruiter=MTURK).values_list(
        "worker_id", flat=True
    )
    workers = dict.fromkeys([*started, *submitted])
    return [
        worker
        for worker in workers
        if worker and done_entry(ledger_token("qual", study.code, worker)) is None
    ]


def _grant_repeat_qualification(session: MTurkSession, report: SyncReport) -> None:
    for worker in _workers_to_qualify(session):
        entry = try_item(report.failures, worker, functools.partial(_grant, session, worker))
        report.qualified += entry is not None


def _grant(session: MTurkSession, worker: str) -> LedgerEntry:
    qualification = session.config.repeat_qualification_id
    request = {
        "QualificationTypeId": qualification,
        "WorkerId": worker,
        "IntegerValue": 1,
        # Workers are not told: the qualification only keeps them out of later batches.
        "SendNotification": False,
    }
    token = ledger_token("qual", session.study.code, worker)
    step = Step(session.study, MTURK, "qualify", token, request=request)

    def grant() -> dict[str, Any]:
        session.client.associate_qualification_with_worker(**request)
        return {"granted": qualification}

    return ledger_call(session, step, grant)


def sync_switched_on() -> bool:
    """The global switch of periodic recruiter syncs (on unless set false)."""
    return bool(getattr(settings, SYNC_SETTING, True))


def syncable_study_ids() -> list[int]:
    """Open and closed MTurk studies whose periodic sync is on (``recruiter_config.auto_sync``)."""
    studies = Study.objects.filter(recruiter=MTURK, status__in=SYNCED_STATUSES).order_by("id")
    return [
        study.pk
        for study in studies
        if (study.recruiter_config or {}).get("auto_sync", True) is not False
    ]


def do_periodic_sync(study_id: int) -> str:
    """Sync one study for the periodic task; a line saying what happened (or why nothing).

    Re-reads the study and returns early when it is neither open nor closed, no longer on
    MTurk, has its periodic sync switched off, or has no HITs yet. A closed or unreachable
    service is a line, not an error: the next round tries again.
    """
    study = Study.objects.filter(pk=study_id).first()
    if study is None or study.recruiter != MTURK or study.status not in SYNCED_STATUSES:
        return f"study {study_id}: not an open or closed MTurk study; nothing to sync"
    try:
        session = open_session(study)
        if not session.config.auto_sync:
            return f"study {study.slug}: periodic sync is off"
        if not study_hits(session):
            return f"study {study.slug}: no HITs yet"
        return f"study {study.slug}: {do_sync(session).summary()}"
    except MTurkUnavailable as exc:
        return f"study {study.slug}: {exc}"
