"""``manage.py mturk``: every action prints its plan and the money involved, asks before moving
anything (``--yes`` skips the question), and turns bad input into one clear line."""

from __future__ import annotations

import builtins
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from surveys.models import LedgerEntry, Submission
from tests.surveys.factories import StudyFactory
from tests.surveys.recruiting.mturk.fixtures import (
    SITE,
    add_submission,
    assignment,
    expect_create,
    mturk_study,
    take_part,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def run(*args: str) -> str:
    out = StringIO()
    call_command("mturk", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def answer(monkeypatch, reply: str | None) -> list[str]:
    """Answer the confirmation with ``reply`` (None: stdin is closed); the prompts asked."""
    asked: list[str] = []

    def fake_input(prompt: str = "") -> str:
        asked.append(prompt)
        if reply is None:
            raise EOFError
        return reply

    monkeypatch.setattr(builtins, "input", fake_input)
    return asked


@pytest.mark.parametrize("reply", ["n", "", None])
def test_publish_shows_the_money_and_does_nothing_unless_confirmed(use_client, monkeypatch, reply):
    study = mturk_study(participants_wanted=10)
    asked = answer(monkeypatch, reply)
    out = StringIO()
    with pytest.raises(CommandError, match="Not confirmed; nothing was done"):
        call_command("mturk", "publish", study.slug, "--site-url", SITE, stdout=out)
    text = out.getvalue()
    assert "Publish 2 HIT(s) with 10 assignment(s)" in text
    assert "batch 1: 9 assignments  16.20 USD" in text and "batch 2: 1 assignments" in text
    assert "Total" in text and "18.00 USD" in text  # 10 x (1.50 + 0.30)
    assert asked == ["publish moving 18.00 USD: go ahead? [y/N] "]
    assert not LedgerEntry.objects.exists()


def test_publish_runs_once_confirmed(use_client, monkeypatch):
    study = mturk_study(participants_wanted=10)
    expect_create(use_client, study, 1, 9, "HITONE")
    expect_create(use_client, study, 2, 1, "HITTWO")
    answer(monkeypatch, "y")
    out = run("publish", study.slug, "--site-url", SITE)
    assert "publish: 2 HIT(s) created; the study has 2 HIT(s) with 10 assignment(s)" in out
    # Again: nothing left to publish, nothing asked, nothing called.
    assert "Nothing to publish" in run("publish", study.code, "--site-url", SITE)


def test_the_site_address_can_come_from_the_settings(use_client, settings):
    study = mturk_study(participants_wanted=1)
    with pytest.raises(CommandError, match="is not the site's address"):
        run("publish", study.slug, "--yes")
    settings.SURVEYS_SITE_URL = SITE
    expect_create(use_client, study, 1, 1, "HITONE")
    assert "1 HIT(s) created" in run("publish", study.slug, "--yes")


def test_sync_runs_without_asking_and_approve_asks_with_its_money(use_client, monkeypatch):
    study = mturk_study(participants_wanted=1)
    expect_create(use_client, study, 1, 1, "HITONE")
    run("publish", study.slug, "--site-url", SITE, "--yes")
    take_part(study, "ASSIGN1", "AWORKER1", "HITONE")
    use_client.add_response(
        "list_assignments_for_hit",
        {"Assignments": [assignment("ASSIGN1", "AWORKER1", "HITONE", code=study.completion_code)]},
        {"HITId": "HITONE", "MaxResults": 100},
    )  # fmt: skip
    asked = answer(monkeypatch, "yes")
    assert "sync: 1 HIT(s), 1 assignment(s) (1 new, 0 changed, 0 unmatched)" in run(
        "sync", study.slug
    )
    assert asked == []
    use_client.add_response(
        "approve_assignment", {}, {"AssignmentId": "ASSIGN1", "RequesterFeedback": "Thanks!"}
    )
    out = run("approve", study.slug, "--feedback", "Thanks!")
    assert "ASSIGN1: approve (1.50 reward)  1.80 USD" in out and "approve: 1 done" in out
    assert asked == ["approve moving 1.80 USD: go ahead? [y/N] "]
    assert Submission.objects.get().status == "approved"


def test_failures_are_listed_and_the_command_fails(use_client):
    study = mturk_study(participants_wanted=1)
    expect_create(use_client, study, 1, 1, "HITONE")
    run("publish", study.slug, "--site-url", SITE, "--yes")
    add_submission(study, "ASSIGN1", "AWORKER1")
    use_client.add_client_error("approve_assignment", "RequestError", "Assignment gone.", 400)
    err = StringIO()
    with pytest.raises(CommandError, match="1 call\\(s\\) failed"):
        call_command("mturk", "approve", study.slug, "--assignment", "ASSIGN1", "--yes",
                     stdout=StringIO(), stderr=err)  # fmt: skip
    assert err.getvalue().startswith("ASSIGN1: Amazon Mechanical Turk closed")
    assert "Assignment gone." in err.getvalue()


def test_the_balance_is_shown(use_client):
    study = mturk_study()
    use_client.add_response("get_account_balance", {"AvailableBalance": "10000.00"}, {})
    assert run("balance", study.slug).strip() == "Available balance: 10000.00 USD"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["reject", "{slug}", "--assignment", "ASSIGN1"], "needs feedback"),
        (["bonus", "{slug}", "--assignment", "ASSIGN1", "--amount", "abc", "--reason", "x"],
         "not an amount in dollars"),
        (["block", "{slug}", "--worker", "nobody", "--reason", "x"], "not MTurk worker IDs"),
        (["add", "{slug}", "--hit", "HITNONE", "--count", "2"], "not a HIT of study"),
        (["expire", "{slug}"], "no HITs to expire"),
        (["balance", "no-such-study"], "No study has the slug or code 'no-such-study'"),
    ],
)  # fmt: skip
def test_bad_input_is_one_clear_line(use_client, args, message):
    study = mturk_study()
    with pytest.raises(CommandError, match=message):
        run(*[arg.format(slug=study.slug) for arg in args])
    assert not LedgerEntry.objects.exists()


def test_a_study_on_another_recruiter_is_refused(use_client):
    study = StudyFactory(slug="linked")
    with pytest.raises(CommandError, match="recruits through Plain link, not Mechanical Turk"):
        run("sync", study.slug)
