"""Prolific's money and state changes against the local stub, each through the ledger: the
draft, the paged sync, approve, reject (the 100-character rule), bonuses set up and paid, and
re-runs and interruptions that never pay twice."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connections
from django.utils import timezone

from surveys.models import (
    LedgerEntry,
    LedgerStatus,
    Participant,
    ParticipantStatus,
    Study,
    Submission,
    SubmissionStatus,
)
from surveys.recruiting.ledger import LedgerCallError
from surveys.recruiting.prolific.api import ProlificClient, ProlificInputError
from surveys.recruiting.prolific.bonus import (
    PAY_SETTLE_MINUTES,
    do_pay,
    do_setup_bonus,
    plan_bonus,
    plan_pay,
    unpaid_bonuses,
)
from surveys.recruiting.prolific.review import do_approve, do_reject, plan_approve, plan_reject
from surveys.recruiting.prolific.study import do_create_draft, plan_create
from surveys.recruiting.prolific.sync import do_sync
from tests.surveys.factories import ParticipantFactory, StudyFactory
from tests.surveys.recruiting.prolific.stub import ProlificStub, new_id

pytestmark = pytest.mark.django_db

LINK = "https://study.example.org/s/abc/"
REASON = (
    "You answered all 40 questions in under a minute, far faster than the pictures take to "
    "load, and failed both instructed items."
)


def client() -> ProlificClient:
    return ProlificClient.from_env(sleep=lambda _: None)


def prolific_study(**fields) -> Study:
    values = {"recruiter": "prolific", "reward": Decimal("2.40"), "currency": "GBP",
              "estimated_minutes": 12, "participants_wanted": 30, **fields}  # fmt: skip
    return StudyFactory(**values)


@pytest.fixture
def running(prolific_stub: ProlificStub):
    """A Prolific study with 5 submissions: 3 completed here, 1 unfinished, 1 unknown to us."""
    study_id = prolific_stub.add_study(name="live")
    study = prolific_study(recruiter_config={"study_id": study_id})
    people = {}
    for status in ["completed"] * 3 + ["consented"]:
        pid = new_id()
        people[pid] = ParticipantFactory(study=study, external_id=pid, recruiter="prolific",
                                         status=status)  # fmt: skip
        prolific_stub.add_submission(study_id, pid)
    stranger = prolific_stub.add_submission(study_id)
    return prolific_stub, study, people, stranger


# --- the draft --------------------------------------------------------------------------------


def test_the_draft_carries_the_study_with_the_reward_in_pence(prolific_stub):
    study = prolific_study()
    plan = plan_create(study, LINK)
    assert plan.total == Decimal("72.00") and plan.currency == "GBP"
    result = do_create_draft(study, plan, client())
    sent = prolific_stub.calls("POST", "/studies/$")[0].body
    assert sent["reward"] == 240 and sent["estimated_completion_time"] == 12
    assert sent["total_available_places"] == 30 and sent["name"] == study.public_title
    assert sent["completion_codes"] == [{"code": study.completion_code, "code_type": "COMPLETED",
                                         "actions": [{"action": "MANUALLY_REVIEW"}]}]  # fmt: skip
    assert sent["external_study_url"] == (
        f"{LINK}?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}&STUDY_ID={{{{%STUDY_ID%}}}}"
        "&SESSION_ID={{%SESSION_ID%}}"
    )
    study.refresh_from_db()
    prolific_id = study.recruiter_config["study_id"]
    assert prolific_stub.studies[prolific_id]["status"] == "UNPUBLISHED"
    assert study.recruiter_config["status"] == "UNPUBLISHED" and prolific_id in result.message
    with pytest.raises(ProlificInputError, match="already has the Prolific study"):
        plan_create(study, LINK)


def test_a_draft_whose_answer_was_lost_is_found_not_created_twice(prolific_stub):
    study = prolific_study(recruiter_config={"review": "automatic"})
    plan = plan_create(study, LINK)
    prolific_stub.hang_up_after.append(("POST", "/studies/$"))
    with pytest.raises(LedgerCallError, match="cannot be reached"):
        do_create_draft(study, plan, client())
    assert len(prolific_stub.studies) == 1  # it went out and was created
    do_create_draft(study, plan, client())
    assert len(prolific_stub.calls("POST", "/studies/$")) == 1 and len(prolific_stub.studies) == 1
    study.refresh_from_db()
    created = next(iter(prolific_stub.studies.values()))
    assert study.recruiter_config["study_id"] == created["id"]
    assert created["completion_codes"][0]["actions"] == [{"action": "AUTOMATICALLY_APPROVE"}]
    assert LedgerEntry.objects.get().response["reconciled"] is True


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"currency": "EUR"}, "Prolific pays in GBP or USD"),
        ({"reward": Decimal("0")}, "has no reward"),
        ({"reward": Decimal("0.50")}, r"raise the reward to at least 1.20"),
        ({"recruiter": "link"}, "recruits through Plain link"),
    ],
)
def test_a_draft_that_prolific_would_refuse_is_stopped_first(prolific_stub, fields, message):
    with pytest.raises(ProlificInputError, match=message):
        plan_create(prolific_study(**fields), LINK)
    with pytest.raises(ProlificInputError, match="not https"):
        plan_create(prolific_study(), "http://study.example.org/s/abc/")
    assert not prolific_stub.requests and not LedgerEntry.objects.exists()


# --- sync -------------------------------------------------------------------------------------


def test_sync_mirrors_every_page_and_flags_strangers(running):
    stub, study, people, stranger = running
    summary = do_sync(study, client(), page_size=2)
    assert (summary.seen, summary.created, summary.unmatched) == (5, 5, 1)
    assert len(stub.calls("GET", "/submissions/$")) == 3  # pages of 2
    flagged = Submission.objects.get(external_id=stranger)
    assert flagged.unmatched and flagged.participant is None
    matched = Submission.objects.exclude(pk=flagged.pk)
    assert {row.participant.external_id for row in matched} == set(people)
    assert {row.status for row in matched} == {SubmissionStatus.SUBMITTED}
    # a participant who returned on Prolific is marked returned here (frees the place) ...
    unfinished = next(p for p in people.values() if p.status == "consented")
    gone = Submission.objects.get(participant=unfinished).external_id
    stub.submissions[gone]["status"] = "RETURNED"
    assert do_sync(study, client()).returned == 1 and Submission.objects.count() == 5
    unfinished.refresh_from_db()
    assert unfinished.status == ParticipantStatus.RETURNED
    # ... but one who completed keeps the answers
    done = next(p for p in people.values() if p.status == "completed")
    stub.submissions[Submission.objects.get(participant=done).external_id]["status"] = "TIMED-OUT"
    do_sync(study, client())
    done.refresh_from_db()
    assert done.status == ParticipantStatus.COMPLETED


# --- approve and reject -----------------------------------------------------------------------


def test_approve_pays_the_clean_ones_once(running):
    stub, study, people, stranger = running
    do_sync(study, client())
    plan = plan_approve(study)
    assert len(plan.targets) == 3 and plan.total == Decimal("7.20")
    assert any("no participant of ours" in note for note in plan.notes)
    assert any("survey not completed" in note for note in plan.notes)
    result = do_approve(study, plan, client())
    assert result.ok and "Approved 3 of 3" in result.message
    assert len(stub.calls("POST", "/transition/$")) == 3
    assert {stub.submissions[sid]["status"] for sid in plan.targets} == {"APPROVED"}
    # the re-run calls nothing: the ledger has each approval
    do_approve(study, plan, client())
    assert len(stub.calls("POST", "/transition/$")) == 3
    entries = LedgerEntry.objects.filter(action="approve")
    assert entries.count() == 3 and {e.amount for e in entries} == {Decimal("2.40")}
    with pytest.raises(ProlificInputError, match="no submission of .* awaits approval"):
        plan_approve(study)


def test_a_throttled_approval_is_retried_and_a_refused_one_reported(running):
    stub, study, people, stranger = running
    do_sync(study, client())
    plan = plan_approve(study)
    stub.fail_next.append(("POST", "/transition/$", 429))
    stub.fail_next.append(("POST", f"{plan.targets[2]}/transition/$", 400))
    result = do_approve(study, plan, client())
    assert not result.ok and "Approved 2 of 3" in result.message
    assert plan.targets[2] in result.failures[0] and "HTTP 400" in result.failures[0]
    assert LedgerEntry.objects.get(token=f"prolific-approve-{plan.targets[2]}").status == (
        LedgerStatus.FAILED
    )


def test_reject_needs_a_long_message_and_a_category_before_any_call(running):
    stub, study, people, stranger = running
    do_sync(study, client())
    target = Submission.objects.filter(participant__isnull=False).first().external_id
    with pytest.raises(ProlificInputError, match="has 9 characters; Prolific needs at least 100"):
        plan_reject(study, [target], "Too fast.", "TOO_QUICKLY")
    with pytest.raises(ProlificInputError, match="not a Prolific rejection category"):
        plan_reject(study, [target], REASON, "RUDE")
    with pytest.raises(ProlificInputError, match="not a submission of"):
        plan_reject(study, [new_id()], REASON, "TOO_QUICKLY")
    assert not stub.calls("POST", "/transition/$")
    plan = plan_reject(study, [target], REASON, "too_quickly")
    assert do_reject(study, plan, client()).ok
    sent = stub.calls("POST", "/transition/$")[0].body
    assert sent == {"action": "REJECT", "message": REASON, "rejection_category": "TOO_QUICKLY"}
    assert Submission.objects.get(external_id=target).status == SubmissionStatus.REJECTED
    with pytest.raises(ProlificInputError, match="only submissions awaiting review"):
        plan_reject(study, [target], REASON, "TOO_QUICKLY")


# --- bonuses ----------------------------------------------------------------------------------


def _bonus_lines(study) -> str:
    rows = Submission.objects.filter(study=study, unmatched=False).order_by("id")[:2]
    return f"{rows[0].external_id},0.50\n# a comment\n{rows[1].worker_id},1.25\n"


def test_bonuses_are_set_up_once_and_paid_once(running):
    stub, study, people, stranger = running
    do_sync(study, client())
    plan = plan_bonus(study, _bonus_lines(study))
    assert plan.total == Decimal("1.75")
    setup = do_setup_bonus(study, plan, client())
    assert setup.ok and "1.75 GBP in bonuses, 2.18 GBP with fees" in setup.message
    sent = stub.calls("POST", "/bonus-payments/$")[0].body
    assert sent["csv_bonuses"].splitlines()[0].endswith(",0.50")
    # asking again for the same bonuses sets nothing up again
    again = plan_bonus(study, _bonus_lines(study))
    assert "Already set up" in again.notes[0]
    do_setup_bonus(study, again, client())
    assert len(stub.calls("POST", "/bonus-payments/$")) == 1
    (bulk,) = unpaid_bonuses(study)
    pay = plan_pay(study)
    assert pay.targets == (bulk.bulk_id,) and pay.total == Decimal("2.18")  # bonuses + fees
    assert do_pay(study, pay, client()).ok
    do_pay(study, pay, client())  # a re-run pays nothing
    assert stub.pay_calls == [bulk.bulk_id]
    assert sorted(len(s["bonus_payments"]) for s in stub.submissions.values()) == [0, 0, 0, 1, 1]
    with pytest.raises(ProlificInputError, match="no bonus set up and unpaid"):
        plan_pay(study)


def test_a_payment_whose_answer_was_lost_is_reconciled_not_paid_again(running):
    stub, study, people, stranger = running
    do_sync(study, client())
    do_setup_bonus(study, plan_bonus(study, _bonus_lines(study)), client())
    pay = plan_pay(study)
    stub.hang_up_after.append(("POST", "/pay/$"))
    lost = do_pay(study, pay, client())
    assert not lost.ok and "cannot be reached" in lost.message
    assert len(stub.pay_calls) == 1
    # the re-run asks Prolific, sees the bonuses paid, and records it
    assert do_pay(study, plan_pay(study), client()).ok
    assert len(stub.pay_calls) == 1
    entry = LedgerEntry.objects.get(action="bonus_pay")
    assert entry.status == LedgerStatus.DONE and entry.response["reconciled"] is True


def test_a_run_killed_after_the_pay_call_is_reconciled_too(running, monkeypatch):
    stub, study, people, stranger = running
    do_sync(study, client())
    do_setup_bonus(study, plan_bonus(study, _bonus_lines(study)), client())
    real_pay = ProlificClient.pay_bonuses

    def pay_then_die(self, bulk_id):
        real_pay(self, bulk_id)
        raise KeyboardInterrupt  # the process is stopped before the answer is recorded

    monkeypatch.setattr(ProlificClient, "pay_bonuses", pay_then_die)
    with pytest.raises(KeyboardInterrupt):
        do_pay(study, plan_pay(study), client())
    assert LedgerEntry.objects.get(action="bonus_pay").status == LedgerStatus.PENDING
    monkeypatch.setattr(ProlificClient, "pay_bonuses", real_pay)
    assert do_pay(study, plan_pay(study), client()).ok
    assert len(stub.pay_calls) == 1


def test_an_unconfirmed_payment_waits_then_pays_only_if_prolific_shows_nothing(
    running, monkeypatch
):
    stub, study, people, stranger = running
    do_sync(study, client())
    do_setup_bonus(study, plan_bonus(study, _bonus_lines(study)), client())
    real_pay = ProlificClient.pay_bonuses

    def die_before_sending(self, bulk_id):
        raise KeyboardInterrupt

    monkeypatch.setattr(ProlificClient, "pay_bonuses", die_before_sending)
    with pytest.raises(KeyboardInterrupt):
        do_pay(study, plan_pay(study), client())
    monkeypatch.setattr(ProlificClient, "pay_bonuses", real_pay)
    # right away: it may still be on its way, so nothing is paid and the message says when
    soon = do_pay(study, plan_pay(study), client())
    assert not soon.ok and "to avoid paying twice, run pay again after" in soon.message
    assert stub.pay_calls == []
    # after the settling time, Prolific still shows nothing: now it pays, once
    later = timezone.now() + timedelta(minutes=PAY_SETTLE_MINUTES + 1)
    assert do_pay(study, plan_pay(study), client(), now=later).ok
    assert len(stub.pay_calls) == 1


def test_a_refused_payment_is_made_again_at_once(running):
    stub, study, people, stranger = running
    do_sync(study, client())
    do_setup_bonus(study, plan_bonus(study, _bonus_lines(study)), client())
    stub.fail_next.append(("POST", "/pay/$", 400))
    refused = do_pay(study, plan_pay(study), client())
    assert not refused.ok and "HTTP 400" in refused.message and stub.pay_calls == []
    assert do_pay(study, plan_pay(study), client()).ok and len(stub.pay_calls) == 1


def test_a_second_run_paying_the_same_bonus_at_once_is_turned_away(running):
    from surveys.recruiting.prolific.bonus import _paying

    stub, study, people, stranger = running
    do_sync(study, client())
    do_setup_bonus(study, plan_bonus(study, _bonus_lines(study)), client())
    pay = plan_pay(study)
    holding, release = threading.Event(), threading.Event()

    def first_run() -> None:  # another request, on its own database connection
        try:
            with _paying(pay.targets[0]):
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()

    other = threading.Thread(target=first_run)
    other.start()
    try:
        assert holding.wait(10)
        busy = do_pay(study, pay, client())
    finally:
        release.set()
        other.join()
    assert not busy.ok and "another run is paying" in busy.message and stub.pay_calls == []
    assert do_pay(study, pay, client()).ok and len(stub.pay_calls) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no bonuses given"),
        ("abc", "line 1: write <submission or participant ID>,<amount>"),
        ("{sid},-1", "line 1: '-1' must be a positive amount"),
        ("{sid},0.505", "must be a positive amount with at most two decimals"),
        ("{sid},lots", "'lots' is not an amount"),
        ("{sid},1\n{sid},2", "listed twice"),
        ("{stranger},1", "no participant of ours matches"),
        ("60ffe5c8371090c7041d43f8,1", "not a submission of"),
    ],
)
def test_bad_bonus_lines_are_refused_before_any_call(running, text, message):
    stub, study, people, stranger = running
    do_sync(study, client())
    sid = Submission.objects.filter(unmatched=False).first().external_id
    before = len(stub.requests)
    with pytest.raises(ProlificInputError, match=message):
        plan_bonus(study, text.format(sid=sid, stranger=stranger))
    assert len(stub.requests) == before and not LedgerEntry.objects.exists()


def test_actions_on_a_study_without_a_prolific_study_say_how_to_get_one(prolific_stub):
    study = prolific_study()
    for plan in (lambda: plan_approve(study), lambda: plan_pay(study)):
        with pytest.raises(ProlificInputError, match="create the draft first"):
            plan()
    assert Participant.objects.count() == 0
