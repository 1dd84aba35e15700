"""Switching Prolific's webhooks on (finding 9): ``manage.py prolific hooks subscribe|list|delete``
and the Prolific page's button create or adopt the workspace's secret, subscribe and confirm
as the API reference documents, against the stub that refuses anything undocumented; clear
lines when the site is not https or the workspace is not set."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from surveys.models import HookEvent, HookResolution, HookSecret, ParticipantStatus, Submission
from tests.surveys.factories import ParticipantFactory, StudyFactory
from tests.surveys.recruiting.prolific.fixtures import URL, signed_headers, status_event
from tests.surveys.recruiting.prolific.stub import ProlificStub, new_id

pytestmark = pytest.mark.django_db

SITE = "https://study.example.org"
TARGET = f"{SITE}/hooks/prolific/"
EVENTS = {"submission.status.change", "study.status.change"}


@pytest.fixture
def workspace(prolific_stub: ProlificStub, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PROLIFIC_WORKSPACE_ID", prolific_stub.workspace_id)
    monkeypatch.delenv("PROLIFIC_HOOK_SECRET", raising=False)
    monkeypatch.delenv("SURVEYS_SITE_URL", raising=False)
    return prolific_stub.workspace_id


def hooks(*args: str, answer: str | None = None) -> str:
    out = io.StringIO()
    extra = {"stdin": io.StringIO(answer)} if answer is not None else {}
    call_command("prolific", "hooks", *args, stdout=out, **extra)
    return out.getvalue()


def test_subscribe_creates_the_secret_then_subscribes_and_confirms_each_event(
    workspace, prolific_stub: ProlificStub
):
    out = hooks("subscribe", "--site", SITE)
    (made,) = prolific_stub.calls("POST", "/hooks/secrets/$")
    assert made.body == {"workspace_id": workspace}
    assert HookSecret.objects.get(workspace_id=workspace).value == prolific_stub.signing_secret()
    created = prolific_stub.calls("POST", "/hooks/subscriptions/$")
    assert [call.body for call in created] == [
        {"event_type": kind, "target_url": TARGET, "workspace_id": workspace}
        for kind in ("submission.status.change", "study.status.change")
    ]
    confirmed = prolific_stub.calls("POST", r"/hooks/subscriptions/\w+/$")
    assert [call.body for call in confirmed] == [
        {"secret": row["secret"]} for row in prolific_stub.subscriptions.values()
    ]
    assert all(row["is_enabled"] for row in prolific_stub.subscriptions.values())
    assert {row["event_type"] for row in prolific_stub.subscriptions.values()} == EVENTS
    assert "subscribed and confirmed" in out and TARGET in out


def test_a_delivery_signed_with_the_workspaces_new_secret_is_taken(
    workspace, prolific_stub: ProlificStub
):
    hooks("subscribe", "--site", SITE)
    prolific_id, pid, session = prolific_stub.add_study(), new_id(), new_id()
    study = StudyFactory(recruiter="prolific", recruiter_config={"study_id": prolific_id})
    person = ParticipantFactory(study=study, external_id=pid, recruiter="prolific",
                                status=ParticipantStatus.CONSENTED,
                                recruiter_data={"SESSION_ID": session})  # fmt: skip
    body = json.dumps(status_event(session, pid, "RETURNED")).encode()
    headers = signed_headers(body, secret=prolific_stub.signing_secret())
    answer = Client().post(URL, body, content_type="application/json", **headers)
    assert answer.status_code == 200 and answer.json()["status"] == "applied"
    assert Submission.objects.get().participant == person
    assert HookEvent.objects.get().resolution == HookResolution.APPLIED


def test_subscribing_again_changes_nothing(workspace, prolific_stub: ProlificStub):
    hooks("subscribe", "--site", SITE)
    before = dict(prolific_stub.subscriptions), prolific_stub.signing_secret()
    out = hooks("subscribe", "--site", SITE)
    assert (dict(prolific_stub.subscriptions), prolific_stub.signing_secret()) == before
    assert len(prolific_stub.calls("POST", "/hooks/secrets/$")) == 1
    assert "already on" in out


def test_the_workspaces_existing_secret_is_adopted_not_replaced(
    workspace, prolific_stub: ProlificStub
):
    prolific_stub.hook_secrets[workspace] = {"id": new_id(), "value": "used-by-another-app",
                                             "workspace_id": workspace}  # fmt: skip
    hooks("subscribe", "--site", SITE)
    assert not prolific_stub.calls("POST", "/hooks/secrets/$")
    assert HookSecret.objects.get().value == "used-by-another-app"


def test_a_server_secret_that_is_not_the_workspaces_is_refused(
    workspace, prolific_stub: ProlificStub, monkeypatch
):
    prolific_stub.hook_secrets[workspace] = {"id": new_id(), "value": "current",
                                             "workspace_id": workspace}  # fmt: skip
    monkeypatch.setenv("PROLIFIC_HOOK_SECRET", "stale")
    with pytest.raises(CommandError, match="PROLIFIC_HOOK_SECRET is not the workspace's current"):
        hooks("subscribe", "--site", SITE)
    assert not prolific_stub.subscriptions and not HookSecret.objects.exists()
    monkeypatch.setenv("PROLIFIC_HOOK_SECRET", "current")
    assert "verified with PROLIFIC_HOOK_SECRET" in hooks("subscribe", "--site", SITE)
    assert not HookSecret.objects.exists()


@pytest.mark.parametrize(
    ("site", "message"),
    [
        ("", "give the site's public address"),
        ("http://study.example.org", "only to https:// addresses"),
        ("https://localhost:8000", "not reachable from Prolific"),
        ("https://127.0.0.1", "not reachable from Prolific"),
        ("https://10.0.0.7", "not reachable from Prolific"),
    ],
)
def test_a_site_prolific_cannot_reach_is_one_clear_line(
    workspace, prolific_stub: ProlificStub, site, message
):
    with pytest.raises(CommandError, match=message):
        hooks("subscribe", *(["--site", site] if site else []))
    assert not prolific_stub.requests


def test_an_unset_workspace_is_one_clear_line(workspace, prolific_stub, monkeypatch):
    monkeypatch.delenv("PROLIFIC_WORKSPACE_ID")
    with pytest.raises(CommandError, match="PROLIFIC_WORKSPACE_ID is not set"):
        hooks("subscribe", "--site", SITE)
    monkeypatch.setenv("PROLIFIC_WORKSPACE_ID", "no spaces?")
    with pytest.raises(CommandError, match="is not a Prolific workspace ID"):
        hooks("list")
    assert not prolific_stub.requests


def test_list_shows_every_subscription_and_marks_this_sites(workspace, prolific_stub):
    hooks("subscribe", "--site", SITE)
    other = {"id": new_id(), "event_type": "study.progress.change", "is_enabled": False,
             "target_url": "https://other.example.org/in", "workspace_id": workspace,
             "secret": "x"}  # fmt: skip
    prolific_stub.subscriptions[other["id"]] = other
    out = hooks("list", "--site", SITE)
    lines = out.strip().splitlines()
    assert lines[-1] == f"3 subscription(s) in workspace {workspace}."
    assert sum("(this site)" in line for line in lines) == 2
    assert any(other["id"] in line and "disabled" in line for line in lines)


def test_delete_removes_this_sites_subscriptions_after_asking(workspace, prolific_stub):
    hooks("subscribe", "--site", SITE)
    other = {"id": new_id(), "event_type": "study.status.change", "is_enabled": True,
             "target_url": "https://other.example.org/in", "workspace_id": workspace,
             "secret": "x"}  # fmt: skip
    prolific_stub.subscriptions[other["id"]] = other
    with pytest.raises(CommandError, match="cancelled"):
        hooks("delete", "--site", SITE, answer="n\n")
    assert len(prolific_stub.subscriptions) == 3
    assert "Deleted 2 subscription(s)" in hooks("delete", "--site", SITE, "--yes")
    assert list(prolific_stub.subscriptions) == [other["id"]]
    with pytest.raises(CommandError, match="no subscription nope"):
        hooks("delete", "nope", "--yes")
    assert "Deleted 1" in hooks("delete", other["id"], "--yes")
    assert not prolific_stub.subscriptions


def test_the_hooks_verb_is_checked(workspace):
    with pytest.raises(CommandError, match="takes subscribe, list, delete"):
        hooks("enable")
    with pytest.raises(CommandError, match="takes no IDs"):
        hooks("list", new_id())


# --- the staff page's button ------------------------------------------------------------------


@pytest.fixture
def page_study(prolific_stub: ProlificStub):
    return StudyFactory(slug="live", recruiter="prolific",
                        recruiter_config={"study_id": prolific_stub.add_study()})  # fmt: skip


def test_the_button_switches_webhooks_on(workspace, prolific_stub, page_study, staff_client,
                                         settings):  # fmt: skip
    settings.SURVEYS_SITE_URL = SITE
    page = staff_client.get(reverse("surveys:prolific_page", args=[page_study.slug]))
    assert b"data-hooks-form" in page.content and b"data-hooks-off" in page.content
    answer = staff_client.post(reverse("surveys:prolific_hooks_on", args=[page_study.slug]),
                               follow=True)  # fmt: skip
    assert answer.status_code == 200 and b"subscribed and confirmed" in answer.content
    assert {row["target_url"] for row in prolific_stub.subscriptions.values()} == {TARGET}
    assert all(row["is_enabled"] for row in prolific_stub.subscriptions.values())
    assert b"data-hooks-off" not in answer.content


@pytest.mark.parametrize(
    ("site", "unset_workspace", "status", "message"),
    [
        ("", False, 400, b"only to https://"),  # the test client's own address is http
        (SITE, True, 503, b"PROLIFIC_WORKSPACE_ID is not set"),
    ],
)
def test_the_button_explains_what_is_missing(
    workspace, prolific_stub, page_study, staff_client, settings, monkeypatch,
    site, unset_workspace, status, message,
):  # fmt: skip
    settings.SURVEYS_SITE_URL = site
    if unset_workspace:
        monkeypatch.delenv("PROLIFIC_WORKSPACE_ID")
    answer = staff_client.post(reverse("surveys:prolific_hooks_on", args=[page_study.slug]))
    assert answer.status_code == status and message in answer.content
    assert not prolific_stub.requests and not HookSecret.objects.exists()


def test_the_button_is_for_staff_only(workspace, prolific_stub, page_study, non_staff_client):
    answer = non_staff_client.post(reverse("surveys:prolific_hooks_on", args=[page_study.slug]))
    assert answer.status_code in (302, 403)
    assert not prolific_stub.requests
