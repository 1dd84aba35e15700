"""When MTurk refuses or cannot be reached, every command and page says so in one line that names
the closure notice: a closed port, no credentials, refused credentials, a service that keeps
failing, a bad endpoint setting. Real boto3 clients here, pointed at this machine only."""

from __future__ import annotations

import socket

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from surveys.models import LedgerEntry, LedgerStatus, Submission
from surveys.recruiting.mturk.client import MTurkUnavailable, explain_mturk_error, open_session
from surveys.recruiting.mturk.plans import ActionInput
from surveys.recruiting.mturk.sync import do_periodic_sync, do_sync
from surveys.recruiting.mturk.workers import do_expire
from tests.surveys.recruiting.mturk.fixtures import (
    assignment,
    mturk_study,
    publish,
    session,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]
NOTICE = "Amazon Mechanical Turk closed on 30 September 2026"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def no_aws_files(monkeypatch, tmp_path):
    """No shared credential files, profiles or instance metadata can answer for the tests."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def unreachable(monkeypatch, no_aws_files) -> str:
    url = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("MTURK_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTING")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    return url


@pytest.fixture
def study():
    study = mturk_study(participants_wanted=9)
    publish(study, ["HITONE"])
    return study


def one_line(text: str) -> str:
    assert "\n" not in text.strip() and "Traceback" not in text and NOTICE in text, text
    return text


def test_an_unreachable_endpoint_is_one_line_in_the_command(study, unreachable):
    for action in (["balance"], ["sync"], ["expire", "--yes"]):
        with pytest.raises(CommandError) as raised:
            call_command("mturk", action[0], study.slug, *action[1:])
        line = one_line(str(raised.value))
        assert f"{unreachable}/ cannot be reached" in line or unreachable in line
        assert "MTURK_ENDPOINT_URL" in line and "Prolific" in line
    # The expire call was written to the ledger before it failed, and says why.
    entry = LedgerEntry.objects.get(action="expire")
    assert entry.status == LedgerStatus.FAILED and "EndpointConnectionError" in entry.error


def test_an_unreachable_endpoint_is_one_line_on_the_desk(study, unreachable, staff_client):
    balance = staff_client.get(reverse("surveys:mturk_balance", args=[study.slug]))
    assert balance.status_code == 200
    one_line(balance.content.decode().split('role="alert">')[1].split("</p>")[0])
    page = staff_client.post(
        reverse("surveys:mturk_action", args=[study.slug, "sync"]),
        {"confirmed": "yes", "seen_total": "0.00"},
    )
    assert page.status_code == 503
    one_line(page.content.decode().split('id="problem">')[1].split("</p>")[0])


def test_the_periodic_sync_reports_the_closure_and_moves_on(study, unreachable):
    line = do_periodic_sync(study.pk)
    assert line.startswith(f"study {study.slug}: ") and one_line(line)


def test_missing_credentials_are_one_line(study, no_aws_files, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.setenv("MTURK_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(MTurkUnavailable) as raised:
        do_sync(open_session(study))
    assert "no usable AWS credentials" in one_line(str(raised.value))


def test_a_bad_endpoint_setting_is_one_line(study, monkeypatch):
    monkeypatch.setenv("MTURK_ENDPOINT_URL", "mturk.example.org")
    with pytest.raises(CommandError, match="MTURK_ENDPOINT_URL='mturk.example.org' is not a URL"):
        call_command("mturk", "balance", study.slug)


def test_refused_credentials_are_one_line(stub, study):
    client, stubber = stub
    stubber.add_client_error(
        "list_assignments_for_hit", "UnrecognizedClientException",
        "The security token included in the request is invalid.", 400,
    )  # fmt: skip
    with pytest.raises(MTurkUnavailable) as raised:
        do_sync(session(study, client))
    assert "refused the credentials" in one_line(str(raised.value))


def test_a_service_that_keeps_failing_is_retried_then_one_line(stub, study, waits):
    client, stubber = stub
    for _ in range(5):
        stubber.add_client_error("update_expiration_for_hit", "ServiceUnavailable", "Down", 503)
    with pytest.raises(MTurkUnavailable) as raised:
        do_expire(session(study, client, waits), ActionInput())
    assert "not answering" in one_line(str(raised.value)) and waits == [0.5, 1.0, 2.0, 4.0]
    assert LedgerEntry.objects.get(action="expire").attempts == 5


def test_a_listing_refused_half_way_keeps_what_was_synced(stub, study):
    client, stubber = stub
    stubber.add_response(
        "list_assignments_for_hit",
        {"Assignments": [assignment("ASSIGN1", "AWORKER1", "HITONE")], "NextToken": "p2"},
        {"HITId": "HITONE", "MaxResults": 100},
    )  # fmt: skip
    stubber.add_client_error("list_assignments_for_hit", "RequestError", "Bad token", 400)
    with pytest.raises(MTurkUnavailable, match="refused ListAssignmentsForHIT"):
        do_sync(session(study, client))
    assert list(Submission.objects.values_list("external_id", flat=True)) == ["ASSIGN1"]


def test_other_errors_are_not_taken_for_mturk_s():
    assert explain_mturk_error(ValueError("a bug")) is None
