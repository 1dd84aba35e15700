"""Helpers of the webhook tests: deliveries signed as Prolific signs them, and a study of ours
with a participant who entered with a SESSION_ID. This module holds no tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client

from surveys.models import ParticipantStatus
from tests.surveys.factories import ParticipantFactory, StudyFactory
from tests.surveys.recruiting.prolific.stub import new_id

SECRET = "hook-secret-of-the-workspace"
URL = "/hooks/prolific/"


@pytest.fixture
def hook_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PROLIFIC_HOOK_SECRET", SECRET)
    return SECRET


def sign(body: bytes, timestamp: str, secret: str = SECRET) -> str:
    """As Prolific's docs sign: base64(HMAC-SHA256(secret, timestamp + body))."""
    mac = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def signed_headers(
    body: bytes,
    event_id: str | None = None,
    *,
    timestamp: float | None = None,
    secret: str = SECRET,
    milliseconds: bool = False,
) -> dict[str, str]:
    """The headers of a delivery of ``body``, as test-client keyword arguments."""
    when = time.time() if timestamp is None else timestamp
    stamp = str(int(when * 1000)) if milliseconds else str(int(when))
    return {
        "HTTP_X_PROLIFIC_REQUEST_TIMESTAMP": stamp,
        "HTTP_X_PROLIFIC_REQUEST_SIGNATURE": sign(body, stamp, secret),
        "HTTP_X_EVENT_ID": event_id if event_id is not None else new_id(),
    }


def deliver(
    payload: dict[str, Any] | bytes,
    event_id: str | None = None,
    *,
    timestamp: float | None = None,
    secret: str = SECRET,
    signature: str | None = None,
    event_time: str | None = None,
    milliseconds: bool = False,
) -> HttpResponse:
    """POST one delivery to the webhook, signed unless ``signature`` says otherwise."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = signed_headers(
        body, event_id, timestamp=timestamp, secret=secret, milliseconds=milliseconds
    )
    if signature is not None:
        headers["HTTP_X_PROLIFIC_REQUEST_SIGNATURE"] = signature
    if event_time is not None:
        headers["HTTP_X_TIMESTAMP"] = event_time
    return Client().post(URL, body, content_type="application/json", **headers)


def status_event(submission: str, pid: str, status: str) -> dict[str, str]:
    return {"event_type": "submission.status.change", "resource_id": submission,
            "participant_id": pid, "status": status}  # fmt: skip


@pytest.fixture
def taking_part(hook_secret: str) -> tuple[Any, Any, str]:
    """A Prolific study with one participant who entered with a SESSION_ID."""
    prolific_id, pid, session = new_id(), new_id(), new_id()
    study = StudyFactory(recruiter="prolific", recruiter_config={"study_id": prolific_id})
    entered = {"STUDY_ID": prolific_id, "SESSION_ID": session}
    person = ParticipantFactory(study=study, external_id=pid, recruiter="prolific",
                                status=ParticipantStatus.CONSENTED,
                                recruiter_data=entered)  # fmt: skip
    return study, person, session
