"""The researcher's study pages: the list, a new study, its design and build, open and close,
and its pre-registration as AsPredicted-style text."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from surveys.common.access import staff_only
from surveys.common.checks import SpecError
from surveys.models import Study, StudyStatus
from surveys.studies.forms import BaseConditionFormSet, ConditionFormSet, StudyForm, show_problems
from surveys.studies.lifecycle import (
    StudyStateError,
    do_close_study,
    do_create_study,
    do_open_study,
    do_start_build,
)
from surveys.studies.progress import build_progress
from surveys.studies.protocol import plan_text
from surveys.studies.summary import access_studies, access_study, describe_study

# A polling page that finds the build over reloads itself, to show the actions that now apply.
HX_REFRESH = "HX-Refresh"


@staff_only
@require_GET
@never_cache
def studies(request: HttpRequest) -> HttpResponse:
    return render(request, "surveys/staff/studies/list.html", {"studies": access_studies()})


@staff_only
@require_http_methods(["GET", "POST"])
def study_new(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _new_page(request, StudyForm(), ConditionFormSet(prefix="conditions"))
    form = StudyForm(request.POST)
    formset = cast(BaseConditionFormSet, ConditionFormSet(request.POST, prefix="conditions"))
    if not (form.is_valid() and formset.is_valid()):
        return _new_page(request, form, formset, status=400)
    try:
        result = do_create_study(form.spec(formset.conditions()), request.user)
    except SpecError as exc:
        show_problems(form, formset, exc.problems)
        return _new_page(request, form, formset, status=400)
    messages.success(request, f"Study {result.study.slug} saved as a draft: build it when ready.")
    return redirect("surveys:study_detail", slug=result.study.slug)


def _new_page(
    request: HttpRequest, form: StudyForm, formset: object, status: int = 200
) -> HttpResponse:
    context = {"form": form, "formset": formset}
    return render(request, "surveys/staff/studies/new.html", context, status=status)


@staff_only
@require_GET
@never_cache
def study_detail(request: HttpRequest, slug: str) -> HttpResponse:
    return _detail_page(request, access_study(slug))


def _detail_page(
    request: HttpRequest, study: Study, error: str = "", status: int = 200
) -> HttpResponse:
    summary = describe_study(study)
    link = request.build_absolute_uri(summary.participant_path) if summary.participant_path else ""
    context = {"summary": summary, "study": study, "participant_link": link, "error": error}
    return render(request, "surveys/staff/studies/detail.html", context, status=status)


@staff_only
@require_POST
def study_build(request: HttpRequest, slug: str) -> HttpResponseBase:
    study = access_study(slug)
    try:
        started = do_start_build(study)
    except StudyStateError as exc:
        return _detail_page(request, study, f"Cannot build: {exc}.", status=409)
    if started.pending:
        retried = f" ({started.retried} failed ones again)" if started.retried else ""
        messages.success(request, f"Rendering {started.pending} stimuli{retried}.")
    else:
        messages.success(request, "Every stimulus is rendered: nothing to do.")
    return redirect("surveys:study_detail", slug=study.slug)


@staff_only
@require_GET
@never_cache
def study_progress(request: HttpRequest, slug: str) -> HttpResponse:
    study = access_study(slug)
    context = {"study": study, "progress": build_progress(study)}
    response = render(request, "surveys/staff/studies/progress.html", context)
    if request.headers.get("HX-Request") and study.status != StudyStatus.BUILDING:
        response[HX_REFRESH] = "true"
    return response


@staff_only
@require_POST
def study_open(request: HttpRequest, slug: str) -> HttpResponseBase:
    study = access_study(slug)
    try:
        do_open_study(study, request.user)
    except StudyStateError as exc:
        return _detail_page(request, study, f"Cannot open: {exc}.", status=409)
    messages.success(request, "The study is open: share the participant link.")
    return redirect("surveys:study_detail", slug=study.slug)


@staff_only
@require_POST
def study_close(request: HttpRequest, slug: str) -> HttpResponseBase:
    study = access_study(slug)
    try:
        do_close_study(study)
    except StudyStateError as exc:
        return _detail_page(request, study, f"Cannot close: {exc}.", status=409)
    messages.success(request, "The study is closed: no one new can start it.")
    return redirect("surveys:study_detail", slug=study.slug)


@staff_only
@require_GET
@never_cache
def study_preregistration(request: HttpRequest, slug: str) -> HttpResponse:
    text, filename = plan_text(access_study(slug))
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
