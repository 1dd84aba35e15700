"""One question per page: the two pictures, the 1-5 scale, and the answer's post.

The URL names only the participant's code and the position in their own order; which
question, stimulus or condition sits there is looked up on the server and never written out.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from surveys.models import Participant, ParticipantItem, QuestionKind
from surveys.participation.answers import do_record_answer
from surveys.participation.current_item import CurrentItem, read_item
from surveys.participation.errors import BadAnswer, OutOfOrder, ParticipationError
from surveys.participation.pages import (
    add_participant_headers,
    go_to_step,
    participant_url,
    participant_view,
    render_page,
    render_problem,
    step_url,
)
from surveys.participation.progress import count_items, do_show_question

SCALE = (1, 2, 3, 4, 5)


def _render_question(
    request: HttpRequest,
    participant: Participant,
    item: ParticipantItem,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    study = participant.study
    total = count_items(participant)
    question = item.question
    return render_page(
        request,
        "question.html",
        participant,
        status=status,
        position=item.position,
        total=total,
        scale=SCALE,
        instruction=question.instruction if question.kind == QuestionKind.INSTRUCTED else "",
        original_url=participant_url(
            "surveys:participant_picture", participant, item.position, "original"
        ),
        overlay_url=participant_url(
            "surveys:participant_picture", participant, item.position, "overlay"
        ),
        min_ms=round(study.min_seconds_per_question * 1000),
        error=error,
    )


# Not protected by CSRF tokens for the reason given on the consent view.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def question(request: HttpRequest, study: str, participant: str, position: int) -> HttpResponseBase:
    """Show the question at ``position`` (GET) or store its answer and move on (POST).

    The item, its participant and study come from one query (:func:`read_item`); a position
    the participant does not have goes the general way, which says where they belong.
    """
    current = read_item(study, participant, position)
    if current is None:
        return _question_elsewhere(request, study=study, participant=participant, position=position)
    found = current.participant
    try:
        response = _question(request, found, position, current)
    except ParticipationError as error:
        return render_problem(request, error, found)
    return add_participant_headers(response, found.study)


def _question(
    request: HttpRequest,
    participant: Participant,
    position: int,
    current: CurrentItem | None = None,
) -> HttpResponse:
    if request.method == "POST":
        return _answer(request, participant, position, current)
    try:
        shown = do_show_question(participant, position, current)
    except OutOfOrder:
        return go_to_step(participant)
    return _render_question(request, participant, shown)


_question_elsewhere = participant_view(_question)


def _answer(
    request: HttpRequest,
    participant: Participant,
    position: int,
    current: CurrentItem | None = None,
) -> HttpResponse:
    try:
        answer = do_record_answer(
            participant,
            position,
            request.POST.get("score"),
            request.POST.get("client_rt_ms"),
            current=current,
            unlocked_rt_ms=request.POST.get("unlocked_rt_ms"),
        )
    except BadAnswer as bad:
        # The question is still the current one, so showing it again is safe and keeps its
        # first showing (and with it the server's time) unchanged.
        item = do_show_question(participant, position)
        return _render_question(request, participant, item, error=bad.message, status=bad.status)
    if answer.created and not answer.completed:
        # Answers come in order, so the next place is the next question: skip a lookup.
        return HttpResponseRedirect(
            participant_url("surveys:participant_question", participant, position + 1)
        )
    return HttpResponseRedirect(step_url(participant))
