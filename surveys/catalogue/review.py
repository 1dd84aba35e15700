"""The naming review: accept, edit or reject each proposed name, and export what was decided.

Every decision is a new :class:`~surveys.models.NameReview` row (who, when, what); the newest one
of a prototype is in force and the older ones stay as its history. :func:`current_name` is the
name other parts of the app show for a prototype.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from surveys.catalogue.names import UNNAMED_KIND
from surveys.models import NameDecision, NameReview, Prototype, Run

NAME_MAX = 300
CSV_COLUMNS = [
    "run_label",
    "run_code",
    "prototype_index",
    "original_index",
    "proposed_name",
    "confidence",
    "decision",
    "final_name",
    "reviewer",
    "reviewed_at",
]
# Spreadsheets run a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DECISION_WORDS = {
    "accept": NameDecision.ACCEPTED,
    "edit": NameDecision.EDITED,
    "reject": NameDecision.REJECTED,
}


class NamingError(ValueError):
    """A review that cannot be recorded; the message says what to do instead."""


class Writer(Protocol):
    def write(self, text: str, /) -> Any: ...


@dataclass(frozen=True)
class ReviewProgress:
    reviewed: int
    total: int

    @property
    def percent(self) -> float:
        return 100.0 * self.reviewed / self.total if self.total else 0.0


def prototypes_in_queue(run: Run | None = None) -> QuerySet[Prototype]:
    """The prototypes the queue walks through, in its order (run label, run, pool index)."""
    queryset = Prototype.objects.all() if run is None else Prototype.objects.filter(run=run)
    return queryset.order_by("run__label", "run_id", "index")


def access_next_unreviewed(
    run: Run | None = None, after: Prototype | None = None
) -> Prototype | None:
    """The first prototype nobody has reviewed yet, in queue order.

    Args:
        run: Only this run's prototypes.
        after: Start looking after this prototype (a skip), wrapping round to the start.
    """
    pending = (
        prototypes_in_queue(run)
        .filter(~Exists(NameReview.objects.filter(prototype=OuterRef("pk"))))
        .select_related("run", "proposed_name")
    )
    if after is not None:
        later = pending.filter(_after(after)).first()
        if later is not None:
            return later
    return pending.first()


def _after(prototype: Prototype) -> Q:
    run = prototype.run
    return (
        Q(run__label__gt=run.label)
        | Q(run__label=run.label, run_id__gt=run.pk)
        | Q(run=run, index__gt=prototype.index)
    )


def review_progress(run: Run | None = None) -> ReviewProgress:
    """How many of the queue's prototypes have at least one review."""
    queue = prototypes_in_queue(run)
    reviewed = queue.filter(Exists(NameReview.objects.filter(prototype=OuterRef("pk"))))
    return ReviewProgress(reviewed=reviewed.count(), total=queue.count())


def check_review(prototype: Prototype, decision: str, name: str) -> tuple[str, str]:
    """The decision and the name to record.

    Args:
        prototype: The prototype reviewed.
        decision: ``accepted``/``edited``/``rejected`` (or ``accept``/``edit``/``reject``).
        name: The typed name (used by an edit only).

    Returns:
        ``(decision, name)``: an accept records the proposed name (empty for a placeholder
        such as "background / unnamed"), an edit the typed name (an edit to the proposed name
        itself is an accept), a reject an empty name.

    Raises:
        NamingError: An unknown decision, an edit without a name, or an accept with nothing
            proposed.
    """
    decision = DECISION_WORDS.get(decision, decision)
    if decision not in NameDecision.values:
        raise NamingError(
            f"unknown decision {decision!r}: use accept, edit or reject"
            if decision
            else "no decision given: choose accept, edit or reject"
        )
    proposed = getattr(prototype, "proposed_name", None)
    if decision == NameDecision.REJECTED:
        return decision, ""
    if decision == NameDecision.ACCEPTED:
        if proposed is None:
            raise NamingError(
                "nothing to accept: this prototype has no proposed name; type a name and save "
                "it as an edit, or reject"
            )
        return decision, "" if proposed.kind == UNNAMED_KIND else proposed.name
    name = " ".join((name or "").split())
    if not name:
        raise NamingError("the edited name is empty: type the name, or reject the proposal")
    if len(name) > NAME_MAX:
        raise NamingError(f"the edited name is {len(name)} characters long; {NAME_MAX} at most")
    if proposed is not None and proposed.kind != UNNAMED_KIND and name == proposed.name:
        return NameDecision.ACCEPTED, name
    return decision, name


