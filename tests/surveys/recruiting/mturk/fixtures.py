"""Shared rows, stubbed MTurk clients and answers for the MTurk tests (no tests here).

Every MTurk call in these tests goes through a real boto3 ``mturk`` client with botocore's
``Stubber`` activated, which checks each request's parameters against MTurk's service model and
the expected values, and fails on any call that was not expected.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from django.test import Client

from surveys.models import Participant, Study, Submission
from surveys.recruiting.mturk import client as mturk_client
from surveys.recruiting.mturk.client import MTurkSession, open_session
from surveys.recruiting.mturk.config import check_mturk_config
from surveys.recruiting.mturk.plans import ActionInput
from surveys.recruiting.mturk.publish import do_publish, token_prefix
from tests.surveys.participation.fixtures import build_study

SITE = "https://study.example.org"
CREATED = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)
EXPIRES = datetime(2026, 8, 8, 12, 0, tzinfo=UTC)
SUBMITTED = datetime(2026, 8, 1, 12, 30, tzinfo=UTC)


def mturk_study(config: dict[str, Any] | None = None, **fields: Any) -> Study:
    """An open MTurk study (reward 1.50 USD) with real stimuli and question sets."""
    values = {
        "recruiter": "mturk",
        "recruiter_config": check_mturk_config(config or {}).to_dict(),
        "reward": Decimal("1.50"),
        "currency": "USD",
        "participants_wanted": 20,
        "estimated_minutes": 10,
        **fields,
    }
    return build_study(**values).study


def new_stubbed_client() -> tuple[Any, Stubber]:
    client = boto3.client(
        "mturk",
        region_name="us-east-1",
        aws_access_key_id="AKIATESTING",
        aws_secret_access_key="testing-secret",
    )
    return client, Stubber(client)


@pytest.fixture(name="stub")
def stub_fixture() -> Iterator[tuple[Any, Stubber]]:
    """A stubbed client; at teardown every expected call must have been made."""
    client, stubber = new_stubbed_client()
    with stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture(name="waits")
def waits_fixture() -> list[float]:
    """The backoff waits a session would have slept (the tests do not sleep)."""
    return []


def session(study: Study, client: Any, waits: list[float] | None = None) -> MTurkSession:
    sleeps = waits if waits is not None else []
    return open_session(study, client=client, sleep=sleeps.append)


@pytest.fixture(name="use_client")
def use_client_fixture(monkeypatch: pytest.MonkeyPatch, stub: tuple[Any, Stubber]) -> Stubber:
    """Commands and pages get the stubbed client instead of a real one."""
    client, stubber = stub
    monkeypatch.setattr(mturk_client, "new_client", lambda sandbox: client)
    return stubber


def hit(hit_id: str, token: str, assignments: int, group: str = "GROUP1") -> dict[str, Any]:
    return {
        "HITId": hit_id,
        "HITTypeId": "TYPE1",
        "HITGroupId": group,
        "CreationTime": CREATED,
        "Title": "Rate pictures",
        "MaxAssignments": assignments,
        "Expiration": EXPIRES,
        "RequesterAnnotation": token,
        "HITStatus": "Assignable",
    }


def expect_create(
    stubber: Stubber, study: Study, batch: int, assignments: int, hit_id: str, sandbox: bool = True
) -> str:
    """Expect CreateHIT of ``batch`` (any shared parameters) and answer with ``hit_id``."""
    token = f"{token_prefix(study.code, sandbox)}{batch}"
    expected = {
        "Title": ANY, "Description": ANY, "Reward": ANY, "LifetimeInSeconds": ANY,
        "AssignmentDurationInSeconds": ANY, "AutoApprovalDelayInSeconds": ANY,
        "Question": ANY, "QualificationRequirements": ANY, "Keywords": ANY,
        "MaxAssignments": assignments, "UniqueRequestToken": token, "RequesterAnnotation": token,
    }  # fmt: skip
    stubber.add_response("create_hit", {"HIT": hit(hit_id, token, assignments)}, expected)
    return token


def publish(study: Study, hit_ids: Sequence[str], sizes: Sequence[int] | None = None) -> None:
    """Publish ``study`` through the real service on a stubbed client: one HIT per ID."""
    client, stubber = new_stubbed_client()
    sizes = sizes or [9] * len(hit_ids)
    for number, (hit_id, size) in enumerate(zip(hit_ids, sizes, strict=True), start=1):
        expect_create(stubber, study, number, size, hit_id, study.recruiter_config["sandbox"])
    with stubber:
        do_publish(session(study, client), ActionInput(site_url=SITE))
        stubber.assert_no_pending_responses()


def answer_xml(code: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>'
        '<QuestionFormAnswers xmlns="http://mechanicalturk.amazonaws.com/'
        'AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd">'
        "<Answer><QuestionIdentifier>completion_code</QuestionIdentifier>"
        f"<FreeText>{code}</FreeText></Answer></QuestionFormAnswers>"
    )


def assignment(
    assignment_id: str, worker: str, hit_id: str, status: str = "Submitted", code: str = ""
) -> dict[str, Any]:
    return {
        "AssignmentId": assignment_id,
        "WorkerId": worker,
        "HITId": hit_id,
        "AssignmentStatus": status,
        "AcceptTime": CREATED,
        "SubmitTime": SUBMITTED,
        "Answer": answer_xml(code),
    }


def entry_url(study: Study, assignment_id: str, worker: str, hit_id: str, **extra: str) -> str:
    params = {
        "assignmentId": assignment_id,
        "hitId": hit_id,
        "workerId": worker,
        "turkSubmitTo": "https://workersandbox.mturk.com",
        **extra,
    }
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"/s/{study.code}/?{query}"


def take_part(
    study: Study,
    assignment_id: str,
    worker: str,
    hit_id: str,
    submit_to: str = "https://workersandbox.mturk.com",
) -> Participant:
    """A worker enters through MTurk's frame and answers every question (test client)."""
    client = Client()
    url = entry_url(study, assignment_id, worker, hit_id, turkSubmitTo=submit_to)
    response = client.get(url, follow=True)
    assert response.status_code == 200, response.content
    participant = Participant.objects.get(study=study, external_id=worker)
    base = f"/s/{study.code}/p/{participant.code}/"
    client.post(base + "consent/", {"decision": "agree"})
    for position in range(1, participant.items.count() + 1):
        client.get(f"{base}q/{position}/")
        client.post(f"{base}q/{position}/", {"score": "3"})
    participant.refresh_from_db()
    return participant


def add_submission(
    study: Study, assignment_id: str, worker: str, hit_id: str = "HITONE", **fields: Any
) -> Submission:
    """A submission row as sync leaves it (submitted, unless ``fields`` say otherwise)."""
    values = {"status": "submitted", **fields}
    return Submission.objects.create(
        study=study,
        recruiter="mturk",
        external_id=assignment_id,
        worker_id=worker,
        batch_id=hit_id,
        **values,
    )
