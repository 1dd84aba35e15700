"""gunicorn SIGKILLed in the middle of a study and started again: everyone resumes where they are.

Participants answer over real HTTP, each with their own cookies. The test kills gunicorn's
master and workers at once (requests in flight get no answer), reads each participant's stored
answers while nothing serves, and starts gunicorn again on the same port. Every participant
comes back, through their resume link or through the study link their cookie resumes, and lands
on their first unanswered question, whether or not the answer in flight at the kill was stored;
in the end each answer is stored exactly once.
"""

from __future__ import annotations

import threading
import time

import pytest

from tests.reliability.conftest import StudySite
from tests.reliability.participants import Participant, Tally, intended_score, take_part

PARTICIPANTS = 30
QUESTIONS = 20
# The kill comes once every participant has answered this many questions.
KILL_AFTER = 3
TIMEOUT_S = 300


@pytest.mark.postgres
def test_after_gunicorn_is_killed_everyone_resumes_on_their_first_unanswered_question(
    study_site: StudySite,
):
    # given participants taking a study served by gunicorn
    code = study_site.create_study(QUESTIONS, places=2 * PARTICIPANTS)
    server = study_site.gunicorn(threads=8)
    back = threading.Event()
    ready = threading.Barrier(PARTICIPANTS, timeout=TIMEOUT_S)
    tally = Tally()
    people = [
        Participant(server.base, code, index, tally, lambda: back.wait(TIMEOUT_S), ready)
        for index in range(PARTICIPANTS)
    ]
    total = PARTICIPANTS * QUESTIONS
    threads = take_part(people)
    deadline = time.monotonic() + TIMEOUT_S
    while min(len(p.answered) for p in people) < KILL_AFTER and not tally.problems:
        assert time.monotonic() < deadline, "the participants did not get going"
        time.sleep(0.02)

    # when gunicorn is SIGKILLed part-way, and started again
    server.kill()
    stored = study_site.progress(code)
    server.start()
    back.set()
    for thread in threads:
        thread.join(timeout=TIMEOUT_S)

    # then every participant was cut off, and came back on their first unanswered question
    assert not tally.problems, tally.problems[:5]
    assert all(person.finished for person in people)
    assert len(stored) == PARTICIPANTS
    # (half come back through the resume link their pages show, half through the study link)
    assert all(person.resume_url for person in people)
    for person in people:
        answered = stored[person.code]
        assert 0 < answered < QUESTIONS, f"participant {person.index}: {answered} at the kill"
        expected = f"/s/{code}/p/{person.code}/q/{answered + 1}/"
        assert person.resumed_to == [expected], f"participant {person.index}"
    # and every answer is stored exactly once, with the score given
    rows = study_site.rows(code)
    assert rows["responses"] == rows["pairs"] == total and rows["doubled"] == 0
    for person in people:
        expected_answers = {
            str(p): intended_score(person.index, p) for p in range(1, QUESTIONS + 1)
        }
        assert rows["people"][person.code]["answers"] == expected_answers
    print(
        f"\ngunicorn SIGKILL after {sum(stored.values())} of {total} answers: "
        f"{tally.dropped} requests dropped, {PARTICIPANTS} resumed on their first unanswered "
        f"question, {rows['responses']} rows"
    )
