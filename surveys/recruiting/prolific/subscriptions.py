"""Switching Prolific's webhooks on, as its API reference (Webhooks, Subscribing) describes.

1. The workspace's signing secret: ``PROLIFIC_HOOK_SECRET`` when this server has one (it must
   be the workspace's current secret); else the one kept from an earlier run; else the one
   Prolific lists for the workspace (adopted: creating a secret replaces it, which would break
   whatever else verifies with it); else a new one (``POST hooks/secrets/`` with
   ``workspace_id``). One kept here is stored as a :class:`HookSecret`.
2. One subscription per event type the site handles (``POST hooks/subscriptions/`` with
   ``event_type``, ``target_url`` over https and ``workspace_id``), confirmed at once with the
   ``X-Hook-Secret`` header of its answer (``POST hooks/subscriptions/{id}/`` with
   ``{"secret": ...}``). An enabled subscription already sending there is kept, so running it
   again changes nothing.

Listing reads both enabled and disabled subscriptions of the workspace; deleting removes the
named ones, or by default every one that sends to this site.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.urls import reverse

from surveys.models import HookEvent, HookResolution, HookSecret
from surveys.recruiting.prolific.api import ProlificClient, ProlificError, ProlificInputError
from surveys.recruiting.prolific.hook_match import STATUS_EVENTS
from surveys.recruiting.prolific.hooks import signing_secrets
from surveys.recruiting.prolific.plans import RECRUITER

LOCAL_HOSTS = ("localhost", "localhost.localdomain")


def hook_target_url(site_url: str) -> str:
    """The webhook address under the site's public address.

    Raises:
        ProlificInputError: not https, or not a public host (Prolific refuses both).
    """
    if not site_url.strip():
        raise ProlificInputError(
            "give the site's public address, where Prolific is to send webhooks: --site "
            "https://study.example.org (or set SURVEYS_SITE_URL)"
        )
    parts = urlsplit(site_url.strip())
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host:
        raise ProlificInputError(
            f"Prolific sends webhooks only to https:// addresses, and the site's address is "
            f"{site_url.strip()[:80]!r}: set SURVEYS_SITE_URL=https://study.example.org (or "
            "--site) to the public address that reaches this server"
        )
    if host in LOCAL_HOSTS or host.endswith(".localhost") or _private(host):
        raise ProlificInputError(
            f"{host} is not reachable from Prolific: give the site's public https:// address "
            "(SURVEYS_SITE_URL or --site)"
        )
    return f"https://{parts.netloc}{reverse('surveys:prolific_hook')}"


def _private(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not address.is_global


@dataclass
class HookSetup:
    """What switching webhooks on did."""

    target_url: str
    secret: str
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        made = ", ".join(self.created) or "none"
        kept = f"; already on: {', '.join(self.kept)}" if self.kept else ""
        return (
            f"Webhooks to {self.target_url}: subscribed and confirmed {made}{kept}. "
            f"Deliveries are verified with {self.secret}."
        )


def _listed_secret(client: ProlificClient, workspace_id: str) -> tuple[bool, str]:
    """Whether Prolific lists a secret for the workspace, and its value when it shows one."""
    rows = [
        row for row in client.list_hook_secrets(workspace_id)
        if row.get("workspace_id") in (None, workspace_id)
    ]  # fmt: skip
    values = [row["value"] for row in rows if isinstance(row.get("value"), str) and row["value"]]
    return bool(rows), values[0] if values else ""


def _ensure_secret(client: ProlificClient, workspace_id: str) -> str:
    """Which secret deliveries will be verified with, once it is in place."""
    exists, listed = _listed_secret(client, workspace_id)
    configured = os.environ.get("PROLIFIC_HOOK_SECRET", "").strip()
    if configured:
        if listed and listed != configured:
            raise ProlificInputError(
                "PROLIFIC_HOOK_SECRET is not the workspace's current signing secret at "
                "Prolific: unset it (the workspace's secret is then kept here) or set it to "
                "the current one; nothing was subscribed"
            )
        return "PROLIFIC_HOOK_SECRET"
    kept = HookSecret.objects.filter(recruiter=RECRUITER, workspace_id=workspace_id).exists()
    how = "the workspace's secret (kept here)"
    if not listed and exists and kept:
        # Prolific hides the value: the one kept here is the one it made for us.
        return how
    if not listed:
        value = client.create_hook_secret(workspace_id).get("value")
        listed = value if isinstance(value, str) else ""
        if not listed:
            raise ProlificError("Prolific's answer to POST hooks/secrets/ carries no secret")
        how = "the workspace's new secret (kept here)"
    with transaction.atomic():
        HookSecret.objects.update_or_create(
            recruiter=RECRUITER, workspace_id=workspace_id, defaults={"value": listed}
        )
    return how


def do_subscribe_hooks(client: ProlificClient, workspace_id: str, target_url: str) -> HookSetup:
    """Put the secret in place, then subscribe and confirm each event type not yet on.

    Raises:
        ProlificInputError: this server's secret is not the workspace's.
        ProlificError: a call failed; what was confirmed before stays, and a re-run completes
            the rest.
    """
    setup = HookSetup(target_url, _ensure_secret(client, workspace_id))
    enabled = client.list_hook_subscriptions(workspace_id, enabled=True)
    on = {row.get("event_type") for row in enabled if row.get("target_url") == target_url}
    for event_type in STATUS_EVENTS:
        if event_type in on:
            setup.kept.append(event_type)
            continue
        made, hook_secret = client.create_hook_subscription(event_type, target_url, workspace_id)
        client.confirm_hook_subscription(str(made["id"]), hook_secret)
        setup.created.append(event_type)
    return setup


def hook_subscriptions(client: ProlificClient, workspace_id: str) -> list[dict[str, Any]]:
    """Every subscription of the workspace, enabled ones first."""
    enabled = client.list_hook_subscriptions(workspace_id, enabled=True)
    disabled = client.list_hook_subscriptions(workspace_id, enabled=False)
    seen = {row.get("id") for row in enabled}
    return enabled + [row for row in disabled if row.get("id") not in seen]


def do_delete_hooks(
    client: ProlificClient, workspace_id: str, ids: list[str], target_url: str
) -> list[str]:
    """Delete the named subscriptions of the workspace (default: those sending to this site);
    the IDs deleted.

    Raises:
        ProlificInputError: an ID names no subscription of the workspace.
    """
    listed = hook_subscriptions(client, workspace_id)
    known = {str(row.get("id")) for row in listed}
    unknown = [one for one in ids if one not in known]
    if unknown:
        raise ProlificInputError(
            f"no subscription {', '.join(unknown)} in workspace {workspace_id}; "
            "`manage.py prolific hooks list` shows them"
        )
    doomed = ids or [str(row.get("id")) for row in listed if row.get("target_url") == target_url]
    for subscription_id in doomed:
        client.delete_hook_subscription(subscription_id)
    return doomed


@dataclass(frozen=True)
class HooksOverview:
    """Where webhooks stand, for the staff page."""

    secret_known: bool
    workspace_id: str
    unmatched: int
    foreign: int


def hooks_overview() -> HooksOverview:
    events = HookEvent.objects.filter(recruiter=RECRUITER)
    return HooksOverview(
        secret_known=bool(signing_secrets()),
        workspace_id=os.environ.get("PROLIFIC_WORKSPACE_ID", "").strip(),
        unmatched=events.filter(resolution=HookResolution.UNMATCHED).count(),
        foreign=events.filter(resolution=HookResolution.FOREIGN).count(),
    )
