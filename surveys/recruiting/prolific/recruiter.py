"""Prolific: participants arrive with PROLIFIC_PID, STUDY_ID and SESSION_ID.

Prolific opens the study's URL with its three parameters filled in (the researcher chooses
"I'll use URL parameters"; ``prolific create`` sets this up): ``PROLIFIC_PID`` is the
participant's stable ID, so one PID takes part once; ``SESSION_ID`` (the submission) is the
proof of that participation, recorded at entry in ``Participant.recruiter_session``: a PID that
has started resumes only with the same SESSION_ID (or in the browser that started it), since a
PID alone is no secret. ``STUDY_ID`` and ``SESSION_ID`` are also kept in
``Participant.recruiter_data`` to reconcile with Prolific's submissions later. Once the study
knows its Prolific study ID, a ``STUDY_ID`` naming another study is refused. At the end the
participant is sent back to Prolific with the study's completion code.

A Prolific participant is verified, counts toward "full" and is exported as verified only once
the sync or a webhook has matched a Prolific submission to them (a ``Submission`` row): any
well-formed PID can be typed into the link, and only Prolific knows which ones are real.

Settings (``recruiter_config``), all optional:

* ``study_id``: the Prolific study's ID, written by ``prolific create`` (or pasted by hand).
* ``review``: ``manual`` (default: the researcher approves, after checking exclusions) or
  ``automatic`` (Prolific approves every submission that brings the completion code).
* ``status``: Prolific's status of the study as last synced (written by the sync and webhooks).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest

from surveys.models import Participant, RecruiterKind, Study
from surveys.recruiting.base import (
    Completion,
    EntryError,
    Identity,
    Recruiter,
    RecruiterConfigError,
)

COMPLETION_URL = "https://app.prolific.com/submissions/complete"
PID = "PROLIFIC_PID"
STUDY_ID = "STUDY_ID"
SESSION_ID = "SESSION_ID"
REVIEW_MODES = ("manual", "automatic")
SETTINGS = ("study_id", "review", "status")
# Prolific's IDs (participants, studies, submissions) are 24 hexadecimal digits.
_PROLIFIC_ID = re.compile(r"^[0-9a-fA-F]{24}$")
_STATUS = re.compile(r"^[A-Z][A-Z _-]{0,39}$")


def is_prolific_id(value: object) -> bool:
    return isinstance(value, str) and bool(_PROLIFIC_ID.match(value))


def check_prolific_config(config: Mapping[str, object]) -> dict[str, Any]:
    """The Prolific settings of a study, checked; see the module for the fields.

    Raises:
        RecruiterConfigError: An unknown setting or a bad value.
    """
    unknown = sorted(set(map(str, config)) - set(SETTINGS))
    if unknown:
        raise RecruiterConfigError(
            f"unknown Prolific setting(s) {', '.join(unknown)}; the settings are "
            f"{', '.join(SETTINGS)}"
        )
    checked: dict[str, Any] = {"review": config.get("review") or "manual"}
    if checked["review"] not in REVIEW_MODES:
        raise RecruiterConfigError(
            f"review must be manual or automatic, got {config.get('review')!r}"
        )
    study_id = config.get("study_id")
    if study_id not in (None, ""):
        if not is_prolific_id(study_id):
            raise RecruiterConfigError(
                f"study_id must be a Prolific study ID (24 hexadecimal digits, as in the "
                f"study's Prolific URL), got {study_id!r}"
            )
        checked["study_id"] = str(study_id).lower()
    status = config.get("status")
    if status not in (None, ""):
        if not isinstance(status, str) or not _STATUS.match(status):
            raise RecruiterConfigError(f"status must be a Prolific study status, got {status!r}")
        checked["status"] = status
    return checked


def _configured_study_id(study: Study) -> str:
    try:
        return str(check_prolific_config(study.recruiter_config or {}).get("study_id", ""))
    except RecruiterConfigError:
        raise EntryError(
            "This study's Prolific settings are not valid yet. Please message the researcher "
            "through Prolific; you can try again later with the same link."
        ) from None


def _prolific_id(request: HttpRequest, name: str, required: bool) -> str:
    value = request.GET.get(name, "").strip()
    if not value:
        if required:
            raise EntryError(
                f"The link has no {name}. Open this study from Prolific (app.prolific.com), "
                "which adds your Prolific ID to the link."
            )
        return ""
    if "%" in value or "{" in value:
        raise EntryError(
            f"The link's {name} is still Prolific's placeholder ({value[:30]}). Open the study "
            "from Prolific, which fills it in."
        )
    if not is_prolific_id(value):
        raise EntryError(
            f"The link's {name} is not a Prolific ID (24 letters a-f and digits). Open the "
            "study from Prolific again rather than copying the link."
        )
    return value.lower()


class ProlificRecruiter(Recruiter):
    """Participants arrive from Prolific and return there with the completion code."""

    kind = RecruiterKind.PROLIFIC.value
    how_to_resume = (
        "Continue in the browser where you started, or open the study again from your "
        "submission on Prolific (app.prolific.com), which brings your session with it."
    )

    @classmethod
    def check_config(cls, config: Mapping[str, object]) -> dict[str, Any]:
        return check_prolific_config(config)

    def read_entry(self, request: HttpRequest, study: Study) -> Identity:
        pid = _prolific_id(request, PID, required=True)
        study_id = _prolific_id(request, STUDY_ID, required=False)
        session_id = _prolific_id(request, SESSION_ID, required=False)
        expected = _configured_study_id(study)
        if expected and study_id and study_id != expected:
            raise EntryError(
                "This link belongs to another Prolific study (its STUDY_ID does not match this "
                "study). Open the study you were invited to from Prolific again."
            )
        data = {STUDY_ID: study_id, SESSION_ID: session_id}
        return Identity(
            external_id=pid, session=session_id, data={k: v for k, v in data.items() if v}
        )

    def participant_link(self, study: Study, request: HttpRequest | None = None) -> str:
        """The study URL to give Prolific, with its three placeholders."""
        return prolific_entry_url(super().participant_link(study, request))

    def completion(self, participant: Participant) -> Completion:
        code = participant.study.completion_code
        return Completion(redirect_url=f"{COMPLETION_URL}?{urlencode({'cc': code})}")


def prolific_entry_url(base_link: str) -> str:
    """The study URL Prolific opens: ``base_link`` with Prolific's three placeholders."""
    placeholders = "&".join(f"{name}={{{{%{name}%}}}}" for name in (PID, STUDY_ID, SESSION_ID))
    return f"{base_link}?{placeholders}"
