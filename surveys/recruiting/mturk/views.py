"""The researcher's MTurk desk: HITs, submissions, the ledger, and actions confirmed first.

Every action posts to ``mturk/<action>/``; the first post shows the plan and the money involved
on a confirmation page, whose own post (``confirmed``) runs it and returns to the desk.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from surveys.common.access import PAY_REFUSED, can_pay, staff_only
from surveys.recruiting.mturk.actions import PAY_ACTIONS, access_mturk_study
from surveys.recruiting.mturk.desk import (
    DeskResult,
    desk_balance,
    do_desk_action,
    live_counts,
    mturk_desk_page,
)
from surveys.recruiting.mturk.money import usd
from surveys.recruiting.mturk.plans import ActionInput

TEMPLATES = "surveys/staff/mturk/"


def _site_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/")


@staff_only
@require_GET
@never_cache
def mturk_desk(request: HttpRequest, slug: str) -> HttpResponse:
    page = mturk_desk_page(access_mturk_study(slug), _site_url(request))
    return render(request, f"{TEMPLATES}page.html", {"page": page})


@staff_only
@require_GET
@never_cache
def mturk_live(request: HttpRequest, slug: str) -> HttpResponse:
    study = access_mturk_study(slug)
    return render(request, f"{TEMPLATES}_live.html", {"study": study, "counts": live_counts(study)})


@staff_only
@require_GET
@never_cache
def mturk_balance(request: HttpRequest, slug: str) -> HttpResponse:
    balance, problem = desk_balance(access_mturk_study(slug))
    return render(request, f"{TEMPLATES}_balance.html", {"balance": balance, "problem": problem})


def _action_input(request: HttpRequest) -> ActionInput:
    post = request.POST
    typed = post.get("targets", "").replace(",", " ").split()
    return ActionInput(
        targets=(*post.getlist("target"), *typed),
        feedback=post.get("feedback", ""),
        reason=post.get("reason", ""),
        amount=post.get("amount", ""),
        count=post.get("count", ""),
        site_url=_site_url(request),
    )


@staff_only
@require_POST
@never_cache
def mturk_action(request: HttpRequest, slug: str, action: str) -> HttpResponse:
    """Show ``action``'s plan to confirm; run it once confirmed."""
    study = access_mturk_study(slug)
    if action in PAY_ACTIONS and not can_pay(request.user):
        # Refused before planning: staff without the right to pay get no form that would pay.
        refused = DeskResult(problem=PAY_REFUSED, status=403)
        context = {"study": study, "action": action, "result": refused, "plan": None}
        return render(request, f"{TEMPLATES}confirm.html", context, status=refused.status)
    result = do_desk_action(
        study,
        action,
        _action_input(request),
        confirmed=request.POST.get("confirmed") == "yes",
        seen_total=request.POST.get("seen_total", ""),
        picked=request.POST.get("scope") == "picked",
    )
    if result.outcome is not None:
        level = messages.SUCCESS if result.outcome.ok else messages.WARNING
        messages.add_message(request, level, result.outcome.summary())
        for failure in result.outcome.failures:
            messages.error(request, failure)
        return HttpResponseRedirect(reverse("surveys:mturk_desk", args=[study.slug]), status=303)
    context = {
        "study": study,
        "action": action,
        "result": result,
        "plan": result.plan,
        "total": usd(result.plan.money.total) if result.plan else "",
    }
    return render(request, f"{TEMPLATES}confirm.html", context, status=result.status)
