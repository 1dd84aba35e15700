"""The recruiter interface: how participants arrive, who they are, and how they leave.

A recruiter is the outside service (or none, for a plain link) that sends people to a study.
Each one is an adapter behind :class:`Recruiter`, so the survey itself never branches on where
a participant came from:

* :meth:`Recruiter.read_entry` reads the participant's identity from the entry request: the
  external ID that makes one participation per person and study, the recruiter's proof of the
  session (Prolific's ``SESSION_ID``, MTurk's ``assignmentId``), the extra fields worth
  recording (Prolific's ``STUDY_ID``; MTurk's ``hitId`` and ``turkSubmitTo``), or that the visit
  is only a preview (MTurk's ``ASSIGNMENT_ID_NOT_AVAILABLE``) and must not start anything.
* :meth:`Recruiter.completion` is the step after the debrief: a redirect (Prolific's completion
  URL with its code, a panel's redirect template, MTurk's ``externalSubmit``) or a code to show.
* :meth:`Recruiter.participant_link` is the link the researcher hands out or registers with the
  service.
* :meth:`Recruiter.resume_url` is where a participant can continue on another device, when the
  recruiter does not bring them back by itself; it carries the participant's random code, never
  the recruiter's ID.

A recruiter ID alone is not a credential: IDs are guessable (a panel's are often sequential) or
visible to others. A participant's session is its random code, held by a signed cookie in the
browser that entered and by the resume link; an ID that has already started resumes only with
that code or with the recruiter's own proof of the session recorded at entry.

:attr:`Recruiter.verified_on_entry` says whether a participant counts as real as soon as they
enter, or only once the service reports a submission (or assignment) matched to them.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.http import HttpRequest
from django.urls import reverse

from surveys.models import Participant, Study, StudyStatus

# The studies whose recruiter the periodic syncs follow: closing a study stops new entries only,
# so the people already in may still finish after it closes and must be verified and paid.
SYNCED_STATUSES = (StudyStatus.OPEN, StudyStatus.CLOSED)

# External IDs end up in URLs, exports (hashed) and the unique constraint; the model allows 200.
EXTERNAL_ID_MAX_LENGTH = 200
_EXTERNAL_ID = re.compile(r"^[A-Za-z0-9._:@-]+$")


class RecruiterConfigError(ValueError):
    """A study's recruiter settings are invalid; the message names the setting and the fix."""


class EntryError(ValueError):
    """The entry request does not identify a participant; the message says how to fix it."""


@dataclass(frozen=True)
class Identity:
    """Who is arriving, as the recruiter tells it.

    Attributes:
        external_id: The recruiter's participant ID; one participation per ID and study.
        session: The recruiter's proof of this session (Prolific's SESSION_ID, MTurk's
            assignment ID), recorded at entry; empty when the recruiter has none.
        data: Further fields the recruiter passed that are worth recording.
        fresh: True when the recruiter minted the ID for an anonymous newcomer, so a visitor
            already known from this browser may be resumed instead.
        preview: True for a preview visit (MTurk before accepting): show the study, start
            nothing.
    """

    external_id: str
    session: str = ""
    data: dict[str, str] = field(default_factory=dict)
    fresh: bool = False
    preview: bool = False


@dataclass(frozen=True)
class Completion:
    """What happens after the debrief: a redirect to the recruiter, or a code to show.

    Exactly one of ``redirect_url`` and ``code`` is set.
    """

    redirect_url: str = ""
    code: str = ""

    def __post_init__(self) -> None:
        if bool(self.redirect_url) == bool(self.code):
            raise ValueError("a completion is either a redirect URL or a code, not both")


def check_external_id(value: str, parameter: str) -> str:
    """The external ID ``value`` read from URL parameter ``parameter``, or :class:`EntryError`."""
    value = value.strip()
    if not value:
        raise EntryError(
            f"The link's {parameter} parameter is empty; open the link you were given."
        )
    if len(value) > EXTERNAL_ID_MAX_LENGTH:
        raise EntryError(
            f"The link's {parameter} parameter is longer than {EXTERNAL_ID_MAX_LENGTH} "
            "characters; open the link you were given."
        )
    if not _EXTERNAL_ID.match(value):
        raise EntryError(
            f"The link's {parameter} parameter may contain only letters, digits and . _ : @ -; "
            "open the link you were given."
        )
    return value


class Recruiter(ABC):
    """One way participants reach a study; subclasses register under their ``kind``."""

    kind: ClassVar[str]
    # Origins allowed to frame the survey (MTurk shows an ExternalQuestion in an iframe); empty
    # means no framing at all, the safe default.
    frame_ancestors: ClassVar[tuple[str, ...]] = ()
    # Whether a participant is real once they enter; False where only the service's record of a
    # submission (assignment) matched to them shows that they are (see surveys.participation.
    # verification). New adapters start unverified: the safe default.
    verified_on_entry: ClassVar[bool] = False
    # What the polite "already started" page tells someone whose recruiter ID has started but
    # who brings no proof of that session.
    how_to_resume: ClassVar[str] = (
        "Continue in the browser where you started, or open the resume link shown at the foot "
        "of every page of the study."
    )

    @classmethod
    def check_config(cls, config: Mapping[str, object]) -> dict[str, Any]:
        """The study's settings for this recruiter (``Study.recruiter_config``), checked.

        Raises:
            RecruiterConfigError: an unknown setting or a bad value.
        """
        if config:
            raise RecruiterConfigError(
                f"the {cls.kind} recruiter takes no settings; remove {', '.join(map(str, config))}"
            )
        return {}

    @abstractmethod
    def read_entry(self, request: HttpRequest, study: Study) -> Identity:
        """The identity of the participant entering ``study`` through ``request``.

        Raises:
            EntryError: the request lacks or garbles the recruiter's parameters.
        """

    @abstractmethod
    def completion(self, participant: Participant) -> Completion:
        """The step after the debrief of a participant who answered every question."""

    def participant_link(self, study: Study, request: HttpRequest | None = None) -> str:
        """The study's entry link for the researcher; absolute when ``request`` is given."""
        path = reverse("surveys:participant_entry", args=[study.code])
        return request.build_absolute_uri(path) if request is not None else path

    def resume_url(self, participant: Participant, request: HttpRequest | None = None) -> str:
        """Where ``participant`` can continue on another device; empty when the recruiter's own
        link already brings them back (Prolific and MTurk pass the same session again)."""
        return ""


def participant_home_url(participant: Participant, request: HttpRequest | None = None) -> str:
    """The participant's own home page, under their random code: the resume link."""
    path = reverse("surveys:participant_home", args=[participant.study.code, participant.code])
    return request.build_absolute_uri(path) if request is not None else path
