"""Saving a spec: the draft study with its whole design, in one transaction.

:func:`do_save_study` stores a checked :class:`~surveys.studies.spec.StudySpec`: the study's
fields, its conditions, every stimulus (pending until a worker renders it), the questions and
the Latin-square question sets. Saving the same spec again changes nothing that is built; a
spec with another design replaces a draft's design, and a study that already has participants
is never changed. Once the study has opened, its frozen plan may not change either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import IntegrityError, transaction

from surveys.common.checks import SpecError, SpecProblem
from surveys.models import StimulusStatus, Study, StudyStatus
from surveys.studies.coverage import do_cover_prototypes
from surveys.studies.design import DesignPlan, plan_design
from surveys.studies.design_rows import clear_design_rows, delete_stored_files, write_design_rows
from surveys.studies.inputs import read_design_inputs
from surveys.studies.preregistration import plan_of_spec
from surveys.studies.protocol import check_plan_unchanged
from surveys.studies.spec import StudySpec, check_study_spec
from surveys.studies.summary import design_notes


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
        check_plan_unchanged(existing, spec)
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
            layout=spec.question_sets,
            checks=spec.quality_checks,
        )
        do_cover_prototypes(
            plan, inputs.conditions, inputs.datasets, spec.min_prototypes_per_condition, spec.seed
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
    stored = list(
        study.conditions.order_by("position").values_list("run_id", "label", "dataset", "box")
    )
    wanted = [(c.run.pk, c.label, c.dataset, c.box_code) for c in spec.conditions]
    return (
        stored == wanted
        and study.stimuli.exists()
        and study.questions_per_dataset == spec.questions_per_dataset
        and study.seed == spec.seed
        and study.sampling.get("split") == spec.split
        and study.sampling.get("prototype_rule", "random") == spec.prototype_rule
        and study.sampling.get("question_sets", "latin_square") == spec.question_sets
        and study.sampling.get("min_prototypes", 0) == spec.min_prototypes_per_condition
        and study.style == spec.style
        and study.gold_share == spec.gold_share
        and study.quality_checks == spec.quality_checks.to_dict()
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
            # Checked again under the lock: a participant may have arrived meanwhile, or the
            # study opened and froze its plan.
            _check_updatable(study, True)
            check_plan_unchanged(study, spec)
        _apply(study, spec)
        old_files: list[str] = []
        if plan is not None:
            old_files = [] if created else clear_design_rows(study)
            study.status = StudyStatus.DRAFT
        study.save()
        if plan is not None:
            write_design_rows(study, spec, plan)
        # Files go only once the rows that named them are gone for good.
        transaction.on_commit(lambda: delete_stored_files(old_files))
    return study, created


def _apply(study: Study, spec: StudySpec) -> None:
    study.title = spec.title
    study.public_title = spec.public_title
    study.question_text = spec.question_text
    study.scale_low_label = spec.scale_low_label
    study.scale_high_label = spec.scale_high_label
    study.questions_per_dataset = spec.questions_per_dataset
    study.seed = spec.seed
    study.sampling = {
        "seed": spec.seed,
        "split": spec.split,
        "prototype_rule": spec.prototype_rule,
        "question_sets": spec.question_sets,
        "protocol": spec.protocol,
    }
    if spec.min_prototypes_per_condition:
        study.sampling["min_prototypes"] = spec.min_prototypes_per_condition
    if not study.preregistration_sha256:
        study.preregistration = plan_of_spec(spec)
    study.style = spec.style
    study.gold_share = spec.gold_share
    study.quality_checks = spec.quality_checks.to_dict()
    study.participants_wanted = spec.participants_wanted
    study.min_seconds_per_question = spec.min_seconds_per_question
    study.consent_text = spec.consent
    study.instructions_text = spec.instructions
    study.debrief_text = spec.debrief
    study.reward = spec.reward
    study.currency = spec.currency
    study.bonus_cap = spec.bonus_cap
    study.estimated_minutes = spec.estimated_minutes
    study.exclusion_rules = spec.exclusion_rules
    study.recruiter = spec.recruiter
    study.recruiter_config = spec.recruiter_config


__all__ = ["SaveResult", "do_create_study", "do_save_study"]
