"""The participation services: start, consent and allocation, the stored order, answers."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from surveys.models import (
    Participant,
    ParticipantItem,
    ParticipantStatus,
    Response,
    StudyStatus,
)
from surveys.participation import allocation
from surveys.participation.current_item import CurrentItem
from surveys.participation.flow import (
    BadAnswer,
    NotFound,
    OutOfOrder,
    StudyClosed,
    StudyFull,
    access_participant,
    do_complete,
    do_consent,
    do_record_answer,
    do_show_question,
    do_start,
)
from surveys.recruiting.registry import Identity
from tests.surveys.participation.fixtures import answer_all, build_study, consented, start

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


# --- start --------------------------------------------------------------------------------


def test_one_participation_per_external_id():
    study = build_study().study
    first = start(study, "P1")
    # The browser that started remembers the code: the same ID there resumes.
    again = do_start(study, Identity(external_id="P1", data={"extra": "ignored"}), first.code)
    assert again.pk == first.pk
    assert Participant.objects.filter(study=study).count() == 1


def test_anonymous_newcomer_resumes_the_participant_this_browser_remembers():
    study = build_study().study
    first = do_start(study, Identity(external_id="fresh-1", fresh=True))
    again = do_start(study, Identity(external_id="fresh-2", fresh=True), first.code)
    assert again.pk == first.pk
    # A code of another study is not honoured.
    other = build_study().study
    elsewhere = do_start(other, Identity(external_id="fresh-3", fresh=True), first.code)
    assert elsewhere.pk != first.pk and elsewhere.study == other


@pytest.mark.parametrize("status", [StudyStatus.DRAFT, StudyStatus.READY, StudyStatus.CLOSED])
def test_a_study_that_is_not_open_admits_nobody_new(status):
    study = build_study(status=status).study
    with pytest.raises(StudyClosed) as raised:
        start(study, "P1")
    assert raised.value.status in (403, 410)
    assert not Participant.objects.exists()


def test_a_full_study_turns_newcomers_away_but_not_its_own_participants():
    study = build_study(participants_wanted=2).study
    one, two = consented(study, "P1"), consented(study, "P2")
    with pytest.raises(StudyFull):
        start(study, "P3")
    assert not Participant.objects.filter(external_id="P3").exists()
    assert do_start(study, Identity(external_id="P1"), one.code).pk == one.pk
    # A participant who stopped responding past the cutoff frees the place.
    Participant.objects.filter(pk=two.pk).update(
        last_seen_at=timezone.now() - timedelta(minutes=study.active_cutoff_minutes + 1)
    )
    assert start(study, "P3").status == ParticipantStatus.STARTED


def test_the_last_place_can_go_between_arriving_and_consenting():
    study = build_study(participants_wanted=1).study
    late = start(study, "late")
    consented(study, "early")
    with pytest.raises(StudyFull):
        do_consent(late, agree=True)
    late.refresh_from_db()
    assert late.status == ParticipantStatus.STARTED and not late.items.exists()


def test_access_needs_the_exact_study_and_participant_codes():
    study = build_study().study
    participant = start(study)
    assert access_participant(study.code, participant.code).pk == participant.pk
    other = build_study().study
    for study_code, code in [
        (other.code, participant.code),
        (study.code, participant.code[:-1] + "x"),
        (study.code, ""),
    ]:
        with pytest.raises(NotFound):
            access_participant(study_code, code)


# --- consent and allocation ---------------------------------------------------------------


def test_declining_ends_politely_and_a_mistake_can_be_undone():
    study = build_study().study
    participant = do_consent(start(study), agree=False)
    assert participant.status == ParticipantStatus.DECLINED
    assert not participant.items.exists() and participant.question_set is None
    participant = do_consent(participant, agree=True)
    assert participant.status == ParticipantStatus.CONSENTED and participant.items.exists()


def test_consenting_twice_allocates_once():
    study = build_study().study
    participant = consented(study)
    items = list(participant.items.values_list("position", "question_id"))
    again = do_consent(participant, agree=True)
    assert list(again.items.values_list("position", "question_id")) == items


def test_allocation_fills_the_cells_evenly_ties_to_the_lowest_index():
    built = build_study(cells=3, participants_wanted=100)
    indexes = [consented(built.study).question_set.index for _ in range(7)]
    assert indexes == [0, 1, 2, 0, 1, 2, 0]


def test_allocation_counts_completers_and_the_active_not_the_lapsed():
    built = build_study(cells=2, participants_wanted=100)
    study = built.study
    done, lapsed = consented(study), consented(study)
    assert (done.question_set.index, lapsed.question_set.index) == (0, 1)
    answer_all(done)
    Participant.objects.filter(pk=lapsed.pk).update(
        last_seen_at=timezone.now() - timedelta(minutes=study.active_cutoff_minutes + 5)
    )
    # Cell 0 holds a completer, cell 1 only a participant gone past the cutoff: cell 1 is emptier.
    assert consented(study).question_set.index == 1
    # Now cell 1 holds an active participant and cell 0 a completer: a tie, lowest index wins.
    assert consented(study).question_set.index == 0
    counts = {cell.index: cell.filled for cell in allocation.cell_counts(study, timezone.now())}
    assert counts == {0: 2, 1: 1}


def test_declined_and_unconsented_participants_hold_no_place():
    study = build_study(participants_wanted=1).study
    do_consent(start(study), agree=False)
    start(study)
    assert allocation.places_taken(study, timezone.now()) == 0
    assert consented(study).status == ParticipantStatus.CONSENTED


# --- the stored order -----------------------------------------------------------------------


def test_the_order_is_stored_from_the_participants_seed():
    built = build_study(per_condition=6)
    participant = consented(built.study)
    items = list(participant.items.order_by("position").select_related("question"))
    assert [item.position for item in items] == list(range(1, len(items) + 1))
    expected = allocation.seeded_order(list(participant.question_set.questions.all()),
                                       participant.seed)  # fmt: skip
    assert [item.question for item in items] == expected
    assert sorted(q.pk for q in expected) == sorted(
        participant.question_set.questions.values_list("pk", flat=True)
    )


def test_participants_get_different_orders():
    built = build_study(per_condition=6, cells=1, participants_wanted=10)
    orders = {
        tuple(consented(built.study).items.order_by("position").values_list("question", flat=True))
        for _ in range(4)
    }
    assert len(orders) > 1


def test_a_repeat_comes_well_after_the_question_it_repeats():
    built = build_study(per_condition=6, cells=1)
    questions = list(built.sets[0].questions.all())
    original, repeat = built.regular[0], built.repeat
    for seed in range(300):
        order = allocation.seeded_order(questions, seed)
        gap = order.index(repeat) - order.index(original)
        assert gap >= allocation.REPEAT_MIN_GAP, (seed, gap)
    # The repeat is not always in the same place either.
    spots = {allocation.seeded_order(questions, seed).index(repeat) for seed in range(50)}
    assert len(spots) > 3


def test_a_set_too_small_for_the_gap_still_gets_an_order():
    built = build_study(labels=("Only",), per_condition=2, cells=1, gold=False)
    questions = list(built.sets[0].questions.all())
    order = allocation.seeded_order(questions, 7)
    assert sorted(q.pk for q in order) == sorted(q.pk for q in questions)
    assert order.index(built.repeat) > order.index(built.regular[0])


# --- answers --------------------------------------------------------------------------------


@pytest.fixture
def shown(request):
    request.getfixturevalue("media")
    """A consented participant looking at their first question."""
    built = build_study()
    participant = consented(built.study)
    item = do_show_question(participant, 1)
    return participant, item


def test_an_answer_is_stored_with_its_times_and_position(shown):
    participant, item = shown
    later = item.first_shown_at + timedelta(seconds=2.5)
    answer = do_record_answer(participant, 1, "4", "2100", now=later)
    response = Response.objects.get()
    assert answer.created and answer.response == response
    assert (response.question_id, response.position, response.score) == (item.question_id, 1, 4)
    assert response.client_rt_ms == 2100 and response.server_rt_ms == 2500


def test_a_second_submit_changes_nothing(shown):
    participant, _ = shown
    first = do_record_answer(participant, 1, "2", "900")
    second = do_record_answer(participant, 1, "5", "100")
    assert not second.created and second.response.pk == first.response.pk
    assert list(Response.objects.values_list("score", flat=True)) == [2]


def test_a_submit_racing_another_returns_the_stored_answer(shown):
    participant, item = shown
    stored = Response.objects.create(
        participant=participant, question_id=item.question_id, position=1, score=2
    )
    # The first look finds it unanswered, as it would while the other request is still writing;
    # the insert then meets the stored row and writes nothing.
    unanswered = CurrentItem(item, answered=False, previous_answered=True)
    with mock.patch("surveys.participation.answers._item_at", return_value=unanswered):
        answer = do_record_answer(participant, 1, "5", "")
    assert not answer.created and answer.response.pk == stored.pk
    assert list(Response.objects.values_list("score", flat=True)) == [2]


@pytest.mark.parametrize("score", [None, "", "0", "6", "-1", "3.5", "three", "99999999999"])
def test_a_score_that_is_not_1_to_5_is_refused(shown, score):
    participant, _ = shown
    with pytest.raises(BadAnswer) as raised:
        do_record_answer(participant, 1, score, "1000")
    assert raised.value.status == 400 and "1 to 5" in raised.value.message
    assert not Response.objects.exists()


@pytest.mark.parametrize("client_rt", ["-5", "fast", "1e3", str(2**31)])
def test_a_garbled_client_time_is_refused(shown, client_rt):
    participant, _ = shown
    with pytest.raises(BadAnswer, match="milliseconds"):
        do_record_answer(participant, 1, "3", client_rt)
    assert not Response.objects.exists()


def test_a_missing_client_time_is_stored_as_unknown(shown):
    participant, _ = shown
    assert do_record_answer(participant, 1, "3", None).response.client_rt_ms is None


def test_a_position_outside_the_participants_order_is_not_found(shown):
    participant, _ = shown
    for position in (0, participant.items.count() + 1, 10_000):
        with pytest.raises(NotFound):
            do_record_answer(participant, position, "3", "")
    assert not Response.objects.exists()


def test_another_participants_question_cannot_be_answered():
    built = build_study(cells=2, participants_wanted=10)
    big, small = consented(built.study), consented(built.study)
    assert big.items.count() > small.items.count()
    answer_all(big)
    # The big cell's last position does not exist in the small participant's order.
    with pytest.raises(NotFound):
        do_record_answer(small, big.items.count(), "3", "")
    assert not Response.objects.filter(participant=small).exists()


def test_questions_are_answered_in_order(shown):
    participant, _ = shown
    with pytest.raises(OutOfOrder):
        do_record_answer(participant, 2, "3", "")
    with pytest.raises(OutOfOrder):
        do_show_question(participant, 2)
    assert not Response.objects.exists()


def test_an_unconsented_participant_cannot_answer():
    built = build_study()
    participant = start(built.study)
    with pytest.raises(NotFound):
        do_record_answer(participant, 1, "3", "")
    assert not Response.objects.exists()


def test_a_closed_study_still_takes_the_answers_of_people_in_it(shown):
    participant, _ = shown
    participant.study.status = StudyStatus.CLOSED
    participant.study.save()
    # Closing stops new entries only.
    assert do_record_answer(participant, 1, "3", "").created
    assert Response.objects.count() == 1


def test_an_answer_faster_than_the_minimum_time_is_refused():
    built = build_study(min_seconds_per_question=10)
    participant = consented(built.study)
    item = do_show_question(participant, 1)
    with pytest.raises(BadAnswer, match="at least 10 seconds"):
        do_record_answer(participant, 1, "3", "", now=item.first_shown_at + timedelta(seconds=5))
    assert not Response.objects.exists()
    # Clocks differ: 80 % of the minimum is enough.
    answer = do_record_answer(
        participant, 1, "3", "", now=item.first_shown_at + timedelta(seconds=8)
    )
    assert answer.created


def test_showing_a_question_again_keeps_its_first_showing(shown):
    participant, item = shown
    again = do_show_question(participant, 1)
    assert again.first_shown_at == item.first_shown_at
    assert ParticipantItem.objects.filter(first_shown_at__isnull=False).count() == 1


def test_the_last_answer_completes_and_completion_gives_the_code(shown):
    participant, _ = shown
    with pytest.raises(OutOfOrder):
        do_complete(participant)
    answer_all(participant)
    participant.refresh_from_db()
    assert participant.status == ParticipantStatus.COMPLETED
    assert participant.completed_at is not None
    assert Response.objects.filter(participant=participant).count() == participant.items.count()
    completion = do_complete(participant)
    assert completion.code == participant.study.completion_code and not completion.redirect_url
