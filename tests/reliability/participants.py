"""Participants taking a study over real HTTP, one thread and one cookie jar each. No tests here.

Each participant opens the study link, consents, and answers every question with a score that
depends on who they are and where they are (:func:`intended_score`), so the stored rows can be
checked one by one. They behave as a person with a browser would when things fail:

- a post answered with the retry page (503, ``Retry-After``) is sent again as the page's
  script sends it: its hidden fields, to its form's address, after ``Retry-After`` plus up to
  half as much again;
- a page answered with the polite error page (500 on a GET) is reloaded a moment later;
- a dropped connection (the server is gone) waits until the server is back, then opens the
  resume link (or, every other participant, the study link again, which the cookie resumes).

This module holds no tests.
"""

from __future__ import annotations

import html
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import requests

REQUEST_TIMEOUT_S = 60
RELOAD_AFTER_S = 1.0
# A browser's reaction times, as the question page's script would send them.
CLIENT_RT_MS = "1400"
UNLOCKED_RT_MS = "900"
_QUESTION = re.compile(r"/q/(\d+)/$")
_PARTICIPANT = re.compile(r"^(/s/[^/]+/p/[^/]+/)")


def intended_score(index: int, position: int) -> int:
    """The rating participant ``index`` gives the question at ``position`` (1-5)."""
    return (index * 7 + position) % 5 + 1


class Dropped(Exception):
    """The server closed or refused the connection without an answer."""


@dataclass
class Tally:
    """What the participants met, counted across threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    answers_sent: int = 0
    retry_pages: int = 0
    error_pages: int = 0
    dropped: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + n)

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)


class _RetryForm(HTMLParser):
    """The form of the retry page: its address and its hidden fields, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: list[tuple[str, str]] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form" and found.get("id") == "retry":
            self.action, self._inside = found.get("action") or "", True
        elif tag == "input" and self._inside and found.get("type") == "hidden":
            self.fields.append((found.get("name") or "", found.get("value") or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False


_RESUME_LINK = re.compile(r'<a href="([^"]+)" class="resume-link">')


class Participant:
    """One participant, walking the study from its link to the debrief."""

    def __init__(
        self,
        base: str,
        study_code: str,
        index: int,
        tally: Tally,
        server_back: Callable[[], None] | None = None,
        ready: threading.Barrier | None = None,
    ) -> None:
        self.base = base
        self.entry = f"{base}/s/{study_code}/"
        self.index = index
        self.tally = tally
        self.server_back = server_back
        # Everyone waits here on their first question, so that all answer side by side.
        self.ready = ready
        self.session = requests.Session()
        self.code = ""
        self.resume_url = ""
        self.answered: list[int] = []
        # Where each resume after a dropped connection led (the path of the redirect).
        self.resumed_to: list[str] = []
        self.finished = False

    def _send(self, method: str, url: str, data: dict[str, str] | None = None) -> requests.Response:
        try:
            response = self.session.request(
                method, url, data=data, allow_redirects=False, timeout=REQUEST_TIMEOUT_S
            )
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            # Refused, reset, or cut off halfway through the answer.
            raise Dropped(str(exc)) from exc
        return response

    def get(self, url: str) -> requests.Response:
        while True:
            response = self._send("GET", url)
            if response.status_code == 500 and "Something went wrong" in response.text:
                self.tally.add("error_pages")
                time.sleep(RELOAD_AFTER_S)
                continue
            return response

    def post(self, url: str, data: dict[str, str]) -> requests.Response:
        """Post ``data``; a retry page is followed the way its script follows it."""
        while True:
            response = self._send("POST", url, data)
            if response.status_code != 503 or "Retry-After" not in response.headers:
                return response
            self.tally.add("retry_pages")
            form = _RetryForm()
            form.feed(response.text)
            if form.action is None or dict(form.fields) != data:
                self.tally.problem(f"retry page without the post {data}: {response.text[:300]}")
                return response
            url, data = urljoin(url, form.action), dict(form.fields)
            time.sleep(float(response.headers["Retry-After"]) * (1 + random.random() / 2))

    def run(self) -> None:
        try:
            self._walk()
        except Exception as exc:  # noqa: BLE001 - the test reads every problem at the end
            self.tally.problem(f"participant {self.index}: {type(exc).__name__}: {exc}")
            if self.ready is not None:
                self.ready.abort()
        finally:
            self.session.close()

    def _resume_link(self) -> str:
        # Half of them come back through the study link, which their cookie resumes.
        if self.resume_url and self.index % 2 == 0:
            return self.resume_url
        return self.entry

    def _walk(self) -> None:
        url, resuming = self.entry, False
        while True:
            try:
                url, resuming = self._step(url, resuming)
            except Dropped:
                self.tally.add("dropped")
                if self.server_back is None:
                    raise
                self.server_back()
                url, resuming = self._resume_link(), True
            if not url:
                self.finished = True
                return

    def _step(self, url: str, resuming: bool) -> tuple[str, bool]:
        """One page: what it asks for is done; the next address ("" at the debrief)."""
        response = self.get(url)
        if response.status_code in (301, 302, 303):
            location = urljoin(url, response.headers["Location"])
            if resuming:
                self.resumed_to.append(urlsplit(location).path)
            return location, False
        if response.status_code != 200:
            raise AssertionError(f"GET {urlsplit(url).path}: {response.status_code}")
        path = urlsplit(url).path
        own = _PARTICIPANT.match(path)
        if own is None:
            raise AssertionError(f"unexpected page {path}")
        self.code = own.group(1).rstrip("/").rsplit("/", 1)[-1]
        if path.endswith("/consent/"):
            return self._expect_redirect(url, self.post(url, {"decision": "agree"})), False
        if path.endswith("/instructions/"):
            return urljoin(url, own.group(1) + "q/1/"), False
        if path.endswith("/debrief/"):
            return "", False
        question = _QUESTION.search(path)
        if question is None:
            raise AssertionError(f"unexpected page {path}")
        if not self.resume_url:
            link = _RESUME_LINK.search(response.text)
            self.resume_url = urljoin(url, html.unescape(link.group(1))) if link else ""
        position = int(question.group(1))
        if self.ready is not None:
            self.ready.wait()
            self.ready = None
        answer = {
            "score": str(intended_score(self.index, position)),
            "client_rt_ms": CLIENT_RT_MS,
            "unlocked_rt_ms": UNLOCKED_RT_MS,
        }
        after = self._expect_redirect(url, self.post(url, answer))
        self.tally.add("answers_sent")
        self.answered.append(position)
        return after, False

    @staticmethod
    def _expect_redirect(url: str, response: requests.Response) -> str:
        if response.status_code not in (302, 303):
            raise AssertionError(
                f"POST {urlsplit(url).path}: {response.status_code} {response.text[:300]}"
            )
        return urljoin(url, response.headers["Location"])


def take_part(participants: list[Participant]) -> list[threading.Thread]:
    """Start every participant in a thread of its own; the threads, to join."""
    threads = [threading.Thread(target=p.run, name=f"participant-{p.index}") for p in participants]
    for thread in threads:
        thread.start()
    return threads