def do_review_name(
    prototype: Prototype,
    decision: str,
    name: str,
    reviewer: User,
    note: str = "",
) -> NameReview:
    """Record a decision on a prototype's name; it is in force from now on.

    Raises:
        NamingError: See :func:`check_review`; nothing is stored.
    """
    decision, name = check_review(prototype, decision, name)
    with transaction.atomic():
        return NameReview.objects.create(
            prototype=prototype,
            decision=decision,
            name=name,
            note=(note or "").strip(),
            reviewer=reviewer,
        )


def current_name(prototype: Prototype) -> str | None:
    """The name in force: the newest review's (None when it rejected or found nothing to
    name), else the proposed name (None for a placeholder or when nothing was proposed)."""
    review = prototype.current_review
    if review is not None:
        return review.name or None
    proposed = getattr(prototype, "proposed_name", None)
    if proposed is None or proposed.kind == UNNAMED_KIND:
        return None
    return str(proposed.name)


def reviewed_prototypes(run: Run | None = None) -> Iterator[tuple[Prototype, NameReview]]:
    """Every reviewed prototype of the queue with the review in force, in queue order."""
    prototypes = (
        prototypes_in_queue(run)
        .filter(Exists(NameReview.objects.filter(prototype=OuterRef("pk"))))
        .select_related("run", "proposed_name")
    )
    reviews = NameReview.objects.filter(prototype__in=prototypes).select_related("reviewer")
    newest: dict[int, NameReview] = {}
    for review in reviews.order_by("reviewed_at", "id"):
        newest[review.prototype_id] = review
    for prototype in prototypes:
        yield prototype, newest[prototype.pk]


def names_csv_rows(run: Run | None = None) -> Iterator[list[str]]:
    """The export's rows, header first."""
    yield CSV_COLUMNS
    for prototype, review in reviewed_prototypes(run):
        proposed = getattr(prototype, "proposed_name", None)
        yield [
            _cell(prototype.run.label),
            prototype.run.code,
            str(prototype.index),
            str(prototype.original_index),
            _cell(proposed.name if proposed else ""),
            f"{proposed.confidence:.4g}" if proposed else "",
            review.decision,
            _cell(review.name),
            _cell(review.reviewer.get_username()),
            review.reviewed_at.isoformat(),
        ]


def write_names_csv(out: Writer, run: Run | None = None) -> None:
    """Write the export (see :data:`CSV_COLUMNS`) to a text stream."""
    csv.writer(out, lineterminator="\n").writerows(names_csv_rows(run))


class _Line:
    """A stream whose write returns the text, so csv rows can be streamed one by one."""

    def write(self, text: str) -> str:
        return text


def names_csv_lines(run: Run | None = None) -> Iterator[str]:
    """The export as CSV lines, for a streamed response (no table held in memory)."""
    writer = csv.writer(_Line(), lineterminator="\n")
    for row in names_csv_rows(run):
        yield str(writer.writerow(row))


def _cell(text: str) -> str:
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


__all__ = [
    "CSV_COLUMNS",
    "NamingError",
    "ReviewProgress",
    "access_next_unreviewed",
    "check_review",
    "current_name",
    "do_review_name",
    "names_csv_lines",
    "names_csv_rows",
    "prototypes_in_queue",
    "review_progress",
    "reviewed_prototypes",
    "write_names_csv",
]
