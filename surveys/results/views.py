"""The researcher's desk: study status, live refresh, the Figure 10 chart, the exports, and
unblinding a blind desk (outcomes stay hidden while data collection is open)."""

from __future__ import annotations

from django.contrib import messages
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from surveys.common.access import staff_only
from surveys.results.desk import (
    BlindError,
    access_desk_study,
    check_not_blind,
    figure_png,
    study_status,
)
from surveys.results.exclusions import RulesError
from surveys.results.exports import ExportError, access_download
from surveys.studies.protocol import do_unblind

NO_FIGURE = "No answers to draw yet: the chart appears once answers arrive."
# Downloads that carry the scores, and so the outcomes by condition.
OUTCOME_EXPORTS = ("responses", "report")
# The chart's URL changes with the answer count, so a cached copy is never stale for long.
FIGURE_CACHE = "private, max-age=300"


@staff_only
@require_GET
@never_cache
def desk(request: HttpRequest, slug: str) -> HttpResponse:
    status = study_status(access_desk_study(slug))
    return render(request, "surveys/staff/desk/page.html", {"status": status})


@staff_only
@require_GET
@never_cache
def desk_live(request: HttpRequest, slug: str) -> HttpResponse:
    status = study_status(access_desk_study(slug))
    return render(request, "surveys/staff/desk/live.html", {"status": status})


@staff_only
@require_GET
def desk_figure(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        png = figure_png(access_desk_study(slug))
    except BlindError as err:
        return HttpResponse(str(err), status=403, content_type="text/plain; charset=utf-8")
    if png is None:
        return HttpResponse(NO_FIGURE, status=404, content_type="text/plain; charset=utf-8")
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = FIGURE_CACHE
    return response


@staff_only
@require_GET
@never_cache
def desk_export(request: HttpRequest, slug: str) -> HttpResponseBase:
    study = access_desk_study(slug)
    what = request.GET.get("what", "")
    try:
        if what in OUTCOME_EXPORTS:
            check_not_blind(study)
        download = access_download(study, what)
    except BlindError as err:
        return HttpResponse(str(err), status=409, content_type="text/plain; charset=utf-8")
    except (ExportError, RulesError) as err:
        return HttpResponse(str(err), status=400, content_type="text/plain; charset=utf-8")
    if download.file is not None:
        return FileResponse(download.file, as_attachment=True, filename=download.filename)
    chunks = download.chunks if download.chunks is not None else iter(())
    response = StreamingHttpResponse(chunks, content_type=download.content_type)
    response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    return response


@staff_only
@require_POST
def desk_unblind(request: HttpRequest, slug: str) -> HttpResponseBase:
    study = access_desk_study(slug)
    if do_unblind(study, request.user):
        messages.warning(
            request,
            "The desk is unblinded: outcomes are visible while data come in. This is recorded "
            "with your name and the time, and the report lists it as a deviation.",
        )
    return redirect("surveys:desk", slug=study.slug)
