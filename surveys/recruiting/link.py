"""The plain link: anyone with the study's link may take part, with a random participant ID.

A newcomer gets a fresh random ID. ``?pid=<id>`` names the participant instead: a researcher
can hand out personal links that way, and a participant resumes on another device with the
resume link shown at the foot of every page. The completion step shows the study's code.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest

from surveys.models import Participant, RecruiterKind, Study
from surveys.models.codes import new_code
from surveys.recruiting.base import Completion, Identity, Recruiter, check_external_id

PID_PARAMETER = "pid"


class LinkRecruiter(Recruiter):
    """Participants arrive through the study's public link."""

    kind = RecruiterKind.LINK.value

    def read_entry(self, request: HttpRequest, study: Study) -> Identity:
        if PID_PARAMETER in request.GET:
            pid = check_external_id(request.GET[PID_PARAMETER], PID_PARAMETER)
            return Identity(external_id=pid)
        return Identity(external_id=new_code(), fresh=True)

    def completion(self, participant: Participant) -> Completion:
        return Completion(code=participant.study.completion_code)

    def resume_url(self, participant: Participant, request: HttpRequest | None = None) -> str:
        link = self.participant_link(participant.study, request)
        return f"{link}?{urlencode({PID_PARAMETER: participant.external_id})}"
