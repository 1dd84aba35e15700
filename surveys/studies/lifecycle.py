"""Studies from a spec: the draft with its whole design, the build, and opening and closing.

:func:`do_save_study` stores a checked :class:`~surveys.studies.spec.StudySpec` in one
transaction: the study's fields, its conditions, every stimulus (pending until a worker renders
it), the questions and the Latin-square question sets. Saving the same spec again changes
nothing that is built; a spec with another design replaces a draft's design, and a study that
already has participants is never changed. :func:`do_start_build` hands the pending stimuli to
Celery (``surveys.studies.tasks.build_study``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from surveys.common.checks import SpecError, SpecProblem
from surveys.models import (
    Condition,
    Question,
    QuestionSet,
    QuestionSetItem,
    Stimulus,
    StimulusStatus,
    Study,
    StudyStatus,
)
from surveys.studies.design import DesignPlan, plan_design
from surveys.studies.inputs import read_design_inputs
from surveys.studies.spec import StudySpec, check_study_spec
from surveys.studies.summary import design_notes


class StudyStateError(ValueError):
    """The study's status does not allow the action; the message says why and what to do."""


@dataclass(frozen=True)
class SaveResult:
    """What saving a spec did.

    Attributes:
        study: The stored study.
        created: A new study (else an existing draft was updated).
        redesigned: The design was (re)built; False when the spec's design was already stored.
        notes: The build log of the design (balance, cells, gold).
    """

    study: Study
    created: bool
    redesigned: bool
    notes: list[str] = field(default_factory=list)


def build_queue() -> str | None:
    """The Celery queue render work goes to (``SURVEYS_BUILD_QUEUE``; Celery's default if unset),
    e.g. a queue only GPU workers consume."""
    queue = getattr(settings, "SURVEYS_BUILD_QUEUE", None)
    return str(queue) if queue else None


def do_save_study(
    spec: StudySpec,
    user: AbstractBaseUser | AnonymousUser | None = None,
    *,
    allow_update: bool = True,
) -> SaveResult:
    """Create the study of a spec, or update the draft with its slug; all or nothing.

    Args:
        spec: A checked spec.
        user: Who saves it (recorded on a new study).
        allow_update: False to refuse a slug that is taken (the "new study" form).

    Raises:
        SpecError: The slug is taken (when not updating), the study already has participants,
            is open, or is rendering; or the design cannot be drawn from the datasets.
    """
    existing = Study.objects.filter(slug=spec.slug).first()
    if existing is not None:
        _check_updatable(existing, allow_update)
    plan = None
    if existing is None or not _same_design(existing, spec):
        if existing is not None:
            _check_redesignable(existing)
        inputs = read_design_inputs(spec)
        plan = plan_design(
            inputs.conditions,
            inputs.datasets,
            spec.questions_per_dataset,
            spec.gold_share,
            spec.seed,
            inputs.image_size,
        )
    try:
        study, created = _store(spec, user, plan, existing is not None)
    except IntegrityError:
        message = f"{spec.slug!r} was taken by another study a moment ago; pick another slug"
        raise SpecError([SpecProblem("slug", message)]) from None
    notes = [*spec.notes, *(plan.notes if plan is not None else design_notes(study))]
    return SaveResult(study, created, plan is not None, notes)


def do_create_study(
    data: Mapping[str, Any], user: AbstractBaseUser | AnonymousUser | None
) -> SaveResult:
    """The "new study" form's service: check the spec, then store it as a new draft.

    Raises:
        SpecError: Any invalid field, or a slug that is taken.
    """
    problems: list[SpecProblem] = []
    spec: StudySpec | None = None
    try:
        spec = check_study_spec(data)
    except SpecError as exc:
        problems = exc.problems
    slug = data.get("slug")
    if isinstance(slug, str) and Study.objects.filter(slug=slug.strip()).exists():
        message = f"{slug.strip()!r} is taken by another study; pick another slug"
        problems = [p for p in problems if p.field != "slug"] + [SpecProblem("slug", message)]
    if problems or spec is None:
        raise SpecError(problems)
    return do_save_study(spec, user, allow_update=False)


def _check_updatable(study: Study, allow_update: bool) -> None:
    if not allow_update:
        message = f"{study.slug!r} is taken by the study {study.title!r}; pick another slug"
        raise SpecError([SpecProblem("slug", message)])
    if study.participants.exists():
        message = (
            f"study {study.slug!r} already has participants, so it can no longer change; "
            "use a new slug for a changed study"
        )
        raise SpecError([SpecProblem("slug", message)])


def _check_redesignable(study: Study) -> None:
    if study.status == StudyStatus.OPEN:
        message = f"study {study.slug!r} is open; close it before changing its design"
        raise SpecError([SpecProblem("slug", message)])
    rendering = study.stimuli.filter(status=StimulusStatus.PENDING).exists()
    if study.status == StudyStatus.BUILDING and rendering:
        message = f"study {study.slug!r} is being rendered; wait until its build has finished"
        raise SpecError([SpecProblem("slug", message)])


def _same_design(study: Study, spec: StudySpec) -> bool:
    stored = list(study.conditions.order_by("position").values_list("run_id", "label", "dataset"))
    wanted = [(c.run.pk, c.label, c.dataset) for c in spec.conditions]
    return (
        stored == wanted
        and study.stimuli.exists()
        and study.questions_per_dataset == spec.questions_per_dataset
        and study.seed == spec.seed
        and study.sampling.get("split") == spec.split
        and study.style == spec.style
        and study.gold_share == spec.gold_share
    )


