"""The researcher's desk: study status, live refresh, the Figure 10 chart and the exports."""

from __future__ import annotations

from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from surveys.common.access import staff_only
from surveys.results.desk import access_desk_study, figure_png, study_status
from surveys.results.exclusions import RulesError
from surveys.results.exports import ExportError, access_download

NO_FIGURE = "No answers to draw yet: the chart appears once answers arrive."
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
    png = figure_png(access_desk_study(slug))
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
    try:
        download = access_download(study, request.GET.get("what", ""))
    except (ExportError, RulesError) as err:
        return HttpResponse(str(err), status=400, content_type="text/plain; charset=utf-8")
    if download.file is not None:
        return FileResponse(download.file, as_attachment=True, filename=download.filename)
    chunks = download.chunks if download.chunks is not None else iter(())
    response = StreamingHttpResponse(chunks, content_type=download.content_type)
    response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    return response
