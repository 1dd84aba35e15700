"""Prolific in headless Chromium: a participant from Prolific's link to the completion redirect
(intercepted with ``page.route``), and the researcher approving through the confirmation page,
on a laptop and on a phone."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from surveys.models import Participant, ParticipantStatus, Submission, SubmissionStatus
from surveys.recruiting.prolific.api import ProlificClient
from surveys.recruiting.prolific.bonus import do_pay, do_setup_bonus, plan_bonus, plan_pay
from surveys.recruiting.prolific.sync import do_sync
from tests.surveys.browsing import DESKTOP, PHONE, agree, answer, log_in
from tests.surveys.factories import ParticipantFactory, StaffFactory, StudyFactory
from tests.surveys.participation.fixtures import build_study
from tests.surveys.recruiting.fixtures import grant_pay
from tests.surveys.recruiting.prolific.stub import ProlificStub, new_id

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.usefixtures("media")
def test_a_prolific_participant_walks_from_the_link_to_prolifics_completion_page(
    live_server,
    page,
):
    prolific_id, pid, session = new_id(), new_id(), new_id()
    study = build_study(recruiter="prolific", recruiter_config={"study_id": prolific_id}).study
    landed: list[str] = []

    def prolific(route) -> None:
        landed.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<h1>Prolific: thank you</h1>")

    page.route("https://app.prolific.com/**", prolific)
    entry = (
        f"{live_server.url}/s/{study.code}/?PROLIFIC_PID={pid}&STUDY_ID={prolific_id}"
        f"&SESSION_ID={session}"
    )
    agree(page, entry)
    participant = Participant.objects.get()
    assert participant.recruiter_data == {"STUDY_ID": prolific_id, "SESSION_ID": session}
    for position in range(1, participant.items.count() + 1):
        page.wait_for_url(f"**/q/{position}/")
        answer(page, 1 + position % 5)
    page.wait_for_url("**/debrief/")
    page.get_by_role("button", name="Finish").click()
    page.wait_for_url("https://app.prolific.com/**")
    assert page.inner_text("h1") == "Prolific: thank you"
    (url,) = landed
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("app.prolific.com", "/submissions/complete")
    assert parse_qs(parts.query) == {"cc": [study.completion_code]}
    participant.refresh_from_db()
    assert participant.status == ParticipantStatus.COMPLETED


@pytest.fixture
def running(prolific_stub: ProlificStub):
    """A running Prolific study: six submissions synced, one bonus paid, one set up."""
    prolific_id = prolific_stub.add_study(name="ProtoPool saliency")
    config = {"study_id": prolific_id, "status": "ACTIVE"}
    study = StudyFactory(slug="cub-saliency", title="Prototype saliency on CUB-200-2011",
                         recruiter="prolific", reward=Decimal("2.40"), currency="GBP",
                         estimated_minutes=12, participants_wanted=40,
                         recruiter_config=config)  # fmt: skip
    for status in ["completed"] * 4 + ["consented", "returned"]:
        pid = new_id()
        ParticipantFactory(study=study, external_id=pid, recruiter="prolific", status=status)
        stub_status = {"consented": "ACTIVE", "returned": "RETURNED"}.get(status, "AWAITING REVIEW")
        prolific_stub.add_submission(prolific_id, pid, stub_status)
    prolific_stub.add_submission(prolific_id)  # somebody we never saw
    client = ProlificClient.from_env(sleep=lambda _: None)
    do_sync(study, client)
    done = Submission.objects.filter(participant__status="completed").order_by("id")
    lines = "\n".join(f"{row.external_id},0.50" for row in done[:2])
    do_setup_bonus(study, plan_bonus(study, lines), client)
    do_pay(study, plan_pay(study), client)
    do_setup_bonus(study, plan_bonus(study, f"{done[3].external_id},1.00"), client)
    return prolific_stub, study


def test_the_researcher_approves_through_the_confirmation_on_laptop_and_phone(
    live_server,
    page,
    running,
    tmp_path: Path,
):
    stub, study = running
    grant_pay(StaffFactory(username="desk-researcher"))  # the user log_in signs in: may pay
    log_in(page, live_server)
    page.set_viewport_size(DESKTOP)
    url = live_server.url + reverse("surveys:prolific_page", args=[study.slug])
    page.goto(url)
    assert page.locator("[data-approvable]").inner_text() == "4"
    assert page.get_by_text("no match: check before paying").count() == 1
    page.screenshot(path=str(tmp_path / "prolific-desk.png"), full_page=True)

    page.get_by_role("button", name="Approve…").click()
    page.wait_for_url("**/do/approve/")
    assert page.locator("[data-total]").inner_text() == "9.60 GBP"
    page.screenshot(path=str(tmp_path / "prolific-confirm.png"), full_page=True)
    assert not stub.calls("POST", "/transition/$")
    page.get_by_role("button", name="Confirm: approve").click()
    page.wait_for_url(url)
    assert "Approved 4 of 4" in page.inner_text(".messages")
    assert Submission.objects.filter(status=SubmissionStatus.APPROVED).count() == 4
    assert len(stub.calls("POST", "/transition/$")) == 4

    page.set_viewport_size(PHONE)
    page.goto(url)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(tmp_path / "prolific-desk-phone.png"), full_page=True)
