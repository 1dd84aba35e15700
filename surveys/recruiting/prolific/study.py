"""The Prolific study, created as an unpublished draft from the platform's study.

The draft carries the study's public title and instructions, the entry URL with Prolific's
``{{%PROLIFIC_PID%}}``, ``{{%STUDY_ID%}}`` and ``{{%SESSION_ID%}}`` placeholders, the completion
code (reviewed by hand unless the study says ``review: automatic``), the estimated minutes, the
places and the reward. Prolific takes the reward as an integer in the minor unit of the
workspace's currency (pence or cents: 2.40 GBP is 240) — the API reference gives study rewards
and bonus totals "in cents", while bonus set-up lines are in major units (see
:mod:`.bonus`). Nothing is paid by creating a draft; the researcher publishes it in
Prolific, where the service fee is added.

Creating a study is not idempotent at Prolific, so it is a ledger step that is never repeated
blindly: a run interrupted after the call went out looks for the draft among the researcher's
studies (by its internal name, which carries the study's code) before creating another.
"""

from __future__ import annotations

from decimal import ROUND_UP, Decimal
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction

from surveys.models import Study
from surveys.recruiting.ledger import Step, do_ledger_step
from surveys.recruiting.panel import LOCAL_HOSTS
from surveys.recruiting.plans import Outcome, money
from surveys.recruiting.prolific.api import ProlificClient, ProlificError, ProlificInputError
from surveys.recruiting.prolific.plans import (
    RECRUITER,
    ProlificPlan,
    check_currency,
    check_prolific_study,
    money_line,
    prolific_plan,
)
from surveys.recruiting.prolific.recruiter import is_prolific_id, prolific_entry_url

# Prolific's minimum pay per hour (judged on the median time), by currency.
MIN_HOURLY = {"GBP": Decimal("6.00"), "USD": Decimal("8.00")}
COMPLETION_ACTIONS = {"manual": "MANUALLY_REVIEW", "automatic": "AUTOMATICALLY_APPROVE"}
DESCRIPTION_MAX = 5000


def reward_minor_units(study: Study) -> int:
    """The study's reward in pence or cents, as Prolific's ``reward`` field takes it."""
    check_currency(study)
    if study.reward <= 0:
        raise ProlificInputError(
            f"{study.slug} has no reward; set reward (per participant, e.g. 2.40) in the spec"
        )
    return int((study.reward * 100).to_integral_value())


def check_pay_rate(study: Study) -> None:
    """Refuse a reward under Prolific's minimum hourly rate for the estimated time."""
    currency = check_currency(study)
    minimum = MIN_HOURLY[currency] * study.estimated_minutes / 60
    if study.reward < minimum:
        hourly = study.reward * 60 / study.estimated_minutes
        raise ProlificInputError(
            f"a reward of {money(study.reward)} {currency} for {study.estimated_minutes} minutes "
            f"is {money(hourly)} {currency} per hour, under Prolific's minimum of "
            f"{MIN_HOURLY[currency]}: raise the reward to at least "
            f"{money(minimum.quantize(Decimal('0.01'), rounding=ROUND_UP))}"
        )


def check_entry_link(link: str) -> str:
    parts = urlsplit(link)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOCAL_HOSTS):
        return link
    raise ProlificInputError(
        f"the study's public address {link!r} is not https: Prolific sends participants only "
        "to https URLs; serve the site over TLS and give its https:// address"
    )


def internal_name(study: Study) -> str:
    return f"{study.slug} [{study.code}]"


def draft_payload(study: Study, entry_link: str) -> dict[str, Any]:
    """The body of ``POST /studies/`` for ``study``, entered at ``entry_link``."""
    config = check_prolific_study(study)
    action = COMPLETION_ACTIONS[str(config["review"])]
    return {
        "name": study.public_title,
        "internal_name": internal_name(study),
        "description": study.instructions_text[:DESCRIPTION_MAX],
        "external_study_url": prolific_entry_url(check_entry_link(entry_link)),
        "prolific_id_option": "url_parameters",
        "completion_codes": [
            {
                "code": study.completion_code,
                "code_type": "COMPLETED",
                "actions": [{"action": action}],
            }
        ],
        "estimated_completion_time": study.estimated_minutes,
        "reward": reward_minor_units(study),
        "total_available_places": study.participants_wanted,
    }


def plan_create(study: Study, entry_link: str) -> ProlificPlan:
    """The draft to create, and what the study will cost once published."""
    config = check_prolific_study(study)
    if config.get("study_id"):
        raise ProlificInputError(
            f"{study.slug} already has the Prolific study {config['study_id']}; edit that one "
            "in Prolific, or clear recruiter_config.study_id to create another"
        )
    payload = draft_payload(study, entry_link)
    check_pay_rate(study)
    return prolific_plan(
        action="create",
        title=f"Create the Prolific draft {payload['name']!r} for {study.slug}",
        lines=(money_line("Reward per participant", study.reward, study.participants_wanted),),
        currency=study.currency,
        notes=(
            "Nothing is paid now: the draft stays unpublished until you publish it in "
            "Prolific, which adds its service fee to the rewards.",
            f"Participants enter at {payload['external_study_url']}",
        ),
        fields={"entry_link": entry_link},
    )


def _find_draft(client: ProlificClient, study: Study, entry_link: str) -> dict[str, Any] | None:
    """The draft an earlier, interrupted run created, if Prolific has it."""
    url = prolific_entry_url(entry_link)
    for found in client.list_studies():
        if (
            found.get("internal_name") == internal_name(study)
            or found.get("external_study_url") == url
        ):
            return {"id": found.get("id"), "status": found.get("status", "")}
    return None


def _store_study_id(study: Study, prolific_id: str, status: str) -> None:
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        config = dict(locked.recruiter_config or {})
        config["study_id"] = prolific_id
        if status:
            config["status"] = status
        locked.recruiter_config = config
        locked.save(update_fields=["recruiter_config", "updated_at"])
    study.recruiter_config = config


def do_create_draft(study: Study, plan: ProlificPlan, client: ProlificClient) -> Outcome:
    """Create the draft planned by :func:`plan_create` and store its ID in the study."""
    entry_link = plan.request["entry_link"]
    payload = draft_payload(study, entry_link)
    step = Step(
        study, RECRUITER, "create_draft", f"prolific-create-{study.code}",
        request=payload, repeatable=False,
    )  # fmt: skip

    def create() -> dict[str, Any]:
        answer = client.create_study(payload)
        return {"id": answer.get("id"), "status": answer.get("status", "")}

    entry = do_ledger_step(
        step, create, reconcile=lambda: _find_draft(client, study, entry_link), sleep=client.sleep
    )
    prolific_id = str(entry.response.get("id") or "")
    if not is_prolific_id(prolific_id):
        raise ProlificError(
            f"Prolific's answer to creating the study has no study ID ({prolific_id!r}); "
            "look for the draft in Prolific and set recruiter_config.study_id by hand"
        )
    _store_study_id(study, prolific_id.lower(), str(entry.response.get("status") or ""))
    return Outcome(
        "create",
        message=f"Created the Prolific draft {prolific_id} for {study.slug}; publish it in "
        "Prolific when the study is ready.",
        entries=[entry],
    )
