"""Approving and rejecting Prolific submissions, each one a ledger step.

Approving pays the participant the study's reward; rejecting pays nothing and counts against
the participant, so Prolific asks for a message of at least 100 characters and a category,
both checked here before any call. Prolific's transitions are idempotent and final, so each is
a repeatable ledger step under a token naming the submission (``prolific-approve-<id>``): a
re-run finds it done and calls nothing, and a throttled or dropped call is simply made again.

By default approval takes every submission awaiting review whose participant completed the
survey and is not excluded; the others (no participant of ours, unfinished, excluded) are
named in the plan and left for the researcher to decide, by ID. Approving pays, so it first
asks Prolific which currency the study's workspace pays in and refuses a study priced in
another.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from surveys.models import ParticipantStatus, Study, Submission, SubmissionStatus
from surveys.recruiting.ledger import LedgerCallError, Step, do_ledger_step
from surveys.recruiting.plans import Outcome
from surveys.recruiting.prolific.api import (
    ProlificBusy,
    ProlificClient,
    ProlificError,
    ProlificInputError,
    ProlificUnreachable,
)
from surveys.recruiting.prolific.plans import (
    RECRUITER,
    ProlificPlan,
    check_currency,
    check_workspace_currency,
    money_line,
    prolific_plan,
    prolific_study_id,
    study_submissions,
)
from surveys.recruiting.prolific.sync import STATUSES, prolific_status

MIN_REJECTION_MESSAGE = 100
# Prolific's rejection categories.
REJECTION_CATEGORIES = (
    "TOO_QUICKLY", "TOO_SLOWLY", "FAILED_INSTRUCTIONS", "INCOMP_LONGITUDINAL", "FAILED_CHECK",
    "LOW_EFFORT", "MALINGERING", "NO_CODE", "BAD_CODE", "NO_DATA", "UNSUPP_DEVICE", "OTHER",
)  # fmt: skip
RETRYABLE = (ProlificBusy, ProlificUnreachable)
PAST = {"approve": "Approved", "reject": "Rejected"}


def check_rejection(message: str, category: str) -> tuple[str, str]:
    """The rejection message and category, checked as Prolific checks them.

    Raises:
        ProlificInputError: the message is under 100 characters or the category unknown.
    """
    message = " ".join(message.split())
    if len(message) < MIN_REJECTION_MESSAGE:
        raise ProlificInputError(
            f"the rejection message has {len(message)} characters; Prolific needs at least "
            f"{MIN_REJECTION_MESSAGE}: say what the participant did wrong and how you checked it"
        )
    category = category.strip().upper()
    if category not in REJECTION_CATEGORIES:
        raise ProlificInputError(
            f"{category[:30] or 'no category'!r} is not a Prolific rejection category; use one "
            f"of {', '.join(REJECTION_CATEGORIES)}"
        )
    return message, category


def _awaiting(rows: Sequence[Submission], verb: str) -> None:
    done = [row.external_id for row in rows if row.status != SubmissionStatus.SUBMITTED]
    if done:
        raise ProlificInputError(
            f"only submissions awaiting review can be {verb}; not {', '.join(done[:5])} "
            "(sync to see their status)"
        )


def _why_held(row: Submission) -> str:
    if row.participant is None:
        return "no participant of ours"
    if row.participant.status == ParticipantStatus.EXCLUDED:
        return "participant excluded"
    if row.participant.status != ParticipantStatus.COMPLETED:
        return "survey not completed"
    return ""


def plan_approve(study: Study, ids: Sequence[str] = ()) -> ProlificPlan:
    """Approving the named submissions, or every clean one awaiting review."""
    prolific_study_id(study)
    currency = check_currency(study)
    notes: list[str] = []
    if ids:
        rows = study_submissions(study, list(ids))
        _awaiting(rows, "approved")
        notes += [f"{row.external_id}: {_why_held(row)}" for row in rows if _why_held(row)]
    else:
        waiting = Submission.objects.filter(
            study=study, recruiter=RECRUITER, status=SubmissionStatus.SUBMITTED
        ).select_related("participant")
        rows = [row for row in waiting if not _why_held(row)]
        held = [row for row in waiting if _why_held(row)]
        notes += [f"Left for you to decide: {row.external_id} ({_why_held(row)})" for row in held]
    if not rows:
        raise ProlificInputError(
            f"no submission of {study.slug} awaits approval; sync first "
            f"(prolific sync {study.slug}) or name the submissions"
        )
    return prolific_plan(
        action="approve",
        title=f"Approve {len(rows)} Prolific submission(s) of {study.slug}",
        lines=(money_line("Reward per approved submission", study.reward, len(rows)),),
        currency=currency,
        notes=(*notes, "Prolific adds its service fee; approval is final."),
        fields={"ids": " ".join(row.external_id for row in rows)},
        targets=tuple(row.external_id for row in rows),
    )


def plan_reject(study: Study, ids: Sequence[str], message: str, category: str) -> ProlificPlan:
    """Rejecting the named submissions with ``message`` under ``category``."""
    prolific_study_id(study)
    if not ids:
        raise ProlificInputError("name the submission(s) to reject by submission or PID")
    message, category = check_rejection(message, category)
    rows = study_submissions(study, list(ids))
    _awaiting(rows, "rejected")
    return prolific_plan(
        action="reject",
        title=f"Reject {len(rows)} Prolific submission(s) of {study.slug} ({category})",
        lines=tuple(money_line(f"{row.external_id}: not paid") for row in rows),
        currency=study.currency,
        notes=(f"Message to the participant: {message}", "Rejection is final."),
        fields={"ids": " ".join(row.external_id for row in rows), "message": message,
                "category": category},
        targets=tuple(row.external_id for row in rows),
    )  # fmt: skip


def _follow(row: Submission, status: object) -> None:
    """Take the submission's new status from Prolific's answer (the next sync would too)."""
    try:
        row.status = STATUSES[prolific_status(status)]
    except ProlificError:
        return
    row.save(update_fields=["status", "synced_at"])


def _transition(
    study: Study,
    plan: ProlificPlan,
    client: ProlificClient,
    body: Mapping[str, Any],
    amount_of: Callable[[Submission], Any],
) -> Outcome:
    rows = study_submissions(study, list(plan.targets))
    verb = plan.action
    entries, failures = [], []
    for row in rows:
        step = Step(
            study, RECRUITER, verb, f"prolific-{verb}-{row.external_id}",
            amount=amount_of(row), currency=study.currency if amount_of(row) else "",
            submission=row, request=dict(body),
        )  # fmt: skip
        try:
            entry = do_ledger_step(
                step,
                functools.partial(client.transition, row.external_id, body),
                retryable=RETRYABLE,
                sleep=client.sleep,
            )
        except LedgerCallError as failed:
            failures.append(f"{row.external_id}: {failed}")
            continue
        entries.append(entry)
        _follow(row, entry.response.get("status"))
    done = f"{PAST[verb]} {len(entries)} of {len(rows)} submission(s) of {study.slug}"
    return Outcome(
        verb,
        message=done + (f"; {len(failures)} failed: " + "; ".join(failures) if failures else "."),
        failures=list(failures),
        entries=list(entries),
    )


def do_approve(study: Study, plan: ProlificPlan, client: ProlificClient) -> Outcome:
    """Approve the planned submissions, one ledger step each.

    Raises:
        ProlificInputError: the workspace pays in another currency than the study's (an
            approval pays the reward in the workspace's currency); nothing is sent.
        ProlificError: Prolific could not tell the workspace's currency.
    """
    check_workspace_currency(study, client)
    return _transition(study, plan, client, {"action": "APPROVE"}, lambda _: study.reward)


def do_reject(study: Study, plan: ProlificPlan, client: ProlificClient) -> Outcome:
    """Reject the planned submissions with the plan's message and category."""
    message, category = check_rejection(plan.request["message"], plan.request["category"])
    body = {"action": "REJECT", "message": message, "rejection_category": category}
    return _transition(study, plan, client, body, lambda _: None)
