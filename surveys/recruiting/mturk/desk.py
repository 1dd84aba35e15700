"""The researcher's MTurk desk: what the page shows, and one action at a time, confirmed first.

Building the page never calls MTurk (the balance is fetched by its own fragment), so the desk
opens even while the service is closed or out of reach. An action posted from the desk comes
back as its plan on a confirmation page; only the confirmation's post runs it, and only when the
money involved is still what the researcher saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count

from surveys.models import LedgerEntry, LedgerStatus, Study, Submission, SubmissionStatus
from surveys.recruiting.base import RecruiterConfigError
from surveys.recruiting.mturk.actions import check_mturk_action, do_mturk_action
from surveys.recruiting.mturk.client import (
    CLOSURE_NOTICE,
    MTurkSession,
    MTurkUnavailable,
    endpoint_url,
    open_session,
)
from surveys.recruiting.mturk.config import MTurkConfig, read_mturk_config
from surveys.recruiting.mturk.money import MTurkInputError, usd
from surveys.recruiting.mturk.plans import MTURK, ActionInput, ActionPlan
from surveys.recruiting.mturk.publish import HitRecord, study_hits
from surveys.recruiting.mturk.sync import sync_switched_on
from surveys.recruiting.mturk.workers import do_balance
from surveys.recruiting.plans import Outcome

LEDGER_ROWS = 25


@dataclass
class DeskPage:
    """Everything the MTurk desk shows."""

    study: Study
    config: MTurkConfig | None
    problem: str = ""
    endpoint: str = ""
    publish: ActionPlan | None = None
    publish_problem: str = ""
    hits: list[HitRecord] = field(default_factory=list)
    submissions: list[Submission] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    ledger: list[LedgerEntry] = field(default_factory=list)
    ledger_open: int = 0
    auto_sync: bool = False
    closure_notice: str = CLOSURE_NOTICE


def offline_session(study: Study, config: MTurkConfig) -> MTurkSession:
    """A session for checking plans only: no client, so nothing can be called."""
    return MTurkSession(study, config, client=None)


def mturk_desk_page(study: Study, site_url: str) -> DeskPage:
    """The desk of ``study``, built from the database alone."""
    try:
        config = read_mturk_config(study.recruiter_config)
    except RecruiterConfigError as exc:
        return DeskPage(study, None, problem=f"The study's MTurk settings are broken: {exc}")
    page = DeskPage(study, config, auto_sync=config.auto_sync and sync_switched_on())
    try:
        page.endpoint = endpoint_url(config.sandbox)
    except MTurkUnavailable as exc:
        page.problem = str(exc)
    session = offline_session(study, config)
    try:
        page.publish = check_mturk_action(session, "publish", ActionInput(site_url=site_url))
    except MTurkInputError as exc:
        page.publish_problem = str(exc)
    page.hits = study_hits(session)
    page.submissions = list(
        Submission.objects.filter(study=study, recruiter=MTURK)
        .select_related("participant")
        .order_by("-id")
    )
    page.counts = live_counts(study)
    entries = LedgerEntry.objects.filter(study=study, recruiter=MTURK).order_by("-id")
    page.ledger = list(entries[:LEDGER_ROWS])
    page.ledger_open = page.counts["ledger_open"]
    return page


def live_counts(study: Study) -> dict[str, int]:
    """The numbers the desk refreshes: submissions by status, unmatched, open ledger entries."""
    rows = Submission.objects.filter(study=study, recruiter=MTURK)
    by_status = dict(rows.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    counts = {status.value: int(by_status.get(status.value, 0)) for status in SubmissionStatus}
    counts["unmatched"] = rows.filter(unmatched=True).count()
    counts["ledger_open"] = LedgerEntry.objects.filter(
        study=study, recruiter=MTURK, status__in=(LedgerStatus.PENDING, LedgerStatus.FAILED)
    ).count()
    return counts


@dataclass(frozen=True)
class DeskResult:
    """What a posted desk action came to: a plan to confirm, a finished run, or a problem."""

    plan: ActionPlan | None = None
    outcome: Outcome | None = None
    problem: str = ""
    notice: str = ""
    status: int = 200


def do_desk_action(
    study: Study,
    action: str,
    request: ActionInput,
    confirmed: bool,
    seen_total: str,
    picked: bool = False,
) -> DeskResult:
    """Check ``action``; run it when ``confirmed`` and the money is still ``seen_total``.

    ``picked`` says the researcher meant the assignments ticked in the table, so none ticked is
    a mistake to point out, not "every ready one".
    """
    if picked and not request.targets:
        return DeskResult(problem="Tick at least one assignment in the table first.", status=400)
    try:
        config = read_mturk_config(study.recruiter_config)
        plan = check_mturk_action(offline_session(study, config), action, request)
    except (RecruiterConfigError, MTurkInputError) as exc:
        return DeskResult(problem=str(exc), status=400)
    if not confirmed:
        return DeskResult(plan=plan)
    if seen_total != usd(plan.money.total):
        notice = (
            f"The money involved changed since you looked ({seen_total or '?'} USD, now "
            f"{usd(plan.money.total)} USD); check the plan and confirm again."
        )
        return DeskResult(plan=plan, notice=notice, status=409)
    try:
        outcome = do_mturk_action(open_session(study), action, plan.request)
    except MTurkInputError as exc:
        return DeskResult(plan=plan, problem=str(exc), status=400)
    except MTurkUnavailable as exc:
        return DeskResult(plan=plan, problem=str(exc), status=503)
    return DeskResult(plan=plan, outcome=outcome)


def desk_balance(study: Study) -> tuple[dict[str, Decimal], str]:
    """The account's balance, or the one line saying why there is none."""
    try:
        return do_balance(open_session(study)), ""
    except MTurkUnavailable as exc:
        return {}, str(exc)
