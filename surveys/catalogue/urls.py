"""URLs of the model catalogue and the naming review (staff only; runs by their public code)."""

from django.urls import URLPattern, path

from surveys.catalogue.review_views import naming_export, naming_queue, naming_review
from surveys.catalogue.views import class_detail, prototype_detail, run_detail, runs

urlpatterns: list[URLPattern] = [
    path("staff/runs/", runs, name="runs"),
    path("staff/runs/<str:code>/", run_detail, name="run_detail"),
    path("staff/runs/<str:code>/classes/<int:index>/", class_detail, name="class_detail"),
    path(
        "staff/runs/<str:code>/prototypes/<int:index>/", prototype_detail, name="prototype_detail"
    ),
    path("staff/naming/", naming_queue, name="naming_queue"),
    path("staff/naming/review", naming_review, name="naming_review"),
    path("staff/naming/names.csv", naming_export, name="naming_export"),
]
