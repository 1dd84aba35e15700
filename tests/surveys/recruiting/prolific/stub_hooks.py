"""The webhook calls of the Prolific API stub (API reference, Webhooks), and the stub's error
answers: the workspace's signing secret (one per workspace; a new one replaces the old),
subscriptions made unconfirmed with an ``X-Hook-Secret`` answer header and enabled only by a
confirmation carrying it, listing and deleting. Anything the reference does not document is
refused. This module holds no tests; :mod:`.stub` routes to it.
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from tests.surveys.recruiting.prolific.stub import ProlificStub, Recorded

HOOK_EVENT_TYPES = ("study.status.change", "study.progress.change", "submission.status.change")


def new_id() -> str:
    return secrets.token_hex(12)


def error(status: int, detail: Any) -> tuple[int, Any]:
    return status, {"error": {"error_code": status * 100, "title": "Error", "detail": detail}}


def undocumented(record: Recorded, params: set[str], fields: set[str] | None) -> Any:
    """A 400 naming what the call does not take, or None; ``fields=None``: no body check."""
    extra = sorted(set(record.query) - params)
    if extra:
        return 400, {"error": {"detail": f"Unknown query parameter(s): {', '.join(extra)}."}}
    if fields is not None and record.body is not None:
        if not isinstance(record.body, dict):
            return 400, {"non_field_errors": ["Expected a JSON object."]}
        unknown = sorted(set(record.body) - fields)
        if unknown:
            return 400, {name: ["Not a field of this request."] for name in unknown}
    return None


def hook_route(stub: ProlificStub, method: str, path: str, record: Recorded) -> Any:
    """The hooks/ calls, or None for a path outside hooks/."""
    if not path.startswith("hooks/"):
        return None
    body = record.body if isinstance(record.body, dict) else {}
    if (method, path) == ("GET", "hooks/secrets/"):
        return undocumented(record, {"workspace_id"}, None) or _list_secrets(stub, record)
    if (method, path) == ("POST", "hooks/secrets/"):
        return undocumented(record, set(), {"workspace_id"}) or _create_secret(stub, body)
    if (method, path) == ("GET", "hooks/subscriptions/"):
        refused = undocumented(record, {"workspace_id", "is_enabled"}, None)
        return refused or _list_subscriptions(stub, record)
    if (method, path) == ("POST", "hooks/subscriptions/"):
        fields = {"event_type", "target_url", "workspace_id", "is_enabled"}
        return undocumented(record, set(), fields) or _subscribe(stub, body)
    if match := re.fullmatch(r"hooks/subscriptions/([\w-]+)/", path):
        refused = undocumented(record, set(), {"secret"})
        return refused or _one_subscription(stub, method, match[1], body)
    return error(404, "Not found.")


def _public(subscription: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in subscription.items() if k != "secret"}


def _list_secrets(stub: ProlificStub, record: Recorded) -> Any:
    wanted = record.query.get("workspace_id", [""])[-1]
    rows = [row for ws, row in stub.hook_secrets.items() if not wanted or ws == wanted]
    return 200, {"results": rows}


def _create_secret(stub: ProlificStub, body: dict[str, Any]) -> Any:
    workspace = body.get("workspace_id")
    if not isinstance(workspace, str) or workspace not in stub.workspaces:
        return 400, {"workspace_id": ["Workspace not found."]}
    # One active secret per workspace: a new one replaces the old.
    made = {"id": new_id(), "value": secrets.token_urlsafe(32), "workspace_id": workspace}
    stub.hook_secrets[workspace] = made
    return 201, made


def _list_subscriptions(stub: ProlificStub, record: Recorded) -> Any:
    wanted = record.query.get("workspace_id", [""])[-1]
    enabled = record.query.get("is_enabled", ["true"])[-1].lower()
    if enabled not in ("true", "false"):
        return 400, {"is_enabled": ["Must be a valid boolean."]}
    rows = [
        _public(row) for row in stub.subscriptions.values()
        if (not wanted or row["workspace_id"] == wanted)
        and row["is_enabled"] == (enabled == "true")
    ]  # fmt: skip
    return 200, {"results": rows, "meta": {"count": len(rows)}}


def _subscribe(stub: ProlificStub, body: dict[str, Any]) -> Any:
    problems: dict[str, list[str]] = {}
    if body.get("event_type") not in HOOK_EVENT_TYPES:
        problems["event_type"] = ["Not a valid event type."]
    target = body.get("target_url")
    parts = urlsplit(target) if isinstance(target, str) else None
    if parts is None or parts.scheme != "https" or parts.hostname in (None, "localhost"):
        problems["target_url"] = ["Must be a publicly accessible https:// URL."]
    workspace = body.get("workspace_id")
    if workspace not in stub.workspaces:
        problems["workspace_id"] = ["Workspace not found."]
    elif workspace not in stub.hook_secrets:
        problems["workspace_id"] = ["Create a secret for this workspace first."]
    if "is_enabled" in body and not isinstance(body["is_enabled"], bool):
        problems["is_enabled"] = ["Must be a valid boolean."]
    if problems:
        return 400, problems
    made = {
        "id": new_id(), "event_type": body["event_type"], "target_url": target,
        "workspace_id": workspace, "is_enabled": False, "secret": secrets.token_hex(16),
    }  # fmt: skip
    stub.subscriptions[made["id"]] = made
    return 201, {"results": [_public(made)]}, {"X-Hook-Secret": made["secret"]}


def _one_subscription(stub: ProlificStub, method: str, ident: str, body: dict[str, Any]) -> Any:
    found = stub.subscriptions.get(ident)
    if found is None:
        return error(404, "Not found.")
    if method == "GET":
        return 200, _public(found)
    if method == "DELETE":
        del stub.subscriptions[ident]
        return 204, None
    if not isinstance(body.get("secret"), str):
        return 400, {"secret": ["This field is required."]}
    if body["secret"] != found["secret"]:
        return 400, {"secret": ["Does not match the subscription's X-Hook-Secret."]}
    found["is_enabled"] = True
    return 200, _public(found)
