"""Playwright steps the browser tests share: screen sizes, a staff login, a participant's way."""

from __future__ import annotations

import re

from django.conf import settings as django_settings
from django.test import Client

from tests.surveys.factories import StaffFactory

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
READY = "form#answer[data-ready=true]"


def agree(page, url: str) -> None:
    page.goto(url)
    page.get_by_role("button", name="I agree").click()
    page.wait_for_url("**/instructions/")
    page.get_by_role("link", name="Start").click()
    page.wait_for_url("**/q/1/")


def answer(page, score: int) -> None:
    """Rate the question on screen with the mouse and wait for the next page."""
    before = page.url
    page.wait_for_selector(READY)
    page.get_by_role("radio", name=re.compile(rf"^{score}\b")).check()
    page.get_by_role("button", name="Next").click()
    page.wait_for_function("url => window.location.href !== url", arg=before)
    page.wait_for_load_state()


def current_position(page) -> int:
    match = re.search(r"/q/(\d+)/$", page.url)
    assert match, page.url
    return int(match.group(1))


def log_in(page, live_server) -> None:
    client = Client()
    client.force_login(StaffFactory(username="desk-researcher"))
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )
