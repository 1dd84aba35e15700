"""The Prolific API client against the local stub: the token header, the documented submissions
listing and its paging (the stub refuses undocumented parameters), the webhook calls, and every
failure as one clear line (no token, refused token, unreachable API, a refused request)."""

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
from tests.surveys.recruiting.prolific.stub import TOKEN, ProlificStub


def client() -> ProlificClient:
    return ProlificClient.from_env(sleep=lambda _: None)


def test_requests_carry_the_token_and_json(prolific_stub: ProlificStub):
    study_id = prolific_stub.add_study(name="x")
    assert client().get_study(study_id)["id"] == study_id
    sent = prolific_stub.requests[-1]
    assert sent.headers["Authorization"] == f"Token {TOKEN}"
    assert sent.headers["Accept"] == "application/json"
    assert sent.path == f"/api/v1/studies/{study_id}/"


def test_submissions_are_read_page_by_page_from_the_documented_listing(
    prolific_stub: ProlificStub,
):
    study_id = prolific_stub.add_study()
    made = [prolific_stub.add_submission(study_id) for _ in range(7)]
    prolific_stub.add_submission(prolific_stub.add_study())  # another study's
    listed = [row["id"] for row in client().list_submissions(study_id, page_size=3)]
    assert listed == made
    pages = prolific_stub.calls("GET", "/submissions/$")
    assert {call.path for call in pages} == {"/api/v1/submissions/"}
    assert [call.query.get("page", ["1"])[0] for call in pages] == ["1", "2", "3"]
    assert all(call.query["study"] == [study_id] for call in pages)
    assert all(call.query["page_size"] == ["3"] for call in pages)


@pytest.mark.parametrize(
    ("path", "query", "refused"),
    [
        ("studies/{study}/submissions/", {"page_size": 3}, "page_size"),
        ("submissions/", {"study": "{study}", "limit": 3}, "limit"),
        ("studies/{study}/", {"fields": "id"}, "fields"),
    ],
)
def test_the_stub_refuses_parameters_the_reference_does_not_document(
    prolific_stub: ProlificStub, path, query, refused
):
    study_id = prolific_stub.add_study()
    filled = {k: str(v).format(study=study_id) for k, v in query.items()}
    with pytest.raises(ProlificHTTPError, match=f"Unknown query parameter.*{refused}") as raised:
        list(client().pages(path.format(study=study_id), filled))
    assert raised.value.status == 400


def test_the_stub_refuses_body_fields_a_call_does_not_take(prolific_stub: ProlificStub):
    submission = prolific_stub.add_submission(prolific_stub.add_study())
    with pytest.raises(ProlificHTTPError, match="reason: Not a field"):
        client().transition(submission, {"action": "APPROVE", "reason": "good"})
    assert prolific_stub.submissions[submission]["status"] == "AWAITING REVIEW"


def test_a_submission_reads_as_documented(prolific_stub: ProlificStub):
    study_id = prolific_stub.add_study()
    pid = "60bf9310e8dec401be6e9615"
    submission = prolific_stub.add_submission(study_id, pid)
    found = client().get_submission(submission)
    assert (found["study_id"], found["participant"]) == (study_id, pid)
    assert "participant_id" not in found


def test_a_hook_subscription_is_made_then_confirmed_with_its_header(prolific_stub: ProlificStub):
    workspace = prolific_stub.workspace_id
    made = client().create_hook_secret(workspace)
    assert made["value"] == prolific_stub.signing_secret()
    target = "https://study.example.org/hooks/prolific/"
    subscription, secret = client().create_hook_subscription(
        "submission.status.change", target, workspace
    )
    assert secret == prolific_stub.subscriptions[subscription["id"]]["secret"]
    assert client().list_hook_subscriptions(workspace, enabled=True) == []
    with pytest.raises(ProlificHTTPError, match="secret: Does not match"):
        client().confirm_hook_subscription(subscription["id"], "guessed")
    assert client().confirm_hook_subscription(subscription["id"], secret)["is_enabled"] is True
    (listed,) = client().list_hook_subscriptions(workspace, enabled=True)
    assert (listed["id"], listed["target_url"]) == (subscription["id"], target)
    client().delete_hook_subscription(subscription["id"])
    assert not prolific_stub.subscriptions


def test_a_next_link_to_another_host_is_not_followed_with_the_token(
    prolific_stub: ProlificStub,
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


def test_a_refused_token_is_one_line_naming_the_fix(prolific_stub, monkeypatch):
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


def test_a_busy_api_is_retried_for_reads_only(prolific_stub: ProlificStub):
    study_id = prolific_stub.add_study()
    prolific_stub.fail_next.append(("GET", "/studies/", 503))
    assert client().get_study(study_id)["id"] == study_id
    prolific_stub.fail_next.append(("POST", "/studies/", 429))
    with pytest.raises(ProlificBusy, match="HTTP 429"):
        client().create_study({})
    assert len(prolific_stub.calls("POST", "/studies/$")) == 1


def test_a_refused_request_gives_prolifics_reasons(prolific_stub: ProlificStub):
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
