"""Publishing a study on Mechanical Turk: HITs of at most 9 assignments, each created once.

The study becomes HITs whose ExternalQuestion frames the study's public link. Batch ``n`` carries
the token ``<study code>-<sbx|live>-hit<n>`` as both ``UniqueRequestToken`` and
``RequesterAnnotation``, and is a ledger entry written before the call, so re-running publish
creates only the batches still missing. MTurk forgets tokens after 24 hours, so an entry left
pending by a killed run is first looked up among the account's HITs by its annotation, never
created blind a second time.

The HITs themselves are kept as the ledger's ``publish`` entries (the HIT ID, its group and size
in the entry's response) and as the ``batch_id`` of the submissions synced from them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from django.urls import reverse

from surveys.models import LedgerEntry, LedgerStatus, StudyStatus
from surveys.recruiting.ledger import Step
from surveys.recruiting.mturk.client import (
    MTurkSession,
    is_duplicate_request,
    ledger_call,
    mturk_errors,
    pages,
)
from surveys.recruiting.mturk.config import MTurkConfig
from surveys.recruiting.mturk.money import (
    CURRENCY,
    MTurkInputError,
    bonuses_cost,
    check_reward,
    rewards_cost,
    usd,
)
from surveys.recruiting.mturk.plans import MTURK, ActionInput, ActionPlan, mturk_plan
from surveys.recruiting.plans import PlanItem

EXTERNAL_QUESTION_NS = (
    "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/"
    "ExternalQuestion.xsd"
)
QUESTION_MAX_BYTES = 65535
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
WORKER_SITES = {True: "https://workersandbox.mturk.com", False: "https://worker.mturk.com"}


@dataclass(frozen=True)
class HitRecord:
    """One published HIT, as the ledger keeps it."""

    hit_id: str
    batch: int
    assignments: int
    group_id: str
    expiration: str
    token: str
    sandbox: bool

    @property
    def worker_url(self) -> str:
        """Where workers find the HIT's group."""
        return f"{WORKER_SITES[self.sandbox]}/projects/{self.group_id}/tasks"


@dataclass(frozen=True)
class Batch:
    number: int
    assignments: int
    token: str
    state: str  # "new", "retry" (an entry not done yet) or "lookup" (created, HIT ID unknown)


def token_prefix(code: str, sandbox: bool) -> str:
    return f"{code}-{'sbx' if sandbox else 'live'}-hit"


def _publish_entries(session: MTurkSession) -> list[LedgerEntry]:
    prefix = token_prefix(session.study.code, session.config.sandbox)
    query = LedgerEntry.objects.filter(
        study=session.study, recruiter=MTURK, action="publish", token__startswith=prefix
    )
    return list(query.order_by("id"))


def study_hits(session: MTurkSession) -> list[HitRecord]:
    """The study's HITs in the session's mode, with assignments added since publishing."""
    added: dict[str, int] = {}
    extra = LedgerEntry.objects.filter(
        study=session.study, recruiter=MTURK, action="add_assignments", status=LedgerStatus.DONE
    )
    for entry in extra:
        hit_id = str(entry.request.get("HITId", ""))
        added[hit_id] = added.get(hit_id, 0) + int(
            entry.request.get("NumberOfAdditionalAssignments", 0)
        )
    hits = []
    for entry in _publish_entries(session):
        hit_id = str(entry.response.get("HITId", ""))
        if entry.status != LedgerStatus.DONE or not hit_id:
            continue
        hits.append(
            HitRecord(
                hit_id=hit_id,
                batch=int(entry.request.get("batch", 0)),
                assignments=int(entry.response.get("MaxAssignments", 0)) + added.get(hit_id, 0),
                group_id=str(entry.response.get("HITGroupId", "")),
                expiration=str(entry.response.get("Expiration", "")),
                token=entry.token,
                sandbox=session.config.sandbox,
            )
        )
    return hits


