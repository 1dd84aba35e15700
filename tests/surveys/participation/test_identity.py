"""A recruiter ID alone opens nobody's session: only the browser that started (its signed
cookie), the resume link (the random code) or the recruiter's proof recorded at entry
(Prolific's SESSION_ID, MTurk's assignment) resume; anyone else gets a polite page that starts
and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from surveys.models import Participant, ParticipantStatus, Response
from surveys.participation.errors import AlreadyStarted
from surveys.participation.flow import do_start
from surveys.recruiting.registry import Identity
from tests.surveys.concurrency import at_once, run_on_postgresql
from tests.surveys.participation.fixtures import build_study

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

PID = "5f1d2e3c4b5a69788796a5b4"
SESSION = "6123456789abcdef01234567"
OTHER_SESSION = "6123456789abcdef0123abcd"
PROLIFIC_STUDY = "60ffe5c8371090c7041d43f8"


def snapshot(participant: Participant) -> dict[str, Any]:
    """Everything about a participant that a visit could change."""
    participant.refresh_from_db()
    fields = ("status", "last_seen_at", "recruiter_data", "recruiter_session", "user_agent")
    return {
        **{name: getattr(participant, name) for name in fields},
        "answers": Response.objects.filter(participant=participant).count(),
        "rows": Participant.objects.count(),
    }


def refused_politely(response: Any, participant: Participant) -> None:
    assert response.status_code == 409
    assert b"already started this study" in response.content
    # Nothing of the first one's session leaks, and this browser is not remembered as them.
    assert participant.code.encode() not in response.content
    assert not any(participant.code in morsel.value for morsel in response.cookies.values())


def walk_to_question_2(client: Client, consent_url: str) -> str:
    base = consent_url.removesuffix("consent/")
    client.post(consent_url, {"decision": "agree"})
    client.get(base + "q/1/")
    client.post(base + "q/1/", {"score": "4"})
    return base


def prolific_entry(study: Any, **params: str) -> str:
    return f"/s/{study.code}/?" + "&".join(f"{key}={value}" for key, value in params.items())


# --- the plain link's ?pid= -----------------------------------------------------------------


def test_a_second_browser_with_only_the_first_ones_pid_lands_nowhere():
    # given someone who started with a personal link and answered the first question
    study = build_study().study
    first = Client()
    consent_url = first.get(f"/s/{study.code}/?pid=alice-01")["Location"]
    base = walk_to_question_2(first, consent_url)
    participant = Participant.objects.get()
    before = snapshot(participant)

    # when a second browser opens the same personal link
    response = Client().get(f"/s/{study.code}/?pid=alice-01", HTTP_USER_AGENT="other/1.0")

    # then it gets the polite page, and nothing is stored or changed
    refused_politely(response, participant)
    assert snapshot(participant) == before
    # while the browser that started resumes where it left off
    assert first.get(f"/s/{study.code}/?pid=alice-01")["Location"] == base + "q/2/"


def test_the_resume_link_carries_the_random_code_and_remembers_the_new_device():
    study = build_study().study
    first = Client()
    consent_url = first.get(f"/s/{study.code}/?pid=alice-01")["Location"]
    base = walk_to_question_2(first, consent_url)
    page = first.get(base + "q/2/")
    participant = Participant.objects.get()
    resume = f"http://testserver/s/{study.code}/p/{participant.code}/"
    assert f'href="{resume}"'.encode() in page.content
    assert b"alice-01" not in page.content

    phone = Client()
    assert phone.get(resume)["Location"] == base + "q/2/"
    # The phone now holds the session: the personal link works there too.
    assert phone.get(f"/s/{study.code}/?pid=alice-01")["Location"] == base + "q/2/"
    assert Participant.objects.count() == 1


def test_a_forged_or_another_studys_cookie_proves_nothing():
    study, other = build_study().study, build_study().study
    Client().get(f"/s/{study.code}/?pid=alice-01")
    participant = Participant.objects.get()
    stranger = Client()
    stranger.cookies[f"surveys-{study.code}"] = participant.code  # unsigned
    refused_politely(stranger.get(f"/s/{study.code}/?pid=alice-01"), participant)
    elsewhere = Client()
    elsewhere.get(f"/s/{other.code}/?pid=alice-01")  # a signed cookie, but of the other study
    elsewhere.cookies[f"surveys-{study.code}"] = elsewhere.cookies[f"surveys-{other.code}"].value
    refused_politely(elsewhere.get(f"/s/{study.code}/?pid=alice-01"), participant)
    assert Participant.objects.filter(study=study).count() == 1


# --- Prolific: the SESSION_ID recorded at entry ----------------------------------------------


@pytest.mark.parametrize("session", [{"SESSION_ID": OTHER_SESSION}, {}], ids=["other", "none"])
def test_a_prolific_pid_with_another_or_no_session_id_lands_nowhere(session):
    study = build_study(recruiter="prolific", recruiter_config={"study_id": PROLIFIC_STUDY}).study
    first = Client()
    url = prolific_entry(study, PROLIFIC_PID=PID, STUDY_ID=PROLIFIC_STUDY, SESSION_ID=SESSION)
    base = walk_to_question_2(first, first.get(url)["Location"])
    participant = Participant.objects.get()
    assert participant.recruiter_session == SESSION
    before = snapshot(participant)

    response = Client().get(prolific_entry(study, PROLIFIC_PID=PID, **session))

    refused_politely(response, participant)
    assert b"app.prolific.com" in response.content
    assert snapshot(participant) == before
    # Prolific's own link, with the session recorded at entry, resumes on any device.
    again = Client().get(url)
    assert again.status_code == 302 and again["Location"] == base + "q/2/"


def test_another_participants_session_id_is_no_way_in():
    study = build_study(recruiter="prolific").study
    Client().get(prolific_entry(study, PROLIFIC_PID=PID, SESSION_ID=SESSION))
    participant = Participant.objects.get()
    before = snapshot(participant)
    forged = Client().get(prolific_entry(study, PROLIFIC_PID="a" * 24, SESSION_ID=SESSION))
    assert forged.status_code == 409
    assert snapshot(participant) == before


# --- a panel's (sequential) IDs --------------------------------------------------------------


def test_a_guessed_panel_id_opens_nobody():
    config = {"id_parameter": "participant_id"}
    study = build_study(recruiter="panel", recruiter_config=config).study
    Client().get(f"/s/{study.code}/?participant_id=1001")
    participant = Participant.objects.get()
    before = snapshot(participant)

    guess = Client().get(f"/s/{study.code}/?participant_id=1001")

    refused_politely(guess, participant)
    assert snapshot(participant) == before
    # An ID nobody has used yet is simply a newcomer.
    assert Client().get(f"/s/{study.code}/?participant_id=1002").status_code == 302
    assert Participant.objects.count() == 2


# --- the service ----------------------------------------------------------------------------


def test_the_service_resumes_only_with_a_proof_and_says_so_otherwise():
    study = build_study().study
    first = do_start(study, Identity(external_id="P1", session="S1"))
    assert first.recruiter_session == "S1"
    assert do_start(study, Identity(external_id="P1", session="S1")).pk == first.pk
    assert do_start(study, Identity(external_id="P1"), first.code).pk == first.pk
    for identity, remembered in [
        (Identity(external_id="P1"), ""),
        (Identity(external_id="P1", session="S2"), ""),
        (Identity(external_id="P1"), "notthecode"),
    ]:
        with pytest.raises(AlreadyStarted):
            do_start(study, identity, remembered)
    assert Participant.objects.count() == 1
    assert Participant.objects.get().status == ParticipantStatus.STARTED


# --- at the same moment, on PostgreSQL -----------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("on_postgresql")
def test_pg_the_same_id_arriving_many_times_at_once_makes_one_participant():
    study = build_study().study
    results = at_once(lambda _: do_start(study, Identity(external_id="P1")), list(range(8)))
    started = [r for r in results if isinstance(r, Participant)]
    refused = [r for r in results if isinstance(r, AlreadyStarted)]
    # One browser got the participation; the others, without its code, the polite refusal.
    assert (len(started), len(refused)) == (1, 7)
    assert Participant.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("on_postgresql")
def test_pg_a_double_clicked_prolific_link_resumes_its_own_session():
    study = build_study(recruiter="prolific").study
    identity = Identity(external_id=PID, session=SESSION)
    results = at_once(lambda _: do_start(study, identity), list(range(8)))
    assert {r.pk for r in results if isinstance(r, Participant)} == {Participant.objects.get().pk}
    assert not [r for r in results if isinstance(r, Exception)]


@pytest.mark.postgres
def test_identity_holds_on_postgresql(postgres_url: str):
    run_on_postgresql(__file__, "ident", postgres_url, expected=2)
