"""Publishing: HITs in batches of at most 9, each with its deterministic token, created once
through the ledger (re-runs, throttling, a duplicate token, a run killed after the call went
out), with the cost shown first and bad input refused before anything is called."""

from __future__ import annotations

from decimal import Decimal

import pytest
from botocore.stub import ANY

from surveys.models import LedgerEntry, LedgerStatus, StudyStatus
from surveys.recruiting.mturk.client import MTurkUnavailable
from surveys.recruiting.mturk.money import MTurkInputError
from surveys.recruiting.mturk.plans import ActionInput
from surveys.recruiting.mturk.publish import check_publish, do_publish, study_hits
from tests.surveys.recruiting.mturk.fixtures import (
    SITE,
    expect_create,
    hit,
    mturk_study,
    session,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]
REQUEST = ActionInput(site_url=SITE)
QUESTION = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<ExternalQuestion xmlns="http://mechanicalturk.'
    'amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd">'
    "<ExternalURL>https://study.example.org/s/{code}/</ExternalURL>"
    "<FrameHeight>800</FrameHeight></ExternalQuestion>"
)


def test_the_cost_estimate_counts_rewards_and_fees_per_batch_of_nine():
    study = mturk_study({"masters": True, "bonus": {"amount": "0.50", "reason": "Thanks"}})
    plan = check_publish(session(study, client=None), REQUEST)
    assert [(item.target, item.what) for item in plan.items] == [
        ("batch 1", "9 assignments"), ("batch 2", "9 assignments"), ("batch 3", "2 assignments"),
    ]  # fmt: skip
    # 20 x 1.50 rewards, 20 x 0.38 fees (20 % + 5 % Masters), 20 x 0.50 bonuses + 20 x 0.10 fees.
    assert plan.money.rewards == Decimal("30.00") and plan.money.reward_fees == Decimal("7.60")
    assert plan.money.bonuses == Decimal("10.00") and plan.money.bonus_fees == Decimal("2.00")
    assert plan.money.total == Decimal("49.60")
    assert [item.amount for item in plan.items] == [
        Decimal("16.92"),
        Decimal("16.92"),
        Decimal("3.76"),
    ]
    assert not LedgerEntry.objects.exists()


@pytest.mark.parametrize(("sandbox", "masters_id", "mode"), [
    (True, "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6", "sbx"),
    (False, "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH", "live"),
])  # fmt: skip
def test_publish_creates_each_batch_with_its_token_and_qualifications(
    stub, sandbox, masters_id, mode
):
    client, stubber = stub
    study = mturk_study({"sandbox": sandbox, "masters": True, "locales": ["US"]},
                        participants_wanted=11)  # fmt: skip
    for batch, size, hit_id in ((1, 9, "HIT1"), (2, 2, "HIT2")):
        token = f"{study.code}-{mode}-hit{batch}"
        stubber.add_response("create_hit", {"HIT": hit(hit_id, token, size)}, {
            "Title": "Rate pictures of an AI system's attention",
            "Description": ANY,
            "Keywords": "images, rating, survey, AI",
            "Reward": "1.50",
            "MaxAssignments": size,
            "LifetimeInSeconds": 7 * 24 * 3600,
            "AssignmentDurationInSeconds": 3600,
            "AutoApprovalDelayInSeconds": 72 * 3600,
            "Question": QUESTION.format(code=study.code),
            "QualificationRequirements": [
                {"QualificationTypeId": masters_id, "Comparator": "Exists",
                 "ActionsGuarded": "DiscoverPreviewAndAccept"},
                {"QualificationTypeId": "000000000000000000L0",
                 "Comparator": "GreaterThanOrEqualTo", "IntegerValues": [95],
                 "ActionsGuarded": "DiscoverPreviewAndAccept"},
                {"QualificationTypeId": "00000000000000000071", "Comparator": "In",
                 "LocaleValues": [{"Country": "US"}],
                 "ActionsGuarded": "DiscoverPreviewAndAccept"},
            ],
            "UniqueRequestToken": token,
            "RequesterAnnotation": token,
        })  # fmt: skip
    hits = do_publish(session(study, client), REQUEST)
    assert [(h.hit_id, h.batch, h.assignments) for h in hits] == [("HIT1", 1, 9), ("HIT2", 2, 2)]
    assert hits[0].worker_url.endswith("/projects/GROUP1/tasks")
    entries = LedgerEntry.objects.order_by("id")
    assert [(e.action, e.status, e.amount) for e in entries] == [
        ("publish", LedgerStatus.DONE, Decimal("16.92")),
        ("publish", LedgerStatus.DONE, Decimal("3.76")),
    ]
    assert all(len(e.token) <= 64 for e in entries)


def test_publishing_again_creates_only_what_is_missing(stub):
    client, stubber = stub
    study = mturk_study(participants_wanted=9)
    expect_create(stubber, study, 1, 9, "HIT1")
    do_publish(session(study, client), REQUEST)
    # The same run again calls nothing (the Stubber fails any unexpected call)...
    assert [h.hit_id for h in do_publish(session(study, client), REQUEST)] == ["HIT1"]
    # ... and more participants wanted make one more batch, numbered on.
    study.participants_wanted = 12
    study.save()
    expect_create(stubber, study, 2, 3, "HIT2")
    assert [h.hit_id for h in do_publish(session(study, client), REQUEST)] == ["HIT1", "HIT2"]


