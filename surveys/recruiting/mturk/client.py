"""The one door to Mechanical Turk: the boto3 client, retries, ledger calls, and one error line.

Amazon Mechanical Turk closed on 30 September 2026 (AWS's API reference carries the notice; new
requesters were refused from 30 July 2026). The adapter stays, for the paper's protocol and for
MTurk-compatible services (``MTURK_ENDPOINT_URL``), so whenever the service refuses or cannot be
reached, :func:`explain_mturk_error` turns the failure into one line that names the closure,
and every command and page shows that line instead of a traceback.

Credentials come from boto3's usual chain (environment variables, profile, instance role) and
are never stored. Writes go through the ledger (:func:`ledger_call`); reads retry throttling
themselves (:func:`read_call`). botocore's own retries are off so that every attempt of a
ledger call is counted in its entry.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
    ConnectionError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)

from surveys.models import LedgerEntry, RecruiterKind, Study
from surveys.recruiting.base import RecruiterConfigError
from surveys.recruiting.ledger import (
    BACKOFF_BASE_S,
    BACKOFF_MAX_S,
    MAX_ATTEMPTS,
    LedgerCallError,
    Step,
    do_ledger_step,
)
from surveys.recruiting.mturk.config import MTurkConfig, read_mturk_config

T = TypeVar("T")
# boto3 ships no type information; the client is typed loosely on purpose.
MTurkClient = Any

CLOSURE_NOTICE = (
    "Amazon Mechanical Turk closed on 30 September 2026 (AWS's MTurk API notice; new requesters "
    "were refused from 30 July 2026)"
)
ALTERNATIVES = (
    "point MTURK_ENDPOINT_URL at an MTurk-compatible service, or recruit through Prolific"
)
REGION = "us-east-1"
ENDPOINT_ENV = "MTURK_ENDPOINT_URL"
ENDPOINTS = {
    True: "https://mturk-requester-sandbox.us-east-1.amazonaws.com",
    False: "https://mturk-requester.us-east-1.amazonaws.com",
}
CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 30
# Answers that mean "try again later": throttling and the service's own faults.
RETRYABLE_CODES = frozenset(
    {"ThrottlingException", "Throttling", "ServiceFault", "ServiceUnavailable", "InternalFailure"}
)
CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "AccessDenied",
        "AccessDeniedException",
        "SignatureDoesNotMatch",
        "ExpiredTokenException",
        "AuthFailure",
    }
)
TOKEN_MAX = 64
DUPLICATE_CODES = ("AWS.MechanicalTurk.HitAlreadyExists", "AWS.MechanicalTurk.DuplicateRequest")


class MTurkUnavailable(RuntimeError):
    """Mechanical Turk refused or could not be reached; the message is one line to show."""


class Retry(Exception):
    """A throttled or faulted call, to be tried again with backoff."""


def endpoint_url(sandbox: bool) -> str:
    """The requester API's URL: ``MTURK_ENDPOINT_URL`` if set, else AWS's for the mode.

    Raises:
        MTurkUnavailable: ``MTURK_ENDPOINT_URL`` is not an http(s) URL.
    """
    url = os.environ.get(ENDPOINT_ENV, "").strip()
    if not url:
        return ENDPOINTS[sandbox]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MTurkUnavailable(
            f"{CLOSURE_NOTICE}; {ENDPOINT_ENV}={url!r} is not a URL such as "
            "https://mturk.example.org; fix or unset it."
        )
    return url


def new_client(sandbox: bool) -> MTurkClient:
    """A boto3 ``mturk`` client for the mode, credentials from the environment."""
    config = Config(
        region_name=REGION,
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"mode": "standard", "total_max_attempts": 1},
    )
    # A session of its own: credentials are read from the environment now, not cached earlier.
    session = boto3.session.Session()
    return session.client(
        "mturk", region_name=REGION, endpoint_url=endpoint_url(sandbox), config=config
    )


@dataclass(frozen=True)
class MTurkSession:
    """A study, its checked settings, and the client calls go through."""

    study: Study
    config: MTurkConfig
    client: MTurkClient
    sleep: Callable[[float], None] = time.sleep


def mturk_settings(study: Study) -> MTurkConfig:
    """The study's checked MTurk settings.

    Raises:
        MTurkUnavailable: the study does not recruit on MTurk or its settings are broken (the
            line says which setting).
    """
    if study.recruiter != RecruiterKind.MTURK:
        raise MTurkUnavailable(
            f"Study {study.slug!r} recruits through {study.get_recruiter_display()}, not "
            "Mechanical Turk; set recruiter: mturk in its spec first."
        )
    try:
        return read_mturk_config(study.recruiter_config)
    except RecruiterConfigError as exc:
        raise MTurkUnavailable(f"Study {study.slug!r} has bad MTurk settings: {exc}") from exc


def open_session(
    study: Study, client: MTurkClient | None = None, sleep: Callable[[float], None] = time.sleep
) -> MTurkSession:
    """A session for ``study``; a new client unless one is given (tests give a stubbed one).

    Raises:
        MTurkUnavailable: not an MTurk study, bad settings, or a bad endpoint.
    """
    config = mturk_settings(study)
    with mturk_errors():
        made = client if client is not None else new_client(config.sandbox)
    return MTurkSession(study, config, made, sleep)


def ledger_token(*parts: str) -> str:
    """A deterministic idempotency token of ``parts``, at most 64 characters (MTurk's limit)."""
    token = "-".join(parts)
    if len(token) <= TOKEN_MAX:
        return token
    digest = hashlib.sha256(token.encode()).hexdigest()
    return f"{parts[0][: TOKEN_MAX - 41]}-{digest[:40]}"


def is_retryable(exc: BaseException) -> bool:
    if not isinstance(exc, ClientError):
        return False
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return error_code(exc) in RETRYABLE_CODES or status >= 500


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def turk_code(exc: ClientError) -> str:
    """MTurk's own error code (``AWS.MechanicalTurk.HitAlreadyExists``), when it sent one."""
    return str(exc.response.get("TurkErrorCode", "") or "")


def error_message(exc: ClientError) -> str:
    return " ".join(str(exc.response.get("Error", {}).get("Message", "")).split())


def is_duplicate_request(exc: BaseException) -> bool:
    """MTurk's answer to a call whose ``UniqueRequestToken`` it has seen: the work is done."""
    if not isinstance(exc, ClientError):
        return False
    message = error_message(exc).lower()
    return (
        turk_code(exc) in DUPLICATE_CODES
        or "same client token" in message
        or ("duplicate" in message and "request" in message)
    )


def is_status_conflict(exc: BaseException) -> bool:
    """MTurk's "This operation can be called with a status of: ..." (decided already)."""
    return isinstance(exc, ClientError) and "status of" in error_message(exc).lower()


def _guarded(call: Callable[[], T]) -> Callable[[], T]:
    def guarded() -> T:
        try:
            return call()
        except ClientError as exc:
            if is_retryable(exc):
                raise Retry(f"{error_code(exc)}: {error_message(exc)}") from exc
            raise

    return guarded


def backoff_s(attempt: int) -> float:
    return float(min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2.0**attempt))


