"""The long-format responses table: one row per answer, in the schema ``analysis`` reads.

Columns are ``analysis.REQUIRED_COLUMNS`` and ``analysis.OPTIONAL_COLUMNS`` followed by four
extra ones (``server_rt_ms``, ``question_kind``, which tells the analysis each gold trial's
kind, ``unlocked_rt_ms``, the browser's time from the scale's unlock, which its speed rules
read, and ``verified``, which its "unverified participants" rule reads):

* ``participant``: the participant's pseudonym (:mod:`surveys.common.pseudonyms`), never the
  recruiter's ID;
* ``question``: the question's public code; ``method``: the condition's label; ``dataset``: the
  condition's dataset; ``stimulus``: the stimulus id (as in the stimuli manifest);
  ``prototype``: ``"<run label> #<pool index>"``; ``position``: the place in the participant's
  order; ``rt_ms``: the browser's response time from the pictures' load; ``server_rt_ms``: the
  server's, from the page's first serving; ``unlocked_rt_ms``: the browser's, from the moment
  the scale unlocked (empty for answers sent without it);
* ``image``: the dataset image the stimulus shows (its path in the dataset, the manifest's
  ``image_id``), the same for every condition that shows that image, so that the analysis can
  treat images as a random sample and match them across conditions (a Latin square);
  ``item``: the stimulus id as text (one image under one condition; the manifest's
  ``stimulus``);
* ``verified``: whether the study's recruiter vouches for the participant
  (:mod:`surveys.participation.verification`): always for a plain link or a panel, for Prolific
  and MTurk only once a submission or assignment of theirs is matched to the participant;
* ``m_energy_in_part`` ... ``m_purity``, last: the stimulus's objective measures (the map shown
  and its prototype's metrics, :mod:`.measure_columns`), the same on every answer to it.

Gold trials carry ``is_gold`` True and their outcome in ``gold_expected`` / ``gold_passed``,
scored by ``analysis.quality.gold_passed`` with the study's declared ``gold_tolerance`` (1
unless the exclusion rules say otherwise), the rule the analysis applies too:

* instructed item: passed when the answer equals the instructed answer;
* map on the object (expected 5): passed at 5 - tolerance or above (4 or 5);
* map on empty background (expected 1): passed at 1 + tolerance or below (1 or 2);
* repeat (test-retest): ``gold_expected`` is the participant's answer to the original question
  and the repeat passes when it is within the tolerance of it.

A gold trial whose expectation is unknown (no expected score, or a repeat whose original was
not answered yet) has empty ``gold_expected`` and ``gold_passed``; the analysis does not count
it as a failure. Excluded participants are in the table: exclusions are the analysis' job, by
the study's pre-declared rules.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from analysis import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, ExclusionRules
from analysis.exclusions import UNLOCKED_RT_COLUMN, VERIFIED_COLUMN
from analysis.quality import KIND_COLUMN, gold_passed
from surveys.common.pseudonyms import pseudonym, pseudonym_key
from surveys.models import QuestionKind, Response, Study
from surveys.participation.verification import verified_ids
from surveys.results.measure_columns import EMPTY_CELLS, MEASURE_COLUMNS, study_measure_cells

EXTRA_COLUMNS: tuple[str, ...] = (
    "server_rt_ms",
    KIND_COLUMN,
    UNLOCKED_RT_COLUMN,
    VERIFIED_COLUMN,
)
# Last, the stimulus's objective measures, repeated on each of its answers (.measure_columns).
RESPONSE_COLUMNS: tuple[str, ...] = (
    REQUIRED_COLUMNS + OPTIONAL_COLUMNS + EXTRA_COLUMNS + MEASURE_COLUMNS
)
# Rows are fetched from the database in chunks, so a large study streams in constant memory.
CHUNK_ROWS = 2000

Cell = str | int | float | bool | None
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
    "unlocked_rt_ms",
)


def gold_outcome(
    kind: str, score: int, expected: int | None, tolerance: float | None = None
) -> bool | None:
    """Whether a gold answer passed (None when there is nothing to compare it with), by
    ``analysis.quality.gold_passed`` with ``tolerance`` (the analysis' default when None)."""
    if kind == QuestionKind.REGULAR:
        return None
    allowed = ExclusionRules().gold_tolerance if tolerance is None else tolerance
    return gold_passed(kind, score, None if expected is None else float(expected), allowed)


def study_tolerance(study: Study) -> float:
    """The study's declared ``gold_tolerance``; the analysis' default when it declares none
    that can be read (the desk reports the unreadable rules)."""
    declared = (study.exclusion_rules or {}) if isinstance(study.exclusion_rules, dict) else {}
    value = declared.get("gold_tolerance")
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return ExclusionRules().gold_tolerance
    return float(value)


def _original_answers(study: Study) -> dict[tuple[int, int], int]:
    """(participant id, question id) -> score, for the questions that some repeat repeats."""
    rows = Response.objects.filter(
        participant__study=study, question__repeats__isnull=False
    ).values_list("participant_id", "question_id", "score")
    return {(p, q): s for p, q, s in rows.distinct()}


def iter_response_rows(study: Study) -> Iterator[tuple[Cell, ...]]:
    """The study's answers as rows in :data:`RESPONSE_COLUMNS` order (participant, position)."""
    originals = _original_answers(study)
    verified = verified_ids(study)
    tolerance = study_tolerance(study)
    key = pseudonym_key(study)
    measures = study_measure_cells(study)
    names: dict[int, str] = {}
    answers = (
        Response.objects.filter(participant__study=study)
        .order_by("participant_id", "position", "id")
        .values_list(*_FIELDS)
    )
    for row in answers.iterator(chunk_size=CHUNK_ROWS):
        (p_id, external, q_id, code, kind, expected, repeat_of, stimulus, image, label,
         dataset, run_label, proto_index, position, score, client_rt, server_rt,
         unlocked_rt) = row  # fmt: skip
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
            gold_outcome(kind, score, expected, tolerance),
            image,
            str(stimulus),
            server_rt,
            kind,
            unlocked_rt,
            p_id in verified,
            *measures.get(stimulus, EMPTY_CELLS),
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
    for column in ("rt_ms", "gold_expected", "server_rt_ms", UNLOCKED_RT_COLUMN, *MEASURE_COLUMNS):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame["score"] = frame["score"].astype("int64")
    frame["position"] = frame["position"].astype("int64")
    frame["is_gold"] = frame["is_gold"].astype(bool)
    frame[VERIFIED_COLUMN] = frame[VERIFIED_COLUMN].astype(bool)
    passed = frame["gold_passed"].astype(object)
    frame["gold_passed"] = passed.where(passed.notna(), np.nan)
    return frame
