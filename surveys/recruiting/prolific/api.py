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
import re
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
_WORKSPACE_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


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
        return self._exchange(method, url, body)[0]

    def _exchange(
        self, method: str, url: str, body: Mapping[str, Any] | None
    ) -> tuple[Any, Mapping[str, str]]:
        """One request: the parsed JSON answer and the answer's headers."""
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
                headers = dict(answer.headers.items())
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
            return {}, headers
        try:
            return json.loads(raw.decode("utf-8")), headers
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
        """Every submission of a study: the documented listing ``GET /submissions/?study=``,
        paged by ``page_size`` and followed through ``_links.next``."""
        return self.pages("submissions/", {"study": study_id, "page_size": page_size})

    def get_submission(self, submission_id: str) -> dict[str, Any]:
        return self._object("GET", f"submissions/{submission_id}/")

    def transition(self, submission_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._object("POST", f"submissions/{submission_id}/transition/", body)

    def setup_bonuses(self, study_id: str, csv_bonuses: str) -> dict[str, Any]:
        body = {"study_id": study_id, "csv_bonuses": csv_bonuses}
        return self._object("POST", "submissions/bonus-payments/", body)

    def pay_bonuses(self, bulk_id: str) -> dict[str, Any]:
        return self._object("POST", f"bulk-bonus-payments/{bulk_id}/pay/", {})

    def workspace_currency(self, study_id: str) -> tuple[str, str]:
        """The workspace that pays for a study and its currency: ``(workspace ID, code)``.

        As documented: the study names its ``project``, the project its ``workspace``, and the
        workspace's balance (``GET /workspaces/{id}/balance/``) its ``currency_code``, the
        currency of every amount it pays (rewards and bonuses alike).

        Raises:
            ProlificError: an answer lacks the field the next step needs.
        """
        project = self.get_study(study_id).get("project")
        if not isinstance(project, str) or not project:
            raise ProlificError(
                f"Prolific's study {study_id} names no project, so its workspace's currency "
                "cannot be checked; open the study in Prolific and move it into a project"
            )
        workspace = self._object("GET", f"projects/{project}/").get("workspace")
        if not isinstance(workspace, str) or not workspace:
            raise ProlificError(f"Prolific's project {project} names no workspace")
        code = self._object("GET", f"workspaces/{workspace}/balance/").get("currency_code")
        if not isinstance(code, str) or len(code) != 3 or not code.isalpha():
            raise ProlificError(
                f"Prolific's balance of workspace {workspace} has no currency_code ({code!r})"
            )
        return workspace, code.upper()

    # --- webhooks (API reference, Webhooks) -----------------------------------------------------

    def list_hook_secrets(self, workspace_id: str) -> list[dict[str, Any]]:
        answer = self.call("GET", "hooks/secrets/", query={"workspace_id": workspace_id})
        return _results(answer, "hooks/secrets/")

    def create_hook_secret(self, workspace_id: str) -> dict[str, Any]:
        """Create the workspace's signing secret; Prolific replaces any secret it had."""
        return self._object("POST", "hooks/secrets/", {"workspace_id": workspace_id})

    def list_hook_subscriptions(self, workspace_id: str, enabled: bool) -> list[dict[str, Any]]:
        query = {"workspace_id": workspace_id, "is_enabled": "true" if enabled else "false"}
        return _results(self.call("GET", "hooks/subscriptions/", query=query), "subscriptions")

    def create_hook_subscription(
        self, event_type: str, target_url: str, workspace_id: str
    ) -> tuple[dict[str, Any], str]:
        """The new (unconfirmed) subscription and its ``X-Hook-Secret`` answer header.

        Raises:
            ProlificError: the answer names no subscription or carries no ``X-Hook-Secret``.
        """
        body = {"event_type": event_type, "target_url": target_url, "workspace_id": workspace_id}
        answer, headers = self._exchange("POST", self._url("hooks/subscriptions/"), body)
        # Documented as {"results": [subscription]}; a bare subscription object is read too.
        listed = answer.get("results") if isinstance(answer, Mapping) else None
        made = listed[0] if isinstance(listed, list) and listed else answer
        secret = next((v for k, v in headers.items() if k.lower() == "x-hook-secret"), "")
        if not isinstance(made, dict) or not isinstance(made.get("id"), str) or not secret:
            raise ProlificError(
                "Prolific's answer to POST hooks/subscriptions/ has no subscription id or no "
                "X-Hook-Secret header; delete the half-made subscription and try again"
            )
        return made, secret

    def confirm_hook_subscription(self, subscription_id: str, secret: str) -> dict[str, Any]:
        return self._object("POST", f"hooks/subscriptions/{subscription_id}/", {"secret": secret})

    def delete_hook_subscription(self, subscription_id: str) -> None:
        self.call("DELETE", f"hooks/subscriptions/{subscription_id}/")


def _results(answer: Any, what: str) -> list[dict[str, Any]]:
    results = answer.get("results") if isinstance(answer, Mapping) else None
    if not isinstance(results, list):
        raise ProlificError(f"Prolific's answer listing {what} has no list of results")
    return [item for item in results if isinstance(item, dict)]


def workspace_id_from_env() -> str:
    """The Prolific workspace of this site, from ``PROLIFIC_WORKSPACE_ID``.

    Raises:
        ProlificConfigError: unset, or not the shape of a Prolific ID.
    """
    value = os.environ.get("PROLIFIC_WORKSPACE_ID", "").strip()
    if not value:
        raise ProlificConfigError(
            "PROLIFIC_WORKSPACE_ID is not set: copy the workspace's ID from Prolific (Workspace "
            "settings, or GET /api/v1/workspaces/) and export PROLIFIC_WORKSPACE_ID=<id>"
        )
    if not _WORKSPACE_ID.match(value):
        raise ProlificConfigError(
            f"PROLIFIC_WORKSPACE_ID={value[:40]!r} is not a Prolific workspace ID (letters, "
            "digits, - and _); copy it again from Prolific"
        )
    return value
