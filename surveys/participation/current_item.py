"""The survey's hot read, as one SQL statement built once per process.

Every answer and every next page starts by reading the participant's item at a position with
its participant, study and question, and whether it (and the one before it) is answered. The
ORM builds that query anew on every call, and building it costs about three times what the
database takes to answer it (measured: 2.8 ms of 3.8 ms). The statement never changes, so it is
composed once from the models' own table and column names; rows become model instances
through the same database converters the ORM applies, and one typed :class:`CurrentItem`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections, router
from django.db.models import Field, Model

from surveys.models import Participant, ParticipantItem, Question, Response, Study
from surveys.models.codes import is_code

Converter = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True)
class CurrentItem:
    """A participant's item at a position, read in one statement.

    Attributes:
        item: The item, with ``participant`` (and its ``study``) and ``question`` attached.
        answered: Its answer is stored.
        previous_answered: The answer at ``position - 1`` is stored.
    """

    item: ParticipantItem
    answered: bool
    previous_answered: bool

    @property
    def participant(self) -> Participant:
        return self.item.participant


def is_current(found: CurrentItem) -> bool:
    """The item is its participant's first unanswered question.

    Answers come in order, so the two flags say it without a second query.
    """
    return not found.answered and (found.item.position == 1 or found.previous_answered)


# Table aliases and the models read, in the order their columns come back.
PARTS: tuple[tuple[str, type[Model]], ...] = (
    ("i", ParticipantItem),
    ("p", Participant),
    ("s", Study),
    ("q", Question),
)


@functools.cache
def _statement(alias: str) -> str:
    quote = connections[alias].ops.quote_name

    def table(model: type[Model]) -> str:
        return quote(model._meta.db_table)

    def column(model: type[Model], name: str) -> str:
        field = model._meta.get_field(name)
        assert isinstance(field, Field) and field.column, f"{name} is not a concrete column"
        return quote(field.column)

    columns = ", ".join(
        f"{letter}.{quote(field.column)}"
        for letter, model in PARTS
        for field in model._meta.concrete_fields
    )
    item, response = ParticipantItem, Response
    participant_of = f"r.{column(response, 'participant')} = i.{column(item, 'participant')}"
    return (
        f"SELECT {columns}, "
        f"EXISTS(SELECT 1 FROM {table(response)} r WHERE {participant_of} "
        f"AND r.{column(response, 'question')} = i.{column(item, 'question')}), "
        f"EXISTS(SELECT 1 FROM {table(response)} r WHERE {participant_of} "
        f"AND r.{column(response, 'position')} = i.{column(item, 'position')} - 1) "
        f"FROM {table(item)} i "
        f"JOIN {table(Participant)} p ON p.{quote('id')} = i.{column(item, 'participant')} "
        f"JOIN {table(Study)} s ON s.{quote('id')} = p.{column(Participant, 'study')} "
        f"JOIN {table(Question)} q ON q.{quote('id')} = i.{column(item, 'question')} "
        f"WHERE p.{column(Participant, 'code')} = %s AND s.{column(Study, 'code')} = %s "
        f"AND i.{column(item, 'position')} = %s"
    )


@functools.cache
def _converters(alias: str, model: type[Model]) -> list[tuple[str, Any, list[Converter]]]:
    """Per concrete field: its attribute name, column expression and the ORM's converters."""
    connection = connections[alias]
    result = []
    for field in model._meta.concrete_fields:
        expression = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(expression)
        converters += expression.get_db_converters(connection)
        result.append((field.attname, expression, converters))
    return result


def _instance(alias: str, model: type[Model], values: Sequence[Any]) -> Any:
    connection = connections[alias]
    names, converted = [], []
    for (name, expression, converters), value in zip(
        _converters(alias, model), values, strict=True
    ):
        for convert in converters:
            value = convert(value, expression, connection)
        names.append(name)
        converted.append(value)
    return model.from_db(alias, names, converted)


def read_item(study_code: str, participant_code: str, position: int) -> CurrentItem | None:
    """The item at ``position`` of the participant with these codes; None when there is none."""
    if not (is_code(study_code) and is_code(participant_code)):
        return None
    alias = router.db_for_read(ParticipantItem)
    with connections[alias].cursor() as cursor:
        cursor.execute(_statement(alias), [participant_code, study_code, position])
        row = cursor.fetchone()
    if row is None:
        return None
    instances, start = [], 0
    for _, model in PARTS:
        width = len(model._meta.concrete_fields)
        instances.append(_instance(alias, model, row[start : start + width]))
        start += width
    item, participant, study, question = instances
    participant.study = study
    item.participant = participant
    item.question = question
    return CurrentItem(item, answered=bool(row[start]), previous_answered=bool(row[start + 1]))
