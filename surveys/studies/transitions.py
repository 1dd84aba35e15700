"""A saved study's status changes: the build, opening and closing.

:func:`do_start_build` hands the pending stimuli to Celery
(``surveys.studies.tasks.build_study``). Opening a study freezes its plan
(:mod:`surveys.studies.preregistration`): the canonical text, its SHA-256 and the time are
stored once. What happens to the protocol after that (the desk unblinded while data come in,
collection reopened after a close) is recorded on the study and reported as a deviation.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone

from surveys.models import StimulusStatus, Study, StudyStatus
from surveys.studies.protocol import freeze_plan, protocol_event


class StudyStateError(ValueError):
    """The study's status does not allow the action; the message says why and what to do."""


def build_queue() -> str | None:
    """The Celery queue render work goes to (``SURVEYS_BUILD_QUEUE``; Celery's default if unset),
    e.g. ``render``, which only the render workers consume (on GPU machines or not)."""
    queue = str(getattr(settings, "SURVEYS_BUILD_QUEUE", "") or "").strip()
    return queue or None


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


def do_open_study(study: Study, user: AbstractBaseUser | AnonymousUser | None = None) -> None:
    """Let participants in: only a study whose stimuli are all rendered (or a closed one).

    The first opening freezes the plan; reopening a closed study is recorded as a deviation
    (data collection resumed after the outcomes could be seen).

    Raises:
        StudyStateError: The study is a draft, still rendering, or already open.
    """
    allowed = (StudyStatus.READY, StudyStatus.CLOSED)
    with transaction.atomic():
        locked = Study.objects.select_for_update().filter(pk=study.pk, status__in=allowed).first()
        if locked is None:
            study.refresh_from_db(fields=["status"])
            raise StudyStateError(
                f"only a study whose stimuli are all rendered can open; this one is "
                f"{study.get_status_display().lower()} (build it first)"
            )
        now = timezone.now()
        fields = ["status", "updated_at"]
        if not locked.preregistration_sha256:
            freeze_plan(locked, now)
            fields += ["preregistration_text", "preregistration_sha256", "preregistered_at"]
        elif locked.status == StudyStatus.CLOSED:
            detail = "data collection reopened after it had been closed (outcomes were visible)"
            locked.protocol_events = [
                *locked.protocol_events,
                protocol_event("reopened", now, user, detail),
            ]
            fields.append("protocol_events")
        locked.status = StudyStatus.OPEN
        locked.save(update_fields=fields)
    for name in fields:
        setattr(study, name, getattr(locked, name))


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
    "StudyStateError",
    "build_queue",
    "do_close_study",
    "do_open_study",
    "do_start_build",
]
