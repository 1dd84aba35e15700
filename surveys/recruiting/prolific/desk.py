"""The researcher's Prolific page and command: where a study stands, and its actions.

:func:`prolific_overview` reads (settings, synced submissions, bonuses, the ledger); the
actions are planned by :func:`plan_prolific_action`, shown with their money, and carried out
by :func:`do_prolific_action`, the same for the staff page and the ``prolific`` command.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count
from django.shortcuts import get_object_or_404

from surveys.models import (
    LedgerEntry,
    ParticipantStatus,
    Study,
    Submission,
    SubmissionStatus,
)
from surveys.recruiting.plans import Outcome
from surveys.recruiting.prolific.api import ProlificClient, ProlificInputError
from surveys.recruiting.prolific.bonus import do_pay, do_setup_bonus, plan_bonus, plan_pay
from surveys.recruiting.prolific.bulk import BulkBonus, bulk_bonuses
from surveys.recruiting.prolific.plans import RECRUITER, ProlificPlan
from surveys.recruiting.prolific.recruiter import prolific_entry_url
from surveys.recruiting.prolific.review import (
    REJECTION_CATEGORIES,
    do_approve,
    do_reject,
    plan_approve,
    plan_reject,
)
from surveys.recruiting.prolific.study import do_create_draft, plan_create
from surveys.recruiting.prolific.sync import do_sync

ACTIONS = ("create", "approve", "reject", "bonus", "pay")
# The actions that move money: only users who may pay (surveys.can_pay) plan or run them.
PAY_ACTIONS = ("approve", "bonus", "pay")
LEDGER_ROWS = 15
SUBMISSION_ROWS = 200


def access_prolific_study(slug: str) -> Study:
    """The study whose Prolific page is asked for (404 when there is none)."""
    return get_object_or_404(Study, slug=slug)


@dataclass(frozen=True)
class ProlificOverview:
    """Everything the Prolific page shows about one study."""

    study: Study
    is_prolific: bool
    prolific_id: str
    prolific_status: str
    review: str
    entry_url: str
    token_set: bool
    hook_secret_set: bool
    counts: dict[str, int]
    submissions: list[Submission]
    approvable: int
    approve_total: Decimal
    bonuses: list[BulkBonus]
    ledger: list[LedgerEntry]
    categories: tuple[str, ...] = REJECTION_CATEGORIES


def _approvable(study: Study) -> int:
    return Submission.objects.filter(
        study=study,
        recruiter=RECRUITER,
        status=SubmissionStatus.SUBMITTED,
        participant__status=ParticipantStatus.COMPLETED,
    ).count()


def prolific_overview(study: Study, entry_link: str) -> ProlificOverview:
    """Where ``study`` stands with Prolific; ``entry_link`` is its absolute public link."""
    config = study.recruiter_config or {}
    rows = Submission.objects.filter(study=study, recruiter=RECRUITER)
    counts = dict(rows.values("status").annotate(n=Count("id")).values_list("status", "n"))
    approvable = _approvable(study)
    return ProlificOverview(
        study=study,
        is_prolific=study.recruiter == RECRUITER,
        prolific_id=str(config.get("study_id", "")),
        prolific_status=str(config.get("status", "")),
        review=str(config.get("review", "manual")),
        entry_url=prolific_entry_url(entry_link),
        token_set=bool(os.environ.get("PROLIFIC_TOKEN", "").strip()),
        hook_secret_set=bool(os.environ.get("PROLIFIC_HOOK_SECRET", "")),
        counts={label: counts.get(value, 0) for value, label in SubmissionStatus.choices},
        submissions=list(rows.select_related("participant").order_by("-id")[:SUBMISSION_ROWS]),
        approvable=approvable,
        approve_total=study.reward * approvable,
        bonuses=bulk_bonuses(study),
        ledger=list(
            LedgerEntry.objects.filter(study=study, recruiter=RECRUITER)
            .select_related("submission")
            .order_by("-created_at", "-id")[:LEDGER_ROWS]
        ),
    )


def _ids(data: Mapping[str, str]) -> list[str]:
    return data.get("ids", "").replace(",", " ").split()


def plan_prolific_action(
    study: Study, action: str, data: Mapping[str, str], entry_link: str
) -> ProlificPlan:
    """ProlificPlan ``action`` on ``study`` from form or command fields.

    Raises:
        ProlificInputError: an unknown action or bad fields; the message says which.
    """
    planners: dict[str, Callable[[], ProlificPlan]] = {
        "create": lambda: plan_create(study, entry_link),
        "approve": lambda: plan_approve(study, _ids(data)),
        "reject": lambda: plan_reject(
            study, _ids(data), data.get("message", ""), data.get("category", "")
        ),
        "bonus": lambda: plan_bonus(study, data.get("bonuses", ""), data.get("round", "1")),
        "pay": lambda: plan_pay(study, _ids(data)),
    }
    if action not in planners:
        raise ProlificInputError(
            f"{action[:30]!r} is not a Prolific action; use one of {', '.join(ACTIONS)}"
        )
    return planners[action]()


def do_prolific_action(study: Study, plan: ProlificPlan, client: ProlificClient) -> Outcome:
    """Carry out a plan made by :func:`plan_prolific_action`."""
    doers: dict[str, Callable[[Study, ProlificPlan, ProlificClient], Outcome]] = {
        "create": do_create_draft,
        "approve": do_approve,
        "reject": do_reject,
        "bonus": do_setup_bonus,
        "pay": do_pay,
    }
    return doers[plan.action](study, plan, client)


def do_prolific_sync(study: Study, client: ProlificClient) -> Outcome:
    """Mirror the study's Prolific submissions now (reads only; no money moves)."""
    return Outcome("sync", message=do_sync(study, client).message)
