"""What a recruiter's action will do and cost, shown before it is done, and what it did.

Every action that moves money or changes a recruiter's state (publish, create the draft,
approve, reject, bonus, pay, block, expire, add assignments) is first checked into a
:class:`Plan`: the items it touches, the money each moves, and notes worth reading first. The
researcher's page shows it on a confirmation page and the command prints it and asks; only a
confirmed plan runs, and running it checks again, so what runs is what the current state allows.
Running gives an :class:`Outcome`. Both recruiters (Prolific and Mechanical Turk) speak these
types; only what the researcher typed (``request``) is each recruiter's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Generic, TypeVar

from surveys.models import LedgerEntry, Study

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
RequestT = TypeVar("RequestT")


def money(amount: Decimal | None) -> str:
    """``amount`` with two decimals ("" for no amount)."""
    return "" if amount is None else str(amount.quantize(CENT))


def bonus_cap(study: Study) -> Decimal:
    """The largest bonus one participant of ``study`` may get: its ``bonus_cap``, else its reward.

    Every bonus line of every recruiter is held to it, so a slip of the keyboard (5000 for
    5.00) is refused before anything is sent.
    """
    cap = study.bonus_cap if study.bonus_cap is not None else study.reward
    return Decimal(cap).quantize(CENT)


def over_bonus_cap(study: Study, amount: Decimal) -> str:
    """Why ``amount`` is too large a bonus for ``study`` ("" when it is within the cap)."""
    cap = bonus_cap(study)
    if amount <= cap:
        return ""
    source = (
        "its bonus_cap" if study.bonus_cap is not None else "its reward, as no bonus_cap is set"
    )
    return (
        f"{money(amount)} {study.currency} is over the study's bonus cap of {money(cap)} "
        f"{study.currency} ({source}); give a smaller amount, or raise bonus_cap in the study "
        "spec if you mean it"
    )


@dataclass(frozen=True)
class Money:
    """Money an action moves, split the way the requester's statement shows it."""

    rewards: Decimal = ZERO
    reward_fees: Decimal = ZERO
    bonuses: Decimal = ZERO
    bonus_fees: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.rewards + self.reward_fees + self.bonuses + self.bonus_fees

    def __add__(self, other: Money) -> Money:
        return Money(
            self.rewards + other.rewards,
            self.reward_fees + other.reward_fees,
            self.bonuses + other.bonuses,
            self.bonus_fees + other.bonus_fees,
        )

    def lines(self, service: str) -> list[tuple[str, Decimal]]:
        """The non-zero parts as (label, amount), then the total; fees named after ``service``."""
        parts = [
            ("Rewards", self.rewards),
            (f"{service} fees on rewards", self.reward_fees),
            ("Bonuses", self.bonuses),
            (f"{service} fees on bonuses", self.bonus_fees),
        ]
        return [(label, amount) for label, amount in parts if amount] + [("Total", self.total)]


@dataclass(frozen=True)
class PlanItem:
    """One thing a plan does: what, to which target, and the money (None: no money) times count."""

    target: str
    what: str
    amount: Decimal | None = None
    count: int = 1

    @property
    def subtotal(self) -> Decimal | None:
        return None if self.amount is None else self.amount * self.count


@dataclass(frozen=True)
class Plan(Generic[RequestT]):
    """A checked action, ready to confirm.

    Attributes:
        action: The action's name (``approve``, ``publish``, ...).
        summary: What will happen, in a few words.
        request: What the researcher asked for, checked; running the plan reads it.
        form: The hidden inputs (name, value) of the confirmation form that asks for this plan
            again.
        items: What it does, item by item.
        money: The money split into rewards, bonuses and the service's fees, where the service
            charges fees on top of the items (zero otherwise).
        service: The recruiter's name, as its fees are labelled.
        currency: The study's currency.
        notes: What to read before confirming.
        targets: The IDs it acts on (submissions, assignments, workers, bulk bonuses).
        study: The study it acts on.
    """

    action: str
    summary: str
    request: RequestT
    form: tuple[tuple[str, str], ...] = ()
    items: tuple[PlanItem, ...] = ()
    money: Money = field(default_factory=Money)
    service: str = ""
    currency: str = ""
    notes: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    study: Study | None = None

    @property
    def total(self) -> Decimal | None:
        """The money moved: the split's total, else the items' sum (None when no item has any)."""
        if self.money.total:
            return self.money.total
        amounts = [item.subtotal for item in self.items if item.subtotal is not None]
        return sum(amounts, Decimal("0")) if amounts else None

    @property
    def moves_money(self) -> bool:
        return bool(self.total and self.total > 0)

    @property
    def charges(self) -> list[tuple[str, Decimal]]:
        """The money split as (label, amount) lines, the total last."""
        return self.money.lines(self.service)

    def describe(self) -> list[str]:
        """The plan as lines of text (a command's confirmation)."""
        text = [self.summary]
        for item in self.items:
            if item.amount is None:
                text.append(f"  {item.what}")
            else:
                each = f" x {item.count} = {money(item.subtotal)}" if item.count != 1 else ""
                text.append(f"  {item.what}: {money(item.amount)}{each} {self.currency}")
        if self.total is not None:
            text.append(f"  Total: {money(self.total)} {self.currency}")
        text.extend(f"  Note: {note}" for note in self.notes)
        return text


def form_fields(fields: Mapping[str, str | tuple[str, ...]]) -> tuple[tuple[str, str], ...]:
    """Form fields as (name, value) pairs, a name repeated for each of several values."""
    pairs: list[tuple[str, str]] = []
    for name, value in fields.items():
        values = (value,) if isinstance(value, str) else value
        pairs.extend((name, one) for one in values)
    return tuple(pairs)


@dataclass
class Outcome:
    """What a run did: targets done, targets done before, one line per failure, the ledger."""

    action: str
    done: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    details: dict[str, object] = field(default_factory=dict)
    entries: list[LedgerEntry] = field(default_factory=list)
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
