"""The plain link: anyone with the study's link may take part, with a random participant ID.

A newcomer gets a fresh random ID. ``?pid=<id>`` names the participant instead, so a researcher
can hand out personal links; such an ID starts a participation once, and afterwards resumes it
only in the browser that started it (its signed cookie) or through the resume link shown at the
foot of every page, which carries the participant's random code and never the ID. The completion
step shows the study's code.

Participants of a plain link are verified by construction: the link is the whole invitation, so
there is no outside record to match them against, and each one counts toward "full", appears
on the desk and is exported as verified from the moment they enter.
"""

from __future__ import annotations

from django.http import HttpRequest

from surveys.models import Participant, RecruiterKind, Study
from surveys.models.codes import new_code
from surveys.recruiting.base import (
    Completion,
    Identity,
    Recruiter,
    check_external_id,
    participant_home_url,
)

PID_PARAMETER = "pid"


class LinkRecruiter(Recruiter):
    """Participants arrive through the study's public link."""

    kind = RecruiterKind.LINK.value
    verified_on_entry = True

    def read_entry(self, request: HttpRequest, study: Study) -> Identity:
        if PID_PARAMETER in request.GET:
            pid = check_external_id(request.GET[PID_PARAMETER], PID_PARAMETER)
            return Identity(external_id=pid)
        return Identity(external_id=new_code(), fresh=True)

    def completion(self, participant: Participant) -> Completion:
        return Completion(code=participant.study.completion_code)

    def resume_url(self, participant: Participant, request: HttpRequest | None = None) -> str:
        return participant_home_url(participant, request)
