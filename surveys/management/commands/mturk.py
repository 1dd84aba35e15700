"""``python manage.py mturk ACTION STUDY``: publish, sync and pay a study on Mechanical Turk.

Actions that move money or change what workers can do print their plan with the money
involved and ask before running (``--yes`` skips the question). When MTurk refuses or cannot be
reached the command says so in one line naming the service's closure, never with a traceback.
"""

from __future__ import annotations

import os
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from surveys.models import Study
from surveys.recruiting.mturk.actions import ACTIONS, check_mturk_action, do_mturk_action
from surveys.recruiting.mturk.client import MTurkUnavailable, open_session
from surveys.recruiting.mturk.money import MTurkInputError, usd
from surveys.recruiting.mturk.plans import ActionInput, ActionPlan
from surveys.recruiting.mturk.workers import do_balance
from surveys.recruiting.plans import Outcome

SITE_URL_SETTING = "SURVEYS_SITE_URL"
# Reading needs no confirmation; everything else does.
UNCONFIRMED = ("sync", "balance")


class Command(BaseCommand):
    help = (
        "Mechanical Turk for one study: publish HITs, sync assignments, approve (bonus first), "
        "reject, bonus, block workers, expire HITs, add assignments, show the balance. "
        "Amazon Mechanical Turk closed on 30 September 2026; MTURK_ENDPOINT_URL points this at "
        "an MTurk-compatible service."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("action", choices=[*ACTIONS, "balance"])
        parser.add_argument("study", help="The study's slug or public code.")
        parser.add_argument(
            "--assignment", "--worker", "--hit", dest="targets", action="append", default=[],
            metavar="ID", help="An assignment (approve, reject, bonus), worker (block) or HIT "
            "(expire, add); repeat for several. approve without one takes every ready assignment.",
        )  # fmt: skip
        parser.add_argument(
            "--feedback", default="", help="Feedback to workers (reject: required)."
        )
        parser.add_argument("--reason", default="", help="A bonus's or a block's reason.")
        parser.add_argument("--amount", default="", help="Bonus in USD, e.g. 0.50.")
        parser.add_argument("--count", default="", help="Assignments to add to the HIT.")
        parser.add_argument(
            "--site-url", default="",
            help="The site's public HTTPS address, for publish (default: SURVEYS_SITE_URL).",
        )  # fmt: skip
        parser.add_argument("--yes", action="store_true", help="Run without asking.")

    def handle(self, *args: Any, **options: Any) -> None:
        study = _find_study(str(options["study"]))
        action = str(options["action"])
        try:
            session = open_session(study)
            if action == "balance":
                self._balance(do_balance(session))
                return
            request = ActionInput(
                targets=tuple(options["targets"]),
                feedback=options["feedback"],
                reason=options["reason"],
                amount=options["amount"],
                count=options["count"],
                site_url=options["site_url"] or _site_url(),
            )
            plan = check_mturk_action(session, action, request)
            self._show(plan, study)
            if not plan.items:
                return
            if action not in UNCONFIRMED and not options["yes"]:
                self._confirm(plan)
            outcome = do_mturk_action(session, action, plan.request)
        except (MTurkInputError, MTurkUnavailable) as exc:
            raise CommandError(str(exc)) from None
        self._report(outcome)

    def _balance(self, balance: dict[str, Any]) -> None:
        line = f"Available balance: {usd(balance['available'])} USD"
        if "on_hold" in balance:
            line += f" ({usd(balance['on_hold'])} USD on hold)"
        self.stdout.write(line)

    def _show(self, plan: ActionPlan, study: Study) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"{plan.summary} ({study.slug})"))
        for item in plan.items:
            money = f"  {usd(item.amount)} USD" if item.amount else ""
            self.stdout.write(f"  {item.target}: {item.what}{money}")
        for note in plan.notes:
            self.stdout.write(f"  note: {note}")
        if plan.moves_money:
            self.stdout.write("Money involved:")
            for label, amount in plan.charges:
                self.stdout.write(f"  {label:<24}{usd(amount):>10} USD")

    def _confirm(self, plan: ActionPlan) -> None:
        money = f" moving {usd(plan.money.total)} USD" if plan.moves_money else ""
        try:
            answer = input(f"{plan.action}{money}: go ahead? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            raise CommandError("Not confirmed; nothing was done (answer y, or add --yes).")

    def _report(self, outcome: Outcome) -> None:
        style = self.style.SUCCESS if outcome.ok else self.style.WARNING
        self.stdout.write(style(outcome.summary()))
        for failure in outcome.failures:
            self.stderr.write(failure)
        if outcome.failures:
            raise CommandError(
                f"{len(outcome.failures)} call(s) failed (listed above); what succeeded is in "
                "the ledger, and running the action again retries only the rest."
            )


def _find_study(handle: str) -> Study:
    study = Study.objects.filter(Q(slug=handle) | Q(code=handle)).first()
    if study is None:
        known = ", ".join(Study.objects.values_list("slug", flat=True)[:20]) or "(none yet)"
        raise CommandError(f"No study has the slug or code {handle!r}; the studies are: {known}.")
    return study


def _site_url() -> str:
    return str(getattr(settings, SITE_URL_SETTING, "") or os.environ.get(SITE_URL_SETTING, ""))
