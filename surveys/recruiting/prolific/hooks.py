"""Prolific's webhooks: verified, deduplicated, then applied to submissions and studies.

Verification follows Prolific's "Verifying" page: each request carries
``X-Prolific-Request-Signature`` and ``X-Prolific-Request-Timestamp`` (UNIX seconds), and the
signature is the base64 of HMAC-SHA256, keyed with the workspace's hook secret (here
``PROLIFIC_HOOK_SECRET``, from the environment), over the timestamp followed by the body.
Assumption: the body is signed as sent; Prolific's example signs ``json.dumps`` of the parsed
body, so a signature over that form is accepted as well. A timestamp more than
:data:`MAX_AGE_S` from now is refused, so a captured request cannot be replayed later.

Delivery is at least once, so every event is kept once by its ``X-Event-ID`` (the
:class:`HookEvent` constraint) and a repeat changes nothing. Events may arrive out of order:
``X-Timestamp`` (or the request's timestamp) orders a submission's statuses.

``submission.status.change`` updates (or creates) the :class:`Submission` and marks the
participant returned on RETURNED or TIMED-OUT; ``study.status.change`` records the Prolific
study's status. An event that names nothing of ours is kept unprocessed; the periodic sync
picks up whatever it was about.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q

from surveys.models import HookEvent, Participant, Study, Submission
from surveys.recruiting.prolific.api import ProlificError
from surveys.recruiting.prolific.plans import RECRUITER
from surveys.recruiting.prolific.recruiter import SESSION_ID
from surveys.recruiting.prolific.sync import do_record_study_status, do_record_submission

MAX_AGE_S = 300
MAX_BODY_BYTES = 64 * 1024
SIGNATURE = "X-Prolific-Request-Signature"
TIMESTAMP = "X-Prolific-Request-Timestamp"
EVENT_ID = "X-Event-ID"
EVENT_TIME = "X-Timestamp"
SUBMISSION_EVENT = "submission.status.change"
STUDY_EVENT = "study.status.change"
FIELD_MAX = 200


class HookRejected(Exception):
    """A delivery refused before anything is stored; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class HookNotConfigured(HookRejected):
    """No hook secret here: nothing can be verified (Prolific retries later)."""

    def __init__(self) -> None:
        super().__init__(
            503,
            "PROLIFIC_HOOK_SECRET is not set on this server: set it to the workspace's hook "
            "secret (POST /api/v1/hooks/secrets/) so deliveries can be verified",
        )


@dataclass(frozen=True)
class HookOutcome:
    """What became of a delivery: ``applied``, ``recorded`` (kept, names nothing of ours)
    or ``duplicate`` (seen before)."""

    status: str
    event_id: str


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Prolific's signature of ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _signed_forms(body: bytes) -> list[bytes]:
    forms = [body]
    with contextlib.suppress(ValueError):
        forms.append(json.dumps(json.loads(body)).encode())
    return forms


def check_signature(headers: Mapping[str, str], body: bytes, now: float) -> None:
    """Refuse a delivery that is unsigned, signed with another secret, or stale.

    Raises:
        HookNotConfigured: no secret is set here.
        HookRejected: 401 for missing headers, 403 for a bad signature or a stale timestamp.
    """
    secret = os.environ.get("PROLIFIC_HOOK_SECRET", "")
    if not secret:
        raise HookNotConfigured()
    sent, stamp = headers.get(SIGNATURE, ""), headers.get(TIMESTAMP, "")
    if not sent or not stamp:
        raise HookRejected(401, f"unsigned: {SIGNATURE} and {TIMESTAMP} are required")
    if not any(
        hmac.compare_digest(signature(secret, stamp, form), sent) for form in _signed_forms(body)
    ):
        raise HookRejected(403, "bad signature: not signed with this workspace's hook secret")
    try:
        age = abs(now - float(stamp))
    except ValueError:
        raise HookRejected(403, f"{TIMESTAMP} is not a UNIX time") from None
    if not age <= MAX_AGE_S:
        raise HookRejected(
            403, f"stale: sent {age:.0f} s away from now (at most {MAX_AGE_S} s); not replayed"
        )


