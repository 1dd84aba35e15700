"""Prolific's webhooks: verified over the raw bytes, deduplicated on what was signed, then applied.

Verification follows Prolific's "Verifying" page: each request carries
``X-Prolific-Request-Signature`` and ``X-Prolific-Request-Timestamp`` (a UNIX time; seconds or
milliseconds are both read), and the signature is the base64 of HMAC-SHA256, keyed with the
workspace's signing secret, over the timestamp followed by the body. Only those two headers
and the body are signed, so nothing is parsed, and no other header is trusted, until the
signature over the raw bytes checks out. A timestamp more than :data:`MAX_AGE_S` from now is
refused, so a captured request cannot be replayed later.

The secret is ``PROLIFIC_HOOK_SECRET`` when set, else the one ``prolific hooks subscribe`` (or
the staff page's button) created or adopted for the workspace (:class:`HookSecret`).

Delivery is at least once: a delivery is kept once by Prolific's ``X-Event-ID`` (its retries
keep it) and once by the digest of the signed timestamp and body, so a replayed capture under a
new, unsigned event ID is still a repeat. Events may arrive out of order: a submission's
statuses are ordered by the signed timestamp, capped at now; the unsigned ``X-Timestamp`` may
only make an event older, never newer, so it cannot carry a replay past a later status.

Every malformed delivery (headers, encoding, nesting, shape) is refused with a 4xx and nothing
stored; what a well-formed event names is matched in :mod:`.hook_match`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction

from surveys.models import HookEvent, HookResolution, HookSecret
from surveys.recruiting.prolific.hook_match import (
    STATUS_EVENTS,
    SUBMISSION_EVENT,
    HookEventData,
    do_match_event,
)
from surveys.recruiting.prolific.plans import RECRUITER
from surveys.recruiting.prolific.recruiter import is_prolific_id

MAX_AGE_S = 300
MAX_BODY_BYTES = 64 * 1024
# Prolific's events are flat objects; anything deeper is not one of them.
MAX_DEPTH = 8
SIGNATURE = "X-Prolific-Request-Signature"
TIMESTAMP = "X-Prolific-Request-Timestamp"
EVENT_ID = "X-Event-ID"
EVENT_TIME = "X-Timestamp"
FIELD_MAX = 200
STATUS_MAX = 40
# A UNIX time in seconds stays below this until the year 5138: larger ones are milliseconds.
MILLISECONDS_FROM = 10**11
_UNIX_TIME = re.compile(r"^[0-9]{1,16}(\.[0-9]{1,9})?$")
_EVENT_ID = re.compile(r"^[\x21-\x7e]{1,200}$")
_SIGNATURE_MAX = 200


class HookRejected(Exception):
    """A delivery refused before anything is stored; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class HookNotConfigured(HookRejected):
    """No signing secret here: nothing can be verified (Prolific retries later)."""

    def __init__(self) -> None:
        super().__init__(
            503,
            "PROLIFIC_HOOK_SECRET is not set on this server and no workspace secret is stored: "
            "run `manage.py prolific hooks subscribe` (or set PROLIFIC_HOOK_SECRET to the "
            "workspace's secret) so deliveries can be verified",
        )


@dataclass(frozen=True)
class HookOutcome:
    """What became of a delivery: ``applied``, ``recorded`` (kept; not, or not yet, acted on)
    or ``duplicate`` (seen before)."""

    status: str
    event_id: str


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Prolific's signature of ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signing_secrets() -> list[str]:
    """The secrets a delivery may be signed with: the environment's, else the stored ones."""
    configured = os.environ.get("PROLIFIC_HOOK_SECRET", "").strip()
    if configured:
        return [configured]
    stored = HookSecret.objects.filter(recruiter=RECRUITER)
    workspace = os.environ.get("PROLIFIC_WORKSPACE_ID", "").strip()
    if workspace:
        stored = stored.filter(workspace_id=workspace)
    return [value for value in stored.values_list("value", flat=True) if value]


def unix_time(raw: str) -> float | None:
    """A UNIX time in seconds from seconds or milliseconds; None when it is not one."""
    text = raw.strip()
    if not _UNIX_TIME.match(text):
        return None
    value = float(text)
    return value / 1000 if value >= MILLISECONDS_FROM else value


def check_signature(headers: Mapping[str, str], body: bytes, now: float) -> float:
    """Refuse a delivery that is unsigned, malformed, signed with another secret, or stale;
    the signed time (seconds) of one that passes.

    Raises:
        HookNotConfigured: no secret is known here.
        HookRejected: 401 for missing headers, 400 for malformed ones, 403 for a bad
            signature or a stale timestamp.
    """
    secrets = signing_secrets()
    if not secrets:
        raise HookNotConfigured()
    sent, stamp = headers.get(SIGNATURE, "").strip(), headers.get(TIMESTAMP, "").strip()
    if not sent or not stamp:
        raise HookRejected(401, f"unsigned: {SIGNATURE} and {TIMESTAMP} are required")
    if not sent.isascii() or len(sent) > _SIGNATURE_MAX:
        raise HookRejected(400, f"{SIGNATURE} is malformed: base64 text is expected")
    signed_at = unix_time(stamp) if stamp.isascii() else None
    if signed_at is None:
        raise HookRejected(400, f"{TIMESTAMP} is not a UNIX time (seconds or milliseconds)")
    given = sent.encode("ascii")
    if not any(hmac.compare_digest(signature(s, stamp, body).encode(), given) for s in secrets):
        raise HookRejected(403, "bad signature: not signed with this workspace's hook secret")
    age = abs(now - signed_at)
    if not age <= MAX_AGE_S:
        raise HookRejected(
            403, f"stale: sent {age:.0f} s away from now (at most {MAX_AGE_S} s); not replayed"
        )
    return signed_at


