"""The naming review queue: one prototype at a time, accept / edit / reject, and the CSV export.

Every decision is a plain form POST to ``naming_review`` (so the queue works without
JavaScript); with htmx the next card replaces the current one in place, and ``naming.js`` adds
the keyboard shortcuts.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.models import User
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from surveys.catalogue.queries import (
    MAX_INDEX,
    NotInCatalogue,
    access_prototype,
    access_run,
    evidence_of,
    runs_with_counts,
)
from surveys.catalogue.review import (
    NAME_MAX,
    NamingError,
    access_next_unreviewed,
    do_review_name,
    names_csv_lines,
    review_progress,
)
from surveys.catalogue.views import TEMPLATES
from surveys.common.access import staff_only
from surveys.models import Prototype, Run

CARD = f"{TEMPLATES}/_review_card.html"
PAGE = f"{TEMPLATES}/naming_queue.html"


class ReviewForm(forms.Form):
    run = forms.CharField(max_length=32)
    index = forms.IntegerField(min_value=0, max_value=MAX_INDEX)
    decision = forms.CharField(max_length=20)
    name = forms.CharField(max_length=NAME_MAX, required=False, strip=True)
    note = forms.CharField(max_length=2000, required=False)
    queue_run = forms.CharField(max_length=32, required=False)


@staff_only
@require_GET
def naming_queue(request: HttpRequest) -> HttpResponse:
    try:
        run = _queue_run(request.GET.get("run", ""))
        after = _after(request.GET.get("after", ""))
    except NotInCatalogue as error:
        return _page(request, None, None, error=str(error), status=404)
    return _page(request, run, access_next_unreviewed(run, after))


@staff_only
@require_POST
def naming_review(request: HttpRequest) -> HttpResponse:
    form = ReviewForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(
            f"{field}: {' '.join(str(e) for e in errors)}" for field, errors in form.errors.items()
        )
        return _page(
            request, None, None, error=f"the review was not recorded ({problems})", status=400
        )
    data = form.cleaned_data
    try:
        run = _queue_run(data["queue_run"])
        prototype = access_prototype(data["run"], data["index"])
    except NotInCatalogue as error:
        return _page(request, None, None, error=str(error), status=404)
    try:
        # staff_only lets only logged-in staff reach this view.
        reviewer = cast(User, request.user)
        review = do_review_name(prototype, data["decision"], data["name"], reviewer, data["note"])
    except NamingError as error:
        return _page(request, run, prototype, error=str(error), status=400)
    done = f"#{prototype.index} of {prototype.run.label}: {review.get_decision_display().lower()}"
    if review.name:
        done += f" as “{review.name}”"
    if not _is_htmx(request):
        messages.success(request, f"Recorded: {done}.")
        url = reverse("surveys:naming_queue")
        # 303: the browser fetches the queue with a GET, so a reload never re-posts the review.
        after = HttpResponseRedirect(f"{url}?{urlencode({'run': run.code})}" if run else url)
        after.status_code = 303
        return after
    return _page(request, run, access_next_unreviewed(run, prototype), done=done)


@staff_only
@require_GET
def naming_export(request: HttpRequest) -> HttpResponseBase:
    try:
        run = _queue_run(request.GET.get("run", ""))
    except NotInCatalogue as error:
        return _page(request, None, None, error=str(error), status=404)
    response = StreamingHttpResponse(names_csv_lines(run), content_type="text/csv; charset=utf-8")
    filename = f"names-{run.code}.csv" if run else "names.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _queue_run(code: str) -> Run | None:
    return access_run(code) if code else None


def _after(value: str) -> Prototype | None:
    """The prototype a skip came from, written ``<run code>-<index>``."""
    if not value:
        return None
    code, _, index = value.rpartition("-")
    if not code or not index.isdigit():
        raise NotInCatalogue(f"cannot skip from {value!r}: open the queue again from its page")
    return access_prototype(code, int(index))


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _page(
    request: HttpRequest,
    run: Run | None,
    prototype: Prototype | None,
    *,
    done: str = "",
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    """The queue with ``prototype`` on its card (the card alone for an htmx request)."""
    proposed = getattr(prototype, "proposed_name", None) if prototype else None
    context: dict[str, Any] = {
        "queue_run": run,
        "prototype": prototype,
        "proposed": proposed,
        "evidence": evidence_of(proposed),
        "progress": review_progress(run),
        "done": done,
        "error": error,
        "skip": f"{prototype.run.code}-{prototype.index}" if prototype else "",
    }
    if _is_htmx(request):
        return render(request, CARD, context, status=status)
    context["runs"] = runs_with_counts()
    return render(request, PAGE, context, status=status)
