"""The webhook endpoint under hostile input (finding 8): nothing is parsed before the signature
over the raw bytes checks out, malformed headers and bodies get a 4xx with nothing stored, and
a hypothesis fuzz of bodies and headers never gets a 5xx or leaves a row."""

from __future__ import annotations

import json
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveys.models import HookEvent, Participant, ParticipantStatus, Submission
from tests.surveys.recruiting.prolific.fixtures import (
    URL,
    deliver,
    sign,
    signed_headers,
    status_event,
)
from tests.surveys.recruiting.prolific.stub import new_id

pytestmark = pytest.mark.django_db

DEEP = b"[" * 60_000
HEADERS = ("X-Prolific-Request-Signature", "X-Prolific-Request-Timestamp", "X-Event-ID",
           "X-Timestamp", "X-Hook-Secret")  # fmt: skip
FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def nothing_stored() -> bool:
    return not HookEvent.objects.exists() and not Submission.objects.exists()


def post(body: bytes, **headers: str) -> Any:
    return Client().post(URL, body, content_type="application/json", headers=headers)


def test_a_deeply_nested_unsigned_body_is_refused_unparsed(hook_secret):
    stamp = str(int(time.time()))
    unsigned = post(DEEP)
    forged = post(DEEP, **{HEADERS[0]: "AAAA", HEADERS[1]: stamp, HEADERS[2]: "ev"})
    assert (unsigned.status_code, forged.status_code) == (401, 403)
    assert nothing_stored()


def test_a_deeply_nested_signed_body_is_a_clear_400(hook_secret):
    answer = Client().post(URL, DEEP, content_type="application/json", **signed_headers(DEEP))
    assert answer.status_code == 400 and b"nested" in answer.content
    assert nothing_stored()


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Prolific-Request-Signature", "signé\u00ff=="),
        ("X-Prolific-Request-Signature", "A" * 5000),
        ("X-Prolific-Request-Timestamp", "١٧٠٠٠٠٠٠٠٠"),  # Arabic-Indic digits
        ("X-Prolific-Request-Timestamp", "yesterday"),
        ("X-Prolific-Request-Timestamp", "1e10"),
        ("X-Event-ID", "évènement"),
        ("X-Event-ID", "two words"),
    ],
)
def test_a_malformed_header_is_a_400_never_a_500(taking_part, header, value):
    study, person, session = taking_part
    body = json.dumps(status_event(session, person.external_id, "RETURNED")).encode()
    headers = signed_headers(body)
    headers[f"HTTP_{header.upper().replace('-', '_')}"] = value
    answer = Client().post(URL, body, content_type="application/json", **headers)
    assert answer.status_code == 400 and header.encode() in answer.content
    assert nothing_stored()
    person.refresh_from_db()
    assert person.status == ParticipantStatus.CONSENTED


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"event_type": "submission.status.change", "resource_id": "{s}", "participant_id": "{p}"},
         b"status must be"),
        ({"event_type": "study.status.change", "resource_id": "{s}", "metadata": {}},
         b"status must be"),
        ({"event_type": "submission.status.change", "resource_id": "{s}", "status": 5},
         b"status must be"),
        ({"event_type": "submission.status.change", "resource_id": "{s}", "status": "RETURNED",
          "participant_id": ["{p}"]}, b"participant_id must be"),
        ({"event_type": "submission.status.change", "resource_id": "not-an-id",
          "status": "RETURNED"}, b"must be a Prolific ID"),
        ({"event_type": "submission.status.change", "resource_id": {"id": "{s}"},
          "status": "RETURNED"}, b"resource_id must be"),
    ],
)  # fmt: skip
def test_a_signed_event_of_the_wrong_shape_is_a_400_and_stores_nothing(taking_part, event, message):
    study, person, session = taking_part
    text = json.dumps(event).replace("{s}", session).replace("{p}", person.external_id)
    answer = deliver(text.encode())
    assert answer.status_code == 400 and message in answer.content
    assert nothing_stored()


@pytest.mark.parametrize(
    "body",
    [
        b'{"event_type": "x", "resource_id": "\xff\xfe"}',
        b'{"event_type": NaN}',
        b"",
        b'{"event_type": "x", "resource_id": "y", "n": 1e999}',
        b'{"event_type": "x", "resource_id": "y\\u0000"}',
        b'{"event_type": "x", "resource_id": "\\ud800"}',
    ],
    ids=["latin-1", "nan", "empty", "infinite", "nul", "lone-surrogate"],
)
def test_a_signed_body_that_is_not_storable_json_is_a_400(hook_secret, body):
    answer = deliver(body)
    assert answer.status_code == 400 and nothing_stored()