def _event_time(headers: Mapping[str, str], fallback: float) -> float:
    raw = headers.get(EVENT_TIME, "").strip()
    if not raw:
        return fallback
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return fallback


def _text(payload: Mapping[str, Any], key: str, required: bool = True) -> str:
    value = payload.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip() or len(value) > FIELD_MAX:
        raise HookRejected(400, f"the event's {key} must be a non-empty string")
    return value.strip()


def _parse(headers: Mapping[str, str], body: bytes) -> tuple[str, dict[str, Any]]:
    event_id = headers.get(EVENT_ID, "").strip()
    if not event_id or len(event_id) > FIELD_MAX:
        raise HookRejected(400, f"{EVENT_ID} is required (at most {FIELD_MAX} characters)")
    try:
        payload = json.loads(body)
    except ValueError:
        raise HookRejected(400, "the body is not JSON") from None
    if not isinstance(payload, dict):
        raise HookRejected(400, "the body must be a JSON object")
    _text(payload, "event_type")
    _text(payload, "resource_id")
    return event_id, payload


def _submission_study(submission_id: str, participant_id: str) -> Study | None:
    """Our study of a submission: its row, else the participant who entered with its
    SESSION_ID, else the one participant with its PID (one PID may take several of our
    studies: only an unambiguous match counts)."""
    known = Submission.objects.filter(recruiter=RECRUITER, external_id=submission_id).first()
    if known is not None:
        return known.study
    people = Participant.objects.filter(study__recruiter=RECRUITER).order_by()
    matches = [Q(**{f"recruiter_data__{SESSION_ID}": submission_id})]
    if participant_id:
        matches.append(Q(external_id=participant_id))
    for match in matches:
        studies = list(people.filter(match).values_list("study_id", flat=True).distinct()[:2])
        if studies:
            return Study.objects.get(pk=studies[0]) if len(studies) == 1 else None
    return None


def _apply(payload: Mapping[str, Any], reported_at: float) -> bool:
    """Apply one verified event; whether it named something of ours."""
    kind, resource = payload["event_type"], payload["resource_id"].lower()
    if kind == SUBMISSION_EVENT:
        participant_id = _text(payload, "participant_id", required=False).lower()
        study = _submission_study(resource, participant_id)
        if study is None:
            return False
        record = {"id": resource, "participant_id": participant_id, "status": payload["status"]}
        do_record_submission(study, record, reported_at)
        return True
    if kind == STUDY_EVENT:
        study = Study.objects.filter(
            recruiter=RECRUITER, recruiter_config__study_id=resource
        ).first()
        if study is None:
            return False
        do_record_study_status(study, _text(payload, "status"))
        return True
    return False


def do_receive_hook(
    headers: Mapping[str, str], body: bytes, now: float | None = None
) -> HookOutcome:
    """Verify, keep and apply one delivery of Prolific's webhooks.

    Raises:
        HookRejected: the delivery is refused; nothing is stored.
    """
    now = time.time() if now is None else now
    if len(body) > MAX_BODY_BYTES:
        raise HookRejected(413, f"the body is over {MAX_BODY_BYTES} bytes")
    check_signature(headers, body, now)
    event_id, payload = _parse(headers, body)
    reported_at = _event_time(headers, float(headers[TIMESTAMP]))
    with transaction.atomic():
        try:
            with transaction.atomic():
                event = HookEvent.objects.create(
                    recruiter=RECRUITER, event_id=event_id,
                    event_type=payload["event_type"][:100], payload=payload,
                )  # fmt: skip
        except IntegrityError:
            return HookOutcome("duplicate", event_id)
        try:
            with transaction.atomic():
                applied = _apply(payload, reported_at)
        except (ProlificError, HookRejected):
            # Verified but not understood (a status Prolific added since): kept for the sync.
            applied = False
        if applied:
            event.processed = True
            event.save(update_fields=["processed"])
    return HookOutcome("applied" if applied else "recorded", event_id)
