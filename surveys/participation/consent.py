"""The consent decision: agreeing takes a place in the least-filled cell and stores an order.

Consenting is open to everyone who entered, also after the study closed (closing stops new
entries only); the place itself is still refused when the study is full.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from surveys.models import Participant, ParticipantStatus, Study
from surveys.participation.allocation import choose_question_set, create_items, is_full, new_seed
from surveys.participation.errors import ParticipationError, StudyFull


def do_consent(participant: Participant, agree: bool) -> Participant:
    """Record ``participant``'s answer to the consent form.

    Agreeing allocates the least-filled question set and stores the participant's own seeded
    order of it. Declining ends the participation politely; a participant who declined by
    mistake may still agree afterwards. Once consented, the decision stands.

    Raises:
        StudyFull: the last place was taken since the participant arrived.
        ParticipationError: the study has no questions yet (503).
    """
    if participant.status not in (ParticipantStatus.STARTED, ParticipantStatus.DECLINED):
        return participant
    if not agree:
        participant.status = ParticipantStatus.DECLINED
        participant.save(update_fields=["status", "last_seen_at"])
        return participant
    with transaction.atomic():
        # The study row is the lock: counting the cells and taking a place must not interleave
        # with another participant's consent, or two could take the last place of one cell.
        study = Study.objects.select_for_update().get(pk=participant.study_id)
        participant = Participant.objects.select_for_update().get(pk=participant.pk)
        participant.study = study
        if participant.status == ParticipantStatus.CONSENTED:
            return participant
        now = timezone.now()
        if is_full(study, now, exclude=participant):
            raise StudyFull()
        question_set = choose_question_set(study, now)
        if question_set is None:
            raise ParticipationError(
                "This study has no questions yet. Please try again later.", status=503
            )
        participant.question_set = question_set
        participant.seed = new_seed()
        participant.status = ParticipantStatus.CONSENTED
        participant.consented_at = now
        participant.save()
        participant.item_count = create_items(participant, question_set, participant.seed)
        participant.save(update_fields=["item_count"])
    return participant
