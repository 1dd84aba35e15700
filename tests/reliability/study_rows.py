"""The database side of the fault tests, run in a child process on the server's own database.

The web server under test runs on a PostgreSQL cluster of the tests' own, out of reach of the
test process's Django (which holds the suite's test database), so the rows are made and read
here, with ``DATABASE_URL`` pointing at it::

    python -m tests.reliability.study_rows migrate [--static]
    python -m tests.reliability.study_rows create QUESTIONS PLACES   # prints the study code
    python -m tests.reliability.study_rows progress CODE   # {participant code: answers stored}
    python -m tests.reliability.study_rows rows CODE       # every stored answer, as JSON

This module holds no tests.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

# Seconds to wait for the connections of a killed server to end (and their commits to land).
IDLE_TIMEOUT_S = 30


def migrate(static: bool) -> str:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    if static:
        # DEBUG is off, as deployed: the pages' scripts are served from the collected files.
        call_command("collectstatic", verbosity=0, interactive=False)
    return "migrated"


def create(questions: int, places: int) -> str:
    """An open study whose every participant gets the same ``questions`` questions (even)."""
    from tests.surveys.participation.fixtures import build_study

    # Two conditions' regular questions, one gold question and one repeat.
    regular_per_condition, odd = divmod(questions - 2, 2)
    assert regular_per_condition > 0 and not odd, "QUESTIONS must be even and at least 4"
    built = build_study(per_condition=regular_per_condition, cells=1, participants_wanted=places)
    return built.study.code


def _wait_until_idle() -> None:
    from django.db import connection

    deadline = time.monotonic() + IDLE_TIMEOUT_S
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            (others,) = cursor.fetchone()
            if not others:
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"{others} connection(s) still open after {IDLE_TIMEOUT_S}s")
            time.sleep(0.1)


def progress(code: str) -> dict[str, int]:
    """Each participant's number of stored answers, once nobody else is connected."""
    from django.db.models import Count

    from surveys.models import Participant

    _wait_until_idle()
    people = Participant.objects.filter(study__code=code).annotate(answers=Count("responses"))
    return {person.code: person.answers for person in people}


def rows(code: str) -> dict[str, Any]:
    """Every participant's status and stored answers (position to score), and the totals."""
    from surveys.models import Participant, Response

    answers = Response.objects.filter(participant__study__code=code)
    people: dict[str, dict[str, Any]] = {
        person.code: {"status": person.status, "items": person.item_count, "answers": {}}
        for person in Participant.objects.filter(study__code=code)
    }
    doubled = 0
    for participant, position, score in answers.values_list(
        "participant__code", "position", "score"
    ):
        stored = people[participant]["answers"]
        doubled += str(position) in stored
        stored[str(position)] = score
    pairs = answers.values_list("participant_id", "question_id").distinct().count()
    return {"people": people, "responses": answers.count(), "pairs": pairs, "doubled": doubled}


def main(argv: list[str]) -> None:
    import django

    django.setup()
    command, *args = argv or [""]
    if command == "migrate":
        print(migrate(static=args == ["--static"]))
    elif command == "create" and len(args) == 2:
        print(create(int(args[0]), int(args[1])))
    elif command == "progress" and len(args) == 1:
        print(json.dumps(progress(args[0])))
    elif command == "rows" and len(args) == 1:
        print(json.dumps(rows(args[0])))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
