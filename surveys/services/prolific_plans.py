"""What a Prolific action will do and cost, shown before it is done.

Every action that changes something at Prolific (create the draft, approve, reject, set up
bonuses, pay them) is first planned: :class:`Plan` lists the money involved line by line, the
total, and notes worth reading first. The staff page shows it on a confirmation page and the
``prolific`` command prints it and asks; only then is the plan carried out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from surveys.models import LedgerEntry, RecruiterKind, Study, Submission
from surveys.recruiters.base import RecruiterConfigError
from surveys.recruiters.prolific import check_prolific_config
from surveys.services.prolific_api import ProlificInputError

RECRUITER = RecruiterKind.PROLIFIC.value
CENT = Decimal("0.01")
# Currencies a Prolific workspace pays in.
PROLIFIC_CURRENCIES = ("GBP", "USD")


@dataclass(frozen=True)
class MoneyLine:
    """One line of a plan: what for, how many, and the amount each (None: no money)."""

    label: str
    amount: Decimal | None = None
    count: int = 1

    @property
    def subtotal(self) -> Decimal | None:
        return None if self.amount is None else self.amount * self.count


@dataclass(frozen=True)
class Plan:
    """An action planned for a study, with the money it involves.

    Attributes:
        action: ``create``, ``approve``, ``reject``, ``bonus`` or ``pay``.
        title: What will happen, in a few words.
        lines: The money line by line.
        currency: The study's currency.
        notes: What to read before confirming.
        fields: The form fields that ask for this plan again (the confirmation form's hidden
            inputs; the command's arguments).
        targets: The submission IDs (approve, reject) or bulk bonus IDs (pay) it acts on.
    """

    action: str
    title: str
    lines: tuple[MoneyLine, ...] = ()
    currency: str = ""
    notes: tuple[str, ...] = ()
    fields: Mapping[str, str] = field(default_factory=dict)
    targets: tuple[str, ...] = ()

    @property
    def total(self) -> Decimal | None:
        amounts = [line.subtotal for line in self.lines if line.subtotal is not None]
        return sum(amounts, Decimal("0")) if amounts else None

    def describe(self) -> list[str]:
        """The plan as lines of text (the command's confirmation)."""
        text = [self.title]
        for line in self.lines:
            if line.amount is None:
                text.append(f"  {line.label}")
            else:
                each = f" x {line.count} = {money(line.subtotal)}" if line.count != 1 else ""
                text.append(f"  {line.label}: {money(line.amount)}{each} {self.currency}")
        if self.total is not None:
            text.append(f"  Total: {money(self.total)} {self.currency}")
        text.extend(f"  Note: {note}" for note in self.notes)
        return text


@dataclass(frozen=True)
class ActionResult:
    """What an action did: one line for the researcher, and the calls that failed."""

    message: str
    failures: tuple[str, ...] = ()
    entries: tuple[LedgerEntry, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failures


def money(amount: Decimal | None) -> str:
    return "" if amount is None else str(amount.quantize(CENT))


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
    return [by_id[ident] for ident in wanted]
