"""The survey's hot read returns what the ORM would, with the answered flags right."""

from __future__ import annotations

import pytest

from surveys.models import ParticipantItem
from surveys.participation.current_item import is_current, read_item
from surveys.participation.flow import do_record_answer, do_show_question
from tests.surveys.participation.fixtures import build_study, consented

pytestmark = pytest.mark.django_db


def _same_row(read: ParticipantItem, stored: ParticipantItem) -> None:
    for part in ("", "participant", "participant.study", "question"):
        left, right = read, stored
        for name in filter(None, part.split(".")):
            left, right = getattr(left, name), getattr(right, name)
        for field in type(left)._meta.concrete_fields:
            assert getattr(left, field.attname) == getattr(right, field.attname), field.name


def test_the_read_matches_the_orm_and_follows_the_answers(media):
    participant = consented(build_study().study)
    study, code = participant.study.code, participant.code
    first = read_item(study, code, 1)
    assert first is not None and is_current(first) and not first.answered
    _same_row(first.item, ParticipantItem.objects.select_related("participant__study", "question")
              .get(participant=participant, position=1))  # fmt: skip
    second = read_item(study, code, 2)
    assert second is not None and not is_current(second)  # the first is not answered yet
    do_show_question(participant, 1)
    do_record_answer(participant, 1, "4", "900")
    first, second = read_item(study, code, 1), read_item(study, code, 2)
    assert first is not None and first.answered and not is_current(first)
    assert second is not None and second.previous_answered and is_current(second)
    assert first.item.first_shown_at is not None  # datetimes come back converted
    assert isinstance(first.participant.recruiter_data, dict)  # so does JSON


def test_nothing_is_read_for_a_wrong_code_or_position(media):
    participant = consented(build_study().study)
    study, code = participant.study.code, participant.code
    assert read_item(study, code, 999) is None
    assert read_item(study, "not-a-code", 1) is None
    assert read_item("not-a-study", code, 1) is None
