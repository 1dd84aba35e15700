"""What an MTurk action will do, before it does it: the plan every confirmation shows.

Each action is checked into a :class:`surveys.recruiting.plans.Plan` (the items it touches and
the money it moves) that the command prints and the desk shows on its confirmation page; what
the researcher asked for is an :class:`ActionInput`.
"""

from __future__ import annotations

from dataclasses import dataclass

from surveys.models import LedgerEntry, LedgerStatus, RecruiterKind, Study
from surveys.recruiting.mturk.money import CURRENCY
from surveys.recruiting.plans import Money, Plan, PlanItem, form_fields

MTURK = RecruiterKind.MTURK.value


@dataclass(frozen=True)
class ActionInput:
    """What the researcher asked for, as typed (checked by the action)."""

    targets: tuple[str, ...] = ()
    feedback: str = ""
    reason: str = ""
    amount: str = ""
    count: str = ""
    site_url: str = ""

    def as_fields(self) -> dict[str, str | tuple[str, ...]]:
        """The input as form fields, for the confirmation form to post again."""
        fields: dict[str, str | tuple[str, ...]] = {"target": self.targets}
        for name in ("feedback", "reason", "amount", "count"):
            value = getattr(self, name)
            if value:
                fields[name] = value
        return fields


# An MTurk plan: what the researcher asked for is an :class:`ActionInput`.
ActionPlan = Plan[ActionInput]


def mturk_plan(
    action: str,
    study: Study,
    summary: str,
    items: tuple[PlanItem, ...],
    money: Money | None = None,
    notes: tuple[str, ...] = (),
    request: ActionInput | None = None,
) -> ActionPlan:
    """The plan of an MTurk action on ``study``; its confirmation form posts ``request`` again."""
    request = request or ActionInput()
    return Plan(
        action=action,
        summary=summary,
        request=request,
        form=form_fields(request.as_fields()),
        items=items,
        money=money or Money(),
        service="MTurk",
        currency=CURRENCY,
        notes=notes,
        targets=request.targets,
        study=study,
    )


def done_entry(token: str) -> LedgerEntry | None:
    """The ledger's finished entry under ``token``, if any."""
    return LedgerEntry.objects.filter(token=token, status=LedgerStatus.DONE).first()


def clean_text(value: str) -> str:
    """Blanks trimmed and runs of whitespace (newlines included) made one space."""
    return " ".join(value.split())
