"""The researcher's Prolific page: where the study stands, and the actions that move money.

Every action that changes something at Prolific posts twice: the first post plans it and
shows a confirmation page with the money involved; the second (``confirmed=yes``) carries it
out and returns to the page with the outcome. Syncing only reads, and switching webhooks on
moves no money and is idempotent, so neither needs confirmation. Prolific's failures come back
as one line on the page, never a traceback: 400 for a request that cannot be done, 502 when
Prolific fails, 503 when no token (or no workspace) is set.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from surveys.common.access import PAY_REFUSED, can_pay, staff_only
from surveys.models import Study
from surveys.recruiting.prolific.api import (
    ProlificClient,
    ProlificConfigError,
    ProlificError,
    ProlificInputError,
    workspace_id_from_env,
)
from surveys.recruiting.prolific.desk import (
    PAY_ACTIONS,
    access_prolific_study,
    do_prolific_action,
    do_prolific_sync,
    plan_prolific_action,
    prolific_overview,
)
from surveys.recruiting.prolific.subscriptions import (
    do_subscribe_hooks,
    hook_target_url,
    hooks_overview,
)

TEMPLATES = "surveys/staff/prolific"


def _entry_link(request: HttpRequest, study: Study) -> str:
    return request.build_absolute_uri(reverse("surveys:participant_entry", args=[study.code]))


def _page_url(study: Study) -> str:
    return reverse("surveys:prolific_page", args=[study.slug])


def _failure(request: HttpRequest, study: Study, error: Exception, action: str) -> HttpResponse:
    """The one-line failure page: 400 bad request, 503 no token, 502 Prolific failed."""
    status = 400 if isinstance(error, ProlificInputError) else 502
    if isinstance(error, ProlificConfigError):
        status = 503
    context: dict[str, Any] = {"study": study, "error": str(error), "action": action}
    return render(request, f"{TEMPLATES}/confirm.html", context, status=status)


@staff_only
@require_GET
@never_cache
def prolific_page(request: HttpRequest, slug: str) -> HttpResponse:
    study = access_prolific_study(slug)
    overview = prolific_overview(study, _entry_link(request, study))
    context = {"o": overview, "hooks": hooks_overview()}
    return render(request, f"{TEMPLATES}/page.html", context)


@staff_only
@require_GET
@never_cache
def prolific_live(request: HttpRequest, slug: str) -> HttpResponse:
    study = access_prolific_study(slug)
    overview = prolific_overview(study, _entry_link(request, study))
    return render(request, f"{TEMPLATES}/_live.html", {"o": overview})


@staff_only
@require_POST
def prolific_sync(request: HttpRequest, slug: str) -> HttpResponse:
    study = access_prolific_study(slug)
    try:
        result = do_prolific_sync(study, ProlificClient.from_env())
    except (ProlificError, ProlificInputError) as error:
        return _failure(request, study, error, "sync")
    messages.success(request, result.message)
    return HttpResponseRedirect(_page_url(study))


@staff_only
@require_POST
def prolific_action(request: HttpRequest, slug: str, action: str) -> HttpResponse:
    """Plan ``action`` and ask for confirmation; carry it out once confirmed."""
    study = access_prolific_study(slug)
    if action in PAY_ACTIONS and not can_pay(request.user):
        # Refused before planning: staff without the right to pay get no form that would pay.
        context = {"study": study, "error": PAY_REFUSED, "action": action}
        return render(request, f"{TEMPLATES}/confirm.html", context, status=403)
    try:
        plan = plan_prolific_action(study, action, request.POST, _entry_link(request, study))
    except ProlificInputError as error:
        return _failure(request, study, error, action)
    if request.POST.get("confirmed") != "yes":
        return render(request, f"{TEMPLATES}/confirm.html", {"study": study, "plan": plan})
    try:
        result = do_prolific_action(study, plan, ProlificClient.from_env())
    except (ProlificError, ProlificInputError) as error:
        return _failure(request, study, error, action)
    (messages.success if result.ok else messages.error)(request, result.message)
    return HttpResponseRedirect(_page_url(study))


def _site_url(request: HttpRequest) -> str:
    """The public address Prolific is to call: SURVEYS_SITE_URL, else the one this page is on."""
    return str(getattr(settings, "SURVEYS_SITE_URL", "") or request.build_absolute_uri("/"))


@staff_only
@require_POST
def prolific_hooks_on(request: HttpRequest, slug: str) -> HttpResponse:
    """Create or adopt the workspace's secret and subscribe this site's webhooks."""
    study = access_prolific_study(slug)
    try:
        target = hook_target_url(_site_url(request))
        workspace = workspace_id_from_env()
        setup = do_subscribe_hooks(ProlificClient.from_env(), workspace, target)
    except (ProlificError, ProlificInputError) as error:
        return _failure(request, study, error, "webhooks")
    messages.success(request, setup.message)
    return HttpResponseRedirect(_page_url(study))
