"""One statement that stores a row unless an equal one (by a unique constraint) is there.

Answers arrive at the rate people click, and a duplicate (a double click, a re-POST) must change
nothing. ``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` does both in one round trip, outside
any transaction block: the ORM's way (a savepoint around ``create`` to survive the
``IntegrityError``) takes four (BEGIN, SAVEPOINT, INSERT, COMMIT). PostgreSQL and SQLite
(3.35 and newer) both speak it, and they are the two databases the platform runs on.
"""

from __future__ import annotations

from django.db import connections, router
from django.db.models import Model


def insert_once(obj: Model) -> bool:
    """Insert ``obj``; False (and nothing written) when a unique constraint already holds it.

    On success ``obj`` gets its primary key, as after ``save()``.
    """
    meta = obj._meta
    alias = router.db_for_write(type(obj))
    connection = connections[alias]
    quote = connection.ops.quote_name
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    values = [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]
    columns = ", ".join(quote(field.column) for field in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks}) "
        f"ON CONFLICT DO NOTHING RETURNING {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    obj.pk = row[0]
    obj._state.adding = False
    obj._state.db = alias
    return True
