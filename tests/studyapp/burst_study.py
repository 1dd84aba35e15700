"""The database side of the burst test, run in a child process on the server's database.

``python -m tests.studyapp.burst_study create`` migrates the database of ``DATABASE_URL`` and
prints the code of a new open study (``build_study``); ``… count CODE`` prints, as JSON, the
rows the participants of that study left. Running here rather than in the test process lets
the test use a SQLite file even when the rest of the suite runs on PostgreSQL. This module
holds no tests.
"""

from __future__ import annotations

import json
import sys

# Places enough for every newcomer of the burst, so none is turned away as "full".
BURST_PLACES = 200


def create() -> str:
    from django.core.management import call_command

    from tests.surveys.participation.fixtures import build_study

    call_command("migrate", verbosity=0, interactive=False)
    return build_study(participants_wanted=BURST_PLACES).study.code


def count(code: str) -> dict[str, int]:
    from django.db.models import Count, Sum

    from surveys.models import Participant, ParticipantItem, ParticipantStatus

    people = Participant.objects.filter(study__code=code)
    totals = people.aggregate(expected=Sum("item_count"))
    per_question = (
        ParticipantItem.objects.filter(participant__study__code=code)
        .values("participant_id", "question_id")
        .annotate(n=Count("id"))
    )
    return {
        "participants": people.count(),
        "consented": people.filter(status=ParticipantStatus.CONSENTED).count(),
        "with_question_set": people.filter(question_set__isnull=False).count(),
        "items": ParticipantItem.objects.filter(participant__study__code=code).count(),
        "expected_items": totals["expected"] or 0,
        "repeated_items": sum(1 for row in per_question if row["n"] > 1),
    }


def main(argv: list[str]) -> None:
    import django

    django.setup()
    if argv[:1] == ["create"]:
        print(create())
    elif argv[:1] == ["count"] and len(argv) == 2:
        print(json.dumps(count(argv[1])))
    else:
        raise SystemExit("usage: python -m tests.studyapp.burst_study create | count CODE")


if __name__ == "__main__":
    main(sys.argv[1:])
