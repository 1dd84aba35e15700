"""Hypothesis throws arbitrary entry query strings, headers, cookies and consent and answer forms
at the participant endpoints of every recruiter: no request answers 5xx, and a request that is
refused stores no row (no participant, no answer, no consent)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from surveys.models import Participant, ParticipantStatus, Response, Study
from surveys.participation.flow import do_consent, do_show_question, do_start
from surveys.recruiting.registry import Identity
from tests.surveys.participation.fixtures import build_study
from tests.surveys.recruiting.mturk.fixtures import mturk_study, publish

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Whatever a URL or a form can carry, surrogates aside (they cannot be encoded at all).
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
# A header reaches Django as the server read it off the wire: bytes as latin-1 (a UTF-8 header
# arrives as its bytes), so that is how fuzzed header and cookie values are sent.
on_the_wire = text.map(lambda value: value.encode().decode("latin-1"))
hexish = st.text("0123456789abcdefABCDEF%{}", min_size=0, max_size=26)
PARAMETERS = [
    "pid", "participant_id", "PROLIFIC_PID", "STUDY_ID", "SESSION_ID", "assignmentId",
    "hitId", "workerId", "turkSubmitTo",
]  # fmt: skip
query = st.dictionaries(
    st.sampled_from(PARAMETERS) | text,
    text | hexish | st.sampled_from(["ASSIGNMENT_ID_NOT_AVAILABLE", "HITONE", "AWORKER1"]),
    max_size=6,
)
headers = st.fixed_dictionaries(
    {},
    optional={
        "user-agent": on_the_wire,
        "x-forwarded-for": on_the_wire,
        "accept-language": on_the_wire,
        "referer": on_the_wire,
    },
)


@pytest.fixture
def studies() -> list[Study]:
    """One open study per recruiter, the MTurk one with a published HIT."""
    mturk = mturk_study(participants_wanted=9)
    publish(mturk, ["HITONE"])
    return [
        build_study(participants_wanted=1000).study,
        build_study(recruiter="panel", recruiter_config={"id_parameter": "participant_id"}).study,
        build_study(recruiter="prolific").study,
        mturk,
    ]


def _entered(response: Any) -> bool:
    return response.status_code == 302 and "/p/" in response["Location"]


@FUZZ
@given(which=st.integers(0, 3), params=query, sent=headers, cookie=on_the_wire)
def test_any_entry_request_answers_without_a_5xx_and_a_refusal_stores_nothing(
    studies: list[Study], which: int, params: dict[str, str], sent: dict[str, str], cookie: str
) -> None:
    study = studies[which]
    client = Client()
    if cookie:
        client.cookies[f"surveys-{study.code}"] = cookie
    before = Participant.objects.count()

    response = client.get(f"/s/{study.code}/", params, headers=sent)

    assert response.status_code < 500, response.content[:500]
    # A way in stores at most the one newcomer; anything else stores nobody.
    assert Participant.objects.count() - before == (1 if _entered(response) else 0)


@FUZZ
@given(form=st.dictionaries(st.sampled_from(["decision"]) | text, text, max_size=4))
def test_any_consent_form_answers_without_a_5xx_and_only_a_decision_changes_anything(
    studies: list[Study], form: dict[str, str]
) -> None:
    study = studies[0]
    participant = do_start(study, Identity(external_id=f"c{Participant.objects.count()}"))
    url = f"/s/{study.code}/p/{participant.code}/consent/"

    response = Client().post(url, form)

    assert response.status_code < 500
    participant.refresh_from_db()
    if form.get("decision") not in ("agree", "decline"):
        assert response.status_code == 400
        assert participant.status == ParticipantStatus.STARTED
        assert not participant.items.exists() and participant.question_set is None


scores = text | st.integers(-10, 10).map(str) | st.sampled_from(["3", " 4 ", "5.0", "1e0"])
answer_form = st.fixed_dictionaries(
    {},
    optional={"score": scores, "client_rt_ms": text, "unlocked_rt_ms": text, "other": text},
)


@FUZZ
@given(form=answer_form, sent=headers)
def test_any_answer_form_answers_without_a_5xx_and_a_refused_answer_is_not_stored(
    studies: list[Study], form: dict[str, str], sent: dict[str, str]
) -> None:
    study = studies[0]
    identity = Identity(external_id=f"a{Participant.objects.count()}")
    participant = do_consent(do_start(study, identity), agree=True)
    do_show_question(participant, 1)
    url = f"/s/{study.code}/p/{participant.code}/q/1/"

    response = Client().post(url, form, headers=sent)

    assert response.status_code < 500
    stored = Response.objects.filter(participant=participant)
    if response.status_code == 400:
        assert not stored.exists()
    else:
        assert response.status_code == 302
        assert [answer.score for answer in stored] == [int(form["score"].strip())]


@FUZZ
@given(code=text.filter(lambda c: "/" not in c and c.strip()), page=st.sampled_from(
    ["", "consent/", "goodbye/", "instructions/", "q/1/", "img/1/original", "debrief/", "done/"]
))  # fmt: skip
# A NUL byte, which PostgreSQL refuses in any text parameter (found by this test there).
@example(code="\x00", page="")
@example(code="\x00", page="q/1/")
def test_any_participant_code_in_a_page_address_is_answered_without_a_5xx(
    studies: list[Study], code: str, page: str
) -> None:
    before = (Participant.objects.count(), Response.objects.count())
    for method in ("get", "post"):
        response = getattr(Client(), method)(f"/s/{studies[0].code}/p/{code}/{page}")
        assert response.status_code < 500
    assert (Participant.objects.count(), Response.objects.count()) == before
