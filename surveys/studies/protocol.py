"""The protocol once a study's plan is frozen: the freeze, the blind desk and its unblinding.

A study freezes its plan when it first opens (:func:`freeze_plan`); the desk is *blind* while
data collection is open (:func:`is_blind`): it shows data-quality figures only, never outcomes by
condition, until the study is closed or the researcher unblinds it (:func:`do_unblind`), which is
recorded with who and when in ``Study.protocol_events`` and reported as a deviation.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from analysis.preregistration import FrozenPlan, aspredicted_text, canonical_text, text_sha256
from surveys.common.checks import SpecError, SpecProblem
from surveys.models import Study, StudyStatus
from surveys.studies.preregistration import plan_of_spec
from surveys.studies.spec import StudySpec


def check_plan_unchanged(study: Study, spec: StudySpec) -> None:
    """A frozen plan is final: a spec whose plan differs in any way is refused."""
    if not study.preregistration_sha256:
        return
    if canonical_text(plan_of_spec(spec)) == study.preregistration_text:
        return
    frozen = study.preregistered_at.isoformat() if study.preregistered_at else "at opening"
    message = (
        f"study {study.slug!r} froze its plan (pre-registration, design and exclusion rules) "
        f"on {frozen}, SHA-256 {study.preregistration_sha256[:12]}...; it can no longer "
        "change. Analyse any change as a deviation, or use a new slug for a changed study"
    )
    raise SpecError([SpecProblem("preregistration", message)])


def freeze_plan(study: Study, now: datetime) -> None:
    """Freeze the declared plan: its canonical text, the text's SHA-256 and the time."""
    text = canonical_text(study.preregistration or {})
    study.preregistration_text = text
    study.preregistration_sha256 = text_sha256(text)
    study.preregistered_at = now


def protocol_event(
    kind: str, at: datetime, user: AbstractBaseUser | AnonymousUser | None, detail: str
) -> dict[str, str]:
    who = user.get_username() if isinstance(user, User) else ""
    return {"kind": kind, "at": at.isoformat(), "by": who, "detail": detail}


def is_blind(study: Study) -> bool:
    """Whether the desk hides outcomes: data collection is open and nobody unblinded it."""
    return study.status == StudyStatus.OPEN and study.unblinded_at is None


def do_unblind(study: Study, user: AbstractBaseUser | AnonymousUser | None) -> bool:
    """Show outcomes on the desk while data collection is open; recorded as a deviation.

    Returns whether this call unblinded it (False: it was not blind, nothing is recorded).
    """
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        if not is_blind(locked):
            return False
        now = timezone.now()
        detail = (
            "the desk was unblinded while data collection was open: outcomes by condition "
            "were seen before the planned sample was complete"
        )
        locked.unblinded_at = now
        locked.unblinded_by = user if isinstance(user, User) else None
        locked.protocol_events = [
            *locked.protocol_events,
            protocol_event("unblinded", now, user, detail),
        ]
        locked.save(update_fields=["unblinded_at", "unblinded_by", "protocol_events"])
    study.unblinded_at, study.unblinded_by = locked.unblinded_at, locked.unblinded_by
    study.protocol_events = locked.protocol_events
    return True


def frozen_plan(study: Study) -> FrozenPlan | None:
    """The study's frozen plan with the events recorded since; None before it first opens."""
    if not study.preregistration_sha256:
        return None
    frozen_at = study.preregistered_at.isoformat() if study.preregistered_at else ""
    events = tuple(e for e in study.protocol_events or [] if isinstance(e, dict))
    return FrozenPlan(study.preregistration_text, study.preregistration_sha256, frozen_at, events)


DRAFT_HEADER = (
    "DRAFT: this plan is not frozen yet. It is frozen, with the SHA-256 of its canonical text, "
    "when the study opens; until then every save of the spec may change it.\n\n"
)


def plan_text(study: Study) -> tuple[str, str]:
    """The AsPredicted-style text of the study's plan, and a file name for it (a draft's text
    says it is a draft)."""
    frozen = frozen_plan(study)
    if frozen is not None:
        return aspredicted_text(frozen), f"{study.slug}-preregistration.txt"
    text = canonical_text(study.preregistration or {})
    draft = FrozenPlan(text, text_sha256(text), "not frozen yet")
    return DRAFT_HEADER + aspredicted_text(draft), f"{study.slug}-preregistration-draft.txt"


__all__ = [
    "check_plan_unchanged",
    "do_unblind",
    "freeze_plan",
    "frozen_plan",
    "is_blind",
    "plan_text",
    "protocol_event",
]
