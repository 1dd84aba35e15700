"""The model catalogue's staff pages: runs (and the trainings started from them), a run, a class
(and two compared), a prototype."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from surveys.catalogue.queries import (
    NotInCatalogue,
    access_prototype,
    access_run,
    access_run_class,
    class_prototypes,
    classes_with_counts,
    compare_classes,
    evidence_of,
    prototype_cards,
    review_history,
    runs_with_counts,
    short_class_name,
    with_card_data,
)
from surveys.catalogue.review import current_name, review_progress
from surveys.catalogue.training_views import training_context
from surveys.common.access import staff_only
from surveys.models import Prototype, Run, RunClass

TEMPLATES = "surveys/staff/catalogue"
PROTOTYPES_PER_PAGE = 60


def not_found(request: HttpRequest, error: NotInCatalogue) -> HttpResponse:
    """A 404 that says what was not found and where to go instead."""
    return render(request, f"{TEMPLATES}/missing.html", {"error": str(error)}, status=404)


@staff_only
@require_GET
@never_cache
def runs(request: HttpRequest) -> HttpResponse:
    context = {"runs": runs_with_counts(), **training_context()}
    return render(request, f"{TEMPLATES}/runs.html", context)


@staff_only
@require_GET
def run_detail(request: HttpRequest, code: str) -> HttpResponse:
    try:
        run = access_run(code)
    except NotInCatalogue as error:
        return not_found(request, error)
    prototypes = with_card_data(Prototype.objects.filter(run=run).order_by("index"))
    pages = Paginator(prototypes, PROTOTYPES_PER_PAGE)
    page = pages.get_page(request.GET.get("page"))
    context = {
        "run": run,
        "classes": classes_with_counts(run),
        "page": page,
        "cards": prototype_cards(page.object_list),
        "progress": review_progress(run),
        "summary": sorted(run.interpretability.get("summary", {}).items()),
    }
    return render(request, f"{TEMPLATES}/run_detail.html", context)


@staff_only
@require_GET
def class_detail(request: HttpRequest, code: str, index: int) -> HttpResponse:
    try:
        run = access_run(code)
        run_class = access_run_class(run, index)
    except NotInCatalogue as error:
        return not_found(request, error)
    context: dict[str, Any] = {
        "run": run,
        "run_class": run_class,
        "label": short_class_name(run_class.name),
        "cards": class_prototypes(run_class),
        "classes": classes_with_counts(run).exclude(pk=run_class.pk),
        "comparison": None,
        "error": "",
    }
    other = request.GET.get("with", "")
    if other:
        try:
            comparison = compare_classes(run_class, _other_class(run, run_class, other))
        except NotInCatalogue as error:
            context["error"] = str(error)
        else:
            context["comparison"] = comparison
            context["other_label"] = short_class_name(comparison.second.name)
    status = 400 if context["error"] else 200
    return render(request, f"{TEMPLATES}/class_detail.html", context, status=status)


@staff_only
@require_GET
def prototype_detail(request: HttpRequest, code: str, index: int) -> HttpResponse:
    try:
        prototype = access_prototype(code, index)
    except NotInCatalogue as error:
        return not_found(request, error)
    proposed = getattr(prototype, "proposed_name", None)
    context = {
        "run": prototype.run,
        "prototype": prototype,
        "proposed": proposed,
        "evidence": evidence_of(proposed),
        "name": current_name(prototype),
        "history": review_history(prototype),
        "metrics": _flat(prototype.metrics),
    }
    return render(request, f"{TEMPLATES}/prototype_detail.html", context)


def _other_class(run: Run, run_class: RunClass, other: str) -> RunClass:
    """The class to compare with, from the form's ``with`` (another class's index)."""
    if not other.isdigit() or int(other) == run_class.index:
        raise NotInCatalogue(
            f"cannot compare with {other!r}: choose another class of this run from the list"
        )
    return access_run_class(run, int(other))


def _flat(metrics: dict[str, object], prefix: str = "") -> list[tuple[str, object]]:
    """Nested metrics as ``(dotted key, value)`` rows for a table."""
    rows: list[tuple[str, object]] = []
    for key, value in metrics.items():
        if key in ("prototype", "original_index", "classes", "name"):
            continue
        if isinstance(value, dict):
            rows += _flat(value, f"{prefix}{key}.")
        else:
            rows.append((f"{prefix}{key}", value))
    return rows