def test_malformed_headers_over_a_real_socket_never_500(live_server, hook_secret):
    """Header bytes as a client sends them (latin-1 on the wire), through a real server."""
    parts = urlsplit(live_server.url)
    stamp = str(int(time.time())).encode()
    body = DEEP[:5000]
    request = (
        b"POST " + URL.encode() + b" HTTP/1.1\r\nHost: " + parts.netloc.encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n"
        b"X-Prolific-Request-Signature: \xe9\xff\xfe==\r\n"
        b"X-Prolific-Request-Timestamp: " + stamp + b"\r\nX-Event-ID: \xc3\xa9v\r\n"
        b"Connection: close\r\n\r\n" + body
    )
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]


# --- fuzz -------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
    | st.sampled_from(["\x00", "\ud800", "\u00e9", 10**40]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=12,
)  # fmt: skip
# Near-valid events: every field drawn valid or not, then some dropped, so each shape check is
# reached (hypothesis simplifies towards the full, valid event).
EVENT_TYPES = ["submission.status.change", "study.status.change", "study.progress.change"]
EVENT_FIELDS = {
    "event_type": st.one_of(st.sampled_from(EVENT_TYPES), st.just(EVENT_TYPES[0]), json_values),
    "resource_id": st.one_of(st.just("{s}"), st.just("{s}"), st.just(new_id()), json_values),
    "participant_id": st.just("{p}") | json_values,
    "status": st.sampled_from(["RETURNED", "AWAITING REVIEW", "APPROVED", "odd"]) | json_values,
    "metadata": st.just({}) | json_values,
}
event_like = st.fixed_dictionaries(EVENT_FIELDS).flatmap(
    lambda event: st.sets(st.sampled_from(sorted(event))).map(
        lambda dropped: {key: value for key, value in event.items() if key not in dropped}
    )
)
events = event_like.map(lambda value: json.dumps(value).encode())
bodies = st.binary(max_size=400) | json_values.map(lambda v: json.dumps(v).encode()) | events
signed_bodies = st.one_of(events, events, events, bodies)
event_ids = st.one_of(st.uuids().map(str), st.uuids().map(str), st.text(max_size=40))
header_values = st.text(max_size=60) | st.sampled_from(["", "AAAA", "1700000000", "ev-1"])


@FUZZ
@given(body=bodies, headers=st.dictionaries(st.sampled_from(HEADERS), header_values))
def test_fuzz_unsigned_or_forged_deliveries_never_5xx_and_store_nothing(taking_part, body, headers):
    study, person, session = taking_part
    text = body.replace(b"{s}", session.encode()).replace(b"{p}", person.external_id.encode())
    wire = {name: value.encode("utf-8")[:200].decode("latin-1") for name, value in headers.items()}
    answer = post(text, **wire)
    assert answer.status_code < 500
    # Only the handshake answers 200 unsigned, and it stores nothing.
    assert answer.status_code != 200 or (wire.get(HEADERS[4]) and not wire.get(HEADERS[0]))
    assert nothing_stored()
    assert Participant.objects.get(pk=person.pk).status == ParticipantStatus.CONSENTED


@FUZZ
@given(body=signed_bodies, event_id=event_ids, extra=header_values)
def test_fuzz_signed_deliveries_never_5xx_and_store_nothing_when_refused(
    taking_part, body, event_id, extra
):
    study, person, session = taking_part
    text = body.replace(b"{s}", session.encode()).replace(b"{p}", person.external_id.encode())
    headers = signed_headers(text, event_id.encode("utf-8")[:200].decode("latin-1"))
    headers["HTTP_X_TIMESTAMP"] = extra.encode("utf-8")[:100].decode("latin-1")
    before = HookEvent.objects.count(), Submission.objects.count()
    answer = Client().post(URL, text, content_type="application/json", **headers)
    assert answer.status_code < 500
    if answer.status_code != 200:
        assert (HookEvent.objects.count(), Submission.objects.count()) == before


def test_a_signature_is_only_as_good_as_its_exact_bytes(taking_part):
    study, person, session = taking_part
    body = json.dumps(status_event(session, person.external_id, "RETURNED")).encode()
    stamp = str(int(time.time()))
    answer = Client().post(URL, body + b" ", content_type="application/json",
                           HTTP_X_PROLIFIC_REQUEST_TIMESTAMP=stamp, HTTP_X_EVENT_ID=new_id(),
                           HTTP_X_PROLIFIC_REQUEST_SIGNATURE=sign(body, stamp))  # fmt: skip
    assert answer.status_code == 403 and nothing_stored()
