"""Prolific: participants arrive with PROLIFIC_PID, STUDY_ID and SESSION_ID.

Not built yet: entering a study through this recruiter says so.
"""

from __future__ import annotations

from django.http import HttpRequest

from surveys.models import Participant, RecruiterKind, Study
from surveys.recruiters.base import Completion, EntryError, Identity, Recruiter


class ProlificRecruiter(Recruiter):
    kind = RecruiterKind.PROLIFIC.value

    def read_entry(self, request: HttpRequest, study: Study) -> Identity:
        raise EntryError("This study's Prolific link is not available yet.")

    def completion(self, participant: Participant) -> Completion:
        raise EntryError("This study's Prolific link is not available yet.")
