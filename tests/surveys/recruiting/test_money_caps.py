"""Money caps: a per-study bonus cap in the spec (default: the reward) that every bonus line of
Prolific and MTurk is held to before anything is sent, and a ledger that holds a token to the
amount and request it was first recorded with."""

from __future__ import annotations

from decimal import Decimal

import pytest

from surveys.models import LedgerEntry, LedgerStatus, Submission
from surveys.recruiting.ledger import LedgerCallError, LedgerTokenReused, Step, do_ledger_step
from surveys.recruiting.mturk.money import MTurkInputError
from surveys.recruiting.mturk.pay import check_approve, check_bonus, do_bonus
from surveys.recruiting.mturk.plans import ActionInput
from surveys.recruiting.plans import bonus_cap
from surveys.recruiting.prolific.api import ProlificClient, ProlificInputError
from surveys.recruiting.prolific.bonus import do_setup_bonus, plan_bonus
from surveys.recruiting.prolific.sync import do_sync
from surveys.studies.spec import SpecError, check_study_spec
from tests.surveys.factories import ParticipantFactory, RunFactory, StudyFactory
from tests.surveys.recruiting.mturk.fixtures import mturk_study, session, stub_fixture  # noqa: F401
from tests.surveys.recruiting.prolific.stub import ProlificStub, new_id, prolific_stub  # noqa: F401
from tests.surveys.studies.fixtures import LABELS, spec_data

pytestmark = pytest.mark.django_db


# --- the spec ---------------------------------------------------------------------------------


@pytest.fixture
def runs() -> None:
    """The three catalogue runs a spec names (rows only: the spec is checked, not built)."""
    for label in LABELS.values():
        RunFactory(label=label)


def test_the_bonus_cap_defaults_to_the_reward_and_takes_an_amount(runs):
    assert check_study_spec(spec_data()).bonus_cap is None  # the reward, 1.50
    assert check_study_spec(spec_data(bonus_cap="4.00")).bonus_cap == Decimal("4.00")
    assert check_study_spec(spec_data(bonus_cap=2.5)).bonus_cap == Decimal("2.5")
    assert check_study_spec(spec_data(bonus_cap=0)).bonus_cap == Decimal("0")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("lots", "'lots' is not an amount"),
        (-1, "-1 is not a non-negative amount"),
        ("0.505", "'0.505' is not a non-negative amount"),
        (True, "True is not an amount"),
        ({"amount": 1}, "is not an amount"),
        ("5000000", "too large"),
    ],
)
def test_a_bad_bonus_cap_is_named_with_its_fix(runs, value, message):
    with pytest.raises(SpecError) as raised:
        check_study_spec(spec_data(bonus_cap=value))
    (problem,) = raised.value.problems
    assert problem.field == "bonus_cap" and message in problem.message
    assert "leave bonus_cap out to cap bonuses at the reward" in problem.message


def test_the_cap_is_the_reward_unless_the_study_sets_one():
    assert bonus_cap(StudyFactory(reward=Decimal("2.40"))) == Decimal("2.40")
    assert bonus_cap(StudyFactory(reward=Decimal("2.40"), bonus_cap=Decimal("10"))) == 10


# --- Prolific: a £5,000 line ------------------------------------------------------------------


@pytest.fixture
def prolific(prolific_stub: ProlificStub):  # noqa: F811
    """A synced Prolific study (reward 2.40 GBP) with two completed participants."""
    prolific_id = prolific_stub.add_study(name="live")
    study = StudyFactory(recruiter="prolific", reward=Decimal("2.40"), currency="GBP",
                         recruiter_config={"study_id": prolific_id})  # fmt: skip
    for _ in range(2):
        pid = new_id()
        ParticipantFactory(study=study, external_id=pid, recruiter="prolific", status="completed")
        prolific_stub.add_submission(prolific_id, pid)
    do_sync(study, ProlificClient.from_env(sleep=lambda _: None))
    return prolific_stub, study, list(Submission.objects.filter(study=study).order_by("id"))


def test_a_prolific_bonus_line_over_the_cap_is_refused_before_any_call(prolific):
    stub, study, (first, second) = prolific
    before = len(stub.requests)
    lines = f"{first.external_id},0.50\n{second.worker_id},5000.00"
    with pytest.raises(ProlificInputError) as raised:
        plan_bonus(study, lines)
    message = str(raised.value)
    assert message.startswith(f"bonus line 2 ({second.worker_id}): 5000.00 GBP is over")
    assert "bonus cap of 2.40 GBP (its reward, as no bonus_cap is set)" in message
    # the confirmation's post is planned again, and the set-up itself checks too
    forged = plan_bonus(study, f"{first.external_id},0.50")
    forged.request["bonuses"] = lines
    with pytest.raises(ProlificInputError, match="over the study's bonus cap"):
        do_setup_bonus(study, forged, ProlificClient.from_env(sleep=lambda _: None))
    assert len(stub.requests) == before and not LedgerEntry.objects.exists()


