"""Amazon Mechanical Turk: the study as an ExternalQuestion HIT, in the worker's frame.

MTurk opens the study's link in an iframe and appends ``assignmentId``, ``hitId``,
``turkSubmitTo`` and ``workerId``. While a worker only previews the HIT, ``assignmentId`` is
``ASSIGNMENT_ID_NOT_AVAILABLE`` (and no worker ID comes): the preview page shows the study and
starts nothing. The worker ID is the participant's external ID, so each worker takes a study
once, whichever batch (HIT) they come through; the assignment they started with is the one they
submit, and the proof of their session: it is recorded at entry
(``Participant.recruiter_session``) and a worker resumes only with that same assignment. At the
end the participant's page posts ``assignmentId`` and the completion code to
``{turkSubmitTo}/mturk/externalSubmit`` from inside the frame (see
:mod:`surveys.recruiting.mturk.submit`); ``turkSubmitTo`` is taken only when it is one of
MTurk's two worker sites, so the survey can never be made to post or redirect anywhere else.

A worker is verified, counts toward "full" and is exported as verified only once the sync has
matched an MTurk assignment to them (a ``Submission`` row): any well-formed ``assignmentId``
and ``workerId`` can be typed into the link, and only MTurk knows which ones are real.

Publishing, syncing and paying live beside it in ``surveys/recruiting/mturk/``. Amazon
Mechanical Turk closed on 30 September 2026; the adapter stays for the paper's protocol and
MTurk-compatible services.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from surveys.models import LedgerEntry, LedgerStatus, Participant, RecruiterKind, Study
from surveys.recruiting.base import Completion, EntryError, Identity, Recruiter
from surveys.recruiting.mturk.config import check_mturk_config

PREVIEW_ASSIGNMENT = "ASSIGNMENT_ID_NOT_AVAILABLE"
# Where MTurk's worker pages post from; the only hosts ``turkSubmitTo`` may name.
SUBMIT_HOSTS = ("https://www.mturk.com", "https://workersandbox.mturk.com")
SUBMIT_HOSTS_SETTING = "SURVEYS_MTURK_SUBMIT_HOSTS"
SUBMIT_PATH = "/mturk/externalSubmit"
_MTURK_ID = re.compile(r"^[A-Z0-9]{1,64}$")
_WORKER_ID = re.compile(r"^A[A-Z0-9]{1,63}$")


def allowed_submit_hosts() -> tuple[str, ...]:
    """MTurk's two worker sites; a test may name its own stand-in in the setting."""
    hosts = getattr(settings, SUBMIT_HOSTS_SETTING, None) or SUBMIT_HOSTS
    return tuple(str(host).rstrip("/") for host in hosts)


def check_submit_to(value: str) -> str:
    """``turkSubmitTo`` as the origin it must be (no path, query, port or user), or EntryError."""
    parts = urlsplit(value.strip())
    origin = f"{parts.scheme}://{parts.netloc}"
    clean = not (parts.query or parts.fragment or parts.username or parts.password)
    if not (clean and parts.path in ("", "/") and origin in allowed_submit_hosts()):
        raise EntryError(
            "This link's turkSubmitTo is not a Mechanical Turk address; open the study from its "
            "HIT on Mechanical Turk."
        )
    return origin


def _mturk_id(request: HttpRequest, parameter: str, pattern: re.Pattern[str]) -> str:
    value = request.GET.get(parameter, "").strip()
    if not value:
        raise EntryError(
            f"This link has no {parameter}, which Mechanical Turk adds; open the study from its "
            "HIT on Mechanical Turk."
        )
    if not pattern.match(value):
        raise EntryError(
            f"This link's {parameter} is not one Mechanical Turk gives; open the study from its "
            "HIT on Mechanical Turk."
        )
    return value


def _published_hit_ids(study: Study) -> set[str]:
    entries = LedgerEntry.objects.filter(
        study=study, recruiter=RecruiterKind.MTURK, action="publish", status=LedgerStatus.DONE
    ).values_list("response", flat=True)
    return {str(response.get("HITId")) for response in entries if response.get("HITId")}


def _check_not_taken(study: Study, worker: str, assignment: str) -> None:
    """One participation per worker: a worker back with another assignment is turned away."""
    earlier = Participant.objects.filter(study=study, external_id=worker).first()
    if earlier is not None and earlier.recruiter_data.get("assignmentId") != assignment:
        raise EntryError(
            "You have already taken part in this study (through an earlier HIT or an assignment "
            "you returned), and each worker may take part once. Please return this HIT; "
            "thank you for your interest."
        )
    other = Participant.objects.filter(study=study, recruiter_data__assignmentId=assignment)
    if other.exclude(external_id=worker).exists():
        raise EntryError(
            "This assignment belongs to another worker; open the study from your own HIT."
        )


class MTurkRecruiter(Recruiter):
    """Workers arrive in MTurk's frame and submit their assignment back to it."""

    kind = RecruiterKind.MTURK.value
    # turkSubmitTo's hosts, and worker.mturk.com: the worker site that frames ExternalQuestions.
    frame_ancestors: ClassVar[tuple[str, ...]] = (*SUBMIT_HOSTS, "https://worker.mturk.com")
    how_to_resume = "Continue from the HIT you accepted on Mechanical Turk."

    @classmethod
    def check_config(cls, config: Mapping[str, object]) -> dict[str, Any]:
        return check_mturk_config(config).to_dict()

    def read_entry(self, request: HttpRequest, study: Study) -> Identity:
        assignment = _mturk_id(request, "assignmentId", re.compile(r"^[A-Z0-9_]{1,64}$"))
        if assignment == PREVIEW_ASSIGNMENT:
            return Identity(external_id="", preview=True)
        if not _MTURK_ID.match(assignment):
            raise EntryError(
                "This link's assignmentId is not one Mechanical Turk gives; open the study from "
                "its HIT on Mechanical Turk."
            )
        hit = _mturk_id(request, "hitId", _MTURK_ID)
        worker = _mturk_id(request, "workerId", _WORKER_ID)
        submit_to = check_submit_to(request.GET.get("turkSubmitTo", ""))
        if hit not in _published_hit_ids(study):
            raise EntryError(
                "This HIT is not one of this study's; open the study from its HIT on Mechanical "
                "Turk."
            )
        _check_not_taken(study, worker, assignment)
        data = {"assignmentId": assignment, "hitId": hit, "turkSubmitTo": submit_to}
        return Identity(external_id=worker, session=assignment, data=data)

    def completion(self, participant: Participant) -> Completion:
        # The submit must come from inside MTurk's frame: a page of ours that posts it.
        path = reverse("surveys:mturk_submit", args=[participant.study.code, participant.code])
        return Completion(redirect_url=path)
