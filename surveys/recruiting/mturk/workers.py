"""Looking after the HITs and workers: block workers, expire HITs, add assignments, balance.

Each call that changes something is a ledger entry (``block-<study>-<worker>``,
``expire-<HIT>``, ``add-<HIT>-<new total>``), so a repeated run does nothing twice.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from surveys.recruiting.ledger import Step
from surveys.recruiting.mturk.client import (
    MTurkSession,
    is_duplicate_request,
    ledger_call,
    ledger_token,
    mturk_errors,
    read_call,
    try_item,
)
from surveys.recruiting.mturk.config import FEEDBACK_MAX
from surveys.recruiting.mturk.money import CURRENCY, MTurkInputError, check_reward, rewards_cost
from surveys.recruiting.mturk.plans import (
    MTURK,
    ActionInput,
    ActionPlan,
    clean_text,
    done_entry,
    mturk_plan,
)
from surveys.recruiting.mturk.publish import HitRecord, study_hits
from surveys.recruiting.plans import Money, Outcome, PlanItem

WORKER_ID = re.compile(r"^A[A-Z0-9]{1,63}$")
# UpdateExpirationForHIT with a time in the past expires the HIT at once.
EXPIRE_NOW = datetime(2015, 1, 1, tzinfo=UTC)
# A HIT under 10 assignments cannot be raised to 10 or more (InvalidMaximumAssignmentsIncrease),
# and one of 10 or more would cost the 20 % surcharge.
SURCHARGE_AT = 10
MAX_ADD = 1000


def _done_or_new(token: str) -> str:
    return "already done" if done_entry(token) is not None else "to do"


def check_block(session: MTurkSession, request: ActionInput) -> ActionPlan:
    """Blocking the named workers from all of the requester's HITs."""
    workers = list(dict.fromkeys(t.strip().upper() for t in request.targets if t.strip()))
    if not workers:
        raise MTurkInputError("Name the workers to block (their worker IDs, A...).")
    bad = [worker for worker in workers if not WORKER_ID.match(worker)]
    if bad:
        raise MTurkInputError(
            f"{', '.join(bad[:5])}: not MTurk worker IDs (an A, then capital letters and digits)."
        )
    reason = clean_text(request.reason)
    if not reason or len(reason) > FEEDBACK_MAX:
        raise MTurkInputError(
            f"A block needs a reason of 1 to {FEEDBACK_MAX} characters (workers do not see it)."
        )
    items = tuple(
        PlanItem(worker, f"block ({_done_or_new(_block_token(session, worker))})")
        for worker in workers
    )
    replaced = ActionInput(tuple(workers), reason=reason)
    notes = (f"Reason: {reason}", "Blocked workers cannot take any of your HITs.")
    summary = f"Block {len(workers)} worker(s)"
    return mturk_plan("block", session.study, summary, items, Money(), notes, replaced)


def _block_token(session: MTurkSession, worker: str) -> str:
    return ledger_token("block", session.study.code, worker)


def do_block(session: MTurkSession, request: ActionInput) -> Outcome:
    plan = check_block(session, request)
    outcome = Outcome("block")
    with mturk_errors():
        for worker in plan.request.targets:
            token = _block_token(session, worker)
            call_request = {"WorkerId": worker, "Reason": plan.request.reason}
            step = Step(session.study, MTURK, "block", token, request=call_request)
            _one(session, outcome, worker, step, "create_worker_block", call_request)
    return outcome


def _one(
    session: MTurkSession,
    outcome: Outcome,
    target: str,
    step: Step,
    operation: str,
    request: dict[str, Any],
    **ledger: Any,
) -> None:
    """One ledger call of ``operation``, its outcome recorded under ``target``."""
    method = getattr(session.client, operation)

    def call() -> dict[str, Any]:
        method(**request)
        return {"done": operation}

    was_done = done_entry(step.token) is not None
    step_call = functools.partial(ledger_call, session, step, call, **ledger)
    if try_item(outcome.failures, target, step_call) is not None:
        (outcome.already if was_done else outcome.done).append(target)


def _named_hits(session: MTurkSession, targets: tuple[str, ...]) -> list[HitRecord]:
    hits = {hit.hit_id: hit for hit in study_hits(session)}
    wanted = [t.strip() for t in targets if t.strip()] or list(hits)
    unknown = [hit for hit in wanted if hit not in hits]
    if unknown:
        raise MTurkInputError(
            f"{', '.join(unknown[:5])}: not a HIT of study {session.study.slug!r} "
            f"({session.config.mode}); its HITs are {', '.join(hits) or 'none yet'}."
        )
    return [hits[hit] for hit in dict.fromkeys(wanted)]


