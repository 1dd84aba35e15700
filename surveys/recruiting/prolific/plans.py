"""What a Prolific action will do and cost, shown before it is done.

Every action that changes something at Prolific (create the draft, approve, reject, set up
bonuses, pay them) is first planned into a :class:`surveys.recruiting.plans.Plan`: the money
involved line by line, the total, and notes worth reading first. The staff page shows it on a
confirmation page and the ``prolific`` command prints it and asks; only then is the plan
carried out.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from surveys.models import RecruiterKind, Study, Submission
from surveys.recruiting.base import RecruiterConfigError
from surveys.recruiting.plans import CENT, Plan, PlanItem, form_fields
from surveys.recruiting.prolific.api import ProlificClient, ProlificInputError
from surveys.recruiting.prolific.recruiter import check_prolific_config

RECRUITER = RecruiterKind.PROLIFIC.value
# Currencies a Prolific workspace pays in.
PROLIFIC_CURRENCIES = ("GBP", "USD")


# A Prolific plan: what the researcher asked for is the form's (or the command's) fields.
ProlificPlan = Plan[Mapping[str, str]]


def prolific_plan(
    *,
    action: str,
    title: str,
    lines: tuple[PlanItem, ...] = (),
    currency: str = "",
    notes: tuple[str, ...] = (),
    fields: Mapping[str, str] | None = None,
    targets: tuple[str, ...] = (),
) -> ProlificPlan:
    """The plan of a Prolific action; the confirmation form posts ``fields`` again."""
    fields = dict(fields or {})
    return Plan(
        action=action,
        summary=title,
        request=fields,
        form=form_fields(fields),
        items=lines,
        service="Prolific",
        currency=currency,
        notes=notes,
        targets=targets,
    )


def money_line(label: str, amount: Decimal | None = None, count: int = 1) -> PlanItem:
    """One line of money in a plan: what for, the amount each (None: no money), how many."""
    return PlanItem("", label, amount, count)


def parse_amount(text: str, where: str) -> Decimal:
    """A positive amount with at most two decimals, or :class:`ProlificInputError`."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ProlificInputError(
            f"{where}: {text.strip()[:20]!r} is not an amount such as 0.50"
        ) from None
    if not value.is_finite() or value <= 0 or value != value.quantize(CENT):
        raise ProlificInputError(
            f"{where}: {text.strip()[:20]!r} must be a positive amount with at most two "
            "decimals, such as 0.50"
        )
    return value


def check_prolific_study(study: Study) -> dict[str, object]:
    """The study's checked Prolific settings; refuses studies recruited elsewhere."""
    if study.recruiter != RECRUITER:
        raise ProlificInputError(
            f"{study.slug} recruits through {study.get_recruiter_display()}, not Prolific; set "
            "its recruiter to prolific in the study spec first"
        )
    try:
        return check_prolific_config(study.recruiter_config or {})
    except RecruiterConfigError as exc:
        raise ProlificInputError(f"{study.slug}'s recruiter_config: {exc}") from None


def prolific_study_id(study: Study) -> str:
    """The Prolific study ID of ``study``, or an error saying how to get one."""
    study_id = str(check_prolific_study(study).get("study_id", ""))
    if not study_id:
        raise ProlificInputError(
            f"{study.slug} has no Prolific study yet: create the draft first (prolific create "
            f"{study.slug}), or set recruiter_config.study_id to an existing study's ID"
        )
    return study_id


def check_currency(study: Study) -> str:
    if study.currency not in PROLIFIC_CURRENCIES:
        raise ProlificInputError(
            f"{study.slug} pays in {study.currency}; Prolific pays in "
            f"{' or '.join(PROLIFIC_CURRENCIES)}: set the study's currency to one of them"
        )
    return study.currency


def check_workspace_currency(study: Study, client: ProlificClient) -> str:
    """The study's currency, once Prolific says the workspace paying for it uses the same.

    Prolific reads every amount (rewards, bonus lines) in the workspace's currency, so a study
    set up in GBP and paid from a USD workspace would pay 5.00 USD for 5.00 GBP. This is asked
    before any money moves.

    Raises:
        ProlificInputError: the currencies differ (nothing is sent).
        ProlificError: Prolific could not be asked.
    """
    currency = check_currency(study)
    workspace, paid_in = client.workspace_currency(prolific_study_id(study))
    if paid_in != currency:
        raise ProlificInputError(
            f"{study.slug} is priced in {currency} but its Prolific workspace {workspace} pays "
            f"in {paid_in}, so every amount would be paid in the wrong currency; nothing was "
            f"sent. Set currency: {paid_in} (and the reward and bonus_cap in it) in the study "
            f"spec, or move the Prolific study to a {currency} workspace"
        )
    return currency


def study_submissions(study: Study, ids: list[str]) -> list[Submission]:
    """The Prolific submissions of ``study`` named by ``ids`` (submission or participant IDs).

    Raises:
        ProlificInputError: an ID names none of the study's submissions, or one twice.
    """
    wanted = [ident.strip().lower() for ident in ids if ident.strip()]
    if len(set(wanted)) != len(wanted):
        raise ProlificInputError("an ID is listed twice; list each submission once")
    rows = Submission.objects.filter(study=study, recruiter=RECRUITER).select_related("participant")
    by_id = {row.external_id: row for row in rows} | {row.worker_id: row for row in rows}
    unknown = [ident for ident in wanted if ident not in by_id]
    if unknown:
        raise ProlificInputError(
            f"not a submission of {study.slug}: {', '.join(unknown[:5])}"
            f"{' ...' if len(unknown) > 5 else ''}; sync first (prolific sync {study.slug}) "
            "and use submission or participant IDs"
        )
    found = [by_id[ident] for ident in wanted]
    named: dict[int, str] = {}
    for ident, row in zip(wanted, found, strict=True):
        if row.pk in named:
            # A submission ID and its participant's ID are two names of one submission.
            raise ProlificInputError(
                f"{named[row.pk]} and {ident} are the same submission ({row.external_id}); "
                "list each submission once"
            )
        named[row.pk] = ident
    return found