def check_entry_url(site_url: str, study_code: str) -> str:
    """The study's public link under ``site_url``, as the HIT's ExternalURL.

    Raises:
        MTurkInputError: not HTTPS (plain HTTP is taken only for this machine's own addresses).
    """
    parts = urlsplit(site_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MTurkInputError(
            f"{site_url!r} is not the site's address; give it as https://study.example.org "
            "(--site-url, or SURVEYS_SITE_URL)."
        )
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise MTurkInputError(
            f"Mechanical Turk frames only HTTPS pages, and {site_url} is plain HTTP: serve the "
            "site over HTTPS (behind a TLS proxy, set BEHIND_TLS_PROXY=1) and publish from there."
        )
    path = reverse("surveys:participant_entry", args=[study_code])
    return f"{parts.scheme}://{parts.netloc}{path}"


def external_question(url: str, frame_height: int) -> str:
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ExternalQuestion xmlns="{EXTERNAL_QUESTION_NS}">'
        f"<ExternalURL>{escape(url)}</ExternalURL>"
        f"<FrameHeight>{frame_height}</FrameHeight>"
        "</ExternalQuestion>"
    )
    if len(xml.encode()) > QUESTION_MAX_BYTES:
        raise MTurkInputError("The study's link is too long for an ExternalQuestion (64 KB).")
    return xml


def hit_parameters(session: MTurkSession, entry_url: str) -> dict[str, Any]:
    """CreateHIT's parameters shared by every batch."""
    config, study = session.config, session.study
    params: dict[str, Any] = {
        "Title": config.title or study.public_title,
        "Description": config.description or _default_description(study.estimated_minutes),
        "Reward": usd(check_reward(study)),
        "LifetimeInSeconds": config.lifetime_hours * 3600,
        "AssignmentDurationInSeconds": config.assignment_duration_minutes * 60,
        "AutoApprovalDelayInSeconds": config.auto_approval_delay_hours * 3600,
        "Question": external_question(entry_url, config.frame_height),
        "QualificationRequirements": config.qualification_requirements(),
    }
    if config.keywords:
        params["Keywords"] = config.keywords
    return params


def _default_description(minutes: int) -> str:
    return (
        "Look at pictures in which an AI system highlights a feature and rate, from 1 to 5, how "
        f"salient that feature is. About {minutes} minute{'s' if minutes != 1 else ''}."
    )


def _batches(session: MTurkSession) -> list[Batch]:
    """Unfinished batches first (same token, same size), then new ones for what is missing."""
    config, study = session.config, session.study
    prefix = token_prefix(study.code, config.sandbox)
    batches, published, last = [], 0, 0
    for entry in _publish_entries(session):
        number = int(entry.request.get("batch", 0))
        size = int(entry.request.get("MaxAssignments", 0))
        last = max(last, number)
        published += size
        if entry.status != LedgerStatus.DONE:
            batches.append(Batch(number, size, entry.token, "retry"))
        elif "HITId" not in entry.response:
            batches.append(Batch(number, size, entry.token, "lookup"))
    missing = max(0, study.participants_wanted - published)
    for index in range(math.ceil(missing / config.assignments_per_hit)):
        size = min(config.assignments_per_hit, missing - index * config.assignments_per_hit)
        number = last + index + 1
        batches.append(Batch(number, size, f"{prefix}{number}", "new"))
    return batches


def check_publish(session: MTurkSession, request: ActionInput) -> ActionPlan:
    """The HITs publishing would create now, and what they cost.

    Raises:
        MTurkInputError: the study is not open, the reward or the site address will not do,
            or the assignment time is shorter than the study takes.
    """
    study, config = session.study, session.config
    if study.status != StudyStatus.OPEN:
        raise MTurkInputError(
            f"Study {study.slug!r} is {study.get_status_display().lower()}; open it before "
            "publishing, or workers would find a closed study."
        )
    if config.assignment_duration_minutes < study.estimated_minutes:
        raise MTurkInputError(
            f"assignment_duration_minutes is {config.assignment_duration_minutes} but the study "
            f"takes about {study.estimated_minutes} minutes; give workers more time."
        )
    reward = check_reward(study)
    hit_parameters(session, check_entry_url(request.site_url, study.code))
    batches = _batches(session)
    creating = sum(batch.assignments for batch in batches if batch.state != "lookup")
    money = rewards_cost(reward, creating, config.masters)
    notes = [f"{config.mode.capitalize()} HITs, {usd(reward)} USD per assignment."]
    if config.bonus is not None:
        money += bonuses_cost(config.bonus.amount, creating)
        notes.append(f"Includes a bonus of {usd(config.bonus.amount)} USD for every approval.")
    items = tuple(_batch_item(batch, reward, config) for batch in batches)
    summary = f"Publish {len(batches)} HIT(s) with {creating} assignment(s)"
    if not batches:
        summary = "Nothing to publish: every wanted assignment is already on a HIT"
    return mturk_plan("publish", study, summary, items, money, tuple(notes), request)


