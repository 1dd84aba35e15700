"""The participant's pages around the questions: entry, consent, instructions, debrief, done.

Every page is reached through the participant's random code and the study's; each one sends a
participant who does not belong there yet (or any more) to where they do, so a reload, the
back button or a second device always lands in the right place. Forms post, then redirect.

The browser that entered (or opened the resume link) remembers the participant's code in a
signed cookie: that cookie is what lets a recruiter ID that has started back in through the
study link (see :mod:`surveys.participation.entry`).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from surveys.models import Participant, ParticipantStatus
from surveys.participation.consent import do_consent
from surveys.participation.entry import access_study, do_start
from surveys.participation.errors import OutOfOrder, ParticipationError
from surveys.participation.pages import (
    add_participant_headers,
    go_to_step,
    participant_url,
    participant_view,
    render_page,
    render_problem,
)
from surveys.participation.progress import do_complete, do_complete_if_answered
from surveys.participation.ratelimits import check_entry_rate
from surveys.recruiting.registry import EntryError, UnknownRecruiter, get_recruiter
from surveys.studies.practice import access_practice

# The browser remembers an anonymous newcomer's participant for a month, so opening the plain
# link again resumes instead of starting over.
REMEMBER_SECONDS = 30 * 24 * 3600
REMEMBER_SALT = "surveys.participant"


def _remember_cookie(study_code: str) -> str:
    return f"surveys-{study_code}"


def _remember(response: HttpResponse, participant: Participant) -> HttpResponse:
    """Let this browser back in as ``participant`` (the cookie covers the study's pages)."""
    response.set_signed_cookie(
        _remember_cookie(participant.study.code),
        participant.code,
        salt=REMEMBER_SALT,
        max_age=REMEMBER_SECONDS,
        path=reverse("surveys:participant_entry", args=[participant.study.code]),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


@require_GET
def entry(request: HttpRequest, study: str) -> HttpResponse:
    """The public study link: identify the participant, start or resume, send them on."""
    try:
        found = access_study(study)
    except ParticipationError as error:
        return render_problem(request, error)
    try:
        identity = get_recruiter(found.recruiter).read_entry(request, found)
    except UnknownRecruiter:
        unavailable = ParticipationError("This study cannot be entered at the moment.", status=503)
        return render_problem(request, unavailable, study=found)
    except EntryError as bad_link:
        return render_problem(request, ParticipationError(str(bad_link)), study=found)
    if identity.preview:
        response = render(request, "surveys/participant/preview.html", {"study": found})
        return add_participant_headers(response, found)
    cookie = _remember_cookie(found.code)
    try:
        participant = do_start(
            found,
            identity,
            remembered_code=request.get_signed_cookie(cookie, "", salt=REMEMBER_SALT) or "",
            user_agent=request.headers.get("User-Agent", ""),
            admit=lambda: check_entry_rate(request, found),
        )
    except ParticipationError as error:
        return render_problem(request, error, study=found)
    return _remember(add_participant_headers(go_to_step(participant), found), participant)


@require_GET
@participant_view
def home(request: HttpRequest, participant: Participant) -> HttpResponse:
    """Send the participant to where they are; say so if their participation has ended.

    This is the resume link's page, so the browser that opens it is remembered too.
    """
    if participant.status in (ParticipantStatus.RETURNED, ParticipantStatus.EXCLUDED):
        return _remember(render_page(request, "ended.html", participant), participant)
    return _remember(go_to_step(participant), participant)


# Participant forms are not protected by CSRF tokens: nothing authenticates a participant's
# posts but the random code in the URL (no login, no session), so a forged cross-site post
# would need that code anyway, and recruiters that frame the survey (MTurk) block the CSRF
# cookie as a third-party one.
@csrf_exempt
@require_http_methods(["GET", "POST"])
@participant_view
def consent(request: HttpRequest, participant: Participant) -> HttpResponse:
    """The consent form; "I agree" moves on to the instructions, "I do not agree" to goodbye."""
    if participant.status not in (ParticipantStatus.STARTED, ParticipantStatus.DECLINED):
        return go_to_step(participant)
    if request.method == "POST":
        decision = request.POST.get("decision")
        if decision not in ("agree", "decline"):
            return render_page(
                request,
                "consent.html",
                participant,
                status=400,
                error="Please choose “I agree” or “I do not agree”.",
            )
        return go_to_step(do_consent(participant, agree=decision == "agree"))
    return render_page(request, "consent.html", participant)


@require_GET
@participant_view
def goodbye(request: HttpRequest, participant: Participant) -> HttpResponse:
    if participant.status != ParticipantStatus.DECLINED:
        return go_to_step(participant)
    consent_url = participant_url("surveys:participant_consent", participant)
    return render_page(request, "goodbye.html", participant, consent_url=consent_url)


@require_GET
@participant_view
def instructions(request: HttpRequest, participant: Participant) -> HttpResponse:
    """The study's instructions, with its practice pictures when it has them."""
    if participant.status != ParticipantStatus.CONSENTED:
        return go_to_step(participant)
    practice = [
        {
            "score": picture.score,
            "original": participant_url(
                "surveys:participant_practice", participant, picture.end, "original"
            ),
            "overlay": participant_url(
                "surveys:participant_practice", participant, picture.end, "overlay"
            ),
        }
        for picture in access_practice(participant.study)
    ]
    return render_page(
        request,
        "instructions.html",
        participant,
        start_url=participant_url("surveys:participant_question", participant, 1),
        practice=practice,
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
@participant_view
def debrief(request: HttpRequest, participant: Participant) -> HttpResponse:
    """The debrief; its button leads to the recruiter's completion step.

    A participant with every answer stored is completed here if that has not happened yet, so
    the debrief never sends anyone back to itself.
    """
    if not do_complete_if_answered(participant):
        return go_to_step(participant)
    if request.method == "POST":
        completion = do_complete(participant)
        if completion.redirect_url:
            return HttpResponseRedirect(completion.redirect_url)
        return HttpResponseRedirect(participant_url("surveys:participant_done", participant))
    return render_page(request, "debrief.html", participant)


@require_GET
@participant_view
def done(request: HttpRequest, participant: Participant) -> HttpResponse:
    """The completion code, for recruiters that show one instead of redirecting."""
    try:
        completion = do_complete(participant)
    except OutOfOrder:
        return go_to_step(participant)
    if completion.redirect_url:
        return HttpResponseRedirect(completion.redirect_url)
    return render_page(request, "done.html", participant, code=completion.code)
