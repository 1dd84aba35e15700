"""Amazon Mechanical Turk: the study as an ExternalQuestion HIT, in the worker's frame.

Not built yet: entering a study through this recruiter says so.
"""

from __future__ import annotations

from django.http import HttpRequest

from surveys.models import Participant, RecruiterKind, Study
from surveys.recruiters.base import Completion, EntryError, Identity, Recruiter


class MTurkRecruiter(Recruiter):
    kind = RecruiterKind.MTURK.value

    def read_entry(self, request: HttpRequest, study: Study) -> Identity:
        raise EntryError("This study's Mechanical Turk HIT is not available yet.")

    def completion(self, participant: Participant) -> Completion:
        raise EntryError("This study's Mechanical Turk HIT is not available yet.")