def read_call(session: MTurkSession, call: Callable[[], T]) -> T:
    """Make a read-only call, retrying throttling and service faults with backoff."""
    for attempt in range(MAX_ATTEMPTS):
        try:
            return call()
        except ClientError as exc:
            if not is_retryable(exc) or attempt == MAX_ATTEMPTS - 1:
                raise
            session.sleep(backoff_s(attempt))
    raise AssertionError("unreachable")


def pages(
    session: MTurkSession, operation: str, key: str, **params: Any
) -> Iterator[dict[str, Any]]:
    """Every item under ``key`` of a paged list call (100 a page, following ``NextToken``)."""
    method = getattr(session.client, operation)
    token = ""
    while True:
        request = {**params, "MaxResults": 100, **({"NextToken": token} if token else {})}
        answer = read_call(session, functools.partial(method, **request))
        yield from answer.get(key, [])
        token = answer.get("NextToken") or ""
        if not token:
            return


def ledger_call(
    session: MTurkSession,
    step: Step,
    call: Callable[[], Mapping[str, Any]],
    *,
    already_done: Callable[[BaseException], bool] | None = None,
    reconcile: Callable[[], Mapping[str, Any] | None] | None = None,
) -> LedgerEntry:
    """Make a state-changing call through the payment ledger, once, with retries."""
    return do_ledger_step(
        step,
        _guarded(call),
        retryable=(Retry,),
        already_done=already_done,
        reconcile=reconcile,
        sleep=session.sleep,
    )


