"""The desk in headless Chromium: it draws, refreshes itself through htmx, and fits a phone."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from tests.surveys.browsing import DESKTOP, PHONE, log_in
from tests.surveys.factories import ParticipantFactory, ResponseFactory
from tests.surveys.results.fixtures import (
    DeskStudy,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
# The fragment polls every 5 s; allow two rounds.
REFRESH_TIMEOUT_MS = 12_000


def figure_loaded(page) -> bool:
    return bool(
        page.eval_on_selector(".figure img", "img => img.complete && img.naturalWidth > 300")
    )


def test_desk_refreshes_live_and_reads_on_a_phone(
    live_server,
    page,
    desk_study: DeskStudy,
    tmp_path: Path,
) -> None:
    log_in(page, live_server)
    page.set_viewport_size(DESKTOP)
    desk = live_server.url + reverse("surveys:desk", args=[desk_study.study.slug])

    page.goto(desk)
    page.wait_for_function("document.querySelector('.figure img')?.naturalWidth > 300")

    assert page.locator("[data-stat=started]").inner_text() == "8"
    assert page.locator("[data-stat=answers]").inner_text() == "70"
    assert figure_loaded(page)
    page.screenshot(path=str(tmp_path / "desk-desktop.png"), full_page=True)

    # A new participant answers while the page is open: the numbers and the chart follow.
    newcomer = ParticipantFactory(study=desk_study.study, external_id="EXT-RAW-ID-new")
    ResponseFactory(participant=newcomer, question=desk_study.regular[4], position=0, score=5,
                    client_rt_ms=2400, server_rt_ms=2600)  # fmt: skip
    page.wait_for_function(
        "document.querySelector('[data-stat=answers]').textContent === '71'",
        timeout=REFRESH_TIMEOUT_MS,
    )
    assert page.locator("[data-stat=started]").inner_text() == "9"
    assert page.locator(".figure img").get_attribute("src").endswith("?n=71")
    page.wait_for_function("document.querySelector('.figure img').naturalWidth > 300")

    page.set_viewport_size(PHONE)
    page.goto(desk)
    page.wait_for_function("document.querySelector('.figure img')?.naturalWidth > 300")
    # Nothing but the tables' own scroll boxes may be wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.locator("a", has_text="Responses CSV").is_visible()
    page.screenshot(path=str(tmp_path / "desk-phone.png"), full_page=True)
