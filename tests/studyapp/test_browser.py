"""A researcher opens the site in a real browser and reaches the staff login."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_researcher_reaches_admin_login_from_home(live_server, page):  # noqa: F811
    page.goto(live_server.url + "/")
    assert page.locator("h1").inner_text() == "Prototype saliency studies"
    page.get_by_role("link", name="Researcher administration").click()
    page.wait_for_url("**/admin/login/**")
    assert page.locator("input[name=username]").is_visible()


def test_health_page_renders_json_in_the_browser(live_server, page):  # noqa: F811
    response = page.goto(live_server.url + "/healthz")
    assert response.status == 200, page.content()
    assert '"status": "ok"' in page.locator("body").inner_text()
