"""Paying and deciding through the ledger: bonus before approve, nothing paid twice across
repeated and interrupted runs, already-decided answers checked, clear refusals (feedback,
amounts, an insufficient balance), and the block, expire, add-assignments and balance calls."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from surveys.models import LedgerEntry, LedgerStatus, Submission, SubmissionStatus
from surveys.recruiting.mturk.money import MTurkInputError
from surveys.recruiting.mturk.pay import check_approve, do_approve, do_bonus, do_reject
from surveys.recruiting.mturk.plans import ActionInput
from surveys.recruiting.mturk.publish import study_hits
from surveys.recruiting.mturk.workers import check_add, do_add, do_balance, do_block, do_expire
from tests.surveys.recruiting.mturk.fixtures import (
    mturk_study,
    publish,
    session,
    take_part,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]
BONUS = {"amount": "0.50", "reason": "Thank you for careful answers."}
STATUS_OF = "This operation can be called with a status of: Submitted"


def synced(study, assignment_id, worker, hit_id="HITONE", complete=True, status="submitted"):
    """A submission as sync leaves it; matched to a participant who took part when ``complete``."""
    participant = take_part(study, assignment_id, worker, hit_id) if complete else None
    return Submission.objects.create(
        study=study, participant=participant, recruiter="mturk", external_id=assignment_id,
        worker_id=worker, batch_id=hit_id, status=status, unmatched=participant is None,
    )  # fmt: skip


def expect_bonus(stubber, assignment_id, worker, amount="0.50", reason=BONUS["reason"]):
    stubber.add_response("send_bonus", {}, {
        "WorkerId": worker, "BonusAmount": amount, "AssignmentId": assignment_id,
        "Reason": reason, "UniqueRequestToken": f"bonus-{assignment_id}",
    })  # fmt: skip


def expect_approve(stubber, assignment_id):
    stubber.add_response("approve_assignment", {}, {"AssignmentId": assignment_id})


@pytest.fixture
def study():
    study = mturk_study({"bonus": BONUS})
    publish(study, ["HITONE", "HITTWO", "HITTHREE"], sizes=[9, 9, 2])
    return study


@pytest.fixture
def ready(study):
    """Three ready assignments, one unmatched and one of a worker who did not finish."""
    subs = [synced(study, f"ASSIGN{n}", f"AWORKER{n}") for n in (1, 2, 3)]
    synced(study, "ASSIGN8", "AWORKER8", complete=False)
    unfinished = synced(study, "ASSIGN9", "AWORKER9", complete=False)
    unfinished.unmatched = False
    unfinished.save()
    return subs


def test_the_plan_shows_the_ready_ones_and_the_money_first(study, ready):
    plan = check_approve(session(study, client=None), ActionInput())
    assert [item.target for item in plan.items] == ["ASSIGN1", "ASSIGN2", "ASSIGN3"]
    assert plan.items[0].what == "bonus 0.50, then approve (1.50 reward)"
    # 3 x (1.50 + 0.30 fee) + 3 x (0.50 + 0.10 fee)
    assert plan.money.total == Decimal("7.20") and plan.summary.endswith("3 bonus(es) first")
    assert not LedgerEntry.objects.filter(action__in=("bonus", "approve")).exists()


def test_approve_pays_each_bonus_before_its_approval(stub, study, ready):
    client, stubber = stub
    for n in (1, 2, 3):
        expect_bonus(stubber, f"ASSIGN{n}", f"AWORKER{n}")
        expect_approve(stubber, f"ASSIGN{n}")
    outcome = do_approve(session(study, client), ActionInput())
    assert outcome.ok and outcome.done == ["ASSIGN1", "ASSIGN2", "ASSIGN3"]
    assert outcome.details["bonused"] == ["ASSIGN1", "ASSIGN2", "ASSIGN3"]
    approved = Submission.objects.filter(status=SubmissionStatus.APPROVED)
    assert sorted(approved.values_list("external_id", flat=True)) == [
        "ASSIGN1",
        "ASSIGN2",
        "ASSIGN3",
    ]
    bonuses = LedgerEntry.objects.filter(action="bonus", status=LedgerStatus.DONE)
    assert [(b.amount, b.currency) for b in bonuses] == [(Decimal("0.50"), "USD")] * 3
    # Run again: nothing is paid or approved twice (any call would fail the Stubber).
    assert do_approve(session(study, client), ActionInput()).done == []


def test_a_run_killed_half_way_pays_nothing_twice_when_run_again(stub, study, ready):
    client, stubber = stub
    expect_bonus(stubber, "ASSIGN1", "AWORKER1")
    expect_approve(stubber, "ASSIGN1")
    expect_bonus(stubber, "ASSIGN2", "AWORKER2")
    paid = []

    def killed(**_: object) -> None:
        paid.append(1)
        if len(paid) == 2:
            raise KeyboardInterrupt  # dies after MTurk paid the bonus, before the ledger knew

    client.meta.events.register("after-call.mturk.SendBonus", killed, unique_id="kill")
    with pytest.raises(KeyboardInterrupt):
        do_approve(session(study, client), ActionInput())
    client.meta.events.unregister("after-call.mturk.SendBonus", unique_id="kill")
    stubber.assert_no_pending_responses()
    entry = LedgerEntry.objects.get(token="bonus-ASSIGN2")
    assert entry.status == LedgerStatus.PENDING and entry.attempts == 1
    # Re-run: ASSIGN2's bonus is found in MTurk's records, not sent again; then the rest.
    stubber.add_response(
        "list_bonus_payments",
        {"BonusPayments": [{"WorkerId": "AWORKER2", "BonusAmount": "0.50",
                            "AssignmentId": "ASSIGN2", "Reason": BONUS["reason"],
                            "GrantTime": datetime(2026, 8, 2, tzinfo=UTC)}]},
        {"AssignmentId": "ASSIGN2", "MaxResults": 100},
    )  # fmt: skip
    expect_approve(stubber, "ASSIGN2")
    expect_bonus(stubber, "ASSIGN3", "AWORKER3")
    expect_approve(stubber, "ASSIGN3")
    outcome = do_approve(session(study, client), ActionInput())
    assert outcome.done == ["ASSIGN2", "ASSIGN3"]
    entry.refresh_from_db()
    assert entry.status == LedgerStatus.DONE and entry.response["found_in"] == "ListBonusPayments"
    assert LedgerEntry.objects.filter(action="bonus").count() == 3


def test_an_expired_token_s_bonus_missing_from_mturk_is_sent_once_more(stub, study, ready):
    client, stubber = stub
    LedgerEntry.objects.create(
        study=study, recruiter="mturk", action="bonus", token="bonus-ASSIGN1",
        amount=Decimal("0.50"), currency="USD", attempts=1,
    )  # fmt: skip
    stubber.add_response("list_bonus_payments", {"BonusPayments": []},
                         {"AssignmentId": "ASSIGN1", "MaxResults": 100})  # fmt: skip
    expect_bonus(stubber, "ASSIGN1", "AWORKER1")
    expect_approve(stubber, "ASSIGN1")
    assert do_approve(session(study, client), ActionInput(("ASSIGN1",))).done == ["ASSIGN1"]


def test_an_insufficient_balance_holds_the_approval_back_and_records_nothing_as_paid(
    stub, study, ready
):
    client, stubber = stub
    stubber.add_client_error(
        "send_bonus", "RequestError", "This Requester has insufficient funds in their account "
        "to complete this transaction.", 400,
    )  # fmt: skip
    outcome = do_approve(session(study, client), ActionInput(("ASSIGN1",)))
    assert outcome.done == [] and len(outcome.failures) == 1
    line = outcome.failures[0]
    assert line.startswith("ASSIGN1: Amazon Mechanical Turk closed on 30 September 2026")
    assert "balance is too low" in line and "nothing was paid" in line and "\n" not in line
    assert LedgerEntry.objects.get(token="bonus-ASSIGN1").status == LedgerStatus.FAILED
    assert not LedgerEntry.objects.filter(action="approve").exists()
    assert Submission.objects.get(external_id="ASSIGN1").status == SubmissionStatus.SUBMITTED


def test_an_already_approved_answer_counts_as_done_once_mturk_confirms_it(stub):
    client, stubber = stub
    study = mturk_study()
    publish(study, ["HITONE", "HITTWO", "HITTHREE"], sizes=[9, 9, 2])
    synced(study, "ASSIGN1", "AWORKER1")
    synced(study, "ASSIGN2", "AWORKER2")
    for assignment_id, status in (("ASSIGN1", "Approved"), ("ASSIGN2", "Rejected")):
        stubber.add_client_error("approve_assignment", "RequestError", STATUS_OF, 400)
        stubber.add_response("get_assignment", {"Assignment": {
            "AssignmentId": assignment_id, "AssignmentStatus": status}},
            {"AssignmentId": assignment_id})  # fmt: skip
    outcome = do_approve(session(study, client), ActionInput(("ASSIGN1", "ASSIGN2")))
    assert outcome.done == ["ASSIGN1"]
    assert len(outcome.failures) == 1 and outcome.failures[0].startswith("ASSIGN2: ")
    assert LedgerEntry.objects.get(token="approve-ASSIGN1").response["already_done"]
    assert LedgerEntry.objects.get(token="approve-ASSIGN2").status == LedgerStatus.FAILED


def test_reject_requires_feedback_and_sends_it(stub, study):
    client, stubber = stub
    synced(study, "ASSIGN1", "AWORKER1", complete=False)
    with pytest.raises(MTurkInputError, match="needs feedback"):
        do_reject(session(study, client), ActionInput(("ASSIGN1",), feedback="  "))
    stubber.add_response("reject_assignment", {}, {
        "AssignmentId": "ASSIGN1", "RequesterFeedback": "The study was not completed.",
    })  # fmt: skip
    outcome = do_reject(
        session(study, client), ActionInput(("ASSIGN1",), feedback="The study was\nnot completed.")
    )
    assert outcome.done == ["ASSIGN1"]
    assert Submission.objects.get().status == SubmissionStatus.REJECTED
    with pytest.raises(MTurkInputError, match="only submitted assignments can be rejected"):
        do_reject(session(study, client), ActionInput(("ASSIGN1",), feedback="again"))


def test_a_bonus_is_paid_once_per_assignment_and_a_duplicate_token_counts_as_done(stub, study):
    client, stubber = stub
    synced(study, "ASSIGN1", "AWORKER1")
    synced(study, "ASSIGN2", "AWORKER2")
    expect_bonus(stubber, "ASSIGN1", "AWORKER1", "1.25", "Top accuracy")
    stubber.add_client_error(
        "send_bonus", "RequestError", "The request is a duplicate request.", 400,
        modeled_fields={"TurkErrorCode": "AWS.MechanicalTurk.DuplicateRequest"},
    )  # fmt: skip
    request = ActionInput(("ASSIGN1", "ASSIGN2"), amount="1.25", reason="Top accuracy")
    outcome = do_bonus(session(study, client), request)
    assert outcome.done == ["ASSIGN1", "ASSIGN2"] and outcome.ok
    assert do_bonus(session(study, client), request).already == ["ASSIGN1", "ASSIGN2"]
    with pytest.raises(MTurkInputError, match="already got a bonus of 1.25 USD"):
        do_bonus(session(study, client), ActionInput(("ASSIGN1",), amount="1.40", reason="More"))


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (ActionInput(("ASSIGN1",), amount="1.005", reason="x"), "not an amount in dollars"),
        (ActionInput(("ASSIGN1",), amount="-1", reason="x"), "not an amount in dollars"),
        (ActionInput(("ASSIGN1",), amount="500", reason="x"), "looks like a typo"),
        (ActionInput(("NOSUCH",), amount="1.00", reason="x"), "not an assignment of study"),
        (ActionInput((), amount="1.00", reason="x"), "Name the assignments"),
    ],
)
def test_bad_bonus_requests_are_refused_before_any_call(stub, request_, message):
    client, _ = stub
    study = mturk_study(participants_wanted=9)
    publish(study, ["HITONE"], sizes=[9])
    synced(study, "ASSIGN1", "AWORKER1", complete=False)
    with pytest.raises(MTurkInputError, match=message):
        do_bonus(session(study, client), request_)
    assert not LedgerEntry.objects.filter(action="bonus").exists()


def test_block_calls_once_per_worker_and_checks_the_ids(stub, study):
    client, stubber = stub
    for worker in ("AWORKER1", "AWORKER2"):
        stubber.add_response("create_worker_block", {}, {"WorkerId": worker, "Reason": "Bots"})
    request = ActionInput(("AWORKER1", "aworker2", "AWORKER1"), reason="Bots")
    assert do_block(session(study, client), request).done == ["AWORKER1", "AWORKER2"]
    assert do_block(session(study, client), request).already == ["AWORKER1", "AWORKER2"]
    with pytest.raises(MTurkInputError, match="not MTurk worker IDs"):
        do_block(session(study, client), ActionInput(("W-1",), reason="Bots"))
    with pytest.raises(MTurkInputError, match="needs a reason"):
        do_block(session(study, client), ActionInput(("AWORKER3",)))


def test_expire_sets_every_hit_s_expiration_in_the_past_once(stub, study):
    client, stubber = stub
    for hit_id in ("HITONE", "HITTWO", "HITTHREE"):
        stubber.add_response("update_expiration_for_hit", {}, {
            "HITId": hit_id, "ExpireAt": datetime(2015, 1, 1, tzinfo=UTC)})  # fmt: skip
    assert do_expire(session(study, client), ActionInput()).done == ["HITONE", "HITTWO", "HITTHREE"]
    assert len(do_expire(session(study, client), ActionInput()).already) == 3
    with pytest.raises(MTurkInputError, match="not a HIT of study"):
        do_expire(session(study, client), ActionInput(("HITELSEWHERE",)))


def test_adding_assignments_respects_the_ten_assignment_rule(stub, study):
    client, stubber = stub
    offline = session(study, client=None)
    with pytest.raises(MTurkInputError, match="does not let a HIT under 10"):
        check_add(offline, ActionInput(("HITTHREE",), count="8"))
    with pytest.raises(MTurkInputError, match="does not let a HIT under 10"):
        check_add(offline, ActionInput(("HITONE",), count="1"))
    with pytest.raises(MTurkInputError, match="whole number"):
        check_add(offline, ActionInput(("HITTHREE",), count="two"))
    plan = check_add(offline, ActionInput(("HITTHREE",), count="3"))
    assert plan.money.total == Decimal("5.40") and "raise participants_wanted" in plan.notes[0]
    token = "add-HITTHREE-5"
    expected = {
        "HITId": "HITTHREE",
        "NumberOfAdditionalAssignments": 3,
        "UniqueRequestToken": token,
    }
    stubber.add_response("create_additional_assignments_for_hit", {}, expected)
    assert do_add(session(study, client), ActionInput(("HITTHREE",), count="3")).done == [
        "HITTHREE"
    ]
    hits = {hit.hit_id: hit.assignments for hit in study_hits(session(study, client))}
    assert hits["HITTHREE"] == 5


def test_the_balance_is_read_without_touching_the_ledger(stub, study):
    client, stubber = stub
    stubber.add_response("get_account_balance", {"AvailableBalance": "123.45"}, {})
    assert do_balance(session(study, client)) == {"available": Decimal("123.45")}
    assert not LedgerEntry.objects.exclude(action="publish").exists()
