"""Headless Chromium driven by Playwright, always Debian's own binary, never a download."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import require_tool

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        require_tool(
            "chromium",
            "chromium is not on PATH: install Debian's chromium package "
            "(apt-get install chromium); .ci/run does this",
        )
    return path


@pytest.fixture
def page():
    """A fresh Playwright page in headless Chromium; closed after the test."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context()
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()
