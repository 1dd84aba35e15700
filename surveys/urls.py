"""URLs of the study app, one list per room, all in the ``surveys`` namespace.

Participant URLs carry random codes, never primary keys or anything that names a method;
every staff URL lives under ``staff/`` and requires a staff login.
"""

from django.urls import URLPattern, path

from surveys.views.health import healthz
from surveys.views.home import home
from surveys.views.mturk_urls import urlpatterns as mturk_urls
from surveys.views.participant_urls import urlpatterns as participant_urls
from surveys.views.prolific_urls import urlpatterns as prolific_urls
from surveys.views.staff.catalogue_urls import urlpatterns as catalogue_urls
from surveys.views.staff.desk_urls import urlpatterns as desk_urls
from surveys.views.staff.study_urls import urlpatterns as study_urls

app_name = "surveys"
urlpatterns: list[URLPattern] = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    *participant_urls,
    *catalogue_urls,
    *study_urls,
    *desk_urls,
    *mturk_urls,
    *prolific_urls,
]