def test_throttling_is_retried_with_backoff_and_counted_in_the_ledger(stub, waits):
    client, stubber = stub
    study = mturk_study(participants_wanted=3)
    for _ in range(2):
        stubber.add_client_error("create_hit", "ThrottlingException", "Rate exceeded", 400)
    expect_create(stubber, study, 1, 3, "HIT1")
    do_publish(session(study, client, waits), REQUEST)
    entry = LedgerEntry.objects.get()
    assert (entry.status, entry.attempts, waits) == (LedgerStatus.DONE, 3, [0.5, 1.0])


def test_a_duplicate_token_counts_as_done_and_the_hit_is_found_by_its_annotation(stub):
    client, stubber = stub
    study = mturk_study(participants_wanted=4)
    token = f"{study.code}-sbx-hit1"
    stubber.add_client_error(
        "create_hit", "RequestError", "There is already a HIT which exists with the same client "
        "token.", 400, modeled_fields={"TurkErrorCode": "AWS.MechanicalTurk.HitAlreadyExists"},
    )  # fmt: skip
    # ListHITs is paged: the HIT is on the second page.
    stubber.add_response(
        "list_hits", {"HITs": [hit("OTHER", "someone-else", 5)], "NextToken": "page2"},
        {"MaxResults": 100},
    )  # fmt: skip
    stubber.add_response(
        "list_hits", {"HITs": [hit("HIT1", token, 4)]}, {"MaxResults": 100, "NextToken": "page2"}
    )
    hits = do_publish(session(study, client), REQUEST)
    assert [(h.hit_id, h.assignments) for h in hits] == [("HIT1", 4)]
    entry = LedgerEntry.objects.get()
    assert entry.status == LedgerStatus.DONE and "already_done" in entry.response


def test_a_run_killed_after_the_call_went_out_finds_its_hit_instead_of_creating_another(stub):
    client, stubber = stub
    study = mturk_study(participants_wanted=12)
    first = expect_create(stubber, study, 1, 9, "HIT1")

    def killed(**_: object) -> None:
        raise KeyboardInterrupt

    client.meta.events.register("after-call.mturk.CreateHIT", killed, unique_id="kill")
    with pytest.raises(KeyboardInterrupt):
        do_publish(session(study, client), REQUEST)
    client.meta.events.unregister("after-call.mturk.CreateHIT", unique_id="kill")
    assert LedgerEntry.objects.get().status == LedgerStatus.PENDING
    # Re-run: batch 1 is looked up (MTurk has it) and never created again; batch 2 is created.
    stubber.add_response("list_hits", {"HITs": [hit("HIT1", first, 9)]}, {"MaxResults": 100})
    expect_create(stubber, study, 2, 3, "HIT2")
    hits = do_publish(session(study, client), REQUEST)
    assert [h.hit_id for h in hits] == ["HIT1", "HIT2"]
    assert LedgerEntry.objects.filter(status=LedgerStatus.DONE).count() == 2


def test_an_insufficient_balance_is_one_line_and_nothing_is_published(stub):
    client, stubber = stub
    study = mturk_study(participants_wanted=2)
    stubber.add_client_error(
        "create_hit", "RequestError", "This Requester has insufficient funds in their account to "
        "complete this transaction.", 400,
        modeled_fields={"TurkErrorCode": "AWS.MechanicalTurk.InsufficientFunds"},
    )  # fmt: skip
    with pytest.raises(MTurkUnavailable) as raised:
        do_publish(session(study, client), REQUEST)
    line = str(raised.value)
    assert "\n" not in line and "closed on 30 September 2026" in line
    assert "balance is too low" in line and "nothing was paid" in line
    assert study_hits(session(study, client)) == []
    assert LedgerEntry.objects.get().status == LedgerStatus.FAILED


@pytest.mark.parametrize(
    ("site_url", "fields", "message"),
    [
        ("http://study.example.org", {}, "frames only HTTPS pages"),
        ("study.example.org", {}, "is not the site's address"),
        (SITE, {"status": StudyStatus.READY}, "open it before publishing"),
        (SITE, {"currency": "EUR"}, "pays only in USD"),
        (SITE, {"reward": Decimal("0.00")}, "cannot pay"),
        (SITE, {"estimated_minutes": 90}, "give workers more time"),
    ],
)
def test_bad_input_is_refused_before_anything_is_called(stub, site_url, fields, message):
    client, _ = stub
    study = mturk_study(**fields)
    with pytest.raises(MTurkInputError, match=message):
        do_publish(session(study, client), ActionInput(site_url=site_url))
    assert not LedgerEntry.objects.exists()


def test_plain_http_is_taken_for_this_machine_only(stub):
    client, stubber = stub
    study = mturk_study(participants_wanted=1)
    expect_create(stubber, study, 1, 1, "HIT1")
    hits = do_publish(session(study, client), ActionInput(site_url="http://127.0.0.1:8000/"))
    assert [h.hit_id for h in hits] == ["HIT1"]