def test_a_prolific_study_with_a_higher_cap_takes_the_larger_bonus(prolific):
    stub, study, (first, _) = prolific
    study.bonus_cap = Decimal("10.00")
    study.save()
    plan = plan_bonus(study, f"{first.external_id},7.50")
    assert plan.total == Decimal("7.50")
    assert do_setup_bonus(study, plan, ProlificClient.from_env(sleep=lambda _: None)).ok
    assert stub.calls("POST", "/bonus-payments/$")[0].body["csv_bonuses"].endswith(",7.50")
    study.bonus_cap = Decimal("0")  # no bonuses at all
    study.save()
    with pytest.raises(ProlificInputError, match="over the study's bonus cap of 0.00 GBP"):
        plan_bonus(study, f"{first.external_id},0.01")


# --- MTurk ------------------------------------------------------------------------------------


def _assignment(study, assignment_id: str, worker: str) -> Submission:
    participant = ParticipantFactory(study=study, external_id=worker, recruiter="mturk",
                                     status="completed")  # fmt: skip
    return Submission.objects.create(
        study=study, participant=participant, recruiter="mturk", external_id=assignment_id,
        worker_id=worker, batch_id="HITONE", status="submitted",
    )  # fmt: skip


@pytest.mark.usefixtures("media")
def test_an_mturk_bonus_over_the_cap_is_refused_before_any_call(stub):
    client, _ = stub  # the Stubber fails on any call it was not told to expect
    study = mturk_study()  # reward 1.50 USD
    _assignment(study, "ASSIGN1", "AWORKER1")
    big = ActionInput(("ASSIGN1",), amount="50.00", reason="Thanks")
    with pytest.raises(MTurkInputError, match=r"50\.00 USD is over the study's bonus cap of 1\.50"):
        check_bonus(session(study, client=None), big)
    with pytest.raises(MTurkInputError, match="over the study's bonus cap"):
        do_bonus(session(study, client), big)
    study.bonus_cap = Decimal("60.00")
    study.save()
    assert check_bonus(session(study, client=None), big).money.bonuses == Decimal("50.00")
    assert not LedgerEntry.objects.filter(action="bonus").exists()


@pytest.mark.usefixtures("media")
def test_an_mturk_bonus_rule_over_the_cap_holds_every_approval_back():
    study = mturk_study({"bonus": {"amount": "5.00", "reason": "Thanks"}})
    _assignment(study, "ASSIGN1", "AWORKER1")
    with pytest.raises(MTurkInputError, match="The bonus rule in recruiter_config: 5.00 USD"):
        check_approve(session(study, client=None), ActionInput())
    assert not LedgerEntry.objects.exists()


# --- the ledger -------------------------------------------------------------------------------


def _bonus(study, amount: str, reason: str = "Thanks") -> Step:
    request = {"AssignmentId": "A1", "BonusAmount": amount, "Reason": reason}
    return Step(study, "mturk", "bonus", "bonus-A1", Decimal(amount), "USD", request=request)


def test_a_token_asked_again_for_another_amount_or_request_is_refused_unsent():
    study = StudyFactory()
    calls: list[str] = []

    def interrupted() -> dict[str, str]:
        calls.append("sent")
        raise KeyboardInterrupt  # it went out; the answer was lost

    with pytest.raises(KeyboardInterrupt):
        do_ledger_step(_bonus(study, "0.50"), interrupted)
    for step in (_bonus(study, "0.80"), _bonus(study, "0.50", reason="Other words")):
        with pytest.raises(LedgerTokenReused, match="nothing was sent") as raised:
            do_ledger_step(step, lambda: {"sent": calls.append("again")})
        assert isinstance(raised.value, LedgerCallError)
    assert "for 0.50 USD and is now asked for 0.80 USD" in _message(study, "0.80")
    assert calls == ["sent"]
    entry = LedgerEntry.objects.get()
    assert (entry.amount, entry.status) == (Decimal("0.50"), LedgerStatus.PENDING)


def _message(study, amount: str) -> str:
    try:
        do_ledger_step(_bonus(study, amount), dict)
    except LedgerTokenReused as exc:
        return str(exc)
    raise AssertionError("not refused")
