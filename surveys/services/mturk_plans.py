"""What an MTurk action will do, before it does it: the plan every confirmation shows.

Each action is checked into an :class:`ActionPlan` (the items it touches and the money it moves)
that the command prints and the desk shows on its confirmation page; only a confirmed plan runs,
and running it checks the request again, so what runs is what the current state allows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from surveys.models import LedgerEntry, LedgerStatus, RecruiterKind, Study
from surveys.services.mturk_money import Money

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

    def as_fields(self) -> dict[str, str | list[str]]:
        """The input as form fields, for the confirmation form to post again."""
        fields: dict[str, str | list[str]] = {"target": list(self.targets)}
        for name in ("feedback", "reason", "amount", "count"):
            value = getattr(self, name)
            if value:
                fields[name] = value
        return fields


@dataclass(frozen=True)
class PlanItem:
    """One thing an action does: its target (assignment, worker, HIT, batch) and the money."""

    target: str
    what: str
    amount: Decimal | None = None


@dataclass(frozen=True)
class ActionPlan:
    """A checked action, ready to confirm."""

    action: str
    study: Study
    summary: str
    items: tuple[PlanItem, ...]
    money: Money = field(default_factory=Money)
    notes: tuple[str, ...] = ()
    request: ActionInput = field(default_factory=ActionInput)

    @property
    def moves_money(self) -> bool:
        return self.money.total > 0


@dataclass
class Outcome:
    """What a run did: targets done, targets already done before, and one line per failure."""

    action: str
    done: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    details: dict[str, object] = field(default_factory=dict)
    message: str = ""
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        if self.message:
            return self.message
        parts = [f"{self.action}: {len(self.done)} done"]
        if self.already:
            parts.append(f"{len(self.already)} already done before")
        if self.note:
            parts.append(self.note)
        if self.failures:
            parts.append(f"{len(self.failures)} failed")
        return ", ".join(parts)


def done_entry(token: str) -> LedgerEntry | None:
    """The ledger's finished entry under ``token``, if any."""
    return LedgerEntry.objects.filter(token=token, status=LedgerStatus.DONE).first()


def clean_text(value: str) -> str:
    """Blanks trimmed and runs of whitespace (newlines included) made one space."""
    return " ".join(value.split())
