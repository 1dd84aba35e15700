"""The participants table: one row per participant, under the same pseudonym as the responses.

Columns: ``participant`` (pseudonym), ``status``, ``recruiter``, ``verified`` (whether the
recruiter vouches for the participant: always for a plain link or a panel, for Prolific and MTurk
only once a submission or assignment is matched to them), ``question_set`` (the index of
the balanced cell), ``started_at`` / ``consented_at`` / ``completed_at`` (ISO 8601, UTC),
``answers``, ``gold_answers``, ``gold_passed``, ``gold_failed`` (every kind of gold trial, as the
responses table scores them), ``instructed_failed`` (the attention checks the exclusion rule
counts), ``anchors_failed`` (map anchors, reported only unless the rules exclude by them),
``exclusion_reason`` (recorded on the participant by the platform) and ``excluded_by_rule`` (the
pre-declared rule that removes the participant from the analysis, if any).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime

import pandas as pd

from analysis.quality import ANCHOR_KINDS, INSTRUCTED, KIND_COLUMN
from surveys.common.pseudonyms import pseudonym, pseudonym_key
from surveys.models import Participant, Study
from surveys.participation.verification import verified_ids

PARTICIPANT_COLUMNS: tuple[str, ...] = (
    "participant",
    "status",
    "recruiter",
    "verified",
    "question_set",
    "started_at",
    "consented_at",
    "completed_at",
    "answers",
    "gold_answers",
    "gold_passed",
    "gold_failed",
    "instructed_failed",
    "anchors_failed",
    "exclusion_reason",
    "excluded_by_rule",
)


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def _answer_counts(responses: pd.DataFrame) -> pd.DataFrame:
    """Per pseudonym: answers, gold answers, gold passed and failed, and failed by kind."""
    columns = [
        "answers",
        "gold_answers",
        "gold_passed",
        "gold_failed",
        "instructed_failed",
        "anchors_failed",
    ]
    if responses.empty:
        return pd.DataFrame(columns=columns)
    passed = responses["gold_passed"]
    failed = passed == False  # noqa: E712 - NaN is neither
    kinds = responses[KIND_COLUMN].astype(str)
    table = pd.DataFrame(
        {
            "participant": responses["participant"].astype(str),
            "answers": 1,
            "gold_answers": responses["is_gold"].astype(int),
            "gold_passed": (passed == True).astype(int),  # noqa: E712
            "gold_failed": failed.astype(int),
            "instructed_failed": (failed & (kinds == INSTRUCTED)).astype(int),
            "anchors_failed": (failed & kinds.isin(ANCHOR_KINDS)).astype(int),
        }
    )
    return table.groupby("participant")[columns].sum()


def iter_participant_rows(
    study: Study, responses: pd.DataFrame, removed: Mapping[str, str]
) -> Iterator[tuple[str | int | bool, ...]]:
    """Rows in :data:`PARTICIPANT_COLUMNS` order, in the order participants started.

    Args:
        study: The study.
        responses: Its responses table (:func:`surveys.results.responses.
            responses_frame`), for the answer and gold counts.
        removed: The rule that removed each excluded participant
            (:attr:`surveys.results.exclusions.ExclusionOutcome.removed`).
    """
    counts = _answer_counts(responses)
    verified = verified_ids(study)
    key = pseudonym_key(study)
    people = (
        Participant.objects.filter(study=study)
        .select_related("question_set")
        .order_by("started_at", "id")
    )
    for person in people.iterator():
        name = pseudonym(person.external_id, key)
        tally = counts.loc[name] if name in counts.index else None
        yield (
            name,
            person.status,
            person.recruiter,
            person.pk in verified,
            person.question_set.index if person.question_set else "",
            _iso(person.started_at),
            _iso(person.consented_at),
            _iso(person.completed_at),
            *(int(tally[c]) if tally is not None else 0 for c in counts.columns),
            person.exclusion_reason,
            removed.get(name, ""),
        )
