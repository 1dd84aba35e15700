"""Prolific bonuses against the stub: one bonus line per submission (within a list, by
submission or participant ID, and across every set-up, even made at the same instant), set-up
tokens that do not depend on the order of the lines, older repeated set-ups never paid, and the
workspace's currency checked before any money moves.

SQLite serialises every writer, so the race only shows on a server database: the ``test_pg_``
test runs where the test database is PostgreSQL, and elsewhere
:func:`test_the_set_up_race_holds_on_postgresql` runs it in a child pytest against a private
PostgreSQL database (whenever the server answers).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection, connections

from surveys.models import LedgerEntry, Submission
from surveys.recruiting.prolific.api import ProlificClient, ProlificError, ProlificInputError
from surveys.recruiting.prolific.bonus import do_pay, do_setup_bonus, plan_bonus, plan_pay
from surveys.recruiting.prolific.bulk import SETUP, setup_token, unpaid_bonuses
from surveys.recruiting.prolific.review import do_approve, plan_approve
from surveys.recruiting.prolific.sync import do_sync
from tests.surveys.concurrency import run_on_postgresql
from tests.surveys.factories import ParticipantFactory, StudyFactory
from tests.surveys.recruiting.prolific.stub import ProlificStub, new_id

pytestmark = pytest.mark.django_db


def client() -> ProlificClient:
    return ProlificClient.from_env(sleep=lambda _: None)


@pytest.fixture
def running(prolific_stub: ProlificStub):
    """A synced Prolific study (GBP, reward 2.40) with three completed participants."""
    prolific_id = prolific_stub.add_study(name="live")
    study = StudyFactory(recruiter="prolific", reward=Decimal("2.40"), currency="GBP",
                         recruiter_config={"study_id": prolific_id})  # fmt: skip
    for _ in range(3):
        pid = new_id()
        ParticipantFactory(study=study, external_id=pid, recruiter="prolific", status="completed")
        prolific_stub.add_submission(prolific_id, pid)
    do_sync(study, client())
    rows = list(Submission.objects.filter(study=study).order_by("id"))
    return prolific_stub, study, rows


def _paid_per_submission(stub: ProlificStub) -> list[int]:
    return sorted(len(s["bonus_payments"]) for s in stub.submissions.values())


def test_one_submission_named_by_its_submission_and_its_participant_id_is_refused(running):
    stub, study, (first, second, _) = running
    before = len(stub.requests)
    lines = f"{first.external_id},0.50\n{second.external_id},0.50\n{first.worker_id},0.70"
    with pytest.raises(ProlificInputError) as raised:
        plan_bonus(study, lines)
    assert str(raised.value) == (
        f"{first.external_id} and {first.worker_id} are the same submission "
        f"({first.external_id}); list each submission once"
    )
    assert len(stub.requests) == before and not LedgerEntry.objects.exists()


def test_a_submission_in_one_set_up_gets_no_line_in_another(running):
    stub, study, (first, second, third) = running
    do_setup_bonus(study, plan_bonus(study, f"{first.external_id},0.50"), client())
    bulk_id = unpaid_bonuses(study)[0].bulk_id
    for lines, round_label in (
        (f"{third.external_id},1.00\n{first.worker_id},0.50", "1"),  # by its participant ID
        (f"{first.external_id},0.50", "2"),  # the same line in another round
    ):
        with pytest.raises(ProlificInputError) as raised:
            plan_bonus(study, lines, round_label)
        assert f"{first.external_id} (in {bulk_id})" in str(raised.value)
        assert "each submission gets one bonus line across all set-ups" in str(raised.value)
    do_pay(study, plan_pay(study), client())
    with pytest.raises(ProlificInputError, match=f"{first.external_id} \\(in {bulk_id}\\)"):
        plan_bonus(study, f"{first.external_id},0.10\n{second.external_id},0.10", "3")
    assert len(stub.calls("POST", "/bonus-payments/$")) == 1
    assert _paid_per_submission(stub) == [0, 0, 1]


def test_the_same_bonuses_in_another_order_are_one_set_up_paid_once(running):
    stub, study, (first, second, _) = running
    typed = f"{first.external_id},0.50\n{second.worker_id},1.25"
    reordered = f"{second.external_id},1.25\n{first.worker_id},0.50"
    plan = plan_bonus(study, typed)
    again = plan_bonus(study, reordered)
    assert plan.request == again.request  # the same lines, in the order of our rows
    assert do_setup_bonus(study, plan, client()).ok
    assert "Already set up" in plan_bonus(study, reordered).notes[0]
    assert do_setup_bonus(study, again, client()).ok
    assert len(stub.calls("POST", "/bonus-payments/$")) == 1
    assert LedgerEntry.objects.filter(action=SETUP).count() == 1
    # the default pay (every unpaid set-up) pays the one set-up, once
    assert do_pay(study, plan_pay(study), client()).ok
    assert len(stub.pay_calls) == 1 and _paid_per_submission(stub) == [0, 1, 1]


def test_two_set_ups_planned_at_once_cannot_both_take_a_submission(running):
    stub, study, (first, second, third) = running
    # both pass their plan (nothing is set up yet); the second is refused when it is made
    one = plan_bonus(study, f"{first.external_id},0.50\n{second.external_id},0.50")
    other = plan_bonus(study, f"{second.external_id},0.50\n{third.external_id},0.50")
    assert do_setup_bonus(study, one, client()).ok
    with pytest.raises(ProlificInputError, match=f"{second.external_id} \\(in "):
        do_setup_bonus(study, other, client())
    assert len(stub.calls("POST", "/bonus-payments/$")) == 1
    assert LedgerEntry.objects.filter(action=SETUP).count() == 1


def _old_set_up(study, stub: ProlificStub, lines: list[tuple[str, str]], round_label: str) -> str:
    """A set-up as the code before the one-line rule recorded it (lines as typed)."""
    csv_bonuses = "\n".join(f"{sid},{amount}" for sid, amount in lines)
    answer = client().setup_bonuses(study.recruiter_config["study_id"], csv_bonuses)
    LedgerEntry.objects.create(
        study=study, recruiter="prolific", action=SETUP, status="done",
        token=setup_token(study, round_label, csv_bonuses),
        amount=sum(Decimal(amount) for _, amount in lines), currency="GBP",
        request={"csv_bonuses": csv_bonuses, "round": round_label,
                 "lines": [[sid, amount] for sid, amount in lines]},
        response=answer,
    )  # fmt: skip
    return str(answer["id"])


def test_an_older_set_up_repeating_a_submission_is_never_paid(running):
    stub, study, (first, second, _) = running
    a, b = first.external_id, second.external_id
    kept = _old_set_up(study, stub, [(a, "0.50"), (b, "1.25")], "1")
    repeat = _old_set_up(study, stub, [(b, "1.25"), (a, "0.50")], "1")  # reordered: new token
    plan = plan_pay(study)
    assert plan.targets == (kept,)
    assert any(note.startswith(f"Left out: bulk bonus {repeat} repeats 2") for note in plan.notes)
    with pytest.raises(ProlificInputError, match=f"bulk bonus {repeat} repeats 2 submission"):
        plan_pay(study, [repeat])
    assert do_pay(study, plan, client()).ok
    with pytest.raises(ProlificInputError, match="no bonus set up and unpaid"):
        plan_pay(study)
    assert stub.pay_calls == [kept] and _paid_per_submission(stub) == [0, 1, 1]


# --- the workspace's currency -----------------------------------------------------------------


def _in_a_usd_workspace(stub: ProlificStub, study) -> str:
    workspace, project = stub.add_workspace("USD")
    stub.studies[study.recruiter_config["study_id"]]["project"] = project
    return workspace


def test_approving_in_a_workspace_of_another_currency_is_refused_unsent(running):
    stub, study, rows = running
    plan = plan_approve(study)
    workspace = _in_a_usd_workspace(stub, study)
    with pytest.raises(ProlificInputError) as raised:
        do_approve(study, plan, client())
    assert str(raised.value).startswith(
        f"{study.slug} is priced in GBP but its Prolific workspace {workspace} pays in USD"
    )
    assert "nothing was sent" in str(raised.value)
    assert len(stub.calls("GET", f"/workspaces/{workspace}/balance/$")) == 1
    assert not stub.calls("POST", "/transition/$") and not LedgerEntry.objects.exists()
    # in a GBP workspace it goes through
    stub.studies[study.recruiter_config["study_id"]]["project"] = stub.project_id
    assert do_approve(study, plan, client()).ok
    assert len(stub.calls("POST", "/transition/$")) == len(rows)


def test_bonuses_in_a_workspace_of_another_currency_are_neither_set_up_nor_paid(running):
    stub, study, (first, second, _) = running
    do_setup_bonus(study, plan_bonus(study, f"{first.external_id},0.50"), client())
    pay = plan_pay(study)
    setup = plan_bonus(study, f"{second.external_id},0.50")
    _in_a_usd_workspace(stub, study)
    for run in (lambda: do_setup_bonus(study, setup, client()),
                lambda: do_pay(study, pay, client())):  # fmt: skip
        with pytest.raises(ProlificInputError, match="pays in USD"):
            run()
    assert len(stub.calls("POST", "/bonus-payments/$")) == 1 and stub.pay_calls == []
    assert not LedgerEntry.objects.filter(action="bonus_pay").exists()


def test_a_prolific_study_outside_any_project_is_one_clear_error(running):
    stub, study, _ = running
    plan = plan_approve(study)
    del stub.studies[study.recruiter_config["study_id"]]["project"]
    with pytest.raises(ProlificError, match="names no project, so its workspace's currency"):
        do_approve(study, plan, client())
    assert not stub.calls("POST", "/transition/$")


# --- set-ups made at the same instant (PostgreSQL's row locks) --------------------------------

# pytest-django prefixes "test_": the child's database is test_bonusrace, this module's own.
PRIVATE_DATABASE = "bonusrace"
RACERS = 6


@pytest.mark.django_db(transaction=True)
def test_pg_set_ups_made_at_the_same_instant_take_a_submission_once(running):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL; test_the_set_up_race_holds_on_postgresql runs it there")
    stub, study, (first, second, third) = running
    # Each list has the first submission (and its own amount, so its own token).
    others = (second.external_id, third.external_id)
    plans = [
        plan_bonus(study, f"{first.external_id},0.{10 + n}\n{others[n % 2]},0.10")
        for n in range(RACERS)
    ]
    start = threading.Barrier(RACERS)

    def set_up(plan) -> object:
        start.wait()
        try:
            return do_setup_bonus(study, plan, client())
        except ProlificInputError as refused:
            return refused
        finally:
            connections.close_all()

    with ThreadPoolExecutor(RACERS) as pool:
        results = list(pool.map(set_up, plans))
    assert sum(isinstance(r, ProlificInputError) for r in results) == RACERS - 1
    assert len(stub.calls("POST", "/bonus-payments/$")) == 1
    assert LedgerEntry.objects.filter(action=SETUP).count() == 1


@pytest.mark.postgres
def test_the_set_up_race_holds_on_postgresql(postgres_url: str):
    run_on_postgresql(__file__, PRIVATE_DATABASE, postgres_url, expected=1)
