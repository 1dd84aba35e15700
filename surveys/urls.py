"""URLs of the study app: each room's ``urls`` included, all in the ``surveys`` namespace.

Participant URLs carry random codes, never primary keys or anything that names a method;
every staff URL lives under ``staff/`` and requires a staff login. The order is the order in
which Django tries the patterns.
"""

from django.urls import URLResolver, include, path

app_name = "surveys"
ROOMS = (
    "surveys.platform.urls",
    "surveys.participation.urls",
    "surveys.catalogue.urls",
    "surveys.studies.urls",
    "surveys.results.urls",
    "surveys.recruiting.mturk.urls",
    "surveys.recruiting.prolific.urls",
)
urlpatterns: list[URLResolver] = [path("", include(room)) for room in ROOMS]
