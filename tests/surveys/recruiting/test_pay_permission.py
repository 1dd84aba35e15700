"""Paying is a permission of its own: staff outside the "Can pay" group see the Prolific page and
the MTurk desk, but approving, bonusing and paying (and, on MTurk, publishing and adding
assignments) answer 403 with the reason, send nothing and store nothing, and their buttons are
disabled."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from surveys.common.access import PAY_GROUP, PAY_REFUSED, can_pay
from surveys.models import LedgerEntry, Submission
from surveys.recruiting.prolific.api import ProlificClient
from surveys.recruiting.prolific.bonus import do_setup_bonus, plan_bonus
from surveys.recruiting.prolific.sync import do_sync
from tests.surveys.factories import ParticipantFactory, StaffFactory, StudyFactory, UserFactory
from tests.surveys.recruiting.mturk.fixtures import (  # noqa: F401 - fixtures
    add_submission,
    mturk_study,
    publish,
    stub_fixture,
    use_client_fixture,
)
from tests.surveys.recruiting.prolific.stub import ProlificStub, new_id, prolific_stub  # noqa: F401

pytestmark = pytest.mark.django_db
DISABLED = "disabled>"


@pytest.fixture
def watcher() -> Client:
    """A staff member who may look but not pay."""
    client = Client()
    client.force_login(StaffFactory(username="watcher"))
    return client


def test_the_can_pay_group_holds_the_permission_and_only_its_members_may_pay():
    group = Group.objects.get(name=PAY_GROUP)  # made by migration 0005
    assert list(group.permissions.values_list("codename", flat=True)) == ["can_pay"]
    member, staff = StaffFactory(username="payer"), StaffFactory(username="staff")
    member.groups.add(group)
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    outsider = UserFactory(username="outsider")
    outsider.groups.add(group)  # in the group but not staff: no
    assert [can_pay(user) for user in (member, staff, superuser, outsider)] == [
        True, False, True, False,
    ]  # fmt: skip


# --- Prolific ---------------------------------------------------------------------------------


@pytest.fixture
def prolific(prolific_stub: ProlificStub):  # noqa: F811
    """A synced Prolific study: two completed submissions, one bonus set up and unpaid."""
    prolific_id = prolific_stub.add_study(name="live")
    study = StudyFactory(recruiter="prolific", reward=Decimal("3.00"), currency="GBP",
                         recruiter_config={"study_id": prolific_id})  # fmt: skip
    for _ in range(2):
        pid = new_id()
        ParticipantFactory(study=study, external_id=pid, recruiter="prolific", status="completed")
        prolific_stub.add_submission(prolific_id, pid)
    client = ProlificClient.from_env(sleep=lambda _: None)
    do_sync(study, client)
    sid = Submission.objects.filter(study=study).first().external_id
    do_setup_bonus(study, plan_bonus(study, f"{sid},0.80"), client)
    return prolific_stub, study, sid


def _prolific(study, action: str) -> str:
    return reverse("surveys:prolific_action", args=[study.slug, action])


def test_staff_who_may_not_pay_see_the_prolific_page_with_the_money_buttons_off(watcher, prolific):
    stub, study, _ = prolific
    page = watcher.get(reverse("surveys:prolific_page", args=[study.slug]))
    html = page.content.decode()
    assert page.status_code == 200 and "data-cannot-pay" in html and "“Can pay” group" in html
    for button in ("Approve…", "Set up…", "Pay…"):
        assert f"{DISABLED}{button}</button>" in html, button
    assert f"{DISABLED}Reject…" not in html and f"{DISABLED}Sync now" not in html


@pytest.mark.parametrize("confirmed", ["", "yes"])
def test_staff_who_may_not_pay_are_refused_every_prolific_payment(watcher, prolific, confirmed):
    stub, study, sid = prolific
    bulk_id = LedgerEntry.objects.get(action="bonus_setup").response["id"]
    sent, entries = len(stub.requests), LedgerEntry.objects.count()
    for action, data in (
        ("approve", {}),
        ("bonus", {"bonuses": f"{sid},0.50", "round": "2"}),
        ("pay", {"ids": bulk_id}),
    ):
        answer = watcher.post(_prolific(study, action), {**data, "confirmed": confirmed})
        assert answer.status_code == 403, action
        assert PAY_REFUSED in answer.content.decode() and "plan" not in answer.context
    assert len(stub.requests) == sent and LedgerEntry.objects.count() == entries
    # what moves no money is theirs to do
    synced = watcher.post(reverse("surveys:prolific_sync", args=[study.slug]))
    assert synced.status_code == 302


def test_a_member_of_the_group_approves_and_pays(prolific):
    stub, study, _ = prolific
    payer = StaffFactory(username="payer")
    payer.groups.add(Group.objects.get(name=PAY_GROUP))
    client = Client()
    client.force_login(payer)
    page = client.get(reverse("surveys:prolific_page", args=[study.slug])).content.decode()
    assert "data-cannot-pay" not in page and f"{DISABLED}Pay…" not in page
    asked = client.post(_prolific(study, "approve"))
    assert asked.status_code == 200 and asked.context["plan"].action == "approve"
    bulk_id = page.split('name="ids" value="')[1].split('"')[0]
    paid = client.post(_prolific(study, "pay"), {"ids": bulk_id, "confirmed": "yes"})
    assert paid.status_code == 302 and stub.pay_calls == [bulk_id]


# --- MTurk ------------------------------------------------------------------------------------


def _mturk(study, action: str) -> str:
    return reverse("surveys:mturk_action", args=[study.slug, action])


@pytest.mark.usefixtures("media")
def test_staff_who_may_not_pay_are_refused_every_mturk_payment(watcher, use_client):
    # use_client: any MTurk call not expected fails the test, so none may go out
    study = mturk_study({"bonus": {"amount": "0.50", "reason": "Thanks"}}, participants_wanted=9)
    publish(study, ["HITONE"], sizes=[9])
    study.participants_wanted = 18  # nine more to publish
    study.save()
    add_submission(study, "ASSIGN1", "AWORKER1")
    entries = LedgerEntry.objects.count()
    desk = watcher.get(reverse("surveys:mturk_desk", args=[study.slug]), secure=True)
    html = desk.content.decode()
    assert desk.status_code == 200 and "data-cannot-pay" in html
    for button in ("Approve picked…", "Bonus picked…", "Approve every ready assignment…",
                   "Add…", "Publish 1 HIT(s) with 9 assignment(s)…"):  # fmt: skip
        assert f"{DISABLED}{button}</button>" in html, button
    for action, data in (
        ("approve", {"target": ["ASSIGN1"]}),
        ("bonus", {"target": ["ASSIGN1"], "amount": "0.50", "reason": "Thanks"}),
        ("publish", {}),
        ("add", {"target": ["HITONE"], "count": "1"}),
    ):
        for confirmed in ("", "yes"):
            answer = watcher.post(
                _mturk(study, action), {**data, "confirmed": confirmed, "seen_total": "0.90"},
                secure=True,
            )  # fmt: skip
            assert answer.status_code == 403, action
            assert PAY_REFUSED in answer.content.decode()
    assert LedgerEntry.objects.count() == entries
    # rejecting moves no money: it is checked as before (here: feedback is missing)
    rejected = watcher.post(_mturk(study, "reject"), {"target": ["ASSIGN1"], "confirmed": "yes"})
    assert rejected.status_code == 400 and b"needs feedback" in rejected.content
