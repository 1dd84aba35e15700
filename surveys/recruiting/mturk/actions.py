"""The MTurk actions by name, for the ``mturk`` command and the desk: check, then do.

``check_mturk_action`` gives the plan a confirmation shows (the money involved); nothing is
called. ``do_mturk_action`` checks again and runs it. Both take an :class:`MTurkSession`
(:func:`surveys.recruiting.mturk.client.open_session`).
"""

from __future__ import annotations

from collections.abc import Callable

from django.shortcuts import get_object_or_404

from surveys.models import RecruiterKind, Study
from surveys.recruiting.mturk import pay as mturk_pay
from surveys.recruiting.mturk import publish as mturk_publish
from surveys.recruiting.mturk import sync as mturk_sync
from surveys.recruiting.mturk import workers as mturk_admin
from surveys.recruiting.mturk.client import MTurkSession
from surveys.recruiting.mturk.money import MTurkInputError
from surveys.recruiting.mturk.plans import ActionInput, ActionPlan
from surveys.recruiting.plans import Outcome

Check = Callable[[MTurkSession, ActionInput], ActionPlan]
Do = Callable[[MTurkSession, ActionInput], Outcome]


def _publish(session: MTurkSession, request: ActionInput) -> Outcome:
    before = {hit.hit_id for hit in mturk_publish.study_hits(session)}
    hits = mturk_publish.do_publish(session, request)
    outcome = Outcome("publish", done=[hit.hit_id for hit in hits if hit.hit_id not in before])
    outcome.message = (
        f"publish: {len(outcome.done)} HIT(s) created; the study has {len(hits)} HIT(s) with "
        f"{sum(hit.assignments for hit in hits)} assignment(s)"
    )
    return outcome


def _sync(session: MTurkSession, request: ActionInput) -> Outcome:
    report = mturk_sync.do_sync(session)
    return Outcome("sync", failures=report.failures, message=report.summary())


ACTIONS: dict[str, tuple[Check, Do]] = {
    "publish": (mturk_publish.check_publish, _publish),
    "sync": (mturk_sync.check_sync, _sync),
    "approve": (mturk_pay.check_approve, mturk_pay.do_approve),
    "reject": (mturk_pay.check_reject, mturk_pay.do_reject),
    "bonus": (mturk_pay.check_bonus, mturk_pay.do_bonus),
    "block": (mturk_admin.check_block, mturk_admin.do_block),
    "expire": (mturk_admin.check_expire, mturk_admin.do_expire),
    "add": (mturk_admin.check_add, mturk_admin.do_add),
}


# The actions that spend the account's money (publishing and adding assignments commit rewards
# that MTurk pays on approval, automatic after the delay): only users who may pay run them.
PAY_ACTIONS = ("publish", "add", "approve", "bonus")


def _action(action: str) -> tuple[Check, Do]:
    if action not in ACTIONS:
        raise MTurkInputError(f"Unknown action {action!r}; the actions are {', '.join(ACTIONS)}.")
    return ACTIONS[action]


def check_mturk_action(session: MTurkSession, action: str, request: ActionInput) -> ActionPlan:
    """What ``action`` would do now, and the money involved; calls nothing.

    Raises:
        MTurkInputError: an unknown action or a request it cannot carry out.
    """
    return _action(action)[0](session, request)


def do_mturk_action(session: MTurkSession, action: str, request: ActionInput) -> Outcome:
    """Run ``action`` (checked again first).

    Raises:
        MTurkInputError: as :func:`check_mturk_action`.
        MTurkUnavailable: MTurk refused or could not be reached; what was done is kept.
    """
    return _action(action)[1](session, request)


def access_mturk_study(slug: str) -> Study:
    """The MTurk study behind a desk URL (404 for no such study or another recruiter)."""
    return get_object_or_404(Study, slug=slug, recruiter=RecruiterKind.MTURK)
