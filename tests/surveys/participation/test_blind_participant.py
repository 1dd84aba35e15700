"""Blind by construction: nothing a participant can reach names a method, run, label or file.

One participant walks the whole study over HTTP (and a second one declines, and a third finds
the study full), fetching every page, every link and picture on it, every redirect and the
static files; a fourth tries someone else's pictures. The study's condition labels, run labels,
dataset name, title, stored file names and image IDs are distinctive strings, and none of
them may appear in any body, header or URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import pytest
from django.contrib.staticfiles import finders
from django.core.files.storage import default_storage
from django.test import Client

from surveys.models import Participant, Run, Stimulus
from tests.surveys.participation.fixtures import build_study

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

LABELS = ("Zqxalpha Method", "Zqxbeta Method")
DATASET = "Zqxdataset"
TITLE = "Zqxtitle researcher study"
SLUG = "zqxslug-study"
# Words that would give a method away even if no label leaked.
METHOD_WORDS = ("protopool", "prototree", "protopnet", "focal")
_LINKS = re.compile(rb"""(?:href|src|action)=["']([^"']*)["']""")


@dataclass
class Crawl:
    """Everything fetched: URLs, headers and bodies, as one searchable record."""

    client: Client
    urls: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    pages: dict[str, bytes] = field(default_factory=dict)

    def fetch(self, url: str, method: str = "get", **data: str):
        response = getattr(self.client, method)(url, data)
        self.urls.append(url)
        self.headers += [f"{k}: {v}" for k, v in response.headers.items()]
        # Reading a streamed body to its end closes it (the test client wraps it so).
        body = b"".join(response.streaming_content) if response.streaming else response.content
        self.bodies.append(body)
        if "Location" in response.headers:
            self.urls.append(response.headers["Location"])
        if response.headers.get("Content-Type", "").startswith("text/html"):
            self.pages[url] = body
            self.follow_links(url, body)
        self.seen.add(f"{method} {url}")
        return response, body

    def follow_links(self, base: str, body: bytes) -> None:
        for raw in _LINKS.findall(body):
            link = urljoin(base, raw.decode())
            parts = urlsplit(link)
            if parts.scheme not in ("", "http") or parts.netloc not in ("", "testserver"):
                continue
            local = parts.path + (f"?{parts.query}" if parts.query else "")
            if f"get {local}" in self.seen:
                continue
            self.seen.add(f"get {local}")
            if parts.path.startswith("/static/"):
                path = finders.find(parts.path.removeprefix("/static/"))
                assert path, f"static file {parts.path} is missing"
                self.urls.append(local)
                with open(path, "rb") as handle:
                    self.bodies.append(handle.read())
            else:
                self.fetch(local)

    def walk(self, url: str, post: dict[str, str] | None = None) -> str:
        """Follow redirects from ``url`` (posting ``post`` first, if given); the final URL."""
        response, _ = self.fetch(url, "post", **post) if post is not None else self.fetch(url)
        while response.status_code in (301, 302, 303):
            url = response.headers["Location"]
            response, _ = self.fetch(url)
        return url

    def everything(self) -> bytes:
        return b"\n".join([*(u.encode() for u in self.urls), *(h.encode() for h in self.headers),
                           *self.bodies])  # fmt: skip


def secrets_of(built) -> list[str]:
    """Every string that would tell a participant which method or file they are looking at."""
    study = built.study
    values = [*LABELS, DATASET, TITLE, SLUG, *METHOD_WORDS]
    for run in Run.objects.filter(conditions__study=study):
        values += [run.label, run.code, run.run_dir, run.fingerprint, run.dataset_name]
    for stimulus in Stimulus.objects.filter(study=study):
        values.append(stimulus.image_id)
        for stored in (stimulus.original.name, stimulus.overlay.name):
            stem = stored.rsplit("/", 1)[-1]
            values += [stored, stem, stem.rsplit(".", 1)[0]]
    values += [question.code for question in study.questions.all()]
    values += [condition.label.split()[0] for condition in built.conditions]
    return sorted(set(values))


def assert_blind(crawl: Crawl, secrets: list[str]) -> None:
    corpus = crawl.everything().lower()
    leaked = [s for s in secrets if s.lower().encode() in corpus]
    assert not leaked, f"leaked to the participant: {leaked}"


def normalised(page: bytes) -> bytes:
    """A question page with its position numbers blanked out."""
    page = re.sub(rb"/(img|q)/\d+/", rb"/\1/N/", page)
    page = re.sub(rb"Question \d+ of", b"Question N of", page)
    return re.sub(rb'value="\d+">Question', b'value="N">Question', page)


@pytest.fixture
def built(request):
    request.getfixturevalue("media")
    return build_study(
        labels=LABELS,
        dataset=DATASET,
        title=TITLE,
        slug=SLUG,
        per_condition=3,
        participants_wanted=2,
    )


def test_a_whole_participation_reveals_no_method_run_label_or_file(built):
    study = built.study
    crawl = Crawl(Client())
    url = crawl.walk(f"/s/{study.code}/")
    assert url.endswith("/consent/")
    url = crawl.walk(url, {"decision": "agree"})
    assert url.endswith("/instructions/")
    url = crawl.walk(url.replace("/instructions/", "/q/1/"))
    question_pages = []
    while "/q/" in url:
        question_pages.append(crawl.pages[url])
        url = crawl.walk(url, {"score": "3", "client_rt_ms": "1500"})
    assert url.endswith("/debrief/")
    done = crawl.walk(url, {})
    assert done.endswith("/done/")
    assert study.completion_code.encode() in crawl.pages[done]
    participant = Participant.objects.get()
    assert len(question_pages) == participant.items.count() == participant.responses.count()

    # Someone who declines, and a newcomer to the full study, see nothing either.
    declining = Crawl(Client())
    declining.walk(declining.walk(f"/s/{study.code}/"), {"decision": "decline"})
    Participant.objects.create(study=study, external_id="other", recruiter="link",
                               status="completed")  # fmt: skip
    late = Crawl(Client())
    response, body = late.fetch(f"/s/{study.code}/")
    assert response.status_code == 200 and b"full" in body

    for record in (crawl, declining, late):
        assert_blind(record, secrets_of(built))
    # Every question page is the same page but for its position: nothing in the markup or
    # its order tells one condition's stimulus from another's.
    assert len({normalised(page) for page in question_pages}) == 1


def test_every_response_is_private_unindexed_and_pictures_carry_no_name_or_date(built):
    crawl = Crawl(Client())
    url = crawl.walk(crawl.walk(f"/s/{built.study.code}/"), {"decision": "agree"})
    crawl.walk(url.replace("/instructions/", "/q/1/"))
    participant = Participant.objects.get()
    item = participant.items.select_related("question__stimulus").get(position=1)
    for which in ("original", "overlay"):
        response = crawl.client.get(f"/s/{built.study.code}/p/{participant.code}/img/1/{which}")
        body = b"".join(response.streaming_content)
        stored = getattr(item.question.stimulus, which)
        with default_storage.open(stored.name, "rb") as handle:
            assert body == handle.read()
        assert response["Content-Type"] == "image/png"
        assert response["Cache-Control"] == "private, max-age=3600"
        assert response["X-Robots-Tag"] == "noindex, nofollow"
        for header in ("Content-Disposition", "Last-Modified", "ETag"):
            assert header not in response.headers
    for page in list(crawl.pages):
        response = crawl.client.get(page)
        assert response["X-Robots-Tag"] == "noindex, nofollow", page
        assert "private" in response["Cache-Control"], page


def test_a_participant_reaches_only_their_own_pictures(built):
    first, second = Crawl(Client()), Crawl(Client())
    for crawl in (first, second):
        url = crawl.walk(crawl.walk(f"/s/{built.study.code}/"), {"decision": "agree"})
        crawl.walk(url.replace("/instructions/", "/q/1/"))
    one, two = Participant.objects.order_by("id")
    code = built.study.code
    # Each participant has been shown question 1 and may fetch its pictures...
    own = first.client.get(f"/s/{code}/p/{one.code}/img/1/overlay")
    assert own.status_code == 200 and b"".join(own.streaming_content).startswith(b"\x89PNG")
    refused = [
        f"/s/{code}/p/{one.code}/img/2/overlay",  # not shown yet
        f"/s/{code}/p/{one.code}/img/99/overlay",  # not in the order
        f"/s/{code}/p/{one.code}/img/1/prototype",  # not a picture
        f"/s/{code}/p/{one.code[:-2]}zz/img/1/overlay",  # forged participant code
        f"/s/{Run.objects.first().code}/p/{two.code}/img/1/overlay",  # wrong study code
    ]
    for url in refused:
        response = first.client.get(url)
        assert response.status_code == 404, url
        assert b"PNG" not in response.content
