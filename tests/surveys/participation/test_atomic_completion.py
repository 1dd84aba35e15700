"""The last answer and the completion are one write: if the completion is lost, so is the answer
(the participant simply answers again), and a participant left with every answer and no
completion is completed by the debrief instead of being sent round a debrief -> debrief loop.

The lost write is a real database failure: a trigger refuses to mark the participant completed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import DatabaseError, connection
from django.test import Client

from surveys.models import Participant, ParticipantStatus, Response
from surveys.participation.flow import do_record_answer, do_show_question, next_item
from tests.surveys.concurrency import run_on_postgresql
from tests.surveys.participation.fixtures import build_study, consented

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

TABLE = Participant._meta.db_table
TRIGGERS = {
    "sqlite": [
        f"CREATE TRIGGER lose_completion BEFORE UPDATE OF status ON {TABLE} "
        "WHEN NEW.status = 'completed' BEGIN SELECT RAISE(ABORT, 'completion lost'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION lose_completion() RETURNS trigger AS $$ BEGIN "
        "IF NEW.status = 'completed' THEN RAISE EXCEPTION 'completion lost'; END IF; "
        "RETURN NEW; END $$ LANGUAGE plpgsql",
        f"CREATE TRIGGER lose_completion BEFORE UPDATE ON {TABLE} "
        "FOR EACH ROW EXECUTE FUNCTION lose_completion()",
    ],
}
DROP = {
    "sqlite": ["DROP TRIGGER lose_completion"],
    "postgresql": [
        f"DROP TRIGGER lose_completion ON {TABLE}",
        "DROP FUNCTION lose_completion()",
    ],
}


@pytest.fixture
def losing_completions() -> Iterator[None]:
    """Every write that would complete a participant fails, until the test ends."""
    with connection.cursor() as cursor:
        for statement in TRIGGERS[connection.vendor]:
            cursor.execute(statement)
    yield
    with connection.cursor() as cursor:
        for statement in DROP[connection.vendor]:
            cursor.execute(statement)


def at_the_last_question() -> Participant:
    """A participant who answered all but the last question, and is looking at it."""
    participant = consented(build_study().study)
    while (item := next_item(participant)) is not None and item.position < participant.item_count:
        do_show_question(participant, item.position)
        do_record_answer(participant, item.position, "3", "1200")
    do_show_question(participant, participant.item_count)
    return participant


def _lost_completion_takes_the_answer_with_it() -> None:
    participant = at_the_last_question()
    last = participant.item_count

    with pytest.raises(DatabaseError):
        do_record_answer(participant, last, "4", "900")

    # Neither write happened: the question is still open, so the participant can answer again.
    assert not Response.objects.filter(participant=participant, position=last).exists()
    participant.refresh_from_db()
    assert participant.status == ParticipantStatus.CONSENTED
    assert next_item(participant).position == last


def test_a_lost_completion_takes_the_last_answer_with_it(losing_completions: None):
    _lost_completion_takes_the_answer_with_it()


def test_answering_again_once_the_database_is_back_completes():
    participant = at_the_last_question()
    answer = do_record_answer(participant, participant.item_count, "4", "900")
    participant.refresh_from_db()
    assert answer.created and answer.completed
    assert participant.status == ParticipantStatus.COMPLETED


def test_every_answer_stored_without_a_completion_is_completed_by_the_debrief():
    # given the state the two separate writes could leave: every answer, no completion
    participant = at_the_last_question()
    last = next_item(participant)
    Response.objects.create(
        participant=participant, question=last.question, position=last.position, score=2
    )
    base = f"/s/{participant.study.code}/p/{participant.code}/"
    client = Client()

    # when the participant posts the last answer again, or opens their link
    again = client.post(f"{base}q/{last.position}/", {"score": "2"}, follow=True)
    home = client.get(base, follow=True)

    # then they reach the debrief (no redirect loop) and are completed
    for response in (again, home):
        assert response.status_code == 200
        assert response.redirect_chain[-1][0] == base + "debrief/"
    participant.refresh_from_db()
    assert participant.status == ParticipantStatus.COMPLETED
    # and the completion code is theirs
    done = client.post(base + "debrief/", follow=True)
    assert participant.study.completion_code.encode() in done.content


def test_the_done_page_completes_such_a_participant_too():
    participant = at_the_last_question()
    last = next_item(participant)
    Response.objects.create(
        participant=participant, question=last.question, position=last.position, score=2
    )
    done = Client().get(f"/s/{participant.study.code}/p/{participant.code}/done/")
    assert done.status_code == 200 and participant.study.completion_code.encode() in done.content


# --- on PostgreSQL, where a failed statement outside a savepoint aborts the transaction ------


@pytest.mark.usefixtures("on_postgresql")
def test_pg_a_lost_completion_takes_the_last_answer_with_it(losing_completions: None):
    _lost_completion_takes_the_answer_with_it()


@pytest.mark.postgres
def test_completion_holds_on_postgresql(postgres_url: str):
    run_on_postgresql(__file__, "atomic", postgres_url, expected=1)
