"""A local stand-in for Prolific's API: an ``http.server`` in a thread on 127.0.0.1.

It speaks the documented JSON of the calls the study app makes (studies and their projects and
workspaces, the submissions listing ``GET /submissions/?study=`` paged by ``page`` and
``page_size`` with ``_links.next``, a submission's detail, transitions, bonus set-up and
payment, the webhook secret and subscriptions with their ``X-Hook-Secret`` confirmation, errors
as ``{"error": {"detail": ...}}``), checks the token, keeps its state in memory, and records
every request so tests can count what went out.

Like Prolific's reference, and stricter than the real service may be, it refuses what the
reference does not document: a query parameter a route does not list, a body field a call does
not take, a value of the wrong type (400, naming it), so a client that drifts from the
documented API fails here. ``studies/{id}/submissions/`` documents only ``ordering``.

Like Prolific's, its bonus payment is *not* idempotent: every pay call pays again, so a double
payment shows in ``bonus_payments``. Creating a workspace's hook secret replaces the old one.

Failures can be scripted: ``fail_next`` answers the next matching request with an HTTP error,
and ``hang_up_after`` makes the server do the work of a matching request and then close the
connection without answering (the call went out, the answer was lost).

The webhook calls live in :mod:`.stub_hooks`. ``prolific_stub`` is a fixture: a running stub
with ``PROLIFIC_API_URL`` and ``PROLIFIC_TOKEN`` pointed at it. This module holds no tests.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.surveys.recruiting.prolific.stub_hooks import error, hook_route, new_id, undocumented

TOKEN = "stub-token-for-tests"
PREFIX = "/api/v1/"
REJECTION_CATEGORIES = {
    "TOO_QUICKLY", "TOO_SLOWLY", "FAILED_INSTRUCTIONS", "INCOMP_LONGITUDINAL", "FAILED_CHECK",
    "LOW_EFFORT", "MALINGERING", "NO_CODE", "BAD_CODE", "NO_DATA", "UNSUPP_DEVICE", "OTHER",
}  # fmt: skip
STUDY_FIELDS = {
    "name": str, "description": str, "external_study_url": str, "completion_codes": list,
    "estimated_completion_time": int, "reward": int, "total_available_places": int,
    "prolific_id_option": str,
}  # fmt: skip
# The query parameters each listing documents (API reference); anything else is refused.
SUBMISSION_FILTERS = {
    "study", "status", "completed", "returned", "awaiting_review", "approved", "active",
    "timeout", "ordering", "page", "page_size",
}  # fmt: skip
# Fields of a submission in the listing (SubmissionShort) and in its detail (the reference).
SHORT_FIELDS = ("id", "participant_id", "status", "started_at", "completed_at", "study_id")
DETAIL_FIELDS = (
    "id", "started_at", "status", "study_id", "completed_at", "entered_code", "participant",
    "bonus_payments", "return_requested",
)  # fmt: skip
DEFAULT_PAGE_SIZE = 20
# The stub's own fee on bonuses (Prolific's real rate is not modelled).
FEE_RATE = Decimal("0.25")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class ProlificStub:
    """The stub's state; ``url`` is the API root to put in ``PROLIFIC_API_URL``.

    ``workspace_id`` is a workspace paying in GBP with one project, which every study added
    without a ``project`` belongs to.
    """

    url: str = ""
    token: str = TOKEN
    studies: dict[str, dict[str, Any]] = field(default_factory=dict)
    submissions: dict[str, dict[str, Any]] = field(default_factory=dict)
    bulk_bonuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    workspaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    hook_secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    pay_calls: list[str] = field(default_factory=list)
    fail_next: list[tuple[str, str, int]] = field(default_factory=list)
    hang_up_after: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    workspace_id: str = ""
    project_id: str = ""

    def __post_init__(self) -> None:
        self.workspace_id, self.project_id = self.add_workspace("GBP")

    def add_workspace(self, currency: str) -> tuple[str, str]:
        """A workspace paying in ``currency`` and one project in it: ``(workspace, project)``."""
        workspace, project = new_id(), new_id()
        self.workspaces[workspace] = {"id": workspace, "title": "Lab", "currency_code": currency}
        self.projects[project] = {"id": project, "title": "Studies", "workspace": workspace}
        return workspace, project

    def add_study(self, **fields: Any) -> str:
        study_id = new_id()
        fields.setdefault("project", self.project_id)
        self.studies[study_id] = {"id": study_id, "status": "ACTIVE", **fields}
        return study_id

    def add_submission(
        self, study_id: str, participant_id: str | None = None, status: str = "AWAITING REVIEW"
    ) -> str:
        submission_id = new_id()
        self.submissions[submission_id] = {
            "id": submission_id,
            "study_id": study_id,
            "participant_id": participant_id or new_id(),
            "status": status,
            "started_at": "2026-11-02T10:00:00.000000Z",
            "completed_at": None if status in ("ACTIVE", "RESERVED") else "2026-11-02T10:12:00Z",
            "entered_code": "",
            "bonus_payments": [],
            "return_requested": None,
        }
        return submission_id

    def signing_secret(self, workspace_id: str | None = None) -> str:
        """The value the workspace's deliveries are signed with ("" before one is made)."""
        made = self.hook_secrets.get(workspace_id or self.workspace_id)
        return str(made["value"]) if made else ""

    def calls(self, method: str, pattern: str) -> list[Recorded]:
        """The recorded requests with ``method`` whose path matches the regex ``pattern``."""
        return [r for r in self.requests if r.method == method and re.search(pattern, r.path)]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        stub = self.server.stub
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        query = parse_qs(parts.query, keep_blank_values=True)
        record = Recorded(method, parts.path, query, dict(self.headers), body)
        with stub.lock:
            stub.requests.append(record)
            status, answer, *extra = self._answer(stub, method, parts.path, record)
            hang_up = any(m == method and re.search(p, parts.path) for m, p in stub.hang_up_after)
            if hang_up:
                stub.hang_up_after = [
                    (m, p) for m, p in stub.hang_up_after
                    if not (m == method and re.search(p, parts.path))
                ]  # fmt: skip
        if hang_up:
            self.close_connection = True
            self.connection.close()
            return
        data = json.dumps(answer).encode() if answer is not None else b""
        self.send_response(status)
        for name, value in (extra[0] if extra else {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _answer(self, stub: ProlificStub, method: str, path: str, record: Recorded) -> Any:
        for index, (m, pattern, status) in enumerate(stub.fail_next):
            if m == method and re.search(pattern, path):
                del stub.fail_next[index]
                return error(status, "Scripted failure of the stub.")
        if record.headers.get("Authorization") != f"Token {stub.token}":
            return error(401, "Invalid token.")
        if not path.startswith(PREFIX):
            return error(404, "Not found.")
        return _route(stub, method, path.removeprefix(PREFIX), record, self.server.base)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, stub: ProlificStub) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stub = stub
        self.base = f"http://127.0.0.1:{self.server_address[1]}"


def _route(stub: ProlificStub, method: str, path: str, record: Recorded, base: str) -> Any:
    hooks = hook_route(stub, method, path, record)
    if hooks is not None:
        return hooks
    paged = (method, path) == ("GET", "submissions/")
    listed = re.fullmatch(r"studies/(\w+)/submissions/", path)
    params = SUBMISSION_FILTERS if paged else {"ordering"} if listed else set()
    # Bodies are checked where the reference lists every field; a draft study has dozens.
    fields = {
        "transition": {"action", "message", "rejection_category"},
        "bonus-payments": {"study_id", "csv_bonuses"},
        "pay": set(),
    }.get(path.rstrip("/").rsplit("/", 1)[-1])
    refused = undocumented(record, params, fields)
    if refused is not None:
        return refused
    body = record.body if isinstance(record.body, dict) else {}
    if (method, path) == ("GET", "users/me/"):
        return 200, {"id": "researcher0000000000000", "name": "Stub researcher"}
    if (method, path) == ("POST", "studies/"):
        return _create_study(stub, body)
    if (method, path) == ("GET", "studies/"):
        return 200, {"results": list(stub.studies.values()), "_links": {"next": {"href": None}}}
    if paged:
        return _submissions_page(stub, record, base)
    if listed:
        return _study_submissions(stub, listed[1])
    if match := re.fullmatch(r"(studies|projects)/(\w+)/", path):
        found = (stub.studies if match[1] == "studies" else stub.projects).get(match[2])
        return (200, found) if found and method == "GET" else error(404, "Not found.")
    if match := re.fullmatch(r"workspaces/(\w+)/balance/", path):
        workspace = stub.workspaces.get(match[1])
        if workspace is None or method != "GET":
            return error(404, "Not found.")
        return 200, {"currency_code": workspace["currency_code"], "total_balance": 0,
                     "available_balance": 0}  # fmt: skip
    if match := re.fullmatch(r"submissions/(\w+)/", path):
        found = stub.submissions.get(match[1])
        return (200, _detail(found)) if found and method == "GET" else error(404, "Not found.")
    if match := re.fullmatch(r"submissions/(\w+)/transition/", path):
        return _transition(stub, match[1], body)
    if (method, path) == ("POST", "submissions/bonus-payments/"):
        return _setup_bonuses(stub, body)
    if match := re.fullmatch(r"bulk-bonus-payments/(\w+)/pay/", path):
        return _pay(stub, match[1])
    return error(404, "Not found.")


def _detail(row: dict[str, Any]) -> dict[str, Any]:
    shaped = {**row, "participant": row["participant_id"]}
    return {name: shaped.get(name) for name in DETAIL_FIELDS}


def _create_study(stub: ProlificStub, body: dict[str, Any]) -> Any:
    problems = {
        name: [f"This field is required and must be {kind.__name__}."]
        for name, kind in STUDY_FIELDS.items()
        if not isinstance(body.get(name), kind) or isinstance(body.get(name), bool)
    }
    if not problems and body["reward"] < 1:
        problems["reward"] = ["Ensure this value is greater than or equal to 1."]
    if problems:
        return 400, problems
    study_id = stub.add_study(**body)
    stub.studies[study_id]["status"] = "UNPUBLISHED"
    return 201, stub.studies[study_id]


def _positive(record: Recorded, name: str, default: int) -> int | None:
    raw = record.query.get(name, [str(default)])[-1]
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def _submissions_page(stub: ProlificStub, record: Recorded, base: str) -> Any:
    size = _positive(record, "page_size", DEFAULT_PAGE_SIZE)
    page = _positive(record, "page", 1)
    if size is None or page is None:
        return 400, {"error": {"detail": "page and page_size must be positive integers."}}
    study_id = record.query.get("study", [""])[-1]
    rows = [s for s in stub.submissions.values() if not study_id or s["study_id"] == study_id]
    chunk = rows[(page - 1) * size : page * size]
    following = None
    if page * size < len(rows):
        query = {**{k: v[-1] for k, v in record.query.items()}, "page": str(page + 1)}
        following = f"{base}{PREFIX}submissions/?{urlencode(query)}"
    return 200, {
        "results": [{name: row.get(name) for name in SHORT_FIELDS} for row in chunk],
        "_links": {"self": {"href": None}, "next": {"href": following, "title": "Next"}},
        "meta": {"count": len(rows)},
    }


def _study_submissions(stub: ProlificStub, study_id: str) -> Any:
    if study_id not in stub.studies:
        return error(404, "Not found.")
    rows = [s for s in stub.submissions.values() if s["study_id"] == study_id]
    return 200, {"results": [{name: row.get(name) for name in SHORT_FIELDS} for row in rows]}


def _transition(stub: ProlificStub, submission_id: str, body: dict[str, Any]) -> Any:
    found = stub.submissions.get(submission_id)
    if found is None:
        return error(404, "Not found.")
    target = {"APPROVE": "APPROVED", "REJECT": "REJECTED"}.get(body.get("action", ""))
    if target is None:
        return 400, {"action": ["Must be APPROVE or REJECT."]}
    if target == "REJECTED":
        if len(body.get("message") or "") < 100:
            return 400, {"message": ["Ensure this field has at least 100 characters."]}
        if body.get("rejection_category") not in REJECTION_CATEGORIES:
            return 400, {"rejection_category": ["Not a valid choice."]}
    if found["status"] == target:  # the transition is idempotent
        return 200, _detail(found)
    if found["status"] != "AWAITING REVIEW":
        return error(400, f"Cannot transition a submission with status {found['status']}.")
    found["status"] = target
    return 200, _detail(found)


def _setup_bonuses(stub: ProlificStub, body: dict[str, Any]) -> Any:
    study_id = body.get("study_id")
    if study_id not in stub.studies:
        return 400, {"study_id": ["Study not found."]}
    lines = [line for line in str(body.get("csv_bonuses", "")).splitlines() if line.strip()]
    payments, wrong = [], []
    for line in lines:
        ident, _, amount = line.partition(",")
        target = next(
            (s for s in stub.submissions.values()
             if s["study_id"] == study_id and ident.strip() in (s["id"], s["participant_id"])),
            None,
        )  # fmt: skip
        try:
            cents = int(Decimal(amount.strip()) * 100)
        except ArithmeticError:
            cents = 0
        if target is None or cents <= 0:
            wrong.append(ident.strip())
            continue
        payments.append((target["id"], cents))
    if wrong or not payments:
        return error(400, f"Invalid ids or amounts: {', '.join(wrong) or 'no bonuses'}")
    total = sum(cents for _, cents in payments)
    fees = int(Decimal(total) * FEE_RATE)
    bulk_id = new_id()
    stub.bulk_bonuses[bulk_id] = {"payments": payments, "paid_times": 0}
    return 201, {
        "id": bulk_id,
        "study": study_id,
        "amount": total,
        "fees": fees,
        "vat": 0,
        "total_amount": total + fees,
    }


def _pay(stub: ProlificStub, bulk_id: str) -> Any:
    bulk = stub.bulk_bonuses.get(bulk_id)
    if bulk is None:
        return error(404, "Not found.")
    # Not idempotent, like Prolific's: every call pays again.
    bulk["paid_times"] += 1
    stub.pay_calls.append(bulk_id)
    for submission_id, cents in bulk["payments"]:
        stub.submissions[submission_id]["bonus_payments"].append(cents)
    return 202, {}


@pytest.fixture
def prolific_stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[ProlificStub]:
    """A running stub; ``PROLIFIC_API_URL`` and ``PROLIFIC_TOKEN`` point at it."""
    stub = ProlificStub()
    server = _Server(stub)
    stub.url = f"{server.base}{PREFIX}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("PROLIFIC_API_URL", stub.url)
    monkeypatch.setenv("PROLIFIC_TOKEN", stub.token)
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
