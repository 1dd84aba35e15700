"""The long-format responses table: one row per answer, in the schema ``analysis`` reads.

Columns are ``analysis.REQUIRED_COLUMNS`` and ``analysis.OPTIONAL_COLUMNS`` followed by two
extra ones the analysis passes through untouched (``server_rt_ms`` and ``question_kind``):

* ``participant``: the participant's pseudonym (:mod:`surveys.common.pseudonyms`), never the
  recruiter's ID;
* ``question``: the question's public code; ``method``: the condition's label; ``dataset``: the
  condition's dataset; ``stimulus``: the stimulus id (as in the stimuli manifest);
  ``prototype``: ``"<run label> #<pool index>"``; ``position``: the place in the participant's
  order; ``rt_ms``: the browser's response time; ``server_rt_ms``: the server's;
* ``image``: the dataset image the stimulus shows (its path in the dataset, the manifest's
  ``image_id``), the same for every condition that shows that image, so that the analysis can
  treat images as a random sample and match them across conditions (a Latin square);
  ``item``: the stimulus id as text (one image under one condition; the manifest's
  ``stimulus``).

Gold trials carry ``is_gold`` True and their outcome in ``gold_expected`` / ``gold_passed``:

* instructed item: passed when the answer equals the instructed answer;
* map on the object: passed when the answer is at least the expected score;
* map on empty background: passed when the answer is at most the expected score;
* repeat (test-retest): ``gold_expected`` is the participant's answer to the original question
  and the repeat passes when it is within 1 of it.

A gold trial whose expectation is unknown (no expected score, or a repeat whose original was
not answered yet) has empty ``gold_expected`` and ``gold_passed``; the analysis does not count
it as a failure. Excluded participants are in the table: exclusions are the analysis' job, by
the study's pre-declared rules.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from analysis import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from surveys.common.pseudonyms import pseudonym, pseudonym_key
from surveys.models import QuestionKind, Response, Study

EXTRA_COLUMNS: tuple[str, ...] = ("server_rt_ms", "question_kind")
RESPONSE_COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS + EXTRA_COLUMNS
REPEAT_TOLERANCE = 1
# Rows are fetched from the database in chunks, so a large study streams in constant memory.
CHUNK_ROWS = 2000

Cell = str | int | bool | None
_FIELDS = (
    "participant_id",
    "participant__external_id",
    "question_id",
    "question__code",
    "question__kind",
    "question__gold_expected",
    "question__repeat_of_id",
    "question__stimulus_id",
    "question__stimulus__image_id",
    "question__stimulus__condition__label",
    "question__stimulus__condition__dataset",
    "question__stimulus__prototype__run__label",
    "question__stimulus__prototype__index",
    "position",
    "score",
    "client_rt_ms",
    "server_rt_ms",
)


def gold_outcome(kind: str, score: int, expected: int | None) -> bool | None:
    """Whether a gold answer passed (None when there is nothing to compare it with)."""
    if kind == QuestionKind.REGULAR or expected is None:
        return None
    if kind == QuestionKind.GOLD_OBJECT:
        return score >= expected
    if kind == QuestionKind.GOLD_BACKGROUND:
        return score <= expected
    if kind == QuestionKind.REPEAT:
        return abs(score - expected) <= REPEAT_TOLERANCE
    return score == expected


def _original_answers(study: Study) -> dict[tuple[int, int], int]:
    """(participant id, question id) -> score, for the questions that some repeat repeats."""
    rows = Response.objects.filter(
        participant__study=study, question__repeats__isnull=False
    ).values_list("participant_id", "question_id", "score")
    return {(p, q): s for p, q, s in rows.distinct()}


def iter_response_rows(study: Study) -> Iterator[tuple[Cell, ...]]:
    """The study's answers as rows in :data:`RESPONSE_COLUMNS` order (participant, position)."""
    originals = _original_answers(study)
    key = pseudonym_key()
    names: dict[int, str] = {}
    answers = (
        Response.objects.filter(participant__study=study)
        .order_by("participant_id", "position", "id")
        .values_list(*_FIELDS)
    )
    for row in answers.iterator(chunk_size=CHUNK_ROWS):
        (p_id, external, q_id, code, kind, expected, repeat_of, stimulus, image, label,
         dataset, run_label, proto_index, position, score, client_rt, server_rt) = row  # fmt: skip
        if p_id not in names:
            names[p_id] = pseudonym(external, key)
        if kind == QuestionKind.REPEAT:
            expected = originals.get((p_id, repeat_of)) if repeat_of is not None else None
        gold = kind != QuestionKind.REGULAR
        yield (
            names[p_id],
            code,
            label,
            dataset,
            score,
            stimulus,
            f"{run_label} #{proto_index}",
            position,
            client_rt,
            gold,
            expected if gold else None,
            gold_outcome(kind, score, expected),
            image,
            str(stimulus),
            server_rt,
            kind,
        )


def responses_frame(study: Study) -> pd.DataFrame:
    """The responses table as a DataFrame (no rows when nobody has answered yet)."""
    return frame_of_rows(list(iter_response_rows(study)))


def frame_of_rows(rows: Sequence[Sequence[Cell]]) -> pd.DataFrame:
    """Rows of :func:`iter_response_rows` as the DataFrame ``analysis`` takes.

    Types match what ``analysis.load_ratings`` reads from the CSV: missing times and
    expectations are NaN, and a missing ``gold_passed`` is NaN rather than None, because the
    analysis would read None as a failed trial.
    """
    frame = pd.DataFrame(list(rows), columns=list(RESPONSE_COLUMNS))
    for column in ("rt_ms", "gold_expected", "server_rt_ms"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame["score"] = frame["score"].astype("int64")
    frame["position"] = frame["position"].astype("int64")
    frame["is_gold"] = frame["is_gold"].astype(bool)
    passed = frame["gold_passed"].astype(object)
    frame["gold_passed"] = passed.where(passed.notna(), np.nan)
    return frame
