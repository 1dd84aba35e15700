"""Answer times are 64-bit: an answer given weeks after its question was first shown is stored.

A participant may open a question, leave, and resume through their link a month later. The
server's answer time then exceeds 2**31 ms (under 25 days), which PostgreSQL's 32-bit
``integer`` refused: the answer answered 500 and was lost.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection

from surveys.models import Response
from surveys.participation.flow import do_record_answer, do_show_question, next_item
from tests.studyapp.fixtures import media  # noqa: F401
from tests.surveys.participation.fixtures import build_study, consented

THIRTY_DAYS_MS = 30 * 24 * 3600 * 1000

pytestmark = pytest.mark.django_db


def test_an_answer_a_month_after_the_question_was_shown_is_stored(media: Path) -> None:  # noqa: F811
    # given a participant who saw their first question, then went away for thirty days
    participant = consented(build_study(per_condition=1, cells=1).study, "WORKER-AWAY")
    item = next_item(participant)
    assert item is not None
    shown = do_show_question(participant, item.position)
    assert shown.first_shown_at is not None
    back = shown.first_shown_at + timedelta(days=30)

    # when they answer it on their return
    do_record_answer(participant, item.position, "4", "1800", now=back)

    # then the answer is stored with its real time, read back exactly
    stored = Response.objects.get(participant=participant, question=item.question)
    assert stored.server_rt_ms == THIRTY_DAYS_MS
    assert stored.server_rt_ms > 2**31 - 1


def test_the_answer_time_column_is_64_bit() -> None:
    with connection.cursor() as cursor:
        columns = connection.introspection.get_table_description(cursor, "surveys_response")
    column = next(c for c in columns if c.name == "server_rt_ms")
    field = connection.introspection.get_field_type(column.type_code, column)
    assert field in ("BigIntegerField", "PositiveBigIntegerField")
