"""A generic panel: any service that passes an ID in the URL and takes a completion redirect.

Not built yet: entering a study through this recruiter says so.
"""

from __future__ import annotations

from django.http import HttpRequest

from surveys.models import Participant, RecruiterKind, Study
from surveys.recruiters.base import Completion, EntryError, Identity, Recruiter


class PanelRecruiter(Recruiter):
    kind = RecruiterKind.PANEL.value

    def read_entry(self, request: HttpRequest, study: Study) -> Identity:
        raise EntryError("This study's panel link is not available yet.")

    def completion(self, participant: Participant) -> Completion:
        raise EntryError("This study's panel link is not available yet.")
