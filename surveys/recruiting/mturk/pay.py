"""Paying and deciding assignments: approve (bonus first), reject, and bonuses on their own.

Every call is a ledger entry under a token of its own (``approve-<assignment>``,
``bonus-<assignment>``, ...), so re-running a payment step, or one killed half-way, skips what
is done. ``SendBonus`` carries the token as its ``UniqueRequestToken``, but MTurk forgets tokens
after 24 hours, so a bonus left pending is first looked up in ``ListBonusPayments`` and only
sent again when MTurk has no bonus at all on the assignment: one bonus per assignment, whatever
its amount, and the ledger refuses the token asked again for another amount. Every bonus is at
most the study's bonus cap (``bonus_cap`` in the spec, else the reward).

Approving without naming assignments approves the *ready* ones: submitted, matched to a
participant of ours who completed the study. Unmatched or unfinished ones are approved only
when named.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from surveys.models import LedgerEntry, ParticipantStatus, Submission, SubmissionStatus
from surveys.recruiting.base import RecruiterConfigError
from surveys.recruiting.ledger import Step
from surveys.recruiting.mturk.client import (
    MTurkSession,
    is_duplicate_request,
    is_status_conflict,
    ledger_call,
    ledger_token,
    mturk_errors,
    pages,
    try_item,
)
from surveys.recruiting.mturk.config import FEEDBACK_MAX, BonusRule, check_amount
from surveys.recruiting.mturk.money import (
    CURRENCY,
    MTurkInputError,
    bonuses_cost,
    check_reward,
    fee,
    rewards_cost,
    usd,
)
from surveys.recruiting.mturk.plans import (
    MTURK,
    ActionInput,
    ActionPlan,
    clean_text,
    done_entry,
    mturk_plan,
)
from surveys.recruiting.plans import Money, Outcome, PlanItem, over_bonus_cap


@dataclass(frozen=True)
class Work:
    """What one assignment needs: a bonus (paid first), an approval, or both."""

    submission: Submission
    bonus: BonusRule | None
    approve: bool
    note: str = ""


def _study_submissions(session: MTurkSession, targets: tuple[str, ...]) -> list[Submission]:
    """The named assignments of the study, or :class:`MTurkInputError` naming the unknown."""
    wanted = list(dict.fromkeys(target.strip() for target in targets if target.strip()))
    found = {
        s.external_id: s
        for s in Submission.objects.filter(
            study=session.study, recruiter=MTURK, external_id__in=wanted
        ).select_related("participant")
    }
    unknown = [target for target in wanted if target not in found]
    if unknown:
        raise MTurkInputError(
            f"{', '.join(unknown[:5])} {'is' if len(unknown) == 1 else 'are'} not an assignment "
            f"of study {session.study.slug!r} (as last synced); run sync, then name assignments "
            "it lists."
        )
    return [found[target] for target in wanted]


def _feedback(text: str, *, required: bool) -> str:
    feedback = clean_text(text)
    if required and not feedback:
        raise MTurkInputError(
            "A rejection needs feedback: tell the worker why (MTurk shows it to them)."
        )
    if len(feedback) > FEEDBACK_MAX:
        raise MTurkInputError(
            f"The feedback is {len(feedback)} characters; MTurk takes {FEEDBACK_MAX}."
        )
    return feedback


def _bonus_paid(submission: Submission) -> LedgerEntry | None:
    return done_entry(ledger_token("bonus", submission.external_id))


def _bonus_due(submission: Submission, rule: BonusRule | None) -> BonusRule | None:
    """The rule's bonus, unless the assignment got its one bonus already."""
    return rule if rule is not None and _bonus_paid(submission) is None else None


def _capped(session: MTurkSession, rule: BonusRule, what: str) -> BonusRule:
    """``rule``, once its amount is within the study's bonus cap."""
    if problem := over_bonus_cap(session.study, rule.amount):
        raise MTurkInputError(f"{what}: {problem}.")
    return rule


def _approval_work(session: MTurkSession, request: ActionInput) -> list[Work]:
    rule = session.config.bonus
    if rule is not None:
        rule = _capped(session, rule, "The bonus rule in recruiter_config")
    if not request.targets:
        ready = Submission.objects.filter(
            study=session.study,
            recruiter=MTURK,
            unmatched=False,
            status__in=(SubmissionStatus.SUBMITTED, SubmissionStatus.APPROVED),
            participant__status=ParticipantStatus.COMPLETED,
        ).select_related("participant")
        work = [Work(s, _bonus_due(s, rule), s.status == SubmissionStatus.SUBMITTED) for s in ready]
        return [item for item in work if item.bonus or item.approve]
    work = []
    for submission in _study_submissions(session, request.targets):
        if submission.status == SubmissionStatus.REJECTED:
            raise MTurkInputError(f"{submission.external_id} was rejected; it cannot be approved.")
        note = ""
        if submission.unmatched:
            note = "matches no participant of ours; approved because you named it"
        elif (
            submission.participant and submission.participant.status != ParticipantStatus.COMPLETED
        ):
            note = f"participant is {submission.participant.get_status_display().lower()}"
        approve = submission.status == SubmissionStatus.SUBMITTED
        work.append(Work(submission, _bonus_due(submission, rule), approve, note))
    return work


