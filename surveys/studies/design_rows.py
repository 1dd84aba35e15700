"""The rows of a drawn design: writing a :class:`~surveys.studies.design.DesignPlan` for a
study, and clearing an old design (its files go only after the commit)."""

from __future__ import annotations

from django.core.files.storage import default_storage

from surveys.models import Condition, Question, QuestionSet, QuestionSetItem, Stimulus, Study
from surveys.studies.design import DesignPlan
from surveys.studies.spec import StudySpec


def clear_design_rows(study: Study) -> list[str]:
    """Delete the old design's rows; the names of its files (deleted after the commit)."""
    names = [
        name for pair in study.stimuli.values_list("original", "overlay") for name in pair if name
    ]
    QuestionSet.objects.filter(study=study).delete()
    Question.objects.filter(study=study).delete()
    Stimulus.objects.filter(study=study).delete()
    Condition.objects.filter(study=study).delete()
    return names


def write_design_rows(study: Study, spec: StudySpec, plan: DesignPlan) -> None:
    """Store the conditions, stimuli (pending), questions and question sets of a plan."""
    conditions = Condition.objects.bulk_create(
        Condition(
            study=study, run=c.run, label=c.label, dataset=c.dataset, position=i, box=c.box_code
        )
        for i, c in enumerate(spec.conditions)
    )
    stimuli = Stimulus.objects.bulk_create(
        Stimulus(
            study=study,
            condition=conditions[s.condition],
            prototype_id=s.prototype,
            image_id=s.image_id,
            crop_box=s.crop_box,
            map_override=s.map_override,
            practice=s.practice,
        )
        for s in plan.stimuli
    )
    questions: dict[int, Question] = {}
    # Repeats point at questions that must exist first.
    for first_pass in (True, False):
        todo = [i for i, q in enumerate(plan.questions) if (q.repeat_of is None) == first_pass]
        made = Question.objects.bulk_create(
            Question(
                study=study,
                stimulus=stimuli[plan.questions[i].stimulus],
                kind=plan.questions[i].kind,
                gold_expected=plan.questions[i].gold_expected,
                instruction=plan.questions[i].instruction,
                repeat_of=_original(questions, plan.questions[i].repeat_of),
            )
            for i in todo
        )
        questions.update(zip(todo, made, strict=True))
    sets = QuestionSet.objects.bulk_create(
        QuestionSet(study=study, index=c) for c in range(len(plan.sets))
    )
    QuestionSetItem.objects.bulk_create(
        QuestionSetItem(question_set=sets[c], question=questions[q])
        for c, cell in enumerate(plan.sets)
        for q in cell
    )


def _original(questions: dict[int, Question], index: int | None) -> Question | None:
    return questions[index] if index is not None else None


def delete_stored_files(names: list[str]) -> None:
    """Delete files from storage; call it once the rows that named them are committed gone."""
    for name in names:
        default_storage.delete(name)


__all__ = ["clear_design_rows", "delete_stored_files", "write_design_rows"]