def _batch_item(batch: Batch, reward: Decimal, config: MTurkConfig) -> PlanItem:
    if batch.state == "lookup":
        return PlanItem(f"batch {batch.number}", "created earlier: look up its HIT ID")
    cost = rewards_cost(reward, batch.assignments, config.masters).total
    again = " (again, same token)" if batch.state == "retry" else ""
    return PlanItem(f"batch {batch.number}", f"{batch.assignments} assignments{again}", cost)


def find_hit(session: MTurkSession, token: str) -> dict[str, Any] | None:
    """The account's HIT whose annotation is ``token``, if MTurk lists one."""
    for hit in pages(session, "list_hits", "HITs"):
        if hit.get("RequesterAnnotation") == token:
            return dict(hit)
    return None


def _hit_response(hit: dict[str, Any], batch: Batch, sandbox: bool) -> dict[str, Any]:
    expiration = hit.get("Expiration")
    return {
        "HITId": hit["HITId"],
        "HITTypeId": hit.get("HITTypeId", ""),
        "HITGroupId": hit.get("HITGroupId", ""),
        "MaxAssignments": int(hit.get("MaxAssignments", batch.assignments)),
        "Expiration": expiration.isoformat() if isinstance(expiration, datetime) else "",
        "batch": batch.number,
        "sandbox": sandbox,
    }


def do_publish(session: MTurkSession, request: ActionInput) -> list[HitRecord]:
    """Create the study's missing HITs, each once; the study's HITs afterwards.

    Raises:
        MTurkInputError: as :func:`check_publish`.
        MTurkUnavailable: MTurk refused or could not be reached (what was created is kept).
    """
    check_publish(session, request)
    params = hit_parameters(session, check_entry_url(request.site_url, session.study.code))
    reward = check_reward(session.study)
    with mturk_errors():
        for batch in _batches(session):
            _publish_batch(session, batch, params, reward)
    return study_hits(session)


def _publish_batch(
    session: MTurkSession, batch: Batch, params: dict[str, Any], reward: Decimal
) -> None:
    sandbox = session.config.sandbox
    request = {
        **params,
        "MaxAssignments": batch.assignments,
        "UniqueRequestToken": batch.token,
        "RequesterAnnotation": batch.token,
    }
    cost = rewards_cost(reward, batch.assignments, session.config.masters).total
    step = Step(
        session.study, MTURK, "publish", batch.token, cost, CURRENCY,
        request={"batch": batch.number, "MaxAssignments": batch.assignments,
                 "sandbox": sandbox, "Reward": params["Reward"]},
        repeatable=False,
    )  # fmt: skip

    def create() -> dict[str, Any]:
        return _hit_response(session.client.create_hit(**request)["HIT"], batch, sandbox)

    def reconcile() -> dict[str, Any] | None:
        hit = find_hit(session, batch.token)
        return _hit_response(hit, batch, sandbox) if hit else None

    entry = ledger_call(
        session, step, create, already_done=is_duplicate_request, reconcile=reconcile
    )
    if "HITId" not in entry.response:
        # MTurk said the token was used (the HIT exists) without naming the HIT.
        found = reconcile()
        if found is None:
            raise MTurkInputError(
                f"MTurk says batch {batch.number}'s HIT exists but does not list it yet; run "
                "publish again in a minute to record its HIT ID."
            )
        entry.response = {**entry.response, **found}
        entry.save(update_fields=["response", "updated_at"])
