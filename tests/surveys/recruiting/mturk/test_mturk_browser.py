"""A worker's way in headless Chromium: the study inside a page that imitates MTurk's frame
(preview, accept, answer, submit), and a stand-in for ``{turkSubmitTo}/mturk/externalSubmit`` on
another origin that receives the frame's POST. Also the researcher's MTurk desk on a laptop and
a phone (its screenshots are the README's ``docs/mturk-desk.png``).

This module is its own test urlconf: the project's URLs plus the imitation frame page.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from django.conf import settings as django_settings
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path, reverse

from surveys.models import LedgerEntry, Participant, ParticipantStatus
from tests.surveys.browsing import DESKTOP, PHONE
from tests.surveys.factories import StaffFactory
from tests.surveys.recruiting.fixtures import grant_pay
from tests.surveys.recruiting.mturk.fixtures import add_submission, mturk_study, publish, take_part

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("media"),
    pytest.mark.urls(__name__),
]
READY = "form#answer[data-ready=true]"
SUBMIT_TIMEOUT_S = 15
HIT_ID = "3HYV4299H0WQ8BK4OQ7FYBTY5SN8ED"


def mturk_frame(request: HttpRequest, study: str) -> HttpResponse:
    """MTurk's worker page, reduced to what matters: the HIT's ExternalURL in an iframe, with the
    parameters MTurk appends."""
    src = f"/s/{study}/?{request.META.get('QUERY_STRING', '')}"
    return HttpResponse(
        "<!doctype html><html lang=en><title>HIT (MTurk stand-in)</title>"
        "<h1>Stand-in for MTurk's HIT page</h1>"
        f'<iframe id="task" title="HIT" src="{src}" style="width:100%;height:640px"></iframe>'
    )


urlpatterns = [
    path("mturk-frame/<str:study>/", mturk_frame),
    path("", include("studyapp.urls")),
]


class ExternalSubmit(BaseHTTPRequestHandler):
    """Receives the frame's POST as ``{turkSubmitTo}/mturk/externalSubmit`` would."""

    received: list[tuple[str, dict[str, str]]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        type(self).received.append((self.path, dict(parse_qsl(body))))
        html = b"<!doctype html><p id=received>Your HIT was submitted.</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(html)))
        self.end_headers()
        self.wfile.write(html)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def submit_host(settings) -> Iterator[str]:
    """The stand-in's origin, accepted as turkSubmitTo for this test only."""
    ExternalSubmit.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), ExternalSubmit)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    settings.SURVEYS_MTURK_SUBMIT_HOSTS = [origin]
    yield origin
    server.shutdown()
    server.server_close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("MTURK_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def frame_url(live_server, study, **params: str) -> str:
    return f"{live_server.url}/mturk-frame/{study.code}/?{urlencode(params)}"


def test_a_worker_previews_accepts_answers_and_submits_from_the_frame(
    live_server,
    page,
    submit_host,
    shots,
):
    study = mturk_study(participants_wanted=9)
    publish(study, ["HITBROWSER"])
    # Preview: MTurk sends no worker and a placeholder assignment.
    page.set_viewport_size(DESKTOP)
    page.goto(frame_url(live_server, study, assignmentId="ASSIGNMENT_ID_NOT_AVAILABLE",
                        hitId="HITBROWSER", turkSubmitTo=submit_host))  # fmt: skip
    task = page.frame_locator("#task")
    task.get_by_text("This is a preview. Accept the task to begin.").wait_for()
    assert task.get_by_role("button").count() == 0 and not Participant.objects.exists()
    # Accept: the same HIT with the worker's assignment.
    page.goto(frame_url(live_server, study, assignmentId="ASSIGNBROWSER1", hitId="HITBROWSER",
                        workerId="AWORKERBROWSER", turkSubmitTo=submit_host))  # fmt: skip
    task.get_by_role("button", name="I agree").click()
    task.get_by_role("link", name="Start").click()
    participant = Participant.objects.get()
    total = participant.items.count()
    for position in range(1, total + 1):
        label = re.compile(rf"^Question {position} of {total}$")
        task.locator(".progress-label").filter(has_text=label).wait_for()
        task.locator(READY).wait_for()
        if position == 1:
            page.screenshot(path=str(shots / "mturk-frame-question.png"))
        task.get_by_role("radio", name=re.compile(rf"^{1 + position % 5}\b")).check()
        task.get_by_role("button", name="Next").click()
    task.get_by_role("button", name="Finish").click()
    # The frame posts the assignment to the stand-in for MTurk, by itself.
    task.locator("#received").wait_for(timeout=SUBMIT_TIMEOUT_S * 1000)
    assert ExternalSubmit.received == [
        ("/mturk/externalSubmit",
         {"assignmentId": "ASSIGNBROWSER1", "completion_code": study.completion_code}),
    ]  # fmt: skip
    participant.refresh_from_db()
    assert participant.status == ParticipantStatus.COMPLETED
    assert participant.responses.count() == total


def test_the_submit_button_works_without_scripts(live_server, page, submit_host, shots):
    study = mturk_study(participants_wanted=9)
    publish(study, ["HITBROWSER"])
    participant = take_part(study, "ASSIGNNOJS", "AWORKERNOJS", "HITBROWSER", submit_host)
    quiet = page.context.browser.new_context(java_script_enabled=False)
    try:
        tab = quiet.new_page()
        tab.goto(f"{live_server.url}/s/{study.code}/p/{participant.code}/mturk/submit/")
        time.sleep(0.5)
        assert ExternalSubmit.received == []  # nothing was sent by itself
        tab.screenshot(path=str(shots / "mturk-submit-noscript.png"))
        tab.get_by_role("button", name="Submit the HIT").click()
        tab.locator("#received").wait_for()
    finally:
        quiet.close()
    assert ExternalSubmit.received[0][1]["assignmentId"] == "ASSIGNNOJS"


def _log_in(tab, live_server) -> None:
    client = Client()
    client.force_login(grant_pay(StaffFactory(username="mturk-researcher")))
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    tab.context.add_cookies(
        [{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )


def test_the_desk_reads_on_a_laptop_and_a_phone(live_server, page, shots, monkeypatch):
    # MTurk is closed: the balance line says so (a closed port stands in for the service).
    monkeypatch.setenv("MTURK_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTING")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    study = mturk_study({"masters": True, "bonus": {"amount": "0.50", "reason": "Thanks"}},
                        participants_wanted=9, title="CUB saliency (paper protocol)",
                        reward=Decimal("2.40"))  # fmt: skip
    publish(study, [HIT_ID])
    study.participants_wanted = 40  # the paper's 40: four more batches to publish
    study.save()
    for n in (1, 2):
        assignment_id, worker = f"3ASSIGNMENT{n}QX0ZB7Y0", f"A2WORKER{n}B6X0"
        person = take_part(study, assignment_id, worker, HIT_ID)
        code = {"code_ok": True, "answer_code": study.completion_code}
        add_submission(study, assignment_id, worker, HIT_ID, participant=person, data=code)
    guess = {"code_ok": False, "answer_code": "guess"}
    add_submission(study, "3STRANGERQX0ZB7Y0", "A9STRANGER", HIT_ID, unmatched=True, data=guess)
    _log_in(page, live_server)
    desk = live_server.url + reverse("surveys:mturk_desk", args=[study.slug])
    page.set_viewport_size(DESKTOP)
    page.goto(desk)
    page.locator("#mturk-balance .notice").wait_for()
    balance = page.locator("#mturk-balance").inner_text()
    assert "closed on 30 September 2026" in balance and "cannot be reached" in balance
    assert page.locator("[data-stat=unmatched]").inner_text() == "1"
    assert (
        "Publish 4 HIT(s) with 31 assignment(s)"
        in page.locator("#publish-title + dl + div + form").inner_text()
    )
    page.screenshot(path=str(shots / "mturk-desk-desktop.png"), full_page=True)
    # Approve every ready one: the confirmation shows the money before anything moves.
    page.get_by_role("button", name="Approve every ready assignment…").click()
    page.get_by_role("heading", name=re.compile("Confirm: Approve 2")).wait_for()
    assert "7.20 USD" in page.locator("#money").inner_text()  # 2 x (2.40+0.60) + 2 x (0.50+0.10)
    page.screenshot(path=str(shots / "mturk-confirm-desktop.png"), full_page=True)
    assert not LedgerEntry.objects.exclude(action="publish").exists()
    page.set_viewport_size(PHONE)
    page.goto(desk)
    page.locator("#mturk-balance .notice").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(shots / "mturk-desk-phone.png"), full_page=True)
