"""Study rows for the participant tests (participation, recruiting, results). This module holds
no tests.

``build_study`` makes an open study with real (tiny) PNG stimuli in a temporary media folder:
regular questions per condition, a map-on-the-object gold question, and a repeat of the first
regular question, dealt into question sets of different sizes. Stored file names deliberately
carry the condition label, so the blinding tests can check that no file name ever leaks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.files.base import ContentFile

from surveys.models import (
    Condition,
    Participant,
    Question,
    QuestionKind,
    QuestionSet,
    QuestionSetItem,
    Study,
    StudyStatus,
)
from surveys.participation.flow import (
    do_consent,
    do_record_answer,
    do_show_question,
    do_start,
    next_item,
)
from surveys.recruiting.registry import Identity
from tests.surveys.factories import (
    ConditionFactory,
    QuestionFactory,
    QuestionSetFactory,
    RunFactory,
    StimulusFactory,
    StudyFactory,
    png_bytes,
)


@dataclass
class BuiltStudy:
    study: Study
    conditions: list[Condition]
    regular: list[Question]
    gold: Question | None
    repeat: Question | None
    sets: list[QuestionSet] = field(default_factory=list)


def _stimulus_files(label: str, n: int) -> dict[str, ContentFile[bytes]]:
    stem = label.replace(" ", "_")
    shade = (40 * n) % 200 + 30
    return {
        "original": ContentFile(png_bytes((shade, shade, shade), 24), name=f"{stem}-{n}-orig.png"),
        "overlay": ContentFile(png_bytes((250, shade, 30), 24), name=f"{stem}-{n}-overlay.png"),
    }


def build_study(
    labels: Sequence[str] = ("Method A", "Method B"),
    per_condition: int = 3,
    cells: int = 2,
    gold: bool = True,
    repeat: bool = True,
    dataset: str = "SynthBirds",
    practice: bool = False,
    **study_fields: Any,
) -> BuiltStudy:
    """An open study: ``per_condition`` regular questions per label, one gold-object question,
    one repeat of the first regular question; cell 0 holds them all, each later cell one
    regular question fewer (so cells differ in size). ``practice`` adds the two practice
    pictures of the instructions, on images no question shows."""
    fields = {"status": StudyStatus.OPEN, "min_seconds_per_question": 0, **study_fields}
    study = StudyFactory(**fields)
    conditions, regular = [], []
    counter = 0
    for position, label in enumerate(labels):
        run = RunFactory(label=f"{label} run", dataset_name=dataset)
        condition = ConditionFactory(
            study=study, run=run, label=label, dataset=dataset, position=position
        )
        conditions.append(condition)
        for _ in range(per_condition):
            counter += 1
            stimulus = StimulusFactory(
                condition=condition,
                study=study,
                image_id=f"{dataset}/{label}/img_{counter}.png",
                **_stimulus_files(label, counter),
            )
            regular.append(QuestionFactory(stimulus=stimulus, study=study))
    gold_question = None
    if gold:
        counter += 1
        stimulus = StimulusFactory(
            condition=conditions[0], study=study, **_stimulus_files(labels[0], counter)
        )
        gold_question = QuestionFactory(
            stimulus=stimulus, study=study, kind=QuestionKind.GOLD_OBJECT, gold_expected=5
        )
    repeat_question = None
    if repeat:
        repeat_question = QuestionFactory(
            stimulus=regular[0].stimulus,
            study=study,
            kind=QuestionKind.REPEAT,
            repeat_of=regular[0],
        )
    if practice:
        for override in ("object", "background"):
            counter += 1
            StimulusFactory(
                condition=conditions[0],
                study=study,
                image_id=f"{dataset}/practice/img_{counter}.png",
                map_override=override,
                practice=True,
                **_stimulus_files(labels[0], counter),
            )
    built = BuiltStudy(study, conditions, regular, gold_question, repeat_question)
    everything = [*regular, *(q for q in (gold_question, repeat_question) if q is not None)]
    for index in range(cells):
        question_set = QuestionSetFactory(study=study, index=index)
        # Drop regular questions from the end (never the repeated one) to vary the sizes.
        dropped = set(regular[len(regular) - index :]) if index else set()
        for question in everything:
            if question not in dropped:
                QuestionSetItem.objects.create(question_set=question_set, question=question)
        built.sets.append(question_set)
    return built


def start(study, external_id: str | None = None) -> Participant:
    identity = Identity(external_id=external_id or f"x-{Participant.objects.count()}")
    return do_start(study, identity)


def consented(study, external_id: str | None = None) -> Participant:
    return do_consent(start(study, external_id), agree=True)


def answer_all(participant: Participant, score: str = "3") -> None:
    while (item := next_item(participant)) is not None:
        do_show_question(participant, item.position)
        do_record_answer(participant, item.position, score, "1200")