def check_expire(session: MTurkSession, request: ActionInput) -> ActionPlan:
    """Expiring the named HITs (all of the study's when none are named)."""
    hits = _named_hits(session, request.targets)
    if not hits:
        raise MTurkInputError("The study has no HITs to expire; nothing was published.")
    items = tuple(
        PlanItem(hit.hit_id, f"expire batch {hit.batch} ({_done_or_new(_expire_token(hit))})")
        for hit in hits
    )
    notes = (
        "Workers already working on an assignment may still submit it.",
        "Expired HITs take no new workers; MTurk disposes of them after 120 days.",
    )
    replaced = ActionInput(tuple(hit.hit_id for hit in hits))
    summary = f"Expire {len(hits)} HIT(s) now"
    return mturk_plan("expire", session.study, summary, items, Money(), notes, replaced)


def _expire_token(hit: HitRecord) -> str:
    return ledger_token("expire", hit.hit_id)


def do_expire(session: MTurkSession, request: ActionInput) -> Outcome:
    plan = check_expire(session, request)
    outcome = Outcome("expire")
    with mturk_errors():
        for hit in _named_hits(session, plan.request.targets):
            call_request = {"HITId": hit.hit_id, "ExpireAt": EXPIRE_NOW}
            step = Step(
                session.study, MTURK, "expire", _expire_token(hit),
                request={"HITId": hit.hit_id, "ExpireAt": EXPIRE_NOW.isoformat()},
            )  # fmt: skip
            _one(session, outcome, hit.hit_id, step, "update_expiration_for_hit", call_request)
    return outcome


def _check_count(request: ActionInput) -> int:
    try:
        count = int(request.count.strip())
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_ADD:
        raise MTurkInputError(
            f"Give how many assignments to add as a whole number from 1 to {MAX_ADD}, "
            f"not {request.count!r}."
        )
    return count


def check_add(session: MTurkSession, request: ActionInput) -> ActionPlan:
    """Adding assignments to one HIT, within MTurk's 10-assignment rule."""
    if len([t for t in request.targets if t.strip()]) != 1:
        raise MTurkInputError("Name exactly one HIT to add assignments to.")
    hit = _named_hits(session, request.targets)[0]
    count = _check_count(request)
    total = hit.assignments + count
    if hit.assignments < SURCHARGE_AT <= total:
        raise MTurkInputError(
            f"HIT {hit.hit_id} has {hit.assignments} assignments; adding {count} would make "
            f"{total}. MTurk does not let a HIT under {SURCHARGE_AT} assignments reach "
            f"{SURCHARGE_AT} or more (and those cost a 20 % surcharge): add at most "
            f"{SURCHARGE_AT - 1 - hit.assignments}, or raise participants_wanted and publish "
            "a new batch."
        )
    money = rewards_cost(check_reward(session.study), count, session.config.masters)
    item = PlanItem(hit.hit_id, f"{hit.assignments} -> {total} assignments", money.total)
    notes = []
    wanted = session.study.participants_wanted
    published = sum(h.assignments for h in study_hits(session)) + count
    if published > wanted:
        notes.append(
            f"The study wants {wanted} participants; raise participants_wanted to {published} "
            "or the extra workers find it full."
        )
    replaced = ActionInput((hit.hit_id,), count=str(count))
    summary = f"Add {count} assignment(s) to HIT {hit.hit_id}"
    return mturk_plan("add", session.study, summary, (item,), money, tuple(notes), replaced)


def do_add(session: MTurkSession, request: ActionInput) -> Outcome:
    plan = check_add(session, request)
    hit = _named_hits(session, plan.request.targets)[0]
    count = _check_count(request)
    target_total = hit.assignments + count
    token = ledger_token("add", hit.hit_id, str(target_total))
    call_request = {
        "HITId": hit.hit_id,
        "NumberOfAdditionalAssignments": count,
        "UniqueRequestToken": token,
    }
    step = Step(
        session.study, MTURK, "add_assignments", token, plan.money.total, CURRENCY,
        request=call_request, repeatable=False,
    )  # fmt: skip

    def reconcile() -> dict[str, Any] | None:
        answer = read_call(session, lambda: session.client.get_hit(HITId=hit.hit_id))
        now = int(answer.get("HIT", {}).get("MaxAssignments", 0))
        return {"MaxAssignments": now} if now >= target_total else None

    outcome = Outcome("add")
    with mturk_errors():
        _one(
            session, outcome, hit.hit_id, step, "create_additional_assignments_for_hit",
            call_request, already_done=is_duplicate_request, reconcile=reconcile,
        )  # fmt: skip
    return outcome


def do_balance(session: MTurkSession) -> dict[str, Decimal]:
    """The requester account's available (and on-hold) balance in USD.

    Raises:
        MTurkUnavailable: MTurk refused or could not be reached.
    """
    with mturk_errors():
        answer = read_call(session, session.client.get_account_balance)
    balance = {"available": Decimal(str(answer.get("AvailableBalance", "0")))}
    if answer.get("OnHoldBalance"):
        balance["on_hold"] = Decimal(str(answer["OnHoldBalance"]))
    return balance
