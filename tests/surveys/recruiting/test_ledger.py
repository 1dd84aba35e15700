"""The payment ledger makes each recruiter call once, whatever is re-run or interrupted."""

from __future__ import annotations

from decimal import Decimal

import pytest

from surveys.models import LedgerEntry, LedgerStatus
from surveys.recruiting import ledger
from surveys.recruiting.ledger import LedgerCallError, Step, do_ledger_step
from tests.surveys.factories import StudyFactory

pytestmark = pytest.mark.django_db


class Throttled(Exception):
    pass


class Calls:
    """A recruiter call that fails as scripted, then answers; counts how often it went out."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.made = 0

    def __call__(self) -> dict[str, str]:
        self.made += 1
        if self.failures:
            raise self.failures.pop(0)
        return {"paid": "yes"}


def _step(study, token="bonus-A1-1", repeatable=True) -> Step:
    return Step(study, "mturk", "bonus", token, Decimal("0.50"), "USD", repeatable=repeatable)


def test_a_done_step_is_never_called_again():
    study = StudyFactory()
    first = Calls()
    entry = do_ledger_step(_step(study), first)
    again = Calls()
    assert do_ledger_step(_step(study), again).pk == entry.pk
    assert (first.made, again.made) == (1, 0)
    entry.refresh_from_db()
    assert entry.status == LedgerStatus.DONE and entry.response == {"paid": "yes"}
    assert entry.amount == Decimal("0.50") and LedgerEntry.objects.count() == 1


def test_throttling_is_retried_with_backoff_and_counted():
    waits: list[float] = []
    calls = Calls(Throttled("rate"), Throttled("rate"))
    entry = do_ledger_step(_step(StudyFactory()), calls, retryable=(Throttled,), sleep=waits.append)
    assert calls.made == 3 and entry.attempts == 3 and entry.status == LedgerStatus.DONE
    assert waits == [0.5, 1.0]


def test_retries_give_up_and_the_entry_says_why():
    calls = Calls(*[Throttled("rate")] * 5)
    with pytest.raises(LedgerCallError, match="after 5 tries"):
        do_ledger_step(_step(StudyFactory()), calls, retryable=(Throttled,), sleep=lambda _: None)
    entry = LedgerEntry.objects.get()
    assert entry.status == LedgerStatus.FAILED and "rate" in entry.error


def test_an_already_done_answer_counts_as_done():
    calls = Calls(ValueError("This operation can be called with a status of: Submitted"))
    entry = do_ledger_step(
        _step(StudyFactory()), calls, already_done=lambda exc: "status of" in str(exc)
    )
    assert entry.status == LedgerStatus.DONE and "already_done" in entry.response


def test_a_failed_step_is_tried_again_on_the_same_entry():
    study = StudyFactory()
    with pytest.raises(LedgerCallError):
        do_ledger_step(_step(study), Calls(ValueError("insufficient funds")))
    entry = do_ledger_step(_step(study), Calls())
    assert entry.status == LedgerStatus.DONE and entry.attempts == 2
    assert LedgerEntry.objects.count() == 1


def test_an_interrupted_repeatable_call_is_made_again_with_the_same_token():
    study = StudyFactory()
    with pytest.raises(KeyboardInterrupt):
        do_ledger_step(_step(study), Calls(KeyboardInterrupt()))
    assert LedgerEntry.objects.get().status == LedgerStatus.PENDING
    calls = Calls()
    assert do_ledger_step(_step(study), calls).status == LedgerStatus.DONE
    assert calls.made == 1


def test_an_interrupted_payment_that_cannot_repeat_is_reconciled_not_paid_twice():
    study = StudyFactory()
    step = _step(study, "pay-1", repeatable=False)
    with pytest.raises(KeyboardInterrupt):
        do_ledger_step(step, Calls(KeyboardInterrupt()))
    # the service says the payment went through: it is recorded, not made again
    calls = Calls()
    entry = do_ledger_step(step, calls, reconcile=lambda: {"status": "paid"})
    assert calls.made == 0 and entry.status == LedgerStatus.DONE
    assert entry.response == {"status": "paid", "reconciled": True}


def test_an_interrupted_payment_is_made_when_the_service_has_no_record_of_it():
    study = StudyFactory()
    step = _step(study, "pay-2", repeatable=False)
    with pytest.raises(KeyboardInterrupt):
        do_ledger_step(step, Calls(KeyboardInterrupt()))
    calls = Calls()
    assert do_ledger_step(step, calls, reconcile=lambda: None).status == LedgerStatus.DONE
    assert calls.made == 1
    # without a way to ask the service, it refuses to guess
    step3 = _step(study, "pay-3", repeatable=False)
    with pytest.raises(KeyboardInterrupt):
        do_ledger_step(step3, Calls(KeyboardInterrupt()))
    with pytest.raises(LedgerCallError, match="cannot be repeated safely"):
        do_ledger_step(step3, Calls())


def test_a_token_names_one_call_only():
    study = StudyFactory()
    do_ledger_step(_step(study, "t-1"), Calls())
    other = Step(study, "mturk", "approve", "t-1")
    with pytest.raises(ValueError, match="already belongs"):
        do_ledger_step(other, Calls())


def test_of_two_runs_that_read_the_same_entry_only_one_claims_the_call():
    study = StudyFactory()
    with pytest.raises(KeyboardInterrupt):
        do_ledger_step(_step(study, "race-1"), Calls(KeyboardInterrupt()))
    mine = LedgerEntry.objects.get(token="race-1")
    theirs = LedgerEntry.objects.get(token="race-1")
    ledger._claim(theirs)  # the other run takes the next attempt first
    with pytest.raises(LedgerCallError, match="another run"):
        ledger._claim(mine)  # this run read the same entry: it must not call
    assert LedgerEntry.objects.get(token="race-1").attempts == 2