def check_approve(session: MTurkSession, request: ActionInput) -> ActionPlan:
    """Approving the named (or the ready) assignments, each bonus paid first."""
    feedback = _feedback(request.feedback, required=False)
    reward = check_reward(session.study)
    work = _approval_work(session, request)
    items, money = [], Money()
    for item in work:
        cost = Money()
        parts = []
        if item.bonus:
            cost += bonuses_cost(item.bonus.amount, 1)
            parts.append(f"bonus {usd(item.bonus.amount)}")
        if item.approve:
            cost += rewards_cost(reward, 1, session.config.masters)
            parts.append(f"approve ({usd(reward)} reward)")
        what = ", then ".join(parts) or "nothing to do: already approved"
        items.append(
            PlanItem(item.submission.external_id, f"{what} {item.note}".strip(), cost.total)
        )
        money += cost
    notes = []
    if feedback:
        notes.append(f"Feedback to each worker: {feedback}")
    summary = f"Approve {sum(item.approve for item in work)} assignment(s)"
    bonuses = sum(item.bonus is not None for item in work)
    if bonuses:
        summary += f" and pay {bonuses} bonus(es) first"
    replaced = ActionInput(tuple(w.submission.external_id for w in work), feedback=feedback)
    return mturk_plan(
        "approve", session.study, summary, tuple(items), money, tuple(notes), replaced
    )


def do_approve(session: MTurkSession, request: ActionInput) -> Outcome:
    """Bonus (when due) then approve each assignment; a failed bonus holds its approval back.

    Raises:
        MTurkInputError: as :func:`check_approve`.
        MTurkUnavailable: MTurk is out of reach (what was done is kept in the ledger).
    """
    check_approve(session, request)
    feedback = _feedback(request.feedback, required=False)
    outcome = Outcome("approve")
    bonused: list[str] = []
    outcome.details["bonused"] = bonused
    with mturk_errors():
        for item in _approval_work(session, request):
            if item.bonus:
                if not _pay_bonus(session, outcome, item.submission, item.bonus):
                    continue  # bonus before approve: never approve while its bonus is unpaid
                bonused.append(item.submission.external_id)
            if item.approve:
                _decide(session, outcome, item.submission, "approve", feedback)
    if bonused:
        outcome.note = f"{len(bonused)} bonus(es) paid first"
    return outcome


def _pay_bonus(
    session: MTurkSession, outcome: Outcome, submission: Submission, rule: BonusRule
) -> bool:
    call = functools.partial(_send_bonus, session, submission, rule)
    return try_item(outcome.failures, submission.external_id, call) is not None


def _send_bonus(session: MTurkSession, submission: Submission, rule: BonusRule) -> LedgerEntry:
    assignment = submission.external_id
    token = ledger_token("bonus", assignment)
    request = {
        "WorkerId": submission.worker_id,
        "BonusAmount": usd(rule.amount),
        "AssignmentId": assignment,
        "Reason": rule.reason,
        "UniqueRequestToken": token,
    }
    step = Step(
        session.study, MTURK, "bonus", token, rule.amount, CURRENCY, submission,
        request=request, repeatable=False,
    )  # fmt: skip

    def send() -> dict[str, Any]:
        session.client.send_bonus(**request)
        return {"BonusAmount": request["BonusAmount"], "fee": usd(fee(rule.amount))}

    def reconcile() -> dict[str, Any] | None:
        # The token may have expired (24 h): MTurk's list of payments is the record. Any bonus
        # on the assignment is its one bonus, even of another amount than asked now.
        listed = pages(session, "list_bonus_payments", "BonusPayments", AssignmentId=assignment)
        for payment in listed:
            found = {"BonusAmount": payment.get("BonusAmount"), "found_in": "ListBonusPayments"}
            if payment.get("BonusAmount") != request["BonusAmount"]:
                found["asked"] = request["BonusAmount"]
            return found
        return None

    return ledger_call(session, step, send, already_done=is_duplicate_request, reconcile=reconcile)


def _status_is(session: MTurkSession, assignment: str, wanted: str) -> bool:
    """Whether MTurk says the assignment is ``wanted`` (Approved, Rejected) already."""
    try:
        answer = session.client.get_assignment(AssignmentId=assignment)
    except Exception:  # the original refusal is recorded instead
        return False
    return bool(answer.get("Assignment", {}).get("AssignmentStatus") == wanted)


