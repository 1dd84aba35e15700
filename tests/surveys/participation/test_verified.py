"""Made-up recruiter IDs neither fill a study nor pass as data: a Prolific or MTurk participant
counts toward "full", shows on the desk and is exported as verified only once the service's
submission (assignment) is matched to them; the report's default rules exclude the others."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import pytest
from django.test import Client

from analysis import ExclusionRules
from surveys.common.pseudonyms import pseudonym, pseudonym_key
from surveys.models import Participant, ParticipantStatus, Study
from surveys.participation.allocation import places_taken
from surveys.participation.verification import is_verified
from surveys.recruiting.mturk.sync import do_sync
from surveys.recruiting.prolific.sync import do_record_submission
from surveys.results.desk import participant_counts
from surveys.results.exclusions import RulesError, apply_study_rules, check_exclusion_rules
from surveys.results.exports import ExportKind, csv_download
from surveys.results.responses import responses_frame
from tests.surveys.participation.fixtures import build_study
from tests.surveys.recruiting.mturk.fixtures import (  # noqa: F401 - stub_fixture: a fixture
    assignment,
    entry_url,
    mturk_study,
    publish,
    session,
    stub_fixture,
    take_part,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

PROLIFIC_STUDY = "60ffe5c8371090c7041d43f8"
FAKES = ("f0" * 12, "e0" * 12)
REAL = ("5f1d2e3c4b5a69788796a5b4", "5f1d2e3c4b5a69788796a5b5", "5f1d2e3c4b5a69788796a5b6")


def session_of(pid: str) -> str:
    """A Prolific session ID of its own for each PID."""
    return pid[::-1]


def prolific_url(study: Study, pid: str) -> str:
    return (
        f"/s/{study.code}/?PROLIFIC_PID={pid}&STUDY_ID={PROLIFIC_STUDY}"
        f"&SESSION_ID={session_of(pid)}"
    )


def complete(client: Client, entry: str) -> Participant:
    """Enter, consent and answer every question, as a script would."""
    consent_url = client.get(entry)["Location"]
    assert consent_url.endswith("/consent/"), consent_url
    base = consent_url.removesuffix("consent/")
    client.post(consent_url, {"decision": "agree"})
    participant = Participant.objects.get(code=base.split("/")[4])
    for position in range(1, participant.items.count() + 1):
        client.get(f"{base}q/{position}/")
        client.post(f"{base}q/{position}/", {"score": "5", "client_rt_ms": "4000"})
    participant.refresh_from_db()
    assert participant.status == ParticipantStatus.COMPLETED
    return participant


def matched_by_prolific(study: Study, pid: str) -> None:
    """What the sync (or a webhook) records for a real participant's submission."""
    record = {"id": session_of(pid), "participant_id": pid, "status": "AWAITING REVIEW"}
    do_record_submission(study, {**record, "study_id": PROLIFIC_STUDY})


def read_csv(study: Study, kind: ExportKind) -> pd.DataFrame:
    _, chunks = csv_download(study, kind)
    return pd.read_csv(io.StringIO("".join(chunks)))


@pytest.fixture
def prolific() -> Study:
    config = {"study_id": PROLIFIC_STUDY}
    return build_study(recruiter="prolific", recruiter_config=config, participants_wanted=2).study


def test_scripted_fake_completions_do_not_make_the_study_full(prolific: Study):
    # given two scripted completions with made-up PIDs, more than enough to fill two places
    fakes = [complete(Client(), prolific_url(prolific, pid)) for pid in FAKES]

    # then a real Prolific participant still gets in
    real = Client().get(prolific_url(prolific, REAL[0]))
    assert real.status_code == 302 and real["Location"].endswith("/consent/")
    assert places_taken(prolific, fakes[0].completed_at) == 0
    assert not any(is_verified(fake) for fake in fakes)


def test_a_participant_counts_toward_full_once_prolific_matches_a_submission(prolific: Study):
    for pid in REAL[:2]:
        complete(Client(), prolific_url(prolific, pid))
    assert Client().get(prolific_url(prolific, REAL[2])).status_code == 302

    for pid in REAL[:2]:
        matched_by_prolific(prolific, pid)

    full = Client().get(prolific_url(prolific, "d0" * 12))
    assert full.status_code == 200 and b"This study is full" in full.content
    assert not Participant.objects.filter(external_id="d0" * 12).exists()


