"""Which question set a participant gets, and the order they see it in.

Allocation is balanced the way psiTurk balances its conditions: a cell's count is the
participants who completed it plus those still active in it (seen within the study's
``active_cutoff_minutes``); the least-filled cell wins, ties going to the lowest index. Counting
the active ones keeps drop-outs from unbalancing the cells; letting them lapse after the cutoff
frees the places of people who walked away.

Only verified participants (:mod:`.verification`) take places toward ``participants_wanted``,
so IDs typed into a Prolific or MTurk link can never make the study "full"; the service's own
cap on places keeps real newcomers in bounds until their submissions are matched. In a cell, a
completer counts once verified, and an active participant counts at once: a crowd arriving
together is balanced across the cells before any of them has been matched.

Callers hold the study row locked (``select_for_update``) around counting and allocating, so
two participants consenting at the same moment cannot both take the last place of a cell.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from surveys.models import (
    Participant,
    ParticipantItem,
    ParticipantStatus,
    Question,
    QuestionSet,
    Study,
)
from surveys.participation.verification import verified_filter

# A repeated question (test-retest gold) comes at least this many places after its original, so
# the first answer is not simply still on screen in the participant's memory.
REPEAT_MIN_GAP = 5
# Shuffles tried before settling for the best-effort order of a set too small for the gap.
REPEAT_PLACEMENT_TRIES = 200
# Seeds fit a signed 64-bit column.
SEED_BITS = 62


def _completed() -> Q:
    return Q(status=ParticipantStatus.COMPLETED)


def _active(now: datetime, cutoff_minutes: int) -> Q:
    """Consenters seen since the cutoff: still answering."""
    cutoff = now - timedelta(minutes=cutoff_minutes)
    return Q(status=ParticipantStatus.CONSENTED, last_seen_at__gte=cutoff)


def places_taken(study: Study, now: datetime, exclude: Participant | None = None) -> int:
    """How many verified participants hold a place in ``study`` (completed or still active)."""
    holding = _completed() | _active(now, study.active_cutoff_minutes)
    taken = Participant.objects.filter(study=study).filter(holding).filter(verified_filter())
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    return taken.count()


def is_full(study: Study, now: datetime, exclude: Participant | None = None) -> bool:
    """Whether ``participants_wanted`` places are taken (``exclude`` not counting)."""
    return places_taken(study, now, exclude) >= study.participants_wanted


@dataclass(frozen=True)
class CellCount:
    index: int
    filled: int


def cell_counts(study: Study, now: datetime) -> list[CellCount]:
    """Each question set's verified completers plus active participants, by index (one query)."""
    holding = (_completed() & verified_filter()) | _active(now, study.active_cutoff_minutes)
    filled = (
        Participant.objects.filter(question_set=OuterRef("pk"))
        .filter(holding)
        .order_by()
        .values("question_set")
        .annotate(n=Count("pk"))
        .values("n")
    )
    rows = (
        QuestionSet.objects.filter(study=study)
        .annotate(
            filled=Coalesce(Subquery(filled, output_field=IntegerField()), Value(0)),
        )
        .order_by("index")
        .values_list("index", "filled")
    )
    return [CellCount(index, filled) for index, filled in rows]


def choose_question_set(study: Study, now: datetime) -> QuestionSet | None:
    """The least-filled question set of ``study`` (lowest index on ties); None if it has none."""
    counts = cell_counts(study, now)
    if not counts:
        return None
    best = min(counts, key=lambda cell: (cell.filled, cell.index))
    return QuestionSet.objects.get(study=study, index=best.index)


def new_seed() -> int:
    return secrets.randbits(SEED_BITS)


def _spaced_repeats(questions: Sequence[Question]) -> list[Question]:
    """The repeats whose original is an ordinary question of the same set."""
    originals = {q.pk for q in questions if q.repeat_of_id is None}
    return [q for q in questions if q.repeat_of_id in originals]


def _original(repeat: Question) -> int:
    if repeat.repeat_of_id is None:
        raise ValueError(f"question {repeat.pk} repeats nothing")
    return repeat.repeat_of_id


def _repeats_spaced(order: Sequence[Question], repeats: Sequence[Question], gap: int) -> bool:
    place = {question.pk: i for i, question in enumerate(order)}
    return all(place[q.pk] - place[_original(q)] >= gap for q in repeats)


def _one_shuffle(
    questions: Sequence[Question], repeats: Sequence[Question], rng: random.Random, gap: int
) -> list[Question]:
    """Shuffle the others, then slot each repeat at a random place ``gap`` or more after its
    original; inserting only ever pushes later questions back, so no earlier gap shrinks."""
    order = [q for q in questions if q not in repeats]
    rng.shuffle(order)
    for repeat in rng.sample(list(repeats), len(repeats)):
        first = [q.pk for q in order].index(_original(repeat)) + gap
        order.insert(rng.randint(min(first, len(order)), len(order)), repeat)
    return order


def seeded_order(questions: Sequence[Question], seed: int) -> list[Question]:
    """The questions in the order a participant with ``seed`` sees them.

    Random but reproducible from the seed; a REPEAT question comes at least
    :data:`REPEAT_MIN_GAP` places after the question it repeats (or as far as a small set
    allows).
    """
    rng = random.Random(seed)
    ordered = sorted(questions, key=lambda q: q.pk)
    gap = min(REPEAT_MIN_GAP, max(len(ordered) - 1, 0))
    repeats = _spaced_repeats(ordered)
    order = _one_shuffle(ordered, repeats, rng, gap)
    for _ in range(REPEAT_PLACEMENT_TRIES):
        if _repeats_spaced(order, repeats, gap):
            break
        order = _one_shuffle(ordered, repeats, rng, gap)
    return order


def create_items(participant: Participant, question_set: QuestionSet, seed: int) -> int:
    """Store ``participant``'s own order of ``question_set`` as items 1..N; returns N."""
    questions = list(question_set.questions.all())
    order = seeded_order(questions, seed)
    ParticipantItem.objects.bulk_create(
        ParticipantItem(participant=participant, position=position, question=question)
        for position, question in enumerate(order, start=1)
    )
    return len(order)
