"""The researcher's Prolific page: what it shows, each action through a confirmation page with
the money, failures as one line with the right status, and nothing stored on bad input."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from surveys.models import LedgerEntry, ParticipantStatus, Study, Submission
from tests.surveys.factories import ParticipantFactory, StudyFactory
from tests.surveys.recruiting.prolific.stub import ProlificStub, new_id

pytestmark = pytest.mark.django_db

REASON = (
    "You gave the same rating to all 40 pictures, including the two that asked for a specific "
    "answer, so we cannot use this submission."
)


def page_url(study: Study) -> str:
    return reverse("surveys:prolific_page", args=[study.slug])


def action_url(study: Study, action: str) -> str:
    return reverse("surveys:prolific_action", args=[study.slug, action])


@pytest.fixture
def live(prolific_stub: ProlificStub):
    """A Prolific study with two completed participants whose submissions await review."""
    prolific_id = prolific_stub.add_study(name="live")
    study = StudyFactory(recruiter="prolific", reward=Decimal("3.00"), currency="GBP",
                         recruiter_config={"study_id": prolific_id})  # fmt: skip
    for _ in range(2):
        pid = new_id()
        ParticipantFactory(study=study, external_id=pid, recruiter="prolific",
                           status=ParticipantStatus.COMPLETED)  # fmt: skip
        prolific_stub.add_submission(prolific_id, pid)
    return prolific_stub, study


def test_the_page_shows_the_setup_and_the_submissions_after_a_sync(staff_client, live):
    stub, study = live
    synced = staff_client.post(reverse("surveys:prolific_sync", args=[study.slug]), follow=True)
    assert synced.status_code == 200 and b"Synced 2 submission(s)" in synced.content
    text = synced.content.decode()
    assert study.recruiter_config["study_id"] in text and study.completion_code in text
    assert f"/s/{study.code}/?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}" in text
    assert "PROLIFIC_TOKEN is not set" not in text
    assert "data-approvable>2<" in text and "6.00 GBP" in text
    live_part = staff_client.get(reverse("surveys:prolific_live", args=[study.slug]))
    assert live_part.status_code == 200 and b'id="prolific-live"' in live_part.content
    assert live_part.content.count(b'class="id"') >= 2


def test_approving_goes_through_a_confirmation_showing_the_money(staff_client, live):
    stub, study = live
    staff_client.post(reverse("surveys:prolific_sync", args=[study.slug]))
    asked = staff_client.post(action_url(study, "approve"))
    assert asked.status_code == 200 and b"Approve 2 Prolific submission(s)" in asked.content
    assert b"data-total>6.00 GBP<" in asked.content
    assert not stub.calls("POST", "/transition/$") and not LedgerEntry.objects.exists()
    ids = asked.context["plan"].request["ids"]
    done = staff_client.post(action_url(study, "approve"), {"ids": ids, "confirmed": "yes"},
                             follow=True)  # fmt: skip
    assert b"Approved 2 of 2" in done.content
    assert len(stub.calls("POST", "/transition/$")) == 2
    assert LedgerEntry.objects.filter(action="approve").count() == 2


def test_a_bonus_is_set_up_then_paid_each_after_confirming(staff_client, live):
    stub, study = live
    staff_client.post(reverse("surveys:prolific_sync", args=[study.slug]))
    sid = Submission.objects.first().external_id
    asked = staff_client.post(action_url(study, "bonus"), {"bonuses": f"{sid},0.80", "round": "1"})
    assert b"data-total>0.80 GBP<" in asked.content
    fields = dict(asked.context["plan"].request, confirmed="yes")
    staff_client.post(action_url(study, "bonus"), fields)
    page = staff_client.get(page_url(study))
    assert b"Pay\xe2\x80\xa6" in page.content  # an unpaid bulk bonus has its pay button
    bulk_id = page.context["o"].bonuses[0].bulk_id
    confirm = staff_client.post(action_url(study, "pay"), {"ids": bulk_id})
    assert b"data-total>1.00 GBP<" in confirm.content  # 0.80 + the stub's 0.20 fees
    assert stub.pay_calls == []
    paid = staff_client.post(action_url(study, "pay"), {"ids": bulk_id, "confirmed": "yes"},
                             follow=True)  # fmt: skip
    assert b"Paid 1 bulk bonus(es)" in paid.content and stub.pay_calls == [bulk_id]
    again = staff_client.post(action_url(study, "pay"), {"ids": bulk_id, "confirmed": "yes"})
    assert again.status_code == 400 and b"not an unpaid bulk bonus" in again.content
    assert stub.pay_calls == [bulk_id]


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("reject", {"ids": "{sid}", "message": "too short", "category": "LOW_EFFORT"},
         b"Prolific needs at least 100"),
        ("reject", {"ids": "{sid}", "message": REASON, "category": "NOPE"},
         b"not a Prolific rejection category"),
        ("reject", {"message": REASON, "category": "LOW_EFFORT"}, b"name the submission"),
        ("bonus", {"bonuses": "{sid},0.001"}, b"at most two decimals"),
        ("bonus", {"bonuses": "{sid},1", "round": "a b"}, b"round label"),
        ("approve", {"ids": "60ffe5c8371090c7041d43f8"}, b"not a submission of"),
        ("pay", {"ids": "60ffe5c8371090c7041d43f8"}, b"not an unpaid bulk bonus"),
        ("create", {}, b"already has the Prolific study"),
        ("launch", {}, b"not a Prolific action"),
    ],
)  # fmt: skip
def test_bad_input_is_a_clear_400_and_nothing_is_sent(staff_client, live, action, data, message):
    stub, study = live
    staff_client.post(reverse("surveys:prolific_sync", args=[study.slug]))
    before = len(stub.requests)
    sid = Submission.objects.first().external_id
    filled = {key: value.format(sid=sid) for key, value in data.items()}
    for confirmed in ("", "yes"):
        answer = staff_client.post(action_url(study, action), {**filled, "confirmed": confirmed})
        assert answer.status_code == 400 and message in answer.content
        assert b'role="alert"' in answer.content and b"Traceback" not in answer.content
    assert len(stub.requests) == before and not LedgerEntry.objects.exists()


def test_the_draft_is_created_from_the_page(staff_client, prolific_stub):
    study = StudyFactory(recruiter="prolific", reward=Decimal("2.00"), currency="USD",
                         estimated_minutes=10, participants_wanted=5)  # fmt: skip
    asked = staff_client.post(action_url(study, "create"), secure=True)
    assert asked.status_code == 200 and b"data-total>10.00 USD<" in asked.content
    done = staff_client.post(
        action_url(study, "create"), {"confirmed": "yes"}, secure=True, follow=True
    )
    assert b"Created the Prolific draft" in done.content
    sent = prolific_stub.calls("POST", "/studies/$")[0].body
    assert sent["external_study_url"].startswith(f"https://testserver/s/{study.code}/?")
    # over plain http the address is refused: Prolific only sends people to https
    other = StudyFactory(recruiter="prolific", reward=Decimal("2.00"), currency="USD")
    refused = staff_client.post(action_url(other, "create"))
    assert refused.status_code == 400 and b"not https" in refused.content


def test_prolific_failures_are_one_line_with_the_right_status(staff_client, live, monkeypatch):
    stub, study = live
    monkeypatch.setenv("PROLIFIC_TOKEN", "revoked")
    refused = staff_client.post(reverse("surveys:prolific_sync", args=[study.slug]))
    assert refused.status_code == 502 and b"refused the API token" in refused.content
    monkeypatch.delenv("PROLIFIC_TOKEN")
    missing = staff_client.post(reverse("surveys:prolific_sync", args=[study.slug]))
    assert missing.status_code == 503 and b"PROLIFIC_TOKEN is not set" in missing.content
    assert b"PROLIFIC_TOKEN is not set" in staff_client.get(page_url(study)).content
    monkeypatch.setenv("PROLIFIC_TOKEN", "x")
    monkeypatch.setenv("PROLIFIC_API_URL", "http://127.0.0.1:9/api/v1/")
    down = staff_client.post(reverse("surveys:prolific_sync", args=[study.slug]))
    assert down.status_code == 502 and b"cannot be reached" in down.content


def test_a_study_recruited_elsewhere_says_so(staff_client):
    study = StudyFactory(recruiter="link")
    page = staff_client.get(page_url(study))
    assert page.status_code == 200 and b"recruits through Plain link" in page.content
    refused = staff_client.post(action_url(study, "approve"))
    assert refused.status_code == 400 and b"not Prolific" in refused.content


def test_the_pages_are_for_staff_only(non_staff_client, live):
    stub, study = live
    for url in (page_url(study), reverse("surveys:prolific_live", args=[study.slug])):
        assert non_staff_client.get(url).status_code == 302
    assert non_staff_client.post(action_url(study, "approve")).status_code == 302
    assert not stub.requests
