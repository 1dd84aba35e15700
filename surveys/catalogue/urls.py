"""URLs of the model catalogue and the naming review (staff only; runs by their public code)."""

from django.urls import URLPattern, path

from surveys.catalogue.review_views import naming_export, naming_queue, naming_review
from surveys.catalogue.training_views import training_progress, training_start
from surveys.catalogue.views import class_detail, prototype_detail, run_detail, runs

urlpatterns: list[URLPattern] = [
    path("staff/runs/", runs, name="runs"),
    # Before the run patterns: "train" and "training" are not run codes.
    path("staff/runs/train/", training_start, name="training_start"),
    path("staff/runs/training/", training_progress, name="training_progress"),
    path("staff/runs/<str:code>/", run_detail, name="run_detail"),
    path("staff/runs/<str:code>/classes/<int:index>/", class_detail, name="class_detail"),
    path(
        "staff/runs/<str:code>/prototypes/<int:index>/", prototype_detail, name="prototype_detail"
    ),
    path("staff/naming/", naming_queue, name="naming_queue"),
    path("staff/naming/review", naming_review, name="naming_review"),
    path("staff/naming/names.csv", naming_export, name="naming_export"),
]
