"""URLs of the researcher's desk: the page, its live fragment, the chart and the downloads."""

from django.urls import URLPattern, path

from surveys.results.views import desk, desk_export, desk_figure, desk_live, desk_unblind

urlpatterns: list[URLPattern] = [
    path("staff/studies/<slug:slug>/desk/", desk, name="desk"),
    path("staff/studies/<slug:slug>/desk/live/", desk_live, name="desk_live"),
    path("staff/studies/<slug:slug>/desk/figure.png", desk_figure, name="desk_figure"),
    path("staff/studies/<slug:slug>/desk/export/", desk_export, name="desk_export"),
    path("staff/studies/<slug:slug>/desk/unblind/", desk_unblind, name="desk_unblind"),
]