def _store(
    spec: StudySpec,
    user: AbstractBaseUser | AnonymousUser | None,
    plan: DesignPlan | None,
    updating: bool,
) -> tuple[Study, bool]:
    with transaction.atomic():
        study = Study.objects.select_for_update().filter(slug=spec.slug).first()
        if (study is None) == updating:
            message = "the study changed while this spec was being checked; save it again"
            raise SpecError([SpecProblem("slug", message)])
        created = study is None
        if study is None:
            study = Study(slug=spec.slug, created_by=user if isinstance(user, User) else None)
        else:
            # Checked again under the lock: a participant may have arrived meanwhile.
            _check_updatable(study, True)
        _apply(study, spec)
        old_files: list[str] = []
        if plan is not None:
            old_files = [] if created else _clear_design(study)
            study.status = StudyStatus.DRAFT
        study.save()
        if plan is not None:
            _write_design(study, spec, plan)
        # Files go only once the rows that named them are gone for good.
        transaction.on_commit(lambda: _delete_files(old_files))
    return study, created


def _apply(study: Study, spec: StudySpec) -> None:
    study.title = spec.title
    study.public_title = spec.public_title
    study.question_text = spec.question_text
    study.questions_per_dataset = spec.questions_per_dataset
    study.seed = spec.seed
    study.sampling = {"seed": spec.seed, "split": spec.split}
    study.style = spec.style
    study.gold_share = spec.gold_share
    study.participants_wanted = spec.participants_wanted
    study.min_seconds_per_question = spec.min_seconds_per_question
    study.consent_text = spec.consent
    study.instructions_text = spec.instructions
    study.debrief_text = spec.debrief
    study.reward = spec.reward
    study.currency = spec.currency
    study.estimated_minutes = spec.estimated_minutes
    study.exclusion_rules = spec.exclusion_rules
    study.recruiter = spec.recruiter
    study.recruiter_config = spec.recruiter_config


def _clear_design(study: Study) -> list[str]:
    """Delete the old design's rows; the names of its files (deleted after the commit)."""
    names = [
        name for pair in study.stimuli.values_list("original", "overlay") for name in pair if name
    ]
    QuestionSet.objects.filter(study=study).delete()
    Question.objects.filter(study=study).delete()
    Stimulus.objects.filter(study=study).delete()
    Condition.objects.filter(study=study).delete()
    return names


def _write_design(study: Study, spec: StudySpec, plan: DesignPlan) -> None:
    conditions = Condition.objects.bulk_create(
        Condition(study=study, run=c.run, label=c.label, dataset=c.dataset, position=i)
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


def _delete_files(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)


@dataclass(frozen=True)
class BuildStart:
    """What starting a build did: stimuli handed to the workers, and failed ones retried."""

    pending: int
    retried: int
    status: str


def do_start_build(study: Study) -> BuildStart:
    """Queue every pending stimulus for rendering (failed ones again too); re-runnable.

    A study whose stimuli are all rendered becomes Ready at once, and nothing is queued.

    Raises:
        StudyStateError: The study is open or closed (its stimuli are final), or has no design.
    """
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        if locked.status in (StudyStatus.OPEN, StudyStatus.CLOSED):
            raise StudyStateError(
                f"the study is {locked.get_status_display().lower()}; its stimuli are final"
            )
        if not locked.stimuli.exists():
            raise StudyStateError("the study has no stimuli; save its spec again to design it")
        retried = locked.stimuli.filter(status=StimulusStatus.FAILED).update(
            status=StimulusStatus.PENDING, error=""
        )
        pending = locked.stimuli.filter(status=StimulusStatus.PENDING).count()
        locked.status = StudyStatus.BUILDING if pending else StudyStatus.READY
        locked.save(update_fields=["status", "updated_at"])
        if pending:
            # The worker must find the committed rows, never a transaction still in flight.
            transaction.on_commit(lambda: _enqueue_build(locked.pk))
    study.status = locked.status
    return BuildStart(pending, retried, locked.status)


def _enqueue_build(study_id: int) -> None:
    # Imported here: the tasks module imports these services.
    from surveys.studies.tasks import build_study

    queue = build_queue()
    if queue:
        build_study.apply_async(args=(study_id,), queue=queue)
    else:
        build_study.apply_async(args=(study_id,))


def do_open_study(study: Study) -> None:
    """Let participants in: only a study whose stimuli are all rendered (or a closed one).

    Raises:
        StudyStateError: The study is a draft, still rendering, or already open.
    """
    allowed = (StudyStatus.READY, StudyStatus.CLOSED)
    if not Study.objects.filter(pk=study.pk, status__in=allowed).update(status=StudyStatus.OPEN):
        study.refresh_from_db(fields=["status"])
        raise StudyStateError(
            f"only a study whose stimuli are all rendered can open; this one is "
            f"{study.get_status_display().lower()} (build it first)"
        )
    study.status = StudyStatus.OPEN


def do_close_study(study: Study) -> None:
    """Stop new participants; those already in may finish.

    Raises:
        StudyStateError: The study is not open.
    """
    if not Study.objects.filter(pk=study.pk, status=StudyStatus.OPEN).update(
        status=StudyStatus.CLOSED
    ):
        study.refresh_from_db(fields=["status"])
        raise StudyStateError(
            f"only an open study can close; this one is {study.get_status_display().lower()}"
        )
    study.status = StudyStatus.CLOSED


__all__ = [
    "BuildStart",
    "SaveResult",
    "StudyStateError",
    "build_queue",
    "do_close_study",
    "do_create_study",
    "do_open_study",
    "do_save_study",
    "do_start_build",
]
