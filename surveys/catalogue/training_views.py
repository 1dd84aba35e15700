"""Training a run from the catalogue page: the form's POST, and the progress the page polls."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from surveys.catalogue.queries import runs_with_counts
from surveys.catalogue.training import (
    CURVE_H,
    CURVE_W,
    TrainingError,
    any_active,
    available_configs,
    check_training_request,
    do_create_training,
    recent_trainings,
    train_queue,
    training_rows,
)
from surveys.common.access import staff_only

TEMPLATES = "surveys/staff/catalogue"
# A polling page that finds every job over reloads itself, to show the runs they imported.
HX_REFRESH = "HX-Refresh"
FORM_FIELDS = ("config", "label", "data_dir", "overrides")


def training_context(form: dict[str, str] | None = None, error: str = "") -> dict[str, Any]:
    """What the catalogue page's training section shows."""
    jobs = recent_trainings()
    return {
        "configs": available_configs(),
        "train_queue": train_queue(),
        "trainings": training_rows(jobs),
        "training_active": any_active(jobs),
        "training_form": form or {},
        "training_error": error,
        "curve_w": CURVE_W,
        "curve_h": CURVE_H,
    }


@staff_only
@require_POST
def training_start(request: HttpRequest) -> HttpResponseBase:
    form = {name: str(request.POST.get(name, "")) for name in FORM_FIELDS}
    try:
        checked = check_training_request(
            form["config"], form["label"], form["data_dir"], form["overrides"]
        )
        job = do_create_training(checked, request.user)
    except TrainingError as exc:
        context = {"runs": runs_with_counts(), **training_context(form, f"Cannot train: {exc}.")}
        return render(request, f"{TEMPLATES}/runs.html", context, status=400)
    messages.success(
        request,
        f"Training {job.label} queued on {job.queue!r}: a worker reading that queue "
        f"(celery -A studyapp worker -Q {job.queue}) trains and imports it.",
    )
    return redirect("surveys:runs")


@staff_only
@require_GET
@never_cache
def training_progress(request: HttpRequest) -> HttpResponse:
    context = training_context()
    response = render(request, f"{TEMPLATES}/_trainings.html", context)
    if request.headers.get("HX-Request") and not context["training_active"]:
        response[HX_REFRESH] = "true"
    return response
