"""Sync: every HIT's assignments listed page by page, upserted once per assignment, matched to
the participant who entered with that worker and assignment (or flagged unmatched), and the
repeat qualification granted once per worker through the ledger."""

from __future__ import annotations

import pytest
from django.test import Client

from surveys.models import LedgerEntry, Submission, SubmissionStatus
from surveys.recruiting.mturk.sync import do_sync
from tests.surveys.recruiting.mturk.fixtures import (
    assignment,
    entry_url,
    mturk_study,
    publish,
    session,
    take_part,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]
QUAL = "3REPEATQUAL00000000000000000000"


def expect_listing(stubber, hit_id: str, *pages_of_assignments: list[dict]) -> None:
    """ListAssignmentsForHIT answers, one per page, chained by NextToken."""
    for number, page in enumerate(pages_of_assignments):
        params = {"HITId": hit_id, "MaxResults": 100}
        if number:
            params["NextToken"] = f"{hit_id}-page{number + 1}"
        answer = {"Assignments": page, "NumResults": len(page)}
        if number < len(pages_of_assignments) - 1:
            answer["NextToken"] = f"{hit_id}-page{number + 2}"
        stubber.add_response("list_assignments_for_hit", answer, params)


@pytest.fixture
def study():
    study = mturk_study(participants_wanted=11)
    publish(study, ["HITONE", "HITTWO"], sizes=[9, 2])
    return study


def test_sync_follows_every_page_and_matches_assignments_to_participants(stub, study):
    client, stubber = stub
    done = take_part(study, "ASSIGN1", "AWORKER1", "HITONE")
    expect_listing(
        stubber, "HITONE",
        [assignment("ASSIGN1", "AWORKER1", "HITONE", code=study.completion_code),
         assignment("ASSIGN9", "AWORKER9", "HITONE", code="guessed")],
        [assignment("ASSIGN5", "AWORKER1", "HITONE")],
    )  # fmt: skip
    expect_listing(stubber, "HITTWO", [assignment("ASSIGN7", "AWORKER7", "HITTWO", "Approved")])
    report = do_sync(session(study, client))
    assert (report.hits, report.seen, report.created, report.unmatched) == (2, 4, 4, 3)
    rows = {s.external_id: s for s in Submission.objects.all()}
    matched = rows["ASSIGN1"]
    assert matched.participant == done and not matched.unmatched
    assert (matched.status, matched.batch_id, matched.worker_id) == (
        SubmissionStatus.SUBMITTED, "HITONE", "AWORKER1",
    )  # fmt: skip
    assert matched.data["code_ok"] is True and matched.data["answer_code"] == study.completion_code
    # A stranger's submit, and a second assignment of a worker who took part, match nobody.
    assert rows["ASSIGN9"].unmatched and rows["ASSIGN9"].data["code_ok"] is False
    assert rows["ASSIGN5"].unmatched and rows["ASSIGN5"].participant is None
    assert rows["ASSIGN7"].status == SubmissionStatus.APPROVED


def test_sync_again_updates_in_place_and_never_undoes_our_own_decision(stub, study):
    client, stubber = stub
    take_part(study, "ASSIGN1", "AWORKER1", "HITONE")
    expect_listing(stubber, "HITONE", [assignment("ASSIGN1", "AWORKER1", "HITONE"),
                                       assignment("ASSIGN2", "AWORKER2", "HITONE")])  # fmt: skip
    expect_listing(stubber, "HITTWO", [])
    do_sync(session(study, client))
    Submission.objects.filter(external_id="ASSIGN1").update(status=SubmissionStatus.APPROVED)
    # MTurk still lists ASSIGN1 as submitted for a while, and has rejected ASSIGN2.
    rejected = assignment("ASSIGN2", "AWORKER2", "HITONE", "Rejected")
    expect_listing(stubber, "HITONE", [assignment("ASSIGN1", "AWORKER1", "HITONE"), rejected])
    expect_listing(stubber, "HITTWO", [])
    report = do_sync(session(study, client))
    assert (report.created, report.updated, Submission.objects.count()) == (0, 1, 2)
    statuses = dict(Submission.objects.values_list("external_id", "status"))
    assert statuses == {"ASSIGN1": SubmissionStatus.APPROVED, "ASSIGN2": SubmissionStatus.REJECTED}


def test_a_throttled_listing_is_retried_with_backoff(stub, study, waits):
    client, stubber = stub
    stubber.add_client_error("list_assignments_for_hit", "ThrottlingException", "Rate exceeded")
    expect_listing(stubber, "HITONE", [assignment("ASSIGN2", "AWORKER2", "HITONE")])
    stubber.add_client_error("list_assignments_for_hit", "ServiceFault", "Try later", 500)
    expect_listing(stubber, "HITTWO", [])
    report = do_sync(session(study, client, waits))
    assert report.seen == 1 and waits == [0.5, 0.5]


def test_workers_who_started_get_the_repeat_qualification_once(stub):
    client, stubber = stub
    study = mturk_study({"repeat_qualification_id": QUAL}, participants_wanted=9)
    publish(study, ["HITONE"])
    take_part(study, "ASSIGN1", "AWORKER1", "HITONE")
    Client().get(entry_url(study, "ASSIGN2", "AWORKER2", "HITONE"))  # started, not finished
    expect_listing(stubber, "HITONE", [assignment("ASSIGN1", "AWORKER1", "HITONE")])
    for worker in ("AWORKER1", "AWORKER2"):
        stubber.add_response("associate_qualification_with_worker", {}, {
            "QualificationTypeId": QUAL, "WorkerId": worker, "IntegerValue": 1,
            "SendNotification": False,
        })  # fmt: skip
    report = do_sync(session(study, client))
    assert report.qualified == 2 and not report.failures
    assert LedgerEntry.objects.filter(action="qualify", status="done").count() == 2
    # Synced again: nothing is granted twice.
    expect_listing(stubber, "HITONE", [assignment("ASSIGN1", "AWORKER1", "HITONE")])
    assert do_sync(session(study, client)).qualified == 0


def test_a_refused_grant_is_reported_and_the_rest_goes_on(stub):
    client, stubber = stub
    study = mturk_study({"repeat_qualification_id": QUAL}, participants_wanted=9)
    publish(study, ["HITONE"])
    expect_listing(stubber, "HITONE", [assignment("ASSIGN1", "AWORKER1", "HITONE"),
                                       assignment("ASSIGN2", "AWORKER2", "HITONE")])  # fmt: skip
    stubber.add_client_error("associate_qualification_with_worker", "RequestError",
                             "You do not own this qualification type.")  # fmt: skip
    stubber.add_response("associate_qualification_with_worker", {})
    report = do_sync(session(study, client))
    assert report.qualified == 1 and len(report.failures) == 1
    assert report.failures[0].startswith("AWORKER1: ") and "do not own" in report.failures[0]
