"""Who is entering a study: a newcomer, a returning participant with proof, or neither.

A participant's session is their random code (``Participant.code``): the browser that entered
holds it in a signed cookie and the resume link carries it. A recruiter's ID is no secret (a
panel's are often sequential, a Prolific PID is seen by others), so an ID that has already
started resumes only with proof of that session: the code from the cookie, or the recruiter's
own proof recorded at entry (Prolific's SESSION_ID, MTurk's assignment). Without it the visitor
gets a polite page, and nothing is stored or changed.

New participants are admitted only while the study is open and not full, and only as fast as
the entry limits allow (:mod:`.ratelimits`); a returning participant never counts against them.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.utils import timezone

from surveys.models import Participant, Study
from surveys.models.codes import is_code
from surveys.participation.allocation import is_full
from surveys.participation.errors import AlreadyStarted, NotFound, StudyFull, check_open
from surveys.recruiting.base import Recruiter
from surveys.recruiting.registry import RECRUITERS, Identity

USER_AGENT_MAX_LENGTH = 400
# Called just before a new participant is stored; raises to refuse them (the entry limits).
Admit = Callable[[], None]


def access_participant(study_code: str, participant_code: str) -> Participant:
    """The participant with ``participant_code`` in the study with ``study_code``.

    The participant code is the only credential, so anything but an exact pair is not found.

    Raises:
        NotFound: no such participant in that study.
    """
    participant = (
        Participant.objects.select_related("study")
        .filter(code=participant_code, study__code=study_code)
        .first()
        if is_code(study_code) and is_code(participant_code)
        else None
    )
    if participant is None:
        raise NotFound("This participant link is not valid. Open the study link you were given.")
    return participant


def access_study(study_code: str) -> Study:
    """The study behind a public entry link.

    Raises:
        NotFound: no study has that code.
    """
    study = Study.objects.filter(code=study_code).first() if is_code(study_code) else None
    if study is None:
        raise NotFound("There is no study at this address. Check the link you were given.")
    return study


def _same(given: str, recorded: str) -> bool:
    # Both sides are checked ASCII codes and IDs; bytes keep compare_digest from raising anyway.
    return bool(given and recorded) and hmac.compare_digest(given.encode(), recorded.encode())


def proves_session(participant: Participant, identity: Identity, remembered_code: str) -> bool:
    """Whether the request holds ``participant``'s session: their code, or the recruiter's
    proof recorded when they entered."""
    return _same(remembered_code, participant.code) or _same(
        identity.session, participant.recruiter_session
    )


def _resume(participant: Participant, identity: Identity, remembered_code: str) -> Participant:
    if proves_session(participant, identity, remembered_code):
        return participant
    adapter = RECRUITERS.get(participant.recruiter, Recruiter)
    raise AlreadyStarted(adapter.how_to_resume)


def do_start(
    study: Study,
    identity: Identity,
    remembered_code: str = "",
    user_agent: str = "",
    admit: Admit | None = None,
) -> Participant:
    """The participant entering ``study`` as ``identity``: the existing one, or a new one.

    A recruiter ID that has started resumes only with proof of its session (see the module);
    an anonymous newcomer (``identity.fresh``) whose browser remembers a participant of this
    study resumes that one. ``admit``, when given, is asked just before a new participant is
    stored and may refuse them by raising.

    Raises:
        AlreadyStarted: the ID (or the recruiter's session) has started and the request does
            not prove that session; nothing changes.
        StudyClosed: the study does not admit newcomers.
        StudyFull: enough verified participants have completed or are taking part.
        TooManyEntries: (from ``admit``) new participants arrive faster than allowed.
    """
    known = Participant.objects.filter(study=study, external_id=identity.external_id).first()
    if known is not None:
        return _resume(known, identity, remembered_code)
    if identity.fresh and remembered_code:
        remembered = Participant.objects.filter(study=study, code=remembered_code).first()
        if remembered is not None:
            return remembered
    check_open(study)
    if is_full(study, timezone.now()):
        raise StudyFull()
    if admit is not None:
        admit()
    try:
        with transaction.atomic():
            return Participant.objects.create(
                study=study,
                external_id=identity.external_id,
                recruiter=study.recruiter,
                recruiter_session=identity.session,
                recruiter_data=dict(identity.data),
                user_agent=user_agent[:USER_AGENT_MAX_LENGTH],
            )
    except IntegrityError:
        # The same ID arrived twice at once (a double click), or the session is another
        # participant's: the stored participant decides, under the same rule as above.
        pass
    known = Participant.objects.filter(study=study, external_id=identity.external_id).first()
    if known is None:
        raise AlreadyStarted(RECRUITERS.get(study.recruiter, Recruiter).how_to_resume)
    return _resume(known, identity, remembered_code)
