"""``python manage.py prolific ACTION STUDY ...``: a study's Prolific work from a terminal.

    prolific create  STUDY --site https://study.example.org   the unpublished draft
    prolific sync    STUDY                                    mirror the submissions now
    prolific approve STUDY [ID ...]                           default: every clean one waiting
    prolific reject  STUDY ID [ID ...] --category C --message "at least 100 characters ..."
    prolific bonus   STUDY (--bonus ID,AMOUNT ... | --file bonuses.csv) [--round R]
    prolific pay     STUDY [BULK_ID ...]                      default: every unpaid bonus
    prolific hooks subscribe [--site https://...]             switch webhooks on (workspace)
    prolific hooks list                                       the workspace's subscriptions
    prolific hooks delete [SUBSCRIPTION_ID ...]               default: those sending here

Every action but sync and hooks subscribe/list prints what it will do (and cost) and asks
before doing it; ``--yes`` skips the question (needed without a terminal). The token comes
from ``PROLIFIC_TOKEN``; the hooks act on the workspace ``PROLIFIC_WORKSPACE_ID``. A failure
is one line (exit status 1), never a traceback.
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
from surveys.recruiting.prolific.api import (
    ProlificClient,
    ProlificError,
    ProlificInputError,
    workspace_id_from_env,
)
from surveys.recruiting.prolific.desk import (
    ACTIONS,
    do_prolific_action,
    do_prolific_sync,
    plan_prolific_action,
)
from surveys.recruiting.prolific.subscriptions import (
    do_delete_hooks,
    do_subscribe_hooks,
    hook_subscriptions,
    hook_target_url,
)

HOOK_VERBS = ("subscribe", "list", "delete")


class Command(BaseCommand):
    # Tests answer the confirmation through ``stdin=``.
    stealth_options = ("stdin",)
    help = (
        "Prolific for one study: create the draft, sync submissions, approve, reject, set up "
        "bonuses and pay them (each confirmed with the money shown; --yes to skip)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("action", choices=("sync", "hooks", *ACTIONS))
        parser.add_argument(
            "study", help="The study's slug or public code; for hooks: subscribe, list or delete."
        )
        parser.add_argument(
            "ids", nargs="*", help="Submission or participant IDs (approve, reject), bulk "
            "bonus IDs (pay), or subscription IDs (hooks delete).",
        )  # fmt: skip
        parser.add_argument("--yes", action="store_true", help="Do it without asking.")
        parser.add_argument("--site", default="", help="The site's public https:// address "
                            "(create, hooks; default: $SURVEYS_SITE_URL).")  # fmt: skip
        parser.add_argument("--message", default="", help="Rejection message (100+ characters).")
        parser.add_argument("--category", default="", help="Rejection category, e.g. LOW_EFFORT.")
        parser.add_argument("--bonus", action="append", default=[], metavar="ID,AMOUNT")
        parser.add_argument("--file", type=Path, help="Bonus lines ID,AMOUNT from a file.")
        parser.add_argument("--round", default="1", help="Bonus round label (default 1).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "hooks":
            try:
                self._hooks(str(options["study"]), options)
            except (ProlificError, ProlificInputError) as error:
                raise CommandError(str(error)) from None
            return
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

    def _hooks(self, verb: str, options: dict[str, Any]) -> None:
        if verb not in HOOK_VERBS:
            raise CommandError(f"prolific hooks takes {', '.join(HOOK_VERBS)}, not {verb!r}")
        ids = [str(one) for one in options["ids"]]
        if ids and verb != "delete":
            raise CommandError(f"prolific hooks {verb} takes no IDs")
        site = self._site(options)
        target = hook_target_url(site) if site or verb == "subscribe" else ""
        workspace = workspace_id_from_env()
        client = ProlificClient.from_env()
        if verb == "subscribe":
            self.stdout.write(
                self.style.SUCCESS(do_subscribe_hooks(client, workspace, target).message)
            )
            return
        if verb == "list":
            rows = hook_subscriptions(client, workspace)
            for row in rows:
                state = "enabled" if row.get("is_enabled") else "disabled"
                here = "  (this site)" if target and row.get("target_url") == target else ""
                self.stdout.write(
                    f"{row.get('id')}  {row.get('event_type')}  {row.get('target_url')}  "
                    f"{state}{here}"
                )
            self.stdout.write(f"{len(rows)} subscription(s) in workspace {workspace}.")
            return
        if not ids and not target:
            raise CommandError(
                "name the subscriptions to delete, or give the site (--site or "
                "SURVEYS_SITE_URL) to delete those sending to it"
            )
        what = ", ".join(ids) if ids else f"every subscription sending to {target}"
        self.stdout.write(f"Delete {what} in workspace {workspace}.")
        if not options["yes"]:
            self._confirm(options.get("stdin"))
        deleted = do_delete_hooks(client, workspace, ids, target)
        self.stdout.write(self.style.SUCCESS(f"Deleted {len(deleted)} subscription(s)."))

    def _site(self, options: dict[str, Any]) -> str:
        return str(options["site"] or os.environ.get("SURVEYS_SITE_URL", "")).strip()

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
        site = self._site(options)
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
