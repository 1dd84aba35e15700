"""A participant's way through a study: start, consent, one answer at a time, completion.

Every mutation is one transaction and every repeat of it is harmless: a second start with the
same external ID finds the same participant (the database's one-participation constraint), a
second consent changes nothing, and a second submit of an answer returns the stored one (the
one-response-per-question constraint). Answers come in order: a question can only be answered
once it has been shown, and it is shown only when it is the first unanswered one, so a reload,
the back button or a second device all land on the same place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from surveys.common.insert_once import insert_once
from surveys.models import (
    Participant,
    ParticipantItem,
    ParticipantStatus,
    Response,
    Study,
    StudyStatus,
)
from surveys.participation.allocation import choose_question_set, create_items, is_full, new_seed
from surveys.participation.current_item import CurrentItem, is_current, read_item
from surveys.recruiting.registry import Completion, Identity, get_recruiter

USER_AGENT_MAX_LENGTH = 400
PICTURES = ("original", "overlay")
# The browser's reaction time is stored in a 32-bit column; longer than ~24 days is garbage.
CLIENT_RT_MAX_MS = 2**31 - 1
# The server measures from serving the page, the browser from the images' load, and clocks and
# networks differ: refuse only answers clearly under the minimum, not ones a hair under it.
MIN_TIME_TOLERANCE = 0.8
# How stale ``last_seen_at`` may get before an answer refreshes it (see _complete_if_done).
LAST_SEEN_RESOLUTION = timedelta(seconds=60)


class ParticipationError(Exception):
    """A request the survey cannot honour; ``message`` tells the participant what to do.

    Attributes:
        status: The HTTP status the page is served with.
        step: For out-of-order requests, the participant's status, so the page can point them
            back to where they belong.
    """

    status = 400
    title = "This did not work"

    def __init__(self, message: str, *, status: int | None = None, step: str = "") -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.step = step


class NotFound(ParticipationError):
    status = 404
    title = "Page not found"


class StudyClosed(ParticipationError):
    status = 410
    title = "This study is closed"


class StudyFull(ParticipationError):
    # Not an error of the visitor's: the page is a normal, polite answer.
    status = 200
    title = "This study is full"

    def __init__(self) -> None:
        super().__init__(
            "Enough people have already taken part in this study. Thank you for your interest; "
            "you do not need to do anything else."
        )


class OutOfOrder(ParticipationError):
    status = 409
    title = "Not this page"


class BadAnswer(ParticipationError):
    status = 400
    title = "Please check your answer"


def check_open(study: Study) -> None:
    """Raise :class:`StudyClosed` unless ``study`` is open."""
    if study.status == StudyStatus.CLOSED:
        raise StudyClosed("This study has closed. Thank you for your interest.")
    if study.status != StudyStatus.OPEN:
        raise StudyClosed("This study is not open yet. Please try again later.", status=403)


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


def access_participant(study_code: str, participant_code: str) -> Participant:
    """The participant with ``participant_code`` in the study with ``study_code``.

    The participant code is the only credential, so anything but an exact pair is not found.

    Raises:
        NotFound: no such participant in that study.
    """
    participant = (
        Participant.objects.select_related("study")
        .filter(code=participant_code, study__code=study_code)
        .first()
    )
    if participant is None:
        raise NotFound("This participant link is not valid. Open the study link you were given.")
    return participant


def access_study(study_code: str) -> Study:
    """The study behind a public entry link.

    Raises:
        NotFound: no study has that code.
    """
    study = Study.objects.filter(code=study_code).first()
    if study is None:
        raise NotFound("There is no study at this address. Check the link you were given.")
    return study


def do_start(
    study: Study, identity: Identity, remembered_code: str = "", user_agent: str = ""
) -> Participant:
    """The participant entering ``study`` as ``identity``: the existing one, or a new one.

    A returning external ID resumes its participation whatever its state. An anonymous newcomer
    (``identity.fresh``) whose browser remembers a participant of this study resumes that one.

    Raises:
        StudyClosed: the study does not admit newcomers.
        StudyFull: enough participants have completed or are taking part.
    """
    known = Participant.objects.filter(study=study, external_id=identity.external_id).first()
    if known is None and identity.fresh and remembered_code:
        known = Participant.objects.filter(study=study, code=remembered_code).first()
    if known is not None:
        return known
    check_open(study)
    if is_full(study, timezone.now()):
        raise StudyFull()
    participant, _ = Participant.objects.get_or_create(
        study=study,
        external_id=identity.external_id,
        defaults={
            "recruiter": study.recruiter,
            "recruiter_data": dict(identity.data),
            "user_agent": user_agent[:USER_AGENT_MAX_LENGTH],
        },
    )
    return participant


def do_consent(participant: Participant, agree: bool) -> Participant:
    """Record ``participant``'s answer to the consent form.

    Agreeing allocates the least-filled question set and stores the participant's own seeded
    order of it. Declining ends the participation politely; a participant who declined by
    mistake may still agree afterwards. Once consented, the decision stands.

    Raises:
        StudyClosed: the study is not open.
        StudyFull: the last place was taken since the participant arrived.
    """
    if participant.status not in (ParticipantStatus.STARTED, ParticipantStatus.DECLINED):
        return participant
    check_open(participant.study)
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
        StudyClosed: the study is not open.
        OutOfOrder: ``position`` is not the participant's first unanswered question; the
            error's ``step`` says where they belong.
    """
    check_open(participant.study)
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
) -> Answer:
    """Store ``participant``'s answer to the question at ``position``, in one statement.

    A repeated submit of an answered question changes nothing and returns the stored answer.
    Answering the last question completes the participation.

    ``current``, when given, is the item as :func:`read_item` read it (saving the read).

    Raises:
        NotFound: ``position`` is not in the participant's order.
        StudyClosed: the study is not open.
        OutOfOrder: not consented, or the question has not been shown yet.
        BadAnswer: the score is not 1-5, the client time is garbled, or the answer came
            sooner than the study's minimum time per question allows.
    """
    now = now or timezone.now()
    found = current or _item_at(participant, position)
    item = found.item
    if found.answered:
        return _stored(participant, item)
    check_open(participant.study)
    if participant.status != ParticipantStatus.CONSENTED or item.first_shown_at is None:
        raise OutOfOrder("This question is not open to you yet.", step=participant.status)
    value = check_score(score)
    client_rt = check_client_rt(client_rt_ms)
    check_time_spent(item, participant.study, now)
    server_rt = max(0, round((now - item.first_shown_at).total_seconds() * 1000))
    answer = Response(
        participant=participant, question_id=item.question_id, position=position,
        score=value, client_rt_ms=client_rt, server_rt_ms=server_rt, answered_at=now,
    )  # fmt: skip
    if not insert_once(answer):
        # The same answer arrived twice at once; the first one stands.
        return _stored(participant, item)
    completed = _complete_if_done(participant, now, position)
    return Answer(answer, created=True, completed=completed)


