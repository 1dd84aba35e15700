"""The retry page, in-process: what a participant's post that the database failed gets back.

The servers' tests (test_database_outage.py) show the page at work; these pin its contract
with Django's test client and a database that refuses every statement.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpResponse
from django.test import Client, RequestFactory

from surveys.models import Participant, RecruiterKind, Response
from surveys.participation.progress import do_show_question
from surveys.platform.outage import DatabaseOutageMiddleware
from surveys.recruiting.registry import get_recruiter
from tests.surveys.participation.fixtures import build_study, consented
from tests.surveys.storage import private_media

LEAKS = ("db.internal", "10.1.2.3", "OperationalError", "InterfaceError", "Traceback")


def _refuse_with(error: type[Exception]):
    def refuse(execute, sql, params, many, context):
        raise error('connection to server at "db.internal" (10.1.2.3) failed: refused')

    return refuse


@pytest.fixture
def participant(db: None, settings, tmp_path: Path) -> Participant:
    private_media(settings, tmp_path)
    study = build_study(per_condition=2, cells=1, recruiter=RecruiterKind.MTURK).study
    person = consented(study, "A1B2C3WORKER")
    do_show_question(person, 1)
    return person


def _post_while_the_database_is_down(url: str, data: dict[str, str], error=OperationalError):
    client = Client()
    client.raise_request_exception = False
    with connection.execute_wrapper(_refuse_with(error)):
        return client.post(url, data)


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_an_answer_posted_while_the_database_is_down_comes_back_in_a_retry_page(
    participant: Participant, error: type[Exception]
):
    url = f"/s/{participant.study.code}/p/{participant.code}/q/1/"
    answer = {"score": "4", "client_rt_ms": "1500", "unlocked_rt_ms": "700"}

    response = _post_while_the_database_is_down(url, answer, error)

    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    html = response.content.decode()
    assert f'<form method="post" action="{url}" id="retry"' in html
    for name, value in answer.items():
        assert f'<input type="hidden" name="{name}" value="{value}">' in html
    assert "surveys/retry.js" in html
    assert "It is not lost" in html
    assert not [leak for leak in LEAKS if leak in html]
    assert "no-store" in response["Cache-Control"]
    # inside MTurk's frame the participant sees it too
    assert "X-Frame-Options" not in response.headers
    for origin in get_recruiter(RecruiterKind.MTURK).frame_ancestors:
        assert origin in response["Content-Security-Policy"]
    assert not Response.objects.exists()


def test_the_re_post_stores_the_answer_once(participant: Participant):
    url = f"/s/{participant.study.code}/p/{participant.code}/q/1/"
    answer = {"score": "2", "client_rt_ms": "1500"}
    assert _post_while_the_database_is_down(url, answer).status_code == 503

    # the page's script posts the same fields again, twice over (a double click on its button)
    first, second = Client().post(url, answer), Client().post(url, answer)

    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert list(Response.objects.values_list("position", "score")) == [(1, 2)]


def test_a_posted_field_is_written_back_escaped(participant: Participant):
    url = f"/s/{participant.study.code}/p/{participant.code}/q/1/"

    response = _post_while_the_database_is_down(url, {"score": '"><script>alert(1)</script>'})

    html = response.content.decode()
    assert "<script>alert(1)" not in html
    assert 'value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in html


def test_oversized_or_foreign_fields_are_not_written_back(participant: Participant):
    url = f"/s/{participant.study.code}/p/{participant.code}/q/1/"
    data = {"score": "3", "bad name!": "x", "huge": "x" * 5000}
    data |= {f"extra{i}": str(i) for i in range(40)}

    html = _post_while_the_database_is_down(url, data).content.decode()

    assert 'name="score" value="3"' in html
    assert "bad name!" not in html and 'name="huge"' not in html
    assert html.count('type="hidden"') == 20


def test_a_page_read_while_the_database_is_down_keeps_the_error_page(participant: Participant):
    client = Client()
    client.raise_request_exception = False
    with connection.execute_wrapper(_refuse_with(OperationalError)):
        response = client.get(f"/s/{participant.study.code}/p/{participant.code}/q/1/")

    assert response.status_code == 500
    assert "Retry-After" not in response.headers


@pytest.mark.parametrize(
    ("method", "path", "error", "kept"),
    [
        ("post", "/s/abc/p/def/q/1/", OperationalError("down"), True),
        ("post", "/s/abc/p/def/consent/", InterfaceError("closed"), True),
        ("post", "/staff/studies/1/", OperationalError("down"), False),
        ("post", "/s/abc/", OperationalError("down"), False),
        ("get", "/s/abc/p/def/q/1/", OperationalError("down"), False),
        ("post", "/s/abc/p/def/q/1/", ValueError("a bug"), False),
    ],
)
def test_only_participant_posts_failed_by_the_database_are_kept(method, path, error, kept):
    request = getattr(RequestFactory(), method)(path, {"score": "1"})
    middleware = DatabaseOutageMiddleware(lambda request: HttpResponse())

    response = middleware.process_exception(request, error)

    assert (response is not None) == kept
    if response is not None:
        assert response.status_code == 503
