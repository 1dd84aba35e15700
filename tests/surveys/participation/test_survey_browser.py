"""The participant's survey in headless Chromium: the whole way, resuming, double submits, the
keyboard alone, a phone's screen, and the minimum time per question."""

from __future__ import annotations

import re

import pytest

from surveys.models import Participant, ParticipantStatus, Response
from tests.surveys.browsing import READY, agree, answer, current_position
from tests.surveys.participation.fixtures import build_study

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("media"),
]


def test_the_whole_way_from_the_link_to_the_completion_code(live_server, page):
    built = build_study(practice=True)
    page.goto(f"{live_server.url}/s/{built.study.code}/")
    assert page.get_by_role("heading", name="Before you start").is_visible()
    assert built.study.consent_text in page.inner_text("main")
    page.get_by_role("button", name="I agree").click()
    page.wait_for_url("**/instructions/")
    # The two practice pictures load, under neutral alt texts.
    for alt in ("Original practice picture", "Practice picture with highlighted region"):
        for n in range(2):
            picture = page.get_by_alt_text(alt, exact=True).nth(n)
            assert picture.evaluate("img => img.naturalWidth") > 0
    page.get_by_role("link", name="Start").click()
    participant = Participant.objects.get()
    total = participant.items.count()
    for position in range(1, total + 1):
        page.wait_for_url(f"**/q/{position}/")
        assert f"Question {position} of {total}" in page.inner_text(".progress-label")
        legend = page.locator("legend").inner_text()
        assert legend == "How salient is the feature pointed out by the AI system?"
        answer(page, 1 + position % 5)
    page.wait_for_url("**/debrief/")
    assert built.study.debrief_text in page.inner_text("main")
    page.get_by_role("button", name="Finish").click()
    page.wait_for_url("**/done/")
    assert page.inner_text("#completion-code") == built.study.completion_code
    participant.refresh_from_db()
    assert participant.status == ParticipantStatus.COMPLETED
    stored = list(participant.responses.order_by("position"))
    assert [r.score for r in stored] == [1 + p % 5 for p in range(1, total + 1)]
    assert all(r.client_rt_ms is not None and r.server_rt_ms is not None for r in stored)


def test_reload_back_and_a_new_device_resume_at_the_first_unanswered(live_server, page):
    built = build_study()
    agree(page, f"{live_server.url}/s/{built.study.code}/")
    answer(page, 2)
    answer(page, 4)
    assert current_position(page) == 3
    page.reload()
    assert current_position(page) == 3
    page.go_back()
    page.wait_for_load_state()
    assert current_position(page) == 3
    resume = page.locator("a.resume-link").get_attribute("href")
    # The resume link carries the participant's random code, never the recruiter's ID.
    assert resume and "/p/" in resume and "pid" not in resume
    other_device = page.context.browser.new_context()
    try:
        phone = other_device.new_page()
        phone.goto(resume)
        assert current_position(phone) == 3
        answer(phone, 5)
        assert current_position(phone) == 4
    finally:
        other_device.close()
    page.reload()
    assert current_position(page) == 4
    assert list(Response.objects.order_by("position").values_list("score", flat=True)) == [2, 4, 5]


def test_a_double_click_or_a_re_post_stores_one_answer(live_server, page):
    built = build_study()
    agree(page, f"{live_server.url}/s/{built.study.code}/")
    page.wait_for_selector(READY)
    page.get_by_role("radio", name=re.compile(r"^3\b")).check()
    question_url = page.url
    page.get_by_role("button", name="Next").dblclick()
    page.wait_for_url("**/q/2/")
    # The same form posted again (a resent request) changes nothing either.
    resent = page.request.post(question_url, form={"score": "1", "client_rt_ms": "5"})
    assert resent.ok and resent.url.endswith("/q/2/")
    assert list(Response.objects.values_list("position", "score")) == [(1, 3)]


def test_the_keyboard_alone_answers_every_question(live_server, page):
    built = build_study()
    page.goto(f"{live_server.url}/s/{built.study.code}/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "I agree"
    page.keyboard.press("Enter")
    page.wait_for_url("**/instructions/")
    page.locator("a", has_text="Start").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/q/1/")
    # First question: Tab to the scale, arrow to 2, Tab to Next, Enter.
    page.wait_for_selector(READY)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "score-1"
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Next"
    page.keyboard.press("Enter")
    page.wait_for_url("**/q/2/")
    # The rest: a digit key chooses, Enter sends.
    total = Participant.objects.get().items.count()
    for position in range(2, total + 1):
        page.wait_for_url(f"**/q/{position}/")
        page.wait_for_selector(READY)
        page.keyboard.press(str(1 + position % 5))
        assert page.is_checked(f"#score-{1 + position % 5}")
        page.keyboard.press("Enter")
    page.wait_for_url("**/debrief/")
    scores = list(Response.objects.order_by("position").values_list("score", flat=True))
    assert scores == [2] + [1 + p % 5 for p in range(2, total + 1)]


def test_a_phone_shows_pictures_and_scale_without_sideways_scrolling(live_server, page):
    built = build_study()
    phone = page.context.browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
        has_touch=True,
    )  # fmt: skip
    try:
        screen = phone.new_page()
        screen.goto(f"{live_server.url}/s/{built.study.code}/")
        assert screen.evaluate("document.documentElement.scrollWidth") <= 390
        screen.get_by_role("button", name="I agree").tap()
        screen.wait_for_url("**/instructions/")
        screen.get_by_role("link", name="Start").tap()
        screen.wait_for_url("**/q/1/")
        screen.wait_for_selector(READY)
        assert screen.evaluate("document.documentElement.scrollWidth") <= 390
        boxes = [screen.get_by_alt_text(a).bounding_box() for a in
                 ("Original picture", "Picture with highlighted region")]  # fmt: skip
        for box in boxes:
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["width"] > 100
        for value in range(1, 6):
            box = screen.locator(f"label[for=score-{value}]").bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
            assert box["height"] >= 44  # a finger-sized target
        screen.locator("label[for=score-4]").tap()
        screen.get_by_role("button", name="Next").tap()
        screen.wait_for_url("**/q/2/")
    finally:
        phone.close()
    assert list(Response.objects.values_list("score", flat=True)) == [4]


def test_the_scale_waits_for_the_minimum_time(live_server, page):
    built = build_study(min_seconds_per_question=0.5)
    agree(page, f"{live_server.url}/s/{built.study.code}/")
    page.wait_for_function(
        "[...document.images].every(img => img.complete && img.naturalWidth > 0)"
    )
    # Both pictures are in, but the half second has not passed: nothing can be chosen yet.
    locked = "[...document.querySelectorAll('#answer input[type=radio], #answer button')]"
    assert page.evaluate(f"{locked}.every(e => e.matches(':disabled'))")
    assert page.get_attribute("form#answer", "data-ready") == "false"
    page.wait_for_selector(READY, timeout=5000)
    assert page.evaluate(f"{locked}.every(e => !e.matches(':disabled'))")
    answer(page, 3)
    assert Response.objects.get().client_rt_ms >= 500
