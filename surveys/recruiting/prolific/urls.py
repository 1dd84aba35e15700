"""Prolific's URLs: the researcher's page and actions (staff), and the webhook (Prolific's)."""

from django.urls import URLPattern, path

from surveys.recruiting.prolific.hook_views import prolific_hook
from surveys.recruiting.prolific.views import (
    prolific_action,
    prolific_hooks_on,
    prolific_live,
    prolific_page,
    prolific_sync,
)

_STAFF = "staff/studies/<slug:slug>/prolific/"

urlpatterns: list[URLPattern] = [
    path(_STAFF, prolific_page, name="prolific_page"),
    path(f"{_STAFF}live/", prolific_live, name="prolific_live"),
    path(f"{_STAFF}sync/", prolific_sync, name="prolific_sync"),
    path(f"{_STAFF}hooks/", prolific_hooks_on, name="prolific_hooks_on"),
    path(f"{_STAFF}do/<str:action>/", prolific_action, name="prolific_action"),
    path("hooks/prolific/", prolific_hook, name="prolific_hook"),
]
