"""The MTurk desk: it opens without calling MTurk, every action goes through a confirmation that
shows the money involved, a confirmation whose money changed is shown again, and bad input is a
4xx with a clear message and nothing stored."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from surveys.models import LedgerEntry, Submission, SubmissionStatus
from tests.surveys.factories import StudyFactory
from tests.surveys.recruiting.mturk.fixtures import (
    add_submission,
    expect_create,
    mturk_study,
    publish,
    take_part,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def action_url(study, action: str) -> str:
    return reverse("surveys:mturk_action", args=[study.slug, action])


def test_the_desk_shows_the_cost_estimate_hits_submissions_and_ledger(staff_client, use_client):
    study = mturk_study({"masters": True}, participants_wanted=9)
    publish(study, ["HITONE"], sizes=[9])
    study.participants_wanted = 11
    study.save()
    take_part(study, "ASSIGN1", "AWORKER1", "HITONE")
    Submission.objects.create(study=study, recruiter="mturk", external_id="ASSIGN7",
                              worker_id="AWORKER7", batch_id="HITONE", status="submitted",
                              unmatched=True)  # fmt: skip
    page = staff_client.get(reverse("surveys:mturk_desk", args=[study.slug]), secure=True)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Amazon Mechanical Turk closed on 30 September 2026" in html
    assert "Publish 1 HIT(s) with 2 assignment(s)…" in html  # 11 wanted, 9 on HITONE
    assert "3.76 USD" in html  # 2 x (1.50 + 0.38)
    assert "HITONE" in html and "ASSIGN7" in html and "unmatched" in html
    assert "workersandbox.mturk.com/projects/GROUP1/tasks" in html
    assert reverse("surveys:mturk_balance", args=[study.slug]) in html  # fetched by htmx


def test_the_desk_is_for_mturk_studies_and_staff_only(staff_client):
    linked = StudyFactory(slug="linked")
    assert staff_client.get(reverse("surveys:mturk_desk", args=[linked.slug])).status_code == 404
    study = mturk_study()
    anonymous = Client().get(reverse("surveys:mturk_desk", args=[study.slug]))
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]


def test_publish_is_confirmed_with_its_money_then_runs(staff_client, use_client):
    study = mturk_study(participants_wanted=10)
    first = staff_client.post(action_url(study, "publish"), secure=True)
    html = first.content.decode()
    assert first.status_code == 200 and "Confirm: Publish 2 HIT(s) with 10 assignment(s)" in html
    assert "18.00 USD" in html and 'name="seen_total" value="18.00"' in html
    assert not LedgerEntry.objects.exists()
    expect_create(use_client, study, 1, 9, "HITONE")
    expect_create(use_client, study, 2, 1, "HITTWO")
    done = staff_client.post(
        action_url(study, "publish"), {"confirmed": "yes", "seen_total": "18.00"}, secure=True,
        follow=True,
    )  # fmt: skip
    assert done.redirect_chain[0] == (reverse("surveys:mturk_desk", args=[study.slug]), 303)
    assert "publish: 2 HIT(s) created" in done.content.decode()
    assert LedgerEntry.objects.filter(action="publish", status="done").count() == 2


def test_publishing_from_plain_http_is_refused(staff_client):
    study = mturk_study()
    page = staff_client.post(action_url(study, "publish"))
    assert page.status_code == 400 and b"frames only HTTPS pages" in page.content


def test_a_confirmation_whose_money_changed_is_shown_again(staff_client, use_client):
    study = mturk_study(participants_wanted=10)
    page = staff_client.post(
        action_url(study, "publish"), {"confirmed": "yes", "seen_total": "9.00"}, secure=True
    )
    assert page.status_code == 409 and b"The money involved changed" in page.content
    assert not LedgerEntry.objects.exists()


def test_approving_picked_assignments_lists_them_and_their_money(staff_client, use_client):
    study = mturk_study(participants_wanted=9)
    publish(study, ["HITONE"])
    for n in (1, 2):
        participant = take_part(study, f"ASSIGN{n}", f"AWORKER{n}", "HITONE")
        Submission.objects.create(study=study, participant=participant, recruiter="mturk",
                                  external_id=f"ASSIGN{n}", worker_id=f"AWORKER{n}",
                                  batch_id="HITONE", status="submitted")  # fmt: skip
    page = staff_client.post(action_url(study, "approve"), {"target": ["ASSIGN2"]})
    html = page.content.decode()
    assert "Confirm: Approve 1 assignment(s)" in html and "ASSIGN1" not in html
    assert 'name="target" value="ASSIGN2"' in html and "1.80 USD" in html
    use_client.add_response("approve_assignment", {}, {"AssignmentId": "ASSIGN2"})
    confirm = {"target": ["ASSIGN2"], "confirmed": "yes", "seen_total": "1.80"}
    staff_client.post(action_url(study, "approve"), confirm)
    statuses = dict(Submission.objects.values_list("external_id", "status"))
    assert statuses == {"ASSIGN1": SubmissionStatus.SUBMITTED, "ASSIGN2": SubmissionStatus.APPROVED}


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("reject", {"target": ["ASSIGN1"]}, b"needs feedback"),
        ("bonus", {"target": ["ASSIGN1"], "amount": "1e3", "reason": "x"}, b"not an amount"),
        ("block", {"targets": "AWORKER1 nobody", "reason": "x"}, b"not MTurk worker IDs"),
        ("add", {"target": ["HITONE"], "count": "5"}, b"does not let a HIT under 10"),
        ("refund", {}, b"Unknown action"),
    ],
)
def test_bad_input_is_a_400_with_the_fix_and_nothing_stored(staff_client, action, data, message):
    study = mturk_study(participants_wanted=9)
    publish(study, ["HITONE"], sizes=[9])
    add_submission(study, "ASSIGN1", "AWORKER1")
    before = LedgerEntry.objects.count()
    page = staff_client.post(action_url(study, action), {**data, "confirmed": "yes"})
    assert page.status_code == 400 and message in page.content
    assert LedgerEntry.objects.count() == before


def test_the_balance_and_live_fragments(staff_client, use_client):
    study = mturk_study()
    use_client.add_response("get_account_balance", {"AvailableBalance": "42.50",
                                                    "OnHoldBalance": "3.00"}, {})  # fmt: skip
    balance = staff_client.get(reverse("surveys:mturk_balance", args=[study.slug]))
    assert b"42.50 USD</b> available, 3.00 USD on hold" in balance.content
    Submission.objects.create(study=study, recruiter="mturk", external_id="ASSIGN1",
                              worker_id="AWORKER1", status="submitted", unmatched=True)  # fmt: skip
    live = staff_client.get(reverse("surveys:mturk_live", args=[study.slug]))
    assert b'data-stat="submitted">1<' in live.content
    assert b'data-stat="unmatched" class="flag">1<' in live.content


def test_every_mturk_staff_url_is_gated_and_the_worker_page_is_not(
    settings, tmp_path, non_staff_client
):
    from tests.surveys.platform.staff_pages import (
        Objects,
        clients,
        discover_pages,
        gate_failures,
        sent_to_login,
    )
    from tests.surveys.storage import private_media

    private_media(settings, tmp_path)
    pages = [page for page in discover_pages(Objects()) if page.name.startswith("surveys:mturk_")]
    staff = {page.name for page in pages if page.is_staff}
    assert staff == {"surveys:mturk_desk", "surveys:mturk_live", "surveys:mturk_balance",
                     "surveys:mturk_action"}  # fmt: skip
    failures = [
        reason
        for client in clients(non_staff_client).values()
        for page in pages
        if page.is_staff
        for reason in gate_failures(page, client)
    ]
    assert not failures
    worker_page = next(page for page in pages if page.name == "surveys:mturk_submit")
    assert not sent_to_login(Client().get(worker_page.url))


def test_approve_picked_with_nothing_ticked_is_pointed_out(staff_client):
    study = mturk_study()
    page = staff_client.post(action_url(study, "approve"), {"scope": "picked"})
    assert page.status_code == 400 and b"Tick at least one assignment" in page.content
