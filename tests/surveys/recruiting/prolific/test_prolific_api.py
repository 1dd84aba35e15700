"""The Prolific API client against the local stub: the token header, paging, and every failure
as one clear line (no token, refused token, unreachable API, a refused request)."""

from __future__ import annotations

import socket

import pytest

from surveys.recruiting.prolific.api import (
    DEFAULT_API_URL,
    ProlificBusy,
    ProlificClient,
    ProlificConfigError,
    ProlificError,
    ProlificHTTPError,
    ProlificUnreachable,
    error_detail,
)
from tests.surveys.prolific_stub import TOKEN, ProlificStub, prolific_stub  # noqa: F401 - fixture


def client() -> ProlificClient:
    return ProlificClient.from_env(sleep=lambda _: None)


def test_requests_carry_the_token_and_json(prolific_stub: ProlificStub):  # noqa: F811
    study_id = prolific_stub.add_study(name="x")
    assert client().get_study(study_id)["id"] == study_id
    sent = prolific_stub.requests[-1]
    assert sent.headers["Authorization"] == f"Token {TOKEN}"
    assert sent.headers["Accept"] == "application/json"
    assert sent.path == f"/api/v1/studies/{study_id}/"


def test_submissions_are_read_page_by_page(prolific_stub: ProlificStub):  # noqa: F811
    study_id = prolific_stub.add_study()
    made = [prolific_stub.add_submission(study_id) for _ in range(7)]
    prolific_stub.add_submission(prolific_stub.add_study())  # another study's
    listed = [row["id"] for row in client().list_submissions(study_id, page_size=3)]
    assert listed == made
    pages = prolific_stub.calls("GET", "/submissions/$")
    assert [call.query.get("page", ["1"])[0] for call in pages] == ["1", "2", "3"]


def test_a_next_link_to_another_host_is_not_followed_with_the_token(
    prolific_stub: ProlificStub,  # noqa: F811
):
    bad = ProlificClient(prolific_stub.url, TOKEN)
    page = {"results": [], "_links": {"next": {"href": "https://elsewhere.example/api/v1/x"}}}
    with pytest.raises(ProlificError, match="points at elsewhere.example"):
        bad._next(page, "studies/x/submissions/")


def test_no_token_says_how_to_set_it(monkeypatch):
    monkeypatch.delenv("PROLIFIC_TOKEN", raising=False)
    with pytest.raises(ProlificConfigError, match="PROLIFIC_TOKEN is not set"):
        ProlificClient.from_env()
    monkeypatch.setenv("PROLIFIC_TOKEN", "t")
    monkeypatch.delenv("PROLIFIC_API_URL", raising=False)
    assert ProlificClient.from_env().base_url == DEFAULT_API_URL
    monkeypatch.setenv("PROLIFIC_API_URL", "api.prolific.com")
    with pytest.raises(ProlificConfigError, match="not an http"):
        ProlificClient.from_env()


def test_a_refused_token_is_one_line_naming_the_fix(prolific_stub, monkeypatch):  # noqa: F811
    monkeypatch.setenv("PROLIFIC_TOKEN", "wrong")
    with pytest.raises(ProlificHTTPError) as raised:
        client().get_study("60ffe5c8371090c7041d43f8")
    message = str(raised.value)
    assert raised.value.status == 401 and "\n" not in message
    assert "refused the API token" in message and "Invalid token." in message


def test_an_unreachable_api_is_one_line_after_a_few_tries(monkeypatch):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    monkeypatch.setenv("PROLIFIC_API_URL", f"http://127.0.0.1:{port}/api/v1/")
    monkeypatch.setenv("PROLIFIC_TOKEN", "t")
    waits: list[float] = []
    with pytest.raises(ProlificUnreachable) as raised:
        ProlificClient.from_env(sleep=waits.append).get_study("60ffe5c8371090c7041d43f8")
    assert "cannot be reached" in str(raised.value) and "\n" not in str(raised.value)
    assert waits == [0.25, 0.5]


def test_a_busy_api_is_retried_for_reads_only(prolific_stub: ProlificStub):  # noqa: F811
    study_id = prolific_stub.add_study()
    prolific_stub.fail_next.append(("GET", "/studies/", 503))
    assert client().get_study(study_id)["id"] == study_id
    prolific_stub.fail_next.append(("POST", "/studies/", 429))
    with pytest.raises(ProlificBusy, match="HTTP 429"):
        client().create_study({})
    assert len(prolific_stub.calls("POST", "/studies/$")) == 1


def test_a_refused_request_gives_prolifics_reasons(prolific_stub: ProlificStub):  # noqa: F811
    with pytest.raises(ProlificHTTPError) as raised:
        client().create_study({"name": "only a name"})
    assert raised.value.status == 400
    assert "reward: This field is required" in str(raised.value)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"error": {"error_code": 1, "title": "x", "detail": "No."}}', "No."),
        (b'{"message": ["too short"], "reward": ["bad"]}', "too short; reward: bad"),
        (b"<html>Bad gateway</html>", "<html>Bad gateway</html>"),
        (b'{"detail": "' + b"x" * 400 + b'"}', "x" * 297 + "..."),
    ],
)
def test_error_bodies_are_flattened_to_one_line(body, expected):
    assert error_detail(body) == expected
