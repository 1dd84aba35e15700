"""URLs of the researcher's study pages (staff only; studies by their slug, as on the desk)."""

from django.urls import URLPattern, path

from surveys.studies.views import (
    studies,
    study_build,
    study_close,
    study_detail,
    study_new,
    study_open,
    study_preregistration,
    study_progress,
)

urlpatterns: list[URLPattern] = [
    path("staff/studies/", studies, name="studies"),
    # Before the slug patterns: "new" is a reserved slug.
    path("staff/studies/new/", study_new, name="study_new"),
    path("staff/studies/<slug:slug>/", study_detail, name="study_detail"),
    path("staff/studies/<slug:slug>/build/", study_build, name="study_build"),
    path("staff/studies/<slug:slug>/progress/", study_progress, name="study_progress"),
    path("staff/studies/<slug:slug>/open/", study_open, name="study_open"),
    path("staff/studies/<slug:slug>/close/", study_close, name="study_close"),
    path(
        "staff/studies/<slug:slug>/preregistration.txt",
        study_preregistration,
        name="study_preregistration",
    ),
]