def explain_mturk_error(exc: BaseException) -> str | None:
    """One line for a Mechanical Turk failure (anywhere in ``exc``'s causes), else None."""
    seen: BaseException | None = exc
    while seen is not None:
        line = _explain_one(seen)
        if line is not None:
            return line
        seen = seen.__cause__ or seen.__context__
    return None


def _explain_one(exc: BaseException) -> str | None:
    if isinstance(exc, MTurkUnavailable):
        return str(exc)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
        return (
            f"{CLOSURE_NOTICE}; no usable AWS credentials were found for the requester API (set "
            f"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE), or {ALTERNATIVES}."
        )
    if isinstance(exc, ConnectionError | HTTPClientError):
        where = getattr(exc, "kwargs", {}).get("endpoint_url") or "the requester API"
        return (
            f"{CLOSURE_NOTICE}; {where} cannot be reached ({type(exc).__name__}): {ALTERNATIVES}."
        )
    if isinstance(exc, ClientError):
        return _explain_refusal(exc)
    if isinstance(exc, BotoCoreError):
        return f"{CLOSURE_NOTICE}; the MTurk client failed: {' '.join(str(exc).split())}."
    return None


def _explain_refusal(exc: ClientError) -> str:
    code, message = error_code(exc), error_message(exc)
    operation = getattr(exc, "operation_name", "") or "the call"
    if code in CREDENTIAL_CODES:
        return (
            f"{CLOSURE_NOTICE}; the service refused the credentials for {operation} ({code}): "
            f"check the requester account's keys, or {ALTERNATIVES}."
        )
    if is_retryable(exc):
        return (
            f"{CLOSURE_NOTICE}; the service is not answering {operation} ({code}: {message}) "
            f"after {MAX_ATTEMPTS} tries: try again later, or {ALTERNATIVES}."
        )
    if "insufficient" in message.lower() or "InsufficientFunds" in turk_code(exc):
        return (
            f"{CLOSURE_NOTICE}; {operation} was refused because the requester account's "
            f"balance is too low ({message}): add funds, then run it again - nothing was paid."
        )
    detail = f"{code}: {message}" if message else code
    return f"{CLOSURE_NOTICE}; the service refused {operation} ({detail})."


def stops_run(exc: BaseException) -> bool:
    """Whether a failed call means the service as a whole is out of reach (stop the run), not
    that it refused this one item (record it and go on)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, MTurkUnavailable | BotoCoreError):
            return True
        if isinstance(seen, ClientError):
            return error_code(seen) in CREDENTIAL_CODES or is_retryable(seen)
        seen = seen.__cause__ or seen.__context__
    return False


def try_item(failures: list[str], target: str, call: Callable[[], T]) -> T | None:
    """``call()`` for one item of a run; a refusal of the item is recorded in ``failures``.

    Raises:
        MTurkUnavailable: the service is out of reach; the rest of the run would fail too.
    """
    try:
        return call()
    except LedgerCallError as exc:
        line = explain_mturk_error(exc) or str(exc)
        if stops_run(exc):
            raise MTurkUnavailable(line) from exc
        failures.append(f"{target}: {line}")
        return None


@contextlib.contextmanager
def mturk_errors() -> Iterator[None]:
    """Turn any MTurk failure inside the block into :class:`MTurkUnavailable` (one line)."""
    try:
        yield
    except MTurkUnavailable:
        raise
    except Exception as exc:
        line = explain_mturk_error(exc)
        if line is None:
            raise
        raise MTurkUnavailable(line) from exc
