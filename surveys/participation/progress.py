"""Where a consented participant is: the next question, its first showing, its pictures, and
the completion once nothing is left.

Answers come in order: a question is shown only when it is the first unanswered one, so a
reload, the back button or a second device all land on the same place. The study's status plays
no part here: closing a study stops new entries only, and everyone already in may finish, see
their completion and be paid.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models.fields.files import FieldFile
from django.utils import timezone

from surveys.models import Participant, ParticipantItem, ParticipantStatus, Response
from surveys.participation.current_item import CurrentItem, is_current
from surveys.participation.errors import NotFound, OutOfOrder
from surveys.recruiting.registry import Completion, get_recruiter

PICTURES = ("original", "overlay")
# How stale ``last_seen_at`` may get before an answer refreshes it: the allocation's "active"
# cut-off is minutes, and a write per answer would double the cost of answering.
LAST_SEEN_RESOLUTION = timedelta(seconds=60)


def count_items(participant: Participant) -> int:
    """Questions in ``participant``'s order (stored at consent; counted for older rows)."""
    if participant.item_count:
        return participant.item_count
    return ParticipantItem.objects.filter(participant=participant).count()


def next_item(participant: Participant) -> ParticipantItem | None:
    """The first unanswered item of ``participant``'s order, or None when all are answered."""
    answered = Response.objects.filter(participant=participant).values("question_id")
    return (
        ParticipantItem.objects.filter(participant=participant)
        .exclude(question_id__in=answered)
        .select_related("question", "question__stimulus")
        .order_by("position")
        .first()
    )


def do_show_question(
    participant: Participant, position: int, current: CurrentItem | None = None
) -> ParticipantItem:
    """The item at ``position``, marked as shown now if this is its first showing.

    ``current``, when given, is the item as :func:`read_item` read it; when it is the current
    question the lookup of the first unanswered one is skipped.

    Raises:
        OutOfOrder: ``position`` is not the participant's first unanswered question; the
            error's ``step`` says where they belong.
    """
    if participant.status != ParticipantStatus.CONSENTED:
        raise OutOfOrder("This question is not open to you.", step=participant.status)
    item = current.item if current is not None and is_current(current) else None
    if item is None:
        item = next_item(participant)
    if item is None or item.position != position:
        raise OutOfOrder("This is not your current question.", step=participant.status)
    if item.first_shown_at is None:
        now = timezone.now()
        # Conditional, so two tabs loading the page at once keep the earliest showing.
        first = ParticipantItem.objects.filter(pk=item.pk, first_shown_at__isnull=True).update(
            first_shown_at=now
        )
        if first:
            item.first_shown_at = now
        else:
            item.refresh_from_db(fields=["first_shown_at"])
    return item


def access_picture(participant: Participant, position: int, which: str) -> FieldFile:
    """The ``which`` file ("original" or "overlay") of the question at ``position``.

    Only questions already shown to the participant can be fetched: nobody can page through
    the pictures ahead, or through anyone else's.

    Raises:
        NotFound: no such picture for this participant.
    """
    item = (
        ParticipantItem.objects.filter(
            participant=participant, position=position, first_shown_at__isnull=False
        )
        .select_related("question__stimulus")
        .first()
    )
    if item is None or which not in PICTURES:
        raise NotFound("There is no such picture.")
    picture: FieldFile = getattr(item.question.stimulus, which)
    if not picture:
        raise NotFound("This picture is not available.")
    return picture


def touch(participant: Participant, now: datetime) -> None:
    """Refresh ``last_seen_at`` when it is older than :data:`LAST_SEEN_RESOLUTION`."""
    if participant.last_seen_at and now - participant.last_seen_at < LAST_SEEN_RESOLUTION:
        return
    Participant.objects.filter(pk=participant.pk).update(last_seen_at=now)
    participant.last_seen_at = now


def mark_completed(participant: Participant, now: datetime) -> bool:
    """Complete a consented ``participant`` whose every question is answered.

    Returns whether the participant is completed now. Conditional on the consented status, so
    a participant the recruiter reported returned meanwhile is not completed behind its back,
    and a completion made by a simultaneous request is found, not repeated.
    """
    if participant.status == ParticipantStatus.COMPLETED:
        return True
    if participant.status != ParticipantStatus.CONSENTED or next_item(participant) is not None:
        return False
    fields = {"status": ParticipantStatus.COMPLETED, "completed_at": now, "last_seen_at": now}
    updated = Participant.objects.filter(
        pk=participant.pk, status=ParticipantStatus.CONSENTED
    ).update(**fields)
    if updated:
        for name, value in fields.items():
            setattr(participant, name, value)
    else:
        participant.refresh_from_db(fields=["status", "completed_at", "last_seen_at"])
    return participant.status == ParticipantStatus.COMPLETED


def do_complete_if_answered(participant: Participant) -> bool:
    """Complete ``participant`` if nothing is left to answer; whether they are completed.

    The last answer and the completion are written together (:func:`.answers.
    do_record_answer`); this also completes a participant whose completion was lost before
    that, so the debrief never sends anyone round in a loop.
    """
    return mark_completed(participant, timezone.now())


def do_complete(participant: Participant) -> Completion:
    """The recruiter's completion step for a participant who answered every question.

    Raises:
        OutOfOrder: questions remain unanswered.
    """
    if not do_complete_if_answered(participant):
        raise OutOfOrder("You have not answered every question yet.", step=participant.status)
    return get_recruiter(participant.recruiter).completion(participant)
