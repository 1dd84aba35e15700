"""MTurk bonuses through the ledger, on botocore's Stubber: a bonus whose answer was lost is
never sent again, neither under another amount (the ledger refuses the token) nor when MTurk
already lists a bonus of another amount on the assignment."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from surveys.models import LedgerEntry, LedgerStatus, Submission
from surveys.recruiting.mturk.pay import do_approve, do_bonus
from surveys.recruiting.mturk.plans import ActionInput
from tests.surveys.factories import ParticipantFactory
from tests.surveys.recruiting.mturk.fixtures import mturk_study, session

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]
REASON = "Thank you for careful answers."


@pytest.fixture
def study():
    """An MTurk study (reward 1.50 USD) with one submitted assignment of a finished worker."""
    study = mturk_study({"bonus": {"amount": "0.50", "reason": REASON}})
    participant = ParticipantFactory(study=study, external_id="AWORKER1", recruiter="mturk",
                                     status="completed")  # fmt: skip
    Submission.objects.create(
        study=study, participant=participant, recruiter="mturk", external_id="ASSIGN1",
        worker_id="AWORKER1", batch_id="HITONE", status="submitted",
    )  # fmt: skip
    return study


def _lost_bonus(client, stubber, study, amount: str) -> LedgerEntry:
    """Send ``amount`` to ASSIGN1 and lose the answer: MTurk paid, the ledger does not know."""
    stubber.add_response("send_bonus", {}, {
        "WorkerId": "AWORKER1", "BonusAmount": amount, "AssignmentId": "ASSIGN1",
        "Reason": REASON, "UniqueRequestToken": "bonus-ASSIGN1",
    })  # fmt: skip

    def die(**_: object) -> None:
        raise KeyboardInterrupt

    client.meta.events.register("after-call.mturk.SendBonus", die, unique_id="die")
    with pytest.raises(KeyboardInterrupt):
        do_bonus(session(study, client), ActionInput(("ASSIGN1",), amount=amount, reason=REASON))
    client.meta.events.unregister("after-call.mturk.SendBonus", unique_id="die")
    stubber.assert_no_pending_responses()
    return LedgerEntry.objects.get(token="bonus-ASSIGN1")


def test_a_lost_bonus_retried_with_another_amount_is_refused_and_not_sent(stub, study):
    client, stubber = stub
    entry = _lost_bonus(client, stubber, study, "0.50")
    assert entry.status == LedgerStatus.PENDING
    # The retry asks 0.80: nothing may go out (the Stubber fails on any call not expected).
    outcome = do_bonus(
        session(study, client), ActionInput(("ASSIGN1",), amount="0.80", reason=REASON)
    )
    assert outcome.done == [] and len(outcome.failures) == 1
    line = outcome.failures[0]
    assert line.startswith("ASSIGN1: bonus bonus-ASSIGN1 was first recorded (pending)")
    assert "for 0.50 USD and is now asked for 0.80 USD: nothing was sent" in line
    entry.refresh_from_db()
    assert (entry.amount, entry.status, entry.attempts) == (Decimal("0.50"), "pending", 1)


def test_a_bonus_of_another_amount_on_the_assignment_counts_as_its_one_bonus(stub, study):
    client, stubber = stub
    _lost_bonus(client, stubber, study, "0.50")
    # MTurk lists a bonus of 0.80 on the assignment (the token's 24 hours are over, or it was
    # paid by hand): that is its one bonus, so nothing is sent before approving.
    stubber.add_response(
        "list_bonus_payments",
        {"BonusPayments": [{"WorkerId": "AWORKER1", "BonusAmount": "0.80",
                            "AssignmentId": "ASSIGN1", "Reason": "By hand",
                            "GrantTime": datetime(2026, 8, 2, tzinfo=UTC)}]},
        {"AssignmentId": "ASSIGN1", "MaxResults": 100},
    )  # fmt: skip
    stubber.add_response("approve_assignment", {}, {"AssignmentId": "ASSIGN1"})
    outcome = do_approve(session(study, client), ActionInput())
    assert outcome.ok and outcome.done == ["ASSIGN1"] and outcome.details["bonused"] == ["ASSIGN1"]
    entry = LedgerEntry.objects.get(token="bonus-ASSIGN1")
    assert entry.status == LedgerStatus.DONE and entry.response["reconciled"] is True
    assert entry.response["BonusAmount"] == "0.80" and entry.response["asked"] == "0.50"
    # Run again: the bonus is done and the approval too; nothing goes out.
    assert do_approve(session(study, client), ActionInput()).done == []