def _decide(
    session: MTurkSession, outcome: Outcome, submission: Submission, action: str, feedback: str
) -> None:
    """Approve or reject ``submission`` through the ledger and record the new status."""
    assignment = submission.external_id
    token = ledger_token(action, assignment)
    wanted = "Approved" if action == "approve" else "Rejected"
    request = {"AssignmentId": assignment}
    if feedback or action == "reject":
        request["RequesterFeedback"] = feedback
    # An approval pays the reward (MTurk adds its fee); a rejection pays nothing.
    amount = check_reward(session.study) if action == "approve" else None
    step = Step(
        session.study, MTURK, action, token, amount, CURRENCY if amount else "", submission,
        request=request,
    )  # fmt: skip
    method = getattr(session.client, f"{action}_assignment")

    def call() -> dict[str, Any]:
        method(**request)
        return {"status": wanted}

    def already(exc: BaseException) -> bool:
        # "This operation can be called with a status of: Submitted": decided before; check
        # that it was decided *this* way before counting it as done.
        return is_status_conflict(exc) and _status_is(session, assignment, wanted)

    was_done = done_entry(token) is not None
    call_step = functools.partial(ledger_call, session, step, call, already_done=already)
    if try_item(outcome.failures, assignment, call_step) is None:
        return
    (outcome.already if was_done else outcome.done).append(assignment)
    submission.status = (
        SubmissionStatus.APPROVED if action == "approve" else SubmissionStatus.REJECTED
    )
    submission.save(update_fields=["status", "synced_at"])


def check_reject(session: MTurkSession, request: ActionInput) -> ActionPlan:
    """Rejecting the named submitted assignments, with the feedback MTurk requires."""
    feedback = _feedback(request.feedback, required=True)
    if not request.targets:
        raise MTurkInputError("Name the assignments to reject; nothing is rejected by default.")
    items = []
    for submission in _study_submissions(session, request.targets):
        if submission.status != SubmissionStatus.SUBMITTED:
            raise MTurkInputError(
                f"{submission.external_id} is {submission.get_status_display().lower()}; only "
                "submitted assignments can be rejected."
            )
        items.append(PlanItem(submission.external_id, "reject: the worker is not paid", Decimal(0)))
    summary = f"Reject {len(items)} assignment(s)"
    notes = (f"Feedback to each worker: {feedback}", "Rejections lower the workers' approval rate.")
    replaced = ActionInput(tuple(item.target for item in items), feedback=feedback)
    return mturk_plan("reject", session.study, summary, tuple(items), Money(), notes, replaced)


def do_reject(session: MTurkSession, request: ActionInput) -> Outcome:
    check_reject(session, request)
    feedback = _feedback(request.feedback, required=True)
    outcome = Outcome("reject")
    with mturk_errors():
        for submission in _study_submissions(session, request.targets):
            _decide(session, outcome, submission, "reject", feedback)
    return outcome


def _bonus_rule(session: MTurkSession, request: ActionInput) -> BonusRule:
    rule = session.config.bonus
    try:
        amount = check_amount(request.amount, "amount") if request.amount else None
    except RecruiterConfigError as exc:
        raise MTurkInputError(str(exc)) from exc
    reason = clean_text(request.reason) or (rule.reason if rule else "")
    amount = amount or (rule.amount if rule else None)
    if amount is None or not reason:
        raise MTurkInputError(
            "A bonus needs an amount (e.g. 0.50) and a reason the worker will read; give both, "
            "or set a bonus rule in the study's recruiter_config."
        )
    if len(reason) > FEEDBACK_MAX:
        raise MTurkInputError(
            f"The reason is {len(reason)} characters; MTurk takes {FEEDBACK_MAX}."
        )
    return _capped(session, BonusRule(amount, reason), "The bonus")


def check_bonus(session: MTurkSession, request: ActionInput) -> ActionPlan:
    """Paying a bonus to each named assignment (once per assignment)."""
    if not request.targets:
        raise MTurkInputError("Name the assignments to pay a bonus to.")
    rule = _bonus_rule(session, request)
    items, count = [], 0
    for submission in _study_submissions(session, request.targets):
        if submission.status == SubmissionStatus.REJECTED:
            raise MTurkInputError(f"{submission.external_id} was rejected; no bonus for it.")
        paid = _bonus_paid(submission)
        if paid is not None:
            if paid.amount is not None and Decimal(paid.amount) != rule.amount:
                raise MTurkInputError(
                    f"{submission.external_id} already got a bonus of "
                    f"{usd(Decimal(paid.amount))} USD; one bonus per assignment."
                )
            items.append(PlanItem(submission.external_id, "already paid this bonus", Decimal(0)))
            continue
        count += 1
        cost = bonuses_cost(rule.amount, 1).total
        items.append(PlanItem(submission.external_id, f"bonus {usd(rule.amount)}", cost))
    summary = f"Pay {count} bonus(es) of {usd(rule.amount)} USD"
    replaced = ActionInput(
        tuple(item.target for item in items), reason=rule.reason, amount=usd(rule.amount)
    )
    notes = (f"Reason shown to the worker: {rule.reason}",)
    money = bonuses_cost(rule.amount, count)
    return mturk_plan("bonus", session.study, summary, tuple(items), money, notes, replaced)


def do_bonus(session: MTurkSession, request: ActionInput) -> Outcome:
    check_bonus(session, request)
    rule = _bonus_rule(session, request)
    outcome = Outcome("bonus")
    with mturk_errors():
        for submission in _study_submissions(session, request.targets):
            was_done = _bonus_paid(submission) is not None
            if _pay_bonus(session, outcome, submission, rule):
                target = submission.external_id
                (outcome.already if was_done else outcome.done).append(target)
    return outcome