def test_unverified_participants_are_flagged_in_the_exports_and_excluded_by_default(
    prolific: Study, staff_client: Client
):
    # given one real participant (matched by the sync) and two scripted ones
    real = complete(Client(), prolific_url(prolific, REAL[0]))
    matched_by_prolific(prolific, REAL[0])
    for pid in FAKES:
        complete(Client(), prolific_url(prolific, pid))
    key = pseudonym_key(prolific)
    real_name = pseudonym(real.external_id, key)
    fake_names = {pseudonym(pid, key) for pid in FAKES}

    # then both tables say who is verified
    people = read_csv(prolific, ExportKind.PARTICIPANTS).set_index("participant")
    assert people.loc[real_name, "verified"]
    assert not people.loc[list(fake_names), "verified"].any()
    answers = read_csv(prolific, ExportKind.RESPONSES)
    by_person = answers.groupby("participant")["verified"].agg(["all", "any"])
    assert by_person.loc[real_name, "all"]
    assert not by_person.loc[list(fake_names), "any"].any()
    # and the default rules remove the unverified by a named rule, before any other
    outcome = apply_study_rules(responses_frame(prolific), check_exclusion_rules(prolific))
    assert {name: outcome.removed.get(name) for name in fake_names} == dict.fromkeys(
        fake_names, "unverified participants"
    )
    assert real_name not in outcome.removed
    assert set(people.loc[list(fake_names), "excluded_by_rule"]) == {"unverified participants"}
    assert outcome.log.iloc[0]["rule"] == "unverified participants"
    # and the desk flags them
    assert participant_counts(prolific).unverified == 2
    desk = staff_client.get(f"/staff/studies/{prolific.slug}/desk/live/").content.decode()
    assert 'data-stat="unverified">2<' in desk


def test_a_made_up_mturk_assignment_counts_only_once_mturk_lists_it(stub: Any):
    # given a published study with one place, and a scripted worker with well-formed IDs
    study = mturk_study(participants_wanted=1)
    publish(study, ["HITONE"], sizes=[1])
    fake = take_part(study, "FAKEASSIGN1", "AFAKEWORKER", "HITONE")
    assert fake.status == ParticipantStatus.COMPLETED and not is_verified(fake)
    # then a real worker still gets in
    real = take_part(study, "ASSIGN1", "AWORKER1", "HITONE")

    # when the sync lists only the real worker's assignment
    client, stubber = stub
    listing = [assignment("ASSIGN1", "AWORKER1", "HITONE", code=study.completion_code)]
    stubber.add_response(
        "list_assignments_for_hit",
        {"Assignments": listing, "NumResults": 1},
        {"HITId": "HITONE", "MaxResults": 100},
    )
    do_sync(session(study, client))

    # then only the real worker is verified, and the one place is taken
    assert is_verified(real) and not is_verified(fake)
    refused = Client().get(entry_url(study, "ASSIGN2", "AWORKER2", "HITONE"))
    assert refused.status_code == 200 and b"This study is full" in refused.content


@pytest.mark.parametrize("recruiter", ["link", "panel"])
def test_link_and_panel_participants_are_verified_by_construction(recruiter: str):
    config = {"id_parameter": "pid"} if recruiter == "panel" else {}
    study = build_study(recruiter=recruiter, recruiter_config=config, participants_wanted=1).study
    done = complete(Client(), f"/s/{study.code}/?pid=P-1")
    assert is_verified(done) and participant_counts(study).unverified == 0
    assert bool(read_csv(study, ExportKind.PARTICIPANTS).loc[0, "verified"]) is True
    full = Client().get(f"/s/{study.code}/?pid=P-2")
    assert b"This study is full" in full.content


def test_the_rule_is_declared_like_the_others_and_stated_with_them():
    # What a saved spec stores: every field, the switch included, at its default.
    stored = Study(exclusion_rules=ExclusionRules().to_dict())
    assert check_exclusion_rules(stored).exclude_unverified is True
    for off in (False, None):
        declared = Study(exclusion_rules={"exclude_unverified": off})
        assert check_exclusion_rules(declared).exclude_unverified is off
    with pytest.raises(RulesError, match="true, false or null"):
        check_exclusion_rules(Study(exclusion_rules={"exclude_unverified": 1}))
