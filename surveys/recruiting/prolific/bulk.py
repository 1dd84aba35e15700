"""The bulk bonuses the ledger records for a study, and the rule of one bonus per submission.

A bulk bonus is the ledger's set-up entry (``bonus_setup``, its token a digest of the study,
the round label and the lines in canonical order) with Prolific's answer (its ID, amounts and
fees in pence/cents), and the payment entry (``bonus_pay``) once paying began. A submission
gets one bonus line across all of a study's set-ups: :func:`refuse_repeats` keeps a new set-up
from taking one that another set-up has, and :func:`repeated_bonuses` finds older set-ups that
did (made before the rule), which are never paid.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from surveys.models import LedgerEntry, LedgerStatus, Study
from surveys.recruiting.plans import CENT
from surveys.recruiting.prolific.api import ProlificInputError

SETUP, PAY = "bonus_setup", "bonus_pay"


def setup_token(study: Study, round_label: str, csv_bonuses: str) -> str:
    """The set-up's ledger token; ``csv_bonuses`` in the order of our submission rows, so the
    same bonuses typed in another order make the same token (and are set up once)."""
    digest = hashlib.sha256(f"{study.code}|{round_label}|{csv_bonuses}".encode()).hexdigest()
    return f"prolific-bonus-{digest[:32]}"


def set_up_elsewhere(study: Study, token: str, sids: Sequence[str]) -> dict[str, str]:
    """The submissions of ``sids`` that another set-up of ``study`` has a line for, each with
    that bulk bonus (or its token while it has none).

    A failed set-up is left out: it is never paid, and made again only under its own token,
    when this same check runs for it.
    """
    wanted, taken = set(sids), dict[str, str]()
    others = LedgerEntry.objects.filter(study=study, action=SETUP).exclude(token=token)
    for entry in others.exclude(status=LedgerStatus.FAILED).order_by("created_at", "id"):
        name = str(entry.response.get("id") or entry.token)
        for sid, _ in entry.request.get("lines", []):
            if sid in wanted:
                taken.setdefault(str(sid), name)
    return taken


def refuse_repeats(study: Study, token: str, sids: Sequence[str]) -> None:
    """Refuse a set-up (under ``token``) with a line for a submission another set-up has."""
    taken = set_up_elsewhere(study, token, sids)
    if taken:
        listed = ", ".join(f"{sid} (in {bulk})" for sid, bulk in list(taken.items())[:5])
        raise ProlificInputError(
            f"{len(taken)} submission(s) already have a bonus line in another set-up of "
            f"{study.slug}: {listed}; each submission gets one bonus line across all set-ups, "
            "so leave them out"
        )


def _cents(value: object) -> Decimal:
    try:
        return (Decimal(str(value)) / 100).quantize(CENT)
    except ArithmeticError:
        return Decimal("0")


@dataclass(frozen=True)
class BulkBonus:
    """A bulk bonus set up at Prolific, as recorded in the ledger."""

    bulk_id: str
    lines: tuple[tuple[str, Decimal], ...]
    amount: Decimal
    fees: Decimal
    total: Decimal
    set_up: LedgerEntry
    paid: LedgerEntry | None


def bulk_bonus(entry: LedgerEntry) -> BulkBonus:
    """The bulk bonus a done set-up entry recorded."""
    answer: Mapping[str, Any] = entry.response
    bulk_id = str(answer.get("id") or "")
    lines = tuple((str(sid), Decimal(amount)) for sid, amount in entry.request.get("lines", []))
    amount = _cents(answer["amount"]) if answer.get("amount") is not None else entry.amount
    total = _cents(answer.get("total_amount")) if answer.get("total_amount") else amount
    paid = LedgerEntry.objects.filter(token=pay_token(bulk_id)).first()
    return BulkBonus(
        bulk_id, lines, amount or Decimal("0"), _cents(answer.get("fees") or 0),
        total or Decimal("0"), entry, paid,
    )  # fmt: skip


def pay_token(bulk_id: str) -> str:
    return f"prolific-pay-{bulk_id}"


def bulk_bonuses(study: Study) -> list[BulkBonus]:
    """Every bonus set up for ``study``, oldest first, with its payment if any."""
    entries = LedgerEntry.objects.filter(study=study, action=SETUP, status=LedgerStatus.DONE)
    return [bulk_bonus(entry) for entry in entries.order_by("created_at", "id")]


def unpaid_bonuses(study: Study) -> list[BulkBonus]:
    """The bulk bonuses of ``study`` whose payment is not done (not begun, pending, failed)."""
    return [
        bulk for bulk in bulk_bonuses(study)
        if bulk.paid is None or bulk.paid.status != LedgerStatus.DONE
    ]  # fmt: skip


def repeated_bonuses(study: Study) -> dict[str, list[tuple[str, str]]]:
    """The bulk bonuses of ``study`` that repeat a submission of another, by bulk ID, each with
    (submission, the bulk that has it first).

    Set-ups made under the rules of the module never repeat one; older ones may. Bulks with a
    payment under way or done come first, then the rest oldest first: a later repeat of a
    submission is the one never paid.
    """
    bulks = bulk_bonuses(study)
    ordered = [b for b in bulks if b.paid is not None] + [b for b in bulks if b.paid is None]
    first: dict[str, str] = {}
    repeats: dict[str, list[tuple[str, str]]] = {}
    for bulk in ordered:
        clashes: list[tuple[str, str]] = []
        here: set[str] = set()
        for sid, _ in bulk.lines:
            if sid in first or sid in here:  # another bulk's, or twice in this one
                clashes.append((sid, first.get(sid, bulk.bulk_id)))
            here.add(sid)
        if clashes:
            repeats[bulk.bulk_id] = clashes
            continue
        first.update((sid, bulk.bulk_id) for sid, _ in bulk.lines)
    return repeats


def repeat_line(bulk_id: str, clashes: Sequence[tuple[str, str]]) -> str:
    """One line naming the submissions a bulk bonus repeats, and where each is first."""
    named = ", ".join(f"{sid} (in {other})" for sid, other in clashes[:3])
    return f"bulk bonus {bulk_id} repeats {len(clashes)} submission(s) bonused already: {named}"