def signed_digest(headers: Mapping[str, str], body: bytes) -> str:
    """The SHA-256 of exactly what Prolific signs: a replay has the same, whatever its other
    headers say."""
    return hashlib.sha256(headers[TIMESTAMP].strip().encode() + body).hexdigest()


def event_time(headers: Mapping[str, str], signed_at: float, now: float) -> float:
    """When the event happened, for ordering: the signed time capped at now; an earlier
    ``X-Timestamp`` (Prolific's event time, unsigned) may move it back, never forward."""
    when = min(signed_at, now)
    raw = headers.get(EVENT_TIME, "").strip()
    if not raw or not raw.isascii():
        return when
    reported = unix_time(raw)
    if reported is None:
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            reported = parsed.replace(tzinfo=parsed.tzinfo or UTC).timestamp()
        except (ValueError, OverflowError, OSError):
            return when
    return min(when, reported)


def _depth(text: str) -> int:
    """How deeply JSON text nests, counted without parsing (brackets inside strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is out of range")
    return value


def _storable(value: Any) -> bool:
    """Whether every database takes the value: no NUL and no lone surrogate in its text (the
    depth is already bounded)."""
    if isinstance(value, dict):
        return all(_storable(key) and _storable(inner) for key, inner in value.items())
    if isinstance(value, list):
        return all(_storable(inner) for inner in value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return "\x00" not in value
    return True


def _text(payload: Mapping[str, Any], key: str, limit: int = FIELD_MAX) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise HookRejected(400, f"the event's {key} must be a non-empty string")
    return value.strip()


def parse_event(body: bytes) -> tuple[HookEventData, dict[str, Any]]:
    """The event in a verified body, and the body as stored.

    Raises:
        HookRejected: 400 for a body that is not UTF-8 JSON, nests too deeply, or lacks the
            fields its event type needs (``status`` for status changes).
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HookRejected(400, "the body is not JSON (UTF-8 text is expected)") from None
    if _depth(text) > MAX_DEPTH:
        raise HookRejected(400, f"the body is not JSON of an event (nested over {MAX_DEPTH})")
    try:
        payload = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except ValueError:
        raise HookRejected(400, "the body is not JSON") from None
    if not isinstance(payload, dict):
        raise HookRejected(400, "the body must be a JSON object")
    if not _storable(payload):
        raise HookRejected(400, "the body's text holds NUL or unpaired surrogate characters")
    kind = _text(payload, "event_type", 100)
    resource = _text(payload, "resource_id")
    status = participant = ""
    if kind in STATUS_EVENTS:
        if not is_prolific_id(resource):
            raise HookRejected(400, "the event's resource_id must be a Prolific ID")
        status = _text(payload, "status", STATUS_MAX)
    if kind == SUBMISSION_EVENT:
        raw = payload.get("participant_id")
        if raw is not None and not isinstance(raw, str):
            raise HookRejected(400, "the event's participant_id must be a string")
        participant = raw.strip().lower() if raw and is_prolific_id(raw.strip()) else ""
    event = HookEventData(kind, resource.lower(), status, participant)
    return event, payload


def _event_id(headers: Mapping[str, str]) -> str:
    event_id = headers.get(EVENT_ID, "").strip()
    if not _EVENT_ID.match(event_id):
        raise HookRejected(
            400, f"{EVENT_ID} is required (printable ASCII, at most {FIELD_MAX} characters)"
        )
    return event_id


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
    signed_at = check_signature(headers, body, now)
    event_id = _event_id(headers)
    event, payload = parse_event(body)
    digest = signed_digest(headers, body)
    reported_at = event_time(headers, signed_at, now)
    with transaction.atomic():
        try:
            with transaction.atomic():
                row = HookEvent.objects.create(
                    recruiter=RECRUITER, event_id=event_id, event_type=event.kind,
                    payload=payload, digest=digest, resolution=HookResolution.UNMATCHED,
                )  # fmt: skip
        except IntegrityError:
            return HookOutcome("duplicate", event_id)
        resolution = do_match_event(event, reported_at)
        row.resolution = resolution
        row.processed = resolution == HookResolution.APPLIED
        row.save(update_fields=["resolution", "processed"])
        if resolution == HookResolution.UNMATCHED:
            # Queued once committed, so the worker finds the row; a broker that is down only
            # delays it to the periodic sweep (robust: the delivery is already kept).
            transaction.on_commit(lambda: _queue_resolution(row.pk), robust=True)
    outcome = "applied" if resolution == HookResolution.APPLIED else "recorded"
    return HookOutcome(outcome, event_id)


def _queue_resolution(event_pk: int) -> None:
    # Imported here: the tasks module imports the services that import this one.
    from surveys.recruiting.prolific.tasks import resolve_prolific_hook_event

    resolve_prolific_hook_event.apply_async(args=(event_pk,))
