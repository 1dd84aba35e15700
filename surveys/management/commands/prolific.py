"""``python manage.py prolific ACTION STUDY ...``: a study's Prolific work from a terminal.

    prolific create  STUDY --site https://study.example.org   the unpublished draft
    prolific sync    STUDY                                    mirror the submissions now
    prolific approve STUDY [ID ...]                           default: every clean one waiting
    prolific reject  STUDY ID [ID ...] --category C --message "at least 100 characters ..."
    prolific bonus   STUDY (--bonus ID,AMOUNT ... | --file bonuses.csv) [--round R]
    prolific pay     STUDY [BULK_ID ...]                      default: every unpaid bonus

Every action but sync prints what it will do and cost and asks before doing it; ``--yes``
skips the question (needed without a terminal). The token comes from ``PROLIFIC_TOKEN``.
A failure is one line (exit status 1), never a traceback.
"""

from __future__ import annotations

import os
import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.urls import reverse

from surveys.models import Study
from surveys.recruiting.ledger import LedgerCallError
from surveys.recruiting.plans import Outcome
from surveys.recruiting.prolific.api import ProlificClient, ProlificError, ProlificInputError
from surveys.recruiting.prolific.desk import (
    ACTIONS,
    do_prolific_action,
    do_prolific_sync,
    plan_prolific_action,
)


class Command(BaseCommand):
    # Tests answer the confirmation through ``stdin=``.
    stealth_options = ("stdin",)
    help = (
        "Prolific for one study: create the draft, sync submissions, approve, reject, set up "
        "bonuses and pay them (each confirmed with the money shown; --yes to skip)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("action", choices=("sync", *ACTIONS))
        parser.add_argument("study", help="The study's slug or public code.")
        parser.add_argument(
            "ids", nargs="*", help="Submission or participant IDs (approve, reject), or bulk "
            "bonus IDs (pay).",
        )  # fmt: skip
        parser.add_argument("--yes", action="store_true", help="Do it without asking.")
        parser.add_argument("--site", default="", help="The site's public https:// address "
                            "(create; default: $SURVEYS_SITE_URL).")  # fmt: skip
        parser.add_argument("--message", default="", help="Rejection message (100+ characters).")
        parser.add_argument("--category", default="", help="Rejection category, e.g. LOW_EFFORT.")
        parser.add_argument("--bonus", action="append", default=[], metavar="ID,AMOUNT")
        parser.add_argument("--file", type=Path, help="Bonus lines ID,AMOUNT from a file.")
        parser.add_argument("--round", default="1", help="Bonus round label (default 1).")

    def handle(self, *args: Any, **options: Any) -> None:
        study = self._study(str(options["study"]))
        try:
            result = self._run(study, options)
        except (ProlificError, ProlificInputError, LedgerCallError) as error:
            raise CommandError(str(error)) from None
        if not result.ok:
            raise CommandError(result.message)
        self.stdout.write(self.style.SUCCESS(result.message))

    def _run(self, study: Study, options: dict[str, Any]) -> Outcome:
        action = str(options["action"])
        if action == "sync":
            return do_prolific_sync(study, ProlificClient.from_env())
        fields = {
            "ids": " ".join(options["ids"]),
            "message": options["message"],
            "category": options["category"],
            "bonuses": self._bonuses(options),
            "round": options["round"],
        }
        plan = plan_prolific_action(study, action, fields, self._entry_link(study, options))
        client = ProlificClient.from_env()
        self.stdout.write("\n".join(plan.describe()))
        if not options["yes"]:
            self._confirm(options.get("stdin"))
        return do_prolific_action(study, plan, client)

    def _study(self, handle: str) -> Study:
        study = Study.objects.filter(Q(slug=handle) | Q(code=handle)).first()
        if study is None:
            known = ", ".join(Study.objects.values_list("slug", flat=True)) or "(none yet)"
            raise CommandError(
                f"No study has the slug or code {handle!r}; the studies are: {known}."
            )
        return study

    def _bonuses(self, options: dict[str, Any]) -> str:
        lines = list(options["bonus"])
        path: Path | None = options["file"]
        if path is not None:
            try:
                lines.extend(path.read_text(encoding="utf-8").splitlines())
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"--file {path}: cannot be read ({exc})") from None
        return "\n".join(lines)

    def _entry_link(self, study: Study, options: dict[str, Any]) -> str:
        if options["action"] != "create":
            return ""
        site = str(options["site"] or os.environ.get("SURVEYS_SITE_URL", "")).strip()
        if not site:
            raise CommandError(
                "give the site's public address: --site https://study.example.org (or set "
                "SURVEYS_SITE_URL); Prolific sends participants there"
            )
        path = reverse("surveys:participant_entry", args=[study.code])
        return site.rstrip("/") + path

    def _confirm(self, stream: TextIO | None) -> None:
        if stream is None:
            if not sys.stdin.isatty():
                raise CommandError("not confirmed: run it in a terminal, or add --yes")
            stream = sys.stdin
        self.stdout.write("Go ahead? [y/N] ", ending="")
        self.stdout.flush()
        answer = stream.readline().strip().lower()
        if answer not in ("y", "yes"):
            raise CommandError("cancelled; nothing was sent to Prolific")
