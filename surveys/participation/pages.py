"""What every participant page shares: headers, the footer's resume link, problem pages, and
where a participant belongs next.

Participant pages are never cached by a shared cache or indexed by a search engine, and they
say nothing about the study's design beyond its public texts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_cache_control

from surveys.models import Participant, ParticipantStatus, Study
from surveys.participation.entry import access_participant
from surveys.participation.errors import ParticipationError, TooManyEntries
from surveys.participation.progress import next_item
from surveys.recruiting.registry import UnknownRecruiter, get_recruiter

ParticipantView = Callable[..., HttpResponseBase]
ResponseType = TypeVar("ResponseType", bound=HttpResponseBase)

STEP_URLS = {
    ParticipantStatus.STARTED: "surveys:participant_consent",
    ParticipantStatus.DECLINED: "surveys:participant_goodbye",
    ParticipantStatus.COMPLETED: "surveys:participant_debrief",
}


def participant_url(name: str, participant: Participant, *args: object) -> str:
    """The URL ``name`` of ``participant``'s pages (study code, participant code, ``args``)."""
    return reverse(name, args=[participant.study.code, participant.code, *args])


def step_url(participant: Participant) -> str:
    """Where ``participant`` belongs now: consent, goodbye, instructions, a question, debrief.

    Participants whose participation ended otherwise (returned, excluded) go to their home
    page, which says so.
    """
    name = STEP_URLS.get(ParticipantStatus(participant.status))
    if name is not None:
        return participant_url(name, participant)
    if participant.status != ParticipantStatus.CONSENTED:
        return participant_url("surveys:participant_home", participant)
    item = next_item(participant)
    if item is None:
        return participant_url("surveys:participant_debrief", participant)
    if item.position == 1 and item.first_shown_at is None:
        return participant_url("surveys:participant_instructions", participant)
    return participant_url("surveys:participant_question", participant, item.position)


def go_to_step(participant: Participant) -> HttpResponseRedirect:
    return HttpResponseRedirect(step_url(participant))


def add_participant_headers(response: ResponseType, study: Study | None = None) -> ResponseType:
    """No shared caching, no indexing, and framing only where the study's recruiter needs it."""
    response["X-Robots-Tag"] = "noindex, nofollow"
    if not response.has_header("Cache-Control"):
        # no-store also keeps the back button from showing a stale question: the browser asks
        # again and the server sends the participant to where they are.
        patch_cache_control(response, private=True, no_store=True)
    ancestors = _frame_ancestors(study)
    if ancestors:
        # The stubs declare the flag on HttpResponse only; the middleware reads it off any response.
        response.xframe_options_exempt = True  # type: ignore[attr-defined]
        response["Content-Security-Policy"] = "frame-ancestors 'self' " + " ".join(ancestors)
    return response


def _frame_ancestors(study: Study | None) -> tuple[str, ...]:
    if study is None:
        return ()
    try:
        return get_recruiter(study.recruiter).frame_ancestors
    except UnknownRecruiter:
        return ()


def page_context(request: HttpRequest, participant: Participant) -> dict[str, Any]:
    """The context every page of a participant's survey gets (title, resume link)."""
    study = participant.study
    try:
        resume = get_recruiter(participant.recruiter).resume_url(participant, request)
    except UnknownRecruiter:
        resume = ""
    return {
        "study": study,
        "participant": participant,
        "resume_url": resume,
        "home_url": participant_url("surveys:participant_home", participant),
    }


def render_page(
    request: HttpRequest,
    template: str,
    participant: Participant,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    context = page_context(request, participant) | extra
    response = render(request, f"surveys/participant/{template}", context, status=status)
    return add_participant_headers(response, participant.study)


def render_problem(
    request: HttpRequest,
    error: ParticipationError,
    participant: Participant | None = None,
    study: Study | None = None,
) -> HttpResponse:
    """The polite page for ``error``, with a way back to where the participant belongs."""
    context: dict[str, Any] = {"title": error.title, "message": error.message, "study": study}
    if participant is not None:
        context |= page_context(request, participant)
        if error.step:
            context["continue_url"] = step_url(participant)
    response = render(request, f"surveys/participant/{error.page}", context, status=error.status)
    if isinstance(error, TooManyEntries):
        response["Retry-After"] = str(error.retry_after_s)
    return add_participant_headers(response, context["study"])


def participant_view(view: ParticipantView) -> Callable[..., HttpResponseBase]:
    """Resolve the URL's study and participant codes, call ``view(request, participant, ...)``,
    and turn the participation services' errors into problem pages with the right status."""

    @functools.wraps(view)
    def wrapped(
        request: HttpRequest, study: str, participant: str, **kwargs: Any
    ) -> HttpResponseBase:
        try:
            found = access_participant(study, participant)
        except ParticipationError as error:
            return render_problem(request, error)
        try:
            response = view(request, found, **kwargs)
        except ParticipationError as error:
            return render_problem(request, error, found)
        return add_participant_headers(response, found.study)

    return wrapped
