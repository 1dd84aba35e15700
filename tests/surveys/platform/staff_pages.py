"""The staff-page sweep: every URL pattern with real objects in its parameters, and the gate.

A staff page is one under ``/staff/`` or ``/admin/`` (except the admin's own login and logout),
one whose view lives in a staff views module, or one wrapped by ``staff_only``; it must answer
with a redirect to the login page or a 403.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.resolvers import RegexPattern

from surveys import models as m
from tests.surveys.factories import (
    ParticipantFactory,
    PrototypeFactory,
    QuestionFactory,
    RunClassFactory,
    RunFactory,
    StudyFactory,
    UserFactory,
)

PUBLIC_ADMIN_PAGES = {"admin:login", "admin:logout"}
STAFF_PREFIXES = ("/staff/", "/admin/")
STAFF_VIEW_MODULE = (
    "surveys.catalogue.views",
    "surveys.catalogue.review_views",
    "surveys.studies.views",
    "surveys.results.views",
    "surveys.recruiting.prolific.views",
    "surveys.recruiting.mturk.views",
)
ROUTE_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<regex>[^()]*)\)")


@dataclass(frozen=True)
class Page:
    """One URL pattern, made concrete."""

    pattern: str
    name: str
    url: str
    view: Callable[..., Any]

    @property
    def is_staff(self) -> bool:
        if self.name in PUBLIC_ADMIN_PAGES:
            return False
        module = getattr(self.view, "__module__", "") or ""
        return (
            self.url.startswith(STAFF_PREFIXES)
            or module.startswith(STAFF_VIEW_MODULE)
            or is_staff_only(self.view)
        )


def is_staff_only(view: Callable[..., Any]) -> bool:
    """Whether ``staff_only`` (Django's staff test) wraps ``view``, under any other decorator."""
    layer: Any = view
    while layer is not None:
        for cell in getattr(layer, "__closure__", None) or ():
            try:
                contents = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if getattr(contents, "__module__", "") == "django.contrib.admin.views.decorators":
                return True
        layer = getattr(layer, "__wrapped__", None)
    return False


Chain = tuple[URLPattern | URLResolver, ...]


def walk(
    patterns: list[URLPattern | URLResolver], chain: Chain = (), namespace: str = ""
) -> Iterator[tuple[Chain, str, URLPattern]]:
    """(resolvers down to the leaf, full name, leaf) of every URL pattern, includes followed."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, (*chain, entry), inner)
        else:
            name = f"{namespace}{entry.name}" if entry.name else ""
            yield (*chain, entry), name, entry


def concrete_path(chain: Chain, values: Callable[[str, str, str], str]) -> str:
    """The chain's patterns with every parameter filled by ``values(name, kind, pattern)``.

    ``kind`` is the converter of a ``path()`` parameter, or ``re:`` and the regex of a
    ``re_path()`` group.
    """
    text = "".join(str(part.pattern) for part in chain)
    pieces = []
    for part in chain:
        piece = str(part.pattern)
        if isinstance(part.pattern, RegexPattern):
            piece = REGEX_GROUP.sub(lambda g: values(g["name"], "re:" + g["regex"], text), piece)
            piece = piece.lstrip("^").rstrip("$")
        else:
            piece = ROUTE_PARAMETER.sub(
                lambda g: values(g["name"], g["converter"] or "str", text), piece
            )
        pieces.append(piece)
    return "/" + "".join(pieces)


class Objects:
    """One of everything a URL can name, and how to fill a parameter from them."""

    def __init__(self) -> None:
        self.study = StudyFactory(status=m.StudyStatus.OPEN)
        self.participant = ParticipantFactory(study=self.study)
        self.question = QuestionFactory(stimulus__condition__study=self.study)
        self.run = RunFactory()
        self.prototype = PrototypeFactory(run=self.run, index=0)
        RunClassFactory(run=self.run, index=0)
        self.user = UserFactory()

    def value(self, name: str, kind: str, pattern: str) -> str:
        """A value for parameter ``name`` (``kind``: a converter name, or ``re:`` and a regex)."""
        if kind.startswith("re:"):  # a regex group: the first candidate that fits
            regex = kind.removeprefix("re:")
            for option in ("surveys", "auth", *regex.split("|"), "no-such-page/"):
                if re.fullmatch(regex, option):
                    return option
        by_name = {
            "slug": self.study.slug,
            "study": self.study.code,
            "participant": self.participant.code,
            "question": self.question.code,
            "position": "0",
            "index": "0",
            "which": "overlay",
            # The admin's object pages: any object will do, the user is one that exists.
            "id": str(self.user.pk),
            "object_id": str(self.user.pk),
        }
        if kind == "int":  # whatever the name, the converter only takes digits
            value = by_name.get(name, "")
            return value if value.isdigit() else str(self.prototype.pk)
        if kind == "uuid":
            return str(uuid.UUID(int=1))
        if name in by_name:
            return by_name[name]
        if name == "code" or name.endswith("_code"):
            for word, code in (
                ("run", self.run.code),
                ("participant", self.participant.code),
                ("question", self.question.code),
            ):
                if word in name or f"{word}s/" in pattern:
                    return code
            return self.study.code
        return str(self.prototype.pk) if kind == "path" else self.study.code


def discover_pages(objects: Objects) -> list[Page]:
    """Every URL pattern of the project as a concrete page (each checked to resolve back)."""
    pages = []
    for chain, name, leaf in walk(get_resolver().url_patterns):
        pattern = "".join(str(part.pattern) for part in chain)
        url = concrete_path(chain, objects.value)
        match = resolve(url)
        assert match.func == leaf.callback, (
            f"the sweep built {url} for {pattern!r} but it resolves to {match.view_name!r}; "
            "teach Objects.value how to fill this parameter"
        )
        pages.append(Page(pattern, name, url, leaf.callback))
    return pages


def sent_to_login(response: HttpResponse) -> bool:
    login = reverse("admin:login")
    return response.status_code == 302 and response["Location"].startswith(login)


def refused(response: HttpResponse) -> bool:
    return sent_to_login(response) or response.status_code == 403


def gate_failures(page: Page, client: Client) -> list[str]:
    """Why ``page`` is not properly gated for ``client`` (empty when it is)."""
    answers = {"GET": client.get(page.url)}
    if answers["GET"].status_code == 405:  # a POST-only view: its gate must answer the POST
        answers["POST"] = client.post(page.url)
    gated = [method for method, response in answers.items() if refused(response)]
    wrong = [
        f"{method} {page.url} ({page.pattern}) answered {response.status_code}"
        for method, response in answers.items()
        if not refused(response) and response.status_code != 405
    ]
    if not gated and not wrong:
        wrong.append(f"{page.url} ({page.pattern}) never reached the staff gate")
    return wrong


def clients(non_staff: Client) -> dict[str, Client]:
    return {
        "anonymous": Client(raise_request_exception=False),
        "non-staff": _quiet(non_staff),
    }


def _quiet(client: Client) -> Client:
    client.raise_request_exception = False
    return client
