"""Participants acting at the same moment, on PostgreSQL's real row locks.

SQLite serialises every writer, so races only show on a server database. The ``test_pg_*``
tests run where the test database is PostgreSQL; on any other database
:func:`test_races_hold_on_postgresql` runs them in a child pytest against a private
PostgreSQL database (whenever the server answers).
"""

from __future__ import annotations

from collections import Counter
from typing import TypeVar

import pytest
from django.db import connection

from surveys.models import Participant, ParticipantStatus, Response
from surveys.participation.flow import (
    StudyFull,
    do_consent,
    do_record_answer,
    do_show_question,
    do_start,
)
from surveys.recruiting.registry import Identity
from tests.surveys.concurrency import at_once, run_on_postgresql
from tests.surveys.participation.fixtures import build_study

T = TypeVar("T")
PEOPLE = 12
# pytest-django prefixes "test_": the child's database is test_part, this module's own.
PRIVATE_DATABASE = "part"


@pytest.fixture
def postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL; test_races_hold_on_postgresql runs this there")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("media", "postgresql")
def test_pg_simultaneous_consents_fill_the_cells_evenly():
    study = build_study(cells=3, participants_wanted=100).study
    people = [do_start(study, Identity(external_id=f"P{n}")) for n in range(PEOPLE)]
    results = at_once(lambda p: do_consent(p, agree=True), people)
    assert not [r for r in results if isinstance(r, Exception)]
    cells = Counter(Participant.objects.values_list("question_set__index", flat=True))
    assert cells == {0: PEOPLE // 3, 1: PEOPLE // 3, 2: PEOPLE // 3}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("media", "postgresql")
def test_pg_simultaneous_consents_never_overfill_the_study():
    study = build_study(participants_wanted=5).study
    people = [do_start(study, Identity(external_id=f"P{n}")) for n in range(PEOPLE)]
    results = at_once(lambda p: do_consent(p, agree=True), people)
    assert sum(isinstance(r, StudyFull) for r in results) == PEOPLE - 5
    assert Participant.objects.filter(status=ParticipantStatus.CONSENTED).count() == 5


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("media", "postgresql")
def test_pg_the_same_answer_sent_many_times_at_once_is_stored_once():
    study = build_study().study
    participant = do_consent(do_start(study, Identity(external_id="P")), agree=True)
    do_show_question(participant, 1)
    scores = [str(1 + n % 5) for n in range(PEOPLE)]
    answers = at_once(lambda s: do_record_answer(participant, 1, s, "700"), scores)
    stored = Response.objects.get(participant=participant)
    assert {a.response.pk for a in answers if not isinstance(a, Exception)} == {stored.pk}
    assert sum(a.created for a in answers if not isinstance(a, Exception)) == 1


@pytest.mark.postgres
def test_races_hold_on_postgresql(postgres_url: str):
    run_on_postgresql(__file__, PRIVATE_DATABASE, postgres_url, expected=3)