def _stored(participant: Participant, item: ParticipantItem) -> Answer:
    stored = Response.objects.get(participant=participant, question_id=item.question_id)
    return Answer(stored, created=False, completed=_is_completed(participant))


def _is_completed(participant: Participant) -> bool:
    return participant.status == ParticipantStatus.COMPLETED


def _complete_if_done(participant: Participant, now: datetime, position: int = 0) -> bool:
    """Mark ``participant`` completed once every item has its answer; touch it otherwise.

    Answers come in order (a question is shown only once all before it are answered), so only
    the answer at the last position (or an unknown one, 0) can complete; the others at most
    refresh ``last_seen_at``, and only when it is older than :data:`LAST_SEEN_RESOLUTION`: the
    allocation's "active" cut-off is minutes, and a write per answer would double the cost of
    answering.
    """
    last = count_items(participant)
    done = (position == 0 or position >= last) and next_item(participant) is None
    fields: dict[str, object] = {"last_seen_at": now}
    if done:
        fields.update(status=ParticipantStatus.COMPLETED, completed_at=now)
    elif participant.last_seen_at and now - participant.last_seen_at < LAST_SEEN_RESOLUTION:
        return False
    Participant.objects.filter(pk=participant.pk).update(**fields)
    for name, value in fields.items():
        setattr(participant, name, value)
    return done


def do_complete(participant: Participant) -> Completion:
    """The recruiter's completion step for a participant who answered every question.

    Raises:
        OutOfOrder: questions remain unanswered.
    """
    if participant.status == ParticipantStatus.CONSENTED and next_item(participant) is None:
        _complete_if_done(participant, timezone.now())
    if participant.status != ParticipantStatus.COMPLETED:
        raise OutOfOrder("You have not answered every question yet.", step=participant.status)
    return get_recruiter(participant.recruiter).completion(participant)
