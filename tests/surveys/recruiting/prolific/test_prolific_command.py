"""``manage.py prolific``: each action prints its money and asks first (``--yes`` skips), a
"no" sends nothing, and failures are one line without a traceback."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command, execute_from_command_line
from django.db import connections

from surveys.models import LedgerEntry, ParticipantStatus, Submission, SubmissionStatus
from tests.surveys.factories import ParticipantFactory, StudyFactory
from tests.surveys.recruiting.prolific.stub import ProlificStub, new_id

pytestmark = pytest.mark.django_db

REASON = (
    "Both instructed questions asked for a rating of 2 and were answered 5, and every answer "
    "came in under half a second."
)


def run(*args: str, answer: str | None = None) -> str:
    out = io.StringIO()
    extra = {"stdin": io.StringIO(answer)} if answer is not None else {}
    call_command("prolific", *args, stdout=out, **extra)
    return out.getvalue()


@pytest.fixture
def study(prolific_stub: ProlificStub):
    prolific_id = prolific_stub.add_study(name="live")
    made = StudyFactory(slug="pro", recruiter="prolific", reward=Decimal("1.50"), currency="GBP",
                        recruiter_config={"study_id": prolific_id})  # fmt: skip
    for _ in range(3):
        pid = new_id()
        ParticipantFactory(study=made, external_id=pid, recruiter="prolific",
                           status=ParticipantStatus.COMPLETED)  # fmt: skip
        prolific_stub.add_submission(prolific_id, pid)
    return made


def test_sync_then_approve_after_saying_yes(study, prolific_stub):
    assert "Synced 3 submission(s)" in run("sync", "pro")
    declined = io.StringIO("n\n")
    with pytest.raises(CommandError, match="cancelled; nothing was sent"):
        call_command("prolific", "approve", "pro", stdout=io.StringIO(), stdin=declined)
    assert not prolific_stub.calls("POST", "/transition/$")
    out = run("approve", "pro", answer="y\n")
    assert "Reward per approved submission: 1.50 x 3 = 4.50 GBP" in out
    assert "Total: 4.50 GBP" in out and "Approved 3 of 3" in out
    assert Submission.objects.filter(status=SubmissionStatus.APPROVED).count() == 3


def test_reject_bonus_and_pay_with_yes(study, prolific_stub, tmp_path: Path):
    run("sync", "pro")
    first, second, third = Submission.objects.order_by("id")
    out = run("reject", "pro", first.external_id, "--category", "FAILED_CHECK", "--message",
              REASON, "--yes")  # fmt: skip
    assert "Rejected 1 of 1" in out
    lines = tmp_path / "bonuses.csv"
    lines.write_text(f"{second.worker_id},0.40\n")
    out = run("bonus", "pro", "--file", str(lines), "--bonus", f"{third.external_id},0.60",
              "--yes")  # fmt: skip
    assert "Total: 1.00 GBP" in out and "Set up bulk bonus" in out
    out = run("pay", "pro", "--yes")
    assert "Prolific's fees" in out and "Total: 1.25 GBP" in out and "Paid 1 bulk bonus" in out
    with pytest.raises(CommandError, match="no bonus set up and unpaid"):
        run("pay", "pro", "--yes")
    assert len(prolific_stub.pay_calls) == 1
    assert {e.action for e in LedgerEntry.objects.all()} == {"reject", "bonus_setup", "bonus_pay"}


def test_create_needs_the_public_address(prolific_stub, monkeypatch):
    StudyFactory(slug="fresh", recruiter="prolific", reward=Decimal("2"), currency="USD")
    monkeypatch.delenv("SURVEYS_SITE_URL", raising=False)
    with pytest.raises(CommandError, match="--site https://"):
        run("create", "fresh", "--yes")
    out = run("create", "fresh", "--site", "https://study.example.org/", "--yes")
    assert "Created the Prolific draft" in out
    sent = prolific_stub.calls("POST", "/studies/$")[0].body
    assert sent["external_study_url"].startswith("https://study.example.org/s/")


def test_without_a_terminal_and_without_yes_nothing_happens(study, prolific_stub):
    run("sync", "pro")
    with pytest.raises(CommandError, match="run it in a terminal, or add --yes"):
        call_command("prolific", "approve", "pro", stdout=io.StringIO())
    assert not prolific_stub.calls("POST", "/transition/$")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("sync", "nope"), "No study has the slug or code 'nope'"),
        (("reject", "pro", "--message", "short", "--category", "OTHER"), "name the submission"),
        (("bonus", "pro", "--file", "/no/such/file.csv"), "cannot be read"),
    ],
)
def test_bad_arguments_are_one_line(study, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_a_failing_api_is_one_line_on_the_terminal_without_a_traceback(study, monkeypatch, capsys):
    # As a researcher runs it: manage.py's own error handling, no token, then no API.
    # (Its closing of every database connection would end this test's transaction.)
    monkeypatch.setattr(connections, "close_all", lambda: None)
    for env, expected in (
        ({"PROLIFIC_TOKEN": ""}, "PROLIFIC_TOKEN is not set"),
        ({"PROLIFIC_TOKEN": "t", "PROLIFIC_API_URL": "http://127.0.0.1:9/api/v1/"},
         "cannot be reached"),
    ):  # fmt: skip
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        with pytest.raises(SystemExit) as exited:
            execute_from_command_line(["manage.py", "prolific", "sync", "pro"])
        error = capsys.readouterr().err
        assert exited.value.code == 1
        assert expected in error and "Traceback" not in error
        assert len(error.strip().splitlines()) == 1, error
