"""A simulated participant who takes a study over HTTP, as a browser without scripts would.

It follows the study link, consents, opens the first question and then, for every question,
loads both pictures, waits until the scale would unlock (the study's minimum time, counted from
the pictures' load as the page's script counts it), lets its rater decide (:class:`Rater`:
the answer and how long it takes after the unlock), waits that long and sends the answer with
the two times the page's script would send; then the debrief and the completion code. Only
the participant's URLs are used; nothing is read from the database.

``manage.py demo --check`` sends one through the running site with random answers;
``--simulate N`` sends N whose answers follow a stated model (:mod:`.simulated_raters`).
"""

from __future__ import annotations

import random
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Protocol

from surveys.platform.simulated_raters import Picture, Rating
from surveys.studies.quality import INSTRUCTION

QUESTION_PATH = re.compile(r"/q/(\d+)/$")
PROGRESS = re.compile(r"Question (\d+) of (\d+)")
INSTRUCTED = re.compile(re.escape(INSTRUCTION).replace(re.escape("{answer}"), r"(\d+)"))
TIMEOUT_S = 30
# A study's entry limit answers 429 with Retry-After; a participant tries again that long later.
MAX_ENTRY_WAIT_S = 120


class WalkError(RuntimeError):
    """The survey did not behave as a participant expects; the message says where."""


class Rater(Protocol):
    """Decides each answer from what the page shows."""

    def rate(self, picture: Picture) -> Rating: ...


@dataclass(frozen=True)
class Walk:
    """What the participant went through."""

    answered: int
    total: int
    completion_page: str


@dataclass(frozen=True)
class Page:
    """A page as the browser has it: its final URL and its HTML."""

    url: str
    body: str


class RandomRater:
    """Answers uniformly at random the moment the scale unlocks."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)

    def rate(self, picture: Picture) -> Rating:
        return Rating(self._rng.randint(1, 5), 0.0)


class _QuestionPage(HTMLParser):
    """The pictures (by the role their URL names) and the instruction of a question page."""

    def __init__(self) -> None:
        super().__init__()
        self.pictures: dict[str, str] = {}
        self._in_instruction = False
        self.instruction = ""
        self.error = ""
        self._in_error = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        classes = (found.get("class") or "").split()
        if tag == "img" and "picture" in classes and found.get("src"):
            source = str(found["src"])
            self.pictures[source.rstrip("/").rsplit("/", 1)[-1]] = source
        self._in_instruction = tag == "p" and "instruction" in classes
        self._in_error = tag == "p" and "error" in classes

    def handle_data(self, data: str) -> None:
        if self._in_instruction:
            self.instruction += data
        if self._in_error:
            self.error += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self._in_instruction = self._in_error = False


def _fetch(url: str, form: dict[str, str] | None = None) -> Page:
    """GET (or POST ``form``), following redirects."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data)
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        return Page(response.geturl(), response.read().decode())


def _fetch_bytes(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
        data: bytes = response.read()
        return data


def _open_link(link: str) -> Page:
    """The study link, waiting out an entry limit as a person would come back later."""
    deadline = time.monotonic() + MAX_ENTRY_WAIT_S
    while True:
        try:
            return _fetch(link)
        except urllib.error.HTTPError as error:
            retry = error.headers.get("Retry-After")
            wait = float(retry) if error.code == 429 and retry and retry.isdigit() else None
            if wait is None or time.monotonic() + wait > deadline:
                raise WalkError(f"the study link answered {error.code}: {error.reason}") from None
            time.sleep(wait)


def enter_study(base_url: str, study_code: str, pid: str) -> Page:
    """Follow the study link as ``pid``, consent and open the first question.

    Raises:
        WalkError: A page was not where the survey should have led.
    """
    page = _open_link(f"{base_url}/s/{study_code}/?{urllib.parse.urlencode({'pid': pid})}")
    if not page.url.endswith("/consent/"):
        raise WalkError(f"the study link led to {page.url}, not to the consent page")
    page = _fetch(page.url, {"decision": "agree"})
    if not page.url.endswith("/instructions/"):
        raise WalkError(f"consenting led to {page.url}, not to the instructions")
    return _fetch(page.url.removesuffix("instructions/") + "q/1/")


def _answer(page: Page, min_seconds: float, rater: Rater) -> Page:
    """Load the pictures, wait for the unlock and the rater, and send the answer."""
    parsed = _QuestionPage()
    parsed.feed(page.body)
    if set(parsed.pictures) != {"original", "overlay"}:
        raise WalkError(f"{page.url} does not show an original and an overlay picture")
    original, overlay = (
        _fetch_bytes(urllib.parse.urljoin(page.url, parsed.pictures[role]))
        for role in ("original", "overlay")
    )
    shown_at = time.monotonic()
    instructed = INSTRUCTED.search(parsed.instruction)
    picture = Picture(original, overlay, int(instructed.group(1)) if instructed else None)
    # The page's script keeps the scale disabled this long after the pictures load.
    time.sleep(min_seconds)
    unlocked_at = time.monotonic()
    rating = rater.rate(picture)
    time.sleep(rating.think_s)
    now = time.monotonic()
    form = {
        "score": str(rating.score),
        "client_rt_ms": str(round(1000 * (now - shown_at))),
        "unlocked_rt_ms": str(round(1000 * (now - unlocked_at))),
    }
    try:
        return _fetch(page.url, form)
    except urllib.error.HTTPError as error:
        # A refused answer comes back as the question again, with its reason and a 4xx status.
        refusal = _QuestionPage()
        refusal.feed(error.read().decode(errors="replace"))
        reason = refusal.error.strip() or str(error.reason)
        raise WalkError(f"{page.url} refused the answer ({error.code}): {reason}") from None


def answer_study(first: Page, min_seconds: float, rater: Rater) -> Walk:
    """Answer every question from the first one, then send the debrief.

    Raises:
        WalkError: A page was not where the survey should have led, or an answer was refused.
    """
    page, answered, total = first, 0, 0
    while QUESTION_PATH.search(page.url):
        shown = PROGRESS.search(page.body)
        if shown is None:
            raise WalkError(f"{page.url} shows no progress line")
        total = int(shown.group(2))
        page = _answer(page, min_seconds, rater)
        answered += 1
        if answered > total:
            raise WalkError(f"answered {answered} questions of {total} and still asked more")
    if not page.url.endswith("/debrief/"):
        raise WalkError(f"after the last question the survey led to {page.url}, not the debrief")
    page = _fetch(page.url, {})
    return Walk(answered, total, page.body)


def walk_study(
    base_url: str,
    study_code: str,
    pid: str,
    min_seconds: float,
    seed: int = 0,
    rater: Rater | None = None,
) -> Walk:
    """Take the study at ``base_url`` as participant ``pid`` (random answers by default).

    Raises:
        WalkError: A page was not where the survey should have led.
    """
    first = enter_study(base_url, study_code, pid)
    return answer_study(first, min_seconds, rater or RandomRater(seed))


__all__ = [
    "Page",
    "RandomRater",
    "Rater",
    "Walk",
    "WalkError",
    "answer_study",
    "enter_study",
    "walk_study",
]
