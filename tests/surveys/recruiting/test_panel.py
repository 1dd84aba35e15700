"""The generic panel: configured per study without code, entered by the configured parameter,
extra parameters recorded, and the completion redirect rendered from the template."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from surveys.models import Participant, ParticipantStatus
from surveys.recruiting.panel import PanelRecruiter, check_panel_config
from surveys.recruiting.registry import RecruiterConfigError, get_recruiter
from surveys.studies.spec import SpecError, check_study_spec
from tests.surveys.participation.fixtures import build_study
from tests.surveys.studies.fixtures import spec_data

SONA = {
    "id_parameter": "survey_code",
    "record": ["session", "src"],
    "completion_url": "https://uni.sona-systems.com/webstudy_credit.aspx?experiment_id=7"
    "&credit_token=abc&survey_code={participant}&code={code}&s={session}",
}


def test_a_full_config_is_kept_and_the_panel_is_registered():
    assert isinstance(get_recruiter("panel"), PanelRecruiter)
    assert PanelRecruiter.check_config(SONA) == SONA
    assert check_panel_config({"id_parameter": "pid"}) == {"id_parameter": "pid", "record": []}
    local = {"id_parameter": "pid", "completion_url": "http://localhost:8001/done?c={code}"}
    assert check_panel_config(local)["completion_url"] == "http://localhost:8001/done?c={code}"


def done(template: str) -> dict[str, str]:
    return {"id_parameter": "pid", "completion_url": template}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "id_parameter is required"),
        ({"id_parameter": "pid", "colour": "red"}, "unknown panel setting"),
        ({"id_parameter": "p i d"}, "id_parameter must be a URL parameter name"),
        ({"id_parameter": 7}, "id_parameter must be a URL parameter name"),
        ({"id_parameter": "pid", "record": "session"}, "record must be a list"),
        ({"id_parameter": "pid", "record": ["a", "a"]}, "names a parameter twice"),
        ({"id_parameter": "pid", "record": ["pid"]}, "repeats the id_parameter"),
        (done("http://panel.org/done"), "must be an https"),
        (done("ftp://panel.org/"), "must be an https"),
        (done("https:///done"), "must be an https"),
        (done("https://p.org/?c={cod}"), "unknown placeholder"),
        (done("https://p.org/?c={code!r}"), "plain placeholders"),
        (done("https://p.org/?c={code:>9}"), "plain placeholders"),
        (done("https://p.org/?c={0}"), "unknown placeholder"),
        (done("https://p.org/?c={}"), "plain placeholders"),
        (done("https://p.org/?c={code"), "unbalanced braces"),
        (done("https://{participant}.p.org/"), "scheme or host"),
        (done("https://p.org/a b"), "without spaces"),
    ],
)  # fmt: skip
def test_bad_settings_say_what_is_wrong(config: dict[str, Any], message: str):
    with pytest.raises(RecruiterConfigError, match=message):
        check_panel_config(config)


@pytest.mark.django_db
def test_the_study_spec_reports_a_bad_panel_config_under_recruiter_config():
    data = spec_data(recruiter="panel", recruiter_config={"completion_url": "https://p.org/"})
    with pytest.raises(SpecError) as raised:
        check_study_spec(data)
    problems = {problem.field: problem.message for problem in raised.value.problems}
    assert "id_parameter is required" in problems["recruiter_config"]


def _walk(client: Client, url: str) -> Any:
    """Enter at ``url``, agree, answer every question 3, and press Finish."""
    entered = client.get(url, follow=True)
    assert entered.redirect_chain[-1][0].endswith("/consent/"), entered.content[:300]
    base = entered.redirect_chain[-1][0].removesuffix("consent/")
    client.post(base + "consent/", {"decision": "agree"})
    participant = Participant.objects.get()
    for position in range(1, participant.items.count() + 1):
        client.get(f"{base}q/{position}/")
        client.post(f"{base}q/{position}/", {"score": "3"})
    return client.post(base + "debrief/")


@pytest.mark.django_db
@pytest.mark.usefixtures("media")
def test_a_panel_participant_enters_is_recorded_and_leaves_through_the_template():
    study = build_study(recruiter="panel", recruiter_config=SONA).study
    finish = _walk(Client(), f"/s/{study.code}/?survey_code=W-42&session=s%201&src=mail&junk=x")
    participant = Participant.objects.get()
    assert (participant.external_id, participant.recruiter) == ("W-42", "panel")
    # the configured extra parameters are kept; anything else is not
    assert participant.recruiter_data == {"session": "s 1", "src": "mail"}
    assert participant.status == ParticipantStatus.COMPLETED
    assert finish.status_code == 302
    assert finish["Location"] == (
        "https://uni.sona-systems.com/webstudy_credit.aspx?experiment_id=7&credit_token=abc"
        f"&survey_code=W-42&code={study.completion_code}&s=s%201"
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("media")
def test_the_same_panel_id_resumes_and_without_a_template_the_code_is_shown():
    study = build_study(recruiter="panel", recruiter_config={"id_parameter": "pid"}).study
    client = Client()
    first = client.get(f"/s/{study.code}/?pid=ABC", follow=True).redirect_chain[-1][0]
    again = client.get(f"/s/{study.code}/?pid=ABC", follow=True).redirect_chain[-1][0]
    assert first == again and Participant.objects.count() == 1
    # Only the browser that started (or the resume link): the ID alone opens nothing.
    assert Client().get(f"/s/{study.code}/?pid=ABC").status_code == 409
    participant = Participant.objects.get()
    participant.status = ParticipantStatus.COMPLETED
    participant.save()
    assert get_recruiter("panel").completion(participant).code == study.completion_code


@pytest.mark.django_db
@pytest.mark.usefixtures("media")
@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("", 400, b"has no survey_code parameter"),
        ("?survey_code=", 400, b"survey_code parameter is empty"),
        ("?survey_code=a%20b", 400, b"may contain only letters"),
        ("?survey_code=ok&session=" + "x" * 201, 400, b"session parameter is garbled"),
        ("?survey_code=ok&src=%01", 400, b"src parameter is garbled"),
    ],
)
def test_a_bad_panel_entry_is_refused_clearly_and_stores_nothing(query, status, message):
    study = build_study(recruiter="panel", recruiter_config=SONA).study
    response = Client().get(f"/s/{study.code}/{query}")
    assert response.status_code == status and message in response.content
    assert not Participant.objects.exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("media")
def test_settings_broken_after_setup_refuse_entry_politely_and_still_give_the_code():
    study = build_study(recruiter="panel", recruiter_config=SONA).study
    finish = _walk(Client(), f"/s/{study.code}/?survey_code=W-1")
    assert finish["Location"].startswith("https://uni.sona-systems.com/")
    study.recruiter_config = {"id_parameter": "survey_code", "completion_url": "http://evil.org"}
    study.save()
    participant = Participant.objects.get()
    assert get_recruiter("panel").completion(participant).code == study.completion_code
    refused = Client().get(f"/s/{study.code}/?survey_code=W-2")
    assert refused.status_code == 400 and b"not set up correctly" in refused.content
    assert Participant.objects.count() == 1
