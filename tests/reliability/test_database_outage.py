"""PostgreSQL stops for a few seconds in the middle of a study: no answer is lost or doubled.

gunicorn serves the study from a PostgreSQL cluster of the tests' own, which the test stops
(immediately, as a crash would) and starts again while 200 participants answer 60 questions
each. A post the database could not take is answered with the retry page (503, Retry-After,
the post in hidden fields); the participants send it again as its script does, and every one of
the 12,000 answers is stored exactly once, with the score that was given. A real browser shows
that the page's script itself sends the pending answer when the database is back.
"""

from __future__ import annotations

import time

import pytest

from tests.reliability.conftest import StudySite
from tests.reliability.participants import Participant, Tally, intended_score, take_part

PARTICIPANTS = 200
QUESTIONS = 60
# The share of all answers sent before the database stops, and for how long it stays down.
FAULT_AT = 0.4
OUTAGE_S = 4.0
STUDY_TIMEOUT_S = 600
BROWSER_TIMEOUT_MS = 30_000


def _wait_for(condition, what: str, timeout: float = STUDY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.postgres
def test_answers_posted_while_the_database_is_down_are_stored_once(study_site: StudySite):
    # given an open study of 60 questions, served by gunicorn on the private cluster
    code = study_site.create_study(QUESTIONS, places=2 * PARTICIPANTS)
    server = study_site.gunicorn()
    tally = Tally()
    people = [Participant(server.base, code, index, tally) for index in range(PARTICIPANTS)]
    total = PARTICIPANTS * QUESTIONS
    started = time.monotonic()

    # when 200 participants take it at once, and the database stops part-way for a few seconds
    threads = take_part(people)
    _wait_for(lambda: tally.answers_sent >= FAULT_AT * total or tally.problems, "the fault")
    before = tally.answers_sent
    study_site.postgres.cluster.stop("immediate")
    time.sleep(OUTAGE_S)
    study_site.postgres.cluster.start()
    for thread in threads:
        thread.join(timeout=STUDY_TIMEOUT_S)
    elapsed = time.monotonic() - started

    # then every participant finished, having met the retry page instead of an error
    assert not tally.problems, tally.problems[:5]
    assert all(person.finished for person in people)
    assert before < total, "the study finished before the fault"
    assert tally.retry_pages > 0, "no post met the outage"
    assert server.boots() == server.workers, "a gunicorn worker crashed"
    # and every answer is stored exactly once, with the score that was given
    rows = study_site.rows(code)
    assert rows["responses"] == rows["pairs"] == total and rows["doubled"] == 0
    assert len(rows["people"]) == PARTICIPANTS
    by_code = {person.code: person for person in people}
    for participant_code, stored in rows["people"].items():
        index = by_code[participant_code].index
        expected = {str(p): intended_score(index, p) for p in range(1, QUESTIONS + 1)}
        assert stored["answers"] == expected, participant_code
        assert stored["status"] == "completed"
    print(
        f"\ndatabase outage of {OUTAGE_S:g} s after {before} of {total} answers: "
        f"{rows['responses']} rows, {tally.retry_pages} retry pages re-posted, "
        f"{tally.error_pages} page loads reloaded, {elapsed:.0f} s for the study"
    )


@pytest.mark.postgres
@pytest.mark.browser
def test_the_retry_page_sends_the_answer_again_once_the_database_is_back(
    study_site: StudySite, page
):
    # given a participant on the first question, in a real browser
    code = study_site.create_study(4, places=2)
    server = study_site.gunicorn(workers=1, threads=4)
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    page.goto(f"{server.base}/s/{code}/")
    page.click("text=I agree")
    page.click("text=Start")
    page.wait_for_selector("form#answer[data-ready=true]")
    page.check("#score-4")

    # when the database stops and the answer is sent
    cluster = study_site.postgres.cluster
    cluster.stop("immediate")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click("button.next")

    # then the answer is kept in a polite page that says it will be sent again
    assert posted.value.status == 503
    assert posted.value.headers["retry-after"].isdigit()
    page.wait_for_selector("form#retry")
    assert "It is not lost" in page.inner_text("main")
    assert page.locator("form#retry input[name=score]").get_attribute("value") == "4"

    # and once the database is back, the page sends it by itself and the survey goes on
    time.sleep(1.0)
    cluster.start()
    try:
        page.wait_for_url("**/q/2/")
    except Exception as exc:
        raise AssertionError(
            f"still on {page.url}: {page.inner_text('main')}\n{server.log.read_text()[-3000:]}"
        ) from exc
    rows = study_site.rows(code)
    assert rows["responses"] == 1
    (stored,) = rows["people"].values()
    assert stored["answers"] == {"1": 4}
