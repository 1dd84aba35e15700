"""Mechanical Turk's URLs: the worker's last page, and the researcher's MTurk desk.

The worker's page is a participant page (reached through the random codes); the desk pages
live under ``staff/studies/<slug>/mturk/`` and are staff-only.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET

from surveys.models import Participant
from surveys.participation.pages import participant_view, render_page
from surveys.recruiting.mturk import views as desk
from surveys.recruiting.mturk.submit import access_external_submit


@require_GET
@participant_view
def mturk_submit(request: HttpRequest, participant: Participant) -> HttpResponse:
    """The form that posts the assignment to MTurk from inside its frame (sent by itself)."""
    form = access_external_submit(participant)
    return render_page(
        request, "mturk_submit.html", participant, action=form.action, fields=form.fields
    )


_DESK = "staff/studies/<slug:slug>/mturk/"

urlpatterns: list[URLPattern] = [
    path("s/<str:study>/p/<str:participant>/mturk/submit/", mturk_submit, name="mturk_submit"),
    path(_DESK, desk.mturk_desk, name="mturk_desk"),
    path(f"{_DESK}live/", desk.mturk_live, name="mturk_live"),
    path(f"{_DESK}balance/", desk.mturk_balance, name="mturk_balance"),
    path(f"{_DESK}<str:action>/", desk.mturk_action, name="mturk_action"),
]
