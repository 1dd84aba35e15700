"""The last step of a worker's survey: the form that hands the assignment back to MTurk.

MTurk takes the assignment back only from a form posted inside its frame to
``{turkSubmitTo}/mturk/externalSubmit``, with ``assignmentId`` and at least one answer field;
the answer here is the study's completion code, which sync reads back from MTurk's Answer XML.
``turkSubmitTo`` was checked when the worker entered and is checked again here, so a changed
setting or a hand-edited row can never turn the form towards another site.
"""

from __future__ import annotations

from dataclasses import dataclass

from surveys.models import Participant, ParticipantStatus, RecruiterKind
from surveys.participation.flow import OutOfOrder, ParticipationError
from surveys.recruiting.base import EntryError
from surveys.recruiting.mturk.recruiter import SUBMIT_PATH, check_submit_to

COMPLETION_FIELD = "completion_code"


@dataclass(frozen=True)
class ExternalSubmit:
    """Where the form posts, and its fields."""

    action: str
    fields: dict[str, str]


def access_external_submit(participant: Participant) -> ExternalSubmit:
    """The externalSubmit form of a worker who completed the study.

    Raises:
        OutOfOrder: the participant has not completed the study.
        ParticipationError: not an MTurk participant, or no usable assignment to submit.
    """
    if participant.recruiter != RecruiterKind.MTURK:
        raise ParticipationError("This page is only for Mechanical Turk workers.", status=404)
    if participant.status != ParticipantStatus.COMPLETED:
        raise OutOfOrder("You have not answered every question yet.", step=participant.status)
    data = participant.recruiter_data
    assignment = str(data.get("assignmentId", ""))
    try:
        origin = check_submit_to(str(data.get("turkSubmitTo", "")))
    except EntryError as error:
        raise ParticipationError(str(error)) from None
    if not assignment:
        raise ParticipationError(
            "Your assignment is not known here, so it cannot be submitted from this page; "
            "contact the requester through Mechanical Turk."
        )
    fields = {"assignmentId": assignment, COMPLETION_FIELD: participant.study.completion_code}
    return ExternalSubmit(action=f"{origin}{SUBMIT_PATH}", fields=fields)
