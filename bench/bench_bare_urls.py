"""The project's URLs plus a bare Django cycle, for ``bench_survey.py``'s reference.

The bare cycle is the same HTTP shape as a survey answer (a form POST, a redirect, the next
page) with nothing behind it: no database, no template, no participant lookup. Served only by
the benchmark's own gunicorn (``bench_settings.py``), never by the deployed site.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, URLResolver, path
from django.views.decorators.csrf import csrf_exempt

from studyapp.urls import urlpatterns as project_urls

PAGE = "<!doctype html><title>q</title><form method=post><input name=score></form>"


@csrf_exempt
def bare(request: HttpRequest, position: int) -> HttpResponse:
    if request.method == "POST":
        return HttpResponseRedirect(f"/bench-bare/{position + 1}/")
    return HttpResponse(PAGE)


urlpatterns: list[URLPattern | URLResolver] = [
    *project_urls,
    path("bench-bare/<int:position>/", bare),
]
