"""A simulated participant who takes a study over HTTP, as a browser without scripts would.

``manage.py demo --check`` sends one through the running site: the study link, consent, every
question (waiting the study's minimum time, as the page makes a person wait), the debrief and
the completion code. Only the participant's URLs are used; nothing is read from the database.
"""

from __future__ import annotations

import random
import re
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass

QUESTION_PATH = re.compile(r"/q/(\d+)/$")
PROGRESS = re.compile(r"Question (\d+) of (\d+)")
TIMEOUT_S = 30


class WalkError(RuntimeError):
    """The survey did not behave as a participant expects; the message says where."""


@dataclass(frozen=True)
class Walk:
    """What the participant went through."""

    answered: int
    total: int
    completion_page: str


def _fetch(url: str, form: dict[str, str] | None = None) -> tuple[str, str]:
    """GET (or POST ``form``), following redirects; ``(final URL, body)``."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data)
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        return response.geturl(), response.read().decode()


def walk_study(base_url: str, study_code: str, pid: str, min_seconds: float, seed: int = 0) -> Walk:
    """Take the study at ``base_url`` as participant ``pid``, answering at random.

    Raises:
        WalkError: A page was not where the survey should have led.
    """
    rng = random.Random(seed)
    url, body = _fetch(f"{base_url}/s/{study_code}/?{urllib.parse.urlencode({'pid': pid})}")
    if not url.endswith("/consent/"):
        raise WalkError(f"the study link led to {url}, not to the consent page")
    url, body = _fetch(url, {"decision": "agree"})
    if not url.endswith("/instructions/"):
        raise WalkError(f"consenting led to {url}, not to the instructions")
    url, body = _fetch(url.removesuffix("instructions/") + "q/1/")
    answered, total = 0, 0
    while QUESTION_PATH.search(url):
        shown = PROGRESS.search(body)
        if shown is None:
            raise WalkError(f"{url} shows no progress line")
        total = int(shown.group(2))
        # The page keeps the scale disabled this long; the server refuses faster answers.
        time.sleep(min_seconds)
        url, body = _fetch(url, {"score": str(rng.randint(1, 5)), "client_rt_ms": "1500"})
        answered += 1
        if answered > total:
            raise WalkError(f"answered {answered} questions of {total} and still asked more")
    if not url.endswith("/debrief/"):
        raise WalkError(f"after the last question the survey led to {url}, not the debrief")
    url, body = _fetch(url, {})
    return Walk(answered, total, body)
