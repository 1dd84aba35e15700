"""The naming review in headless Chromium: a skip and three reviews with the keyboard alone."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from surveys.models import NameReview, Run
from tests.surveys.factories import (
    ProposedNameFactory,
    PrototypeFactory,
    RunFactory,
    StaffFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SWAP_TIMEOUT_MS = 10_000


def on_card(page, run: Run, index: int) -> None:
    page.wait_for_selector(f'#review-card[data-prototype="{run.code}-{index}"]',
                           timeout=SWAP_TIMEOUT_MS)  # fmt: skip


def test_three_names_reviewed_with_the_keyboard_alone(live_server, page) -> None:
    reviewer = StaffFactory(username="keyboard-reviewer")
    run = RunFactory(label="Focal", num_prototypes=4)
    for index, name in enumerate(["black wing", "red crown", "grey tail", "white belly"]):
        ProposedNameFactory(prototype=PrototypeFactory(run=run, index=index), name=name)
    client = Client()
    client.force_login(reviewer)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )

    page.goto(f"{live_server.url}{reverse('surveys:naming_queue')}?run={run.code}")
    on_card(page, run, 0)
    assert page.locator(".legend").is_visible()
    page.evaluate("window.sameDocument = true")  # gone if any key reloads the page

    page.keyboard.press("s")  # skip #0 for now
    on_card(page, run, 1)
    page.keyboard.press("a")  # accept "red crown"
    on_card(page, run, 2)
    page.keyboard.press("e")  # edit "grey tail"
    assert page.evaluate("document.activeElement.name") == "name"
    page.keyboard.type("slate grey tail")  # the proposal is selected, so typing replaces it
    page.keyboard.press("Enter")
    on_card(page, run, 3)
    page.keyboard.press("r")  # reject "white belly"
    on_card(page, run, 0)  # back to the skipped one

    assert page.evaluate("window.sameDocument") is True
    assert "3 of 4 reviewed" in page.locator("#review-card").inner_text()
    reviews = NameReview.objects.order_by("prototype__index")
    assert [(r.prototype.index, r.decision, r.name) for r in reviews] == [
        (1, "accepted", "red crown"),
        (2, "edited", "slate grey tail"),
        (3, "rejected", ""),
    ]
    assert {r.reviewer_id for r in reviews} == {reviewer.pk}
