"""The one door to Prolific's REST API: every call the study app makes to Prolific goes here.

The base URL comes from ``PROLIFIC_API_URL`` (default ``https://api.prolific.com/api/v1/``) and
the researcher's API token from ``PROLIFIC_TOKEN``; both are read from the environment when a
client is made and never stored. Requests carry ``Authorization: Token <token>`` and JSON.

Every failure becomes one :class:`ProlificError` whose message is one line saying what went
wrong and what to do: no token, the API unreachable, the token refused, a request refused
(with Prolific's reasons), or Prolific busy. :class:`ProlificBusy` (HTTP 429 and 5xx) and
:class:`ProlificUnreachable` are worth retrying; reads retry them here, and the ledger decides
for calls that change something (never blindly for the bonus payment, which Prolific does not
deduplicate).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.client import HTTPException
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

DEFAULT_API_URL = "https://api.prolific.com/api/v1/"
TIMEOUT_S = 20.0
PAGE_SIZE = 100
# Reads (GET) are retried this often after a busy or unreachable answer, with doubling waits.
READ_TRIES = 3
READ_BACKOFF_S = 0.25
# A runaway "next" chain stops here (100 pages of 100 is far beyond a study's places).
MAX_PAGES = 1000
DETAIL_MAX_LENGTH = 300


class ProlificError(Exception):
    """A call to Prolific failed; the message is one line with the cause and the fix."""


class ProlificInputError(ValueError):
    """The researcher asked for something that cannot be done; caught before any call.

    The message is one line saying what is wrong and how to fix it.
    """


class ProlificConfigError(ProlificError):
    """No token, or an unusable PROLIFIC_API_URL."""


class ProlificUnreachable(ProlificError):
    """No answer from the API (refused, timed out, or the connection dropped mid-answer)."""


class ProlificHTTPError(ProlificError):
    """Prolific answered with an HTTP error.

    Attributes:
        status: The HTTP status.
        detail: Prolific's reasons, flattened to one line.
    """

    def __init__(self, message: str, status: int, detail: str) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class ProlificBusy(ProlificHTTPError):
    """Throttled (429) or a fault on Prolific's side (5xx): try again later."""


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= DETAIL_MAX_LENGTH else flat[: DETAIL_MAX_LENGTH - 3] + "..."


def _flatten(value: Any, prefix: str = "") -> list[str]:
    """Prolific's (and Django REST framework's) error bodies as ``field: reason`` pieces."""
    if isinstance(value, Mapping):
        if "error" in value and len(value) <= 2:
            return _flatten(value["error"], prefix)
        pieces = []
        for key, inner in value.items():
            if key in ("error_code", "title", "additional_information"):
                continue
            name = prefix if key in ("detail", "message", "non_field_errors") else str(key)
            pieces.extend(_flatten(inner, name))
        return pieces
    if isinstance(value, list):
        return [piece for item in value for piece in _flatten(item, prefix)]
    return [f"{prefix}: {value}" if prefix else str(value)]


def error_detail(body: bytes) -> str:
    """The reasons in an error answer, on one line (the raw text when it is not JSON)."""
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _one_line(body.decode("utf-8", "replace"))
    return _one_line("; ".join(_flatten(parsed))) or "no reason given"


def _http_error(method: str, path: str, status: int, body: bytes) -> ProlificHTTPError:
    detail = error_detail(body)
    where = f"{method} {path}"
    if status in (401, 403):
        return ProlificHTTPError(
            f"Prolific refused the API token (HTTP {status} on {where}: {detail}); create a new "
            "token in Prolific's settings and set PROLIFIC_TOKEN to it",
            status,
            detail,
        )
    if status == 429 or status >= 500:
        return ProlificBusy(
            f"Prolific is busy or failing (HTTP {status} on {where}: {detail}); try again in a "
            "few minutes",
            status,
            detail,
        )
    return ProlificHTTPError(f"Prolific refused {where} (HTTP {status}): {detail}", status, detail)


@dataclass(frozen=True)
class ProlificClient:
    """A client of Prolific's API for one base URL and token.

    Attributes:
        base_url: The API root, ending in ``/``.
        token: The researcher's API token.
        timeout: Seconds to wait for an answer.
        sleep: Waits between retries (tests pass a no-op).
    """

    base_url: str
    token: str = field(repr=False)
    timeout: float = TIMEOUT_S
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def from_env(cls, sleep: Callable[[float], None] = time.sleep) -> ProlificClient:
        """A client from ``PROLIFIC_API_URL`` and ``PROLIFIC_TOKEN``.

        Raises:
            ProlificConfigError: no token, or a base URL that is not http(s).
        """
        token = os.environ.get("PROLIFIC_TOKEN", "").strip()
        if not token:
            raise ProlificConfigError(
                "PROLIFIC_TOKEN is not set: create an API token in Prolific (Settings, API "
                "tokens) and export PROLIFIC_TOKEN=<token> where this runs"
            )
        base = os.environ.get("PROLIFIC_API_URL", "").strip() or DEFAULT_API_URL
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ProlificConfigError(
                f"PROLIFIC_API_URL={base!r} is not an http(s) URL; unset it to use "
                f"{DEFAULT_API_URL}"
            )
        return cls(base.rstrip("/") + "/", token, sleep=sleep)

    def _url(self, path: str, query: Mapping[str, object] | None = None) -> str:
        url = urljoin(self.base_url, path.lstrip("/"))
        return f"{url}?{urlencode(dict(query))}" if query else url

    def _send(self, method: str, url: str, body: Mapping[str, Any] | None) -> Any:
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Token {self.token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        path = urlsplit(url).path
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                raw = answer.read()
        except urllib.error.HTTPError as exc:
            raise _http_error(method, path, exc.code, exc.read()) from None
        except (urllib.error.URLError, HTTPException, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            if isinstance(reason, TimeoutError):
                reason = f"no answer within {self.timeout:g} s"
            raise ProlificUnreachable(
                f"Prolific's API at {self.base_url} cannot be reached ({reason}) for {method} "
                f"{path}; check PROLIFIC_API_URL and the network, then run again"
            ) from None
        if not raw.strip():
            return {}
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ProlificError(
                f"Prolific's answer to {method} {path} is not JSON; check PROLIFIC_API_URL"
            ) from None

    def call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, object] | None = None,
    ) -> Any:
        """One request; the parsed JSON answer. Reads retry busy and unreachable answers."""
        url = self._url(path, query)
        return self._send_with_retries(method, url, body)

    def _send_with_retries(self, method: str, url: str, body: Mapping[str, Any] | None) -> Any:
        tries = READ_TRIES if method == "GET" else 1
        for attempt in range(tries):
            try:
                return self._send(method, url, body)
            except (ProlificBusy, ProlificUnreachable):
                if attempt == tries - 1:
                    raise
                self.sleep(READ_BACKOFF_S * 2**attempt)
        raise AssertionError("unreachable")

    def pages(self, path: str, query: Mapping[str, object]) -> Iterator[dict[str, Any]]:
        """Every result of a paged list, following Prolific's ``_links.next`` links.

        Raises:
            ProlificError: a page is not a list answer, or a next link leaves the API's host.
        """
        url = self._url(path, query)
        seen: set[str] = set()
        while url and url not in seen and len(seen) < MAX_PAGES:
            seen.add(url)
            page = self._send_with_retries("GET", url, None)
            results = page.get("results") if isinstance(page, Mapping) else None
            if not isinstance(results, list):
                raise ProlificError(f"Prolific's answer to GET {path} has no list of results")
            yield from (item for item in results if isinstance(item, dict))
            url = self._next(page, path)

    def _next(self, page: Mapping[str, Any], path: str) -> str:
        links = page.get("_links") or {}
        following = links.get("next") if isinstance(links, Mapping) else None
        if isinstance(following, Mapping):
            following = following.get("href")
        if not following:
            return ""
        following = urljoin(self.base_url, str(following))
        here, there = urlsplit(self.base_url), urlsplit(following)
        if (here.scheme, here.netloc) != (there.scheme, there.netloc):
            # The token goes with every request: never to a host other than the API's own.
            raise ProlificError(
                f"Prolific's next-page link for {path} points at {there.netloc}, not "
                f"{here.netloc}; check PROLIFIC_API_URL"
            )
        return following

    def _object(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        answer = self.call(method, path, body)
        if not isinstance(answer, dict):
            raise ProlificError(f"Prolific's answer to {method} {path} is not a JSON object")
        return answer

    # --- the calls the study app makes --------------------------------------------------------

    def create_study(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        return self._object("POST", "studies/", payload)

    def list_studies(self) -> Iterator[dict[str, Any]]:
        return self.pages("studies/", {})

    def get_study(self, study_id: str) -> dict[str, Any]:
        return self._object("GET", f"studies/{study_id}/")

    def list_submissions(
        self, study_id: str, page_size: int = PAGE_SIZE
    ) -> Iterator[dict[str, Any]]:
        return self.pages(f"studies/{study_id}/submissions/", {"page_size": page_size})

    def get_submission(self, submission_id: str) -> dict[str, Any]:
        return self._object("GET", f"submissions/{submission_id}/")

    def transition(self, submission_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._object("POST", f"submissions/{submission_id}/transition/", body)

    def setup_bonuses(self, study_id: str, csv_bonuses: str) -> dict[str, Any]:
        body = {"study_id": study_id, "csv_bonuses": csv_bonuses}
        return self._object("POST", "submissions/bonus-payments/", body)

    def pay_bonuses(self, bulk_id: str) -> dict[str, Any]:
        return self._object("POST", f"bulk-bonus-payments/{bulk_id}/pay/", {})
