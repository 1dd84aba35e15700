"""One answer: checked, stored once, and (for the last question) written with the completion.

A repeated submit of an answered question returns the stored answer (the one-response-per-
question constraint makes the insert a no-op). The answer to the last question and the
participant's completion are one transaction: either both are stored or neither is, so a
participant is never left with every answer saved and no completion code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from surveys.common.insert_once import insert_once
from surveys.models import Participant, ParticipantItem, ParticipantStatus, Response, Study
from surveys.participation.current_item import CurrentItem, read_item
from surveys.participation.errors import BadAnswer, NotFound, OutOfOrder
from surveys.participation.progress import count_items, mark_completed, touch

# The browser's reaction time is stored in a 32-bit column; longer than ~24 days is garbage.
CLIENT_RT_MAX_MS = 2**31 - 1
# The server measures from serving the page, the browser from the images' load, and clocks and
# networks differ: refuse only answers clearly under the minimum, not ones a hair under it.
MIN_TIME_TOLERANCE = 0.8


def _shown(text: str) -> str:
    return text if len(text) <= 20 else text[:20] + "..."


def check_score(score: str | None) -> int:
    """The rating 1-5 in ``score``, or :class:`BadAnswer`."""
    if score is None or not score.strip():
        raise BadAnswer("Please choose a rating from 1 to 5 before continuing.")
    try:
        value = int(score.strip())
    except ValueError:
        value = 0
    if not 1 <= value <= 5:
        raise BadAnswer(f"The rating must be a whole number from 1 to 5, not {_shown(score)!r}.")
    return value


def check_client_rt(client_rt_ms: str | None) -> int | None:
    """The browser's reaction time in ms (None when the browser sent none), or BadAnswer."""
    if client_rt_ms is None or not client_rt_ms.strip():
        return None
    try:
        value = int(client_rt_ms.strip())
    except ValueError:
        value = -1
    if not 0 <= value <= CLIENT_RT_MAX_MS:
        raise BadAnswer(
            f"The answer time sent by your browser ({_shown(client_rt_ms)!r}) is not a whole "
            "number of milliseconds; reload the page and answer again."
        )
    return value


def check_time_spent(item: ParticipantItem, study: Study, now: datetime) -> None:
    """Raise :class:`BadAnswer` if ``item`` is answered well before the minimum time."""
    minimum = study.min_seconds_per_question
    if minimum <= 0 or item.first_shown_at is None:
        return
    if (now - item.first_shown_at).total_seconds() < MIN_TIME_TOLERANCE * minimum:
        raise BadAnswer(
            f"Please look at both pictures for at least {minimum:g} seconds before answering."
        )


@dataclass(frozen=True)
class Answer:
    """The stored response to a submit; ``created`` is False for a repeated submit."""

    response: Response
    created: bool
    completed: bool


def _item_at(participant: Participant, position: int) -> CurrentItem:
    """The item at ``position`` with its flags (the hot read, by the participant's codes)."""
    found = read_item(participant.study.code, participant.code, position)
    if found is None:
        raise NotFound("There is no such question for you. Continue from your study link.")
    return found


def do_record_answer(
    participant: Participant,
    position: int,
    score: str | None,
    client_rt_ms: str | None = None,
    now: datetime | None = None,
    current: CurrentItem | None = None,
    unlocked_rt_ms: str | None = None,
) -> Answer:
    """Store ``participant``'s answer to the question at ``position``.

    ``client_rt_ms`` is the browser's time from the pictures' load, ``unlocked_rt_ms`` its
    time from the scale's unlock (what the speed rules read: the first never falls below the
    minimum time the scale waits for).

    A repeated submit of an answered question changes nothing and returns the stored answer.
    The answer to the last question completes the participation in the same transaction. The
    study's status does not matter: people mid-survey finish a closed study.

    ``current``, when given, is the item as :func:`read_item` read it (saving the read).

    Raises:
        NotFound: ``position`` is not in the participant's order.
        OutOfOrder: not consented, or the question has not been shown yet.
        BadAnswer: the score is not 1-5, the client time is garbled, or the answer came
            sooner than the study's minimum time per question allows.
    """
    now = now or timezone.now()
    found = current or _item_at(participant, position)
    item = found.item
    if found.answered:
        return _stored(participant, item)
    if participant.status != ParticipantStatus.CONSENTED or item.first_shown_at is None:
        raise OutOfOrder("This question is not open to you yet.", step=participant.status)
    value = check_score(score)
    client_rt = check_client_rt(client_rt_ms)
    unlocked_rt = check_client_rt(unlocked_rt_ms)
    check_time_spent(item, participant.study, now)
    server_rt = max(0, round((now - item.first_shown_at).total_seconds() * 1000))
    answer = Response(
        participant=participant, question_id=item.question_id, position=position,
        score=value, client_rt_ms=client_rt, server_rt_ms=server_rt, answered_at=now,
        unlocked_rt_ms=unlocked_rt,
    )  # fmt: skip
    if position < count_items(participant):
        # Not the last question: one statement, outside any transaction block (the hot path).
        if not insert_once(answer):
            # The same answer arrived twice at once; the first one stands.
            return _stored(participant, item)
        touch(participant, now)
        return Answer(answer, created=True, completed=False)
    with transaction.atomic():
        if not insert_once(answer):
            return _stored(participant, item)
        completed = mark_completed(participant, now)
    return Answer(answer, created=True, completed=completed)


def _stored(participant: Participant, item: ParticipantItem) -> Answer:
    stored = Response.objects.get(participant=participant, question_id=item.question_id)
    return Answer(
        stored, created=False, completed=participant.status == ParticipantStatus.COMPLETED
    )
