"""``manage.py build_study study.yaml``: create or update a study from its spec and build it.

The spec (``configs/studies/example.yaml`` documents every field) is checked whole; nothing is
stored unless all of it is valid. Then the pending stimuli go to the Celery workers; ``--wait``
shows a progress bar until they are rendered.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from surveys.models import Study, StudyStatus
from surveys.studies.lifecycle import StudyStateError, do_save_study, do_start_build
from surveys.studies.progress import build_progress
from surveys.studies.spec import SpecError, read_study_spec

POLL_INTERVAL_S = 0.5


class Command(BaseCommand):
    help = "Create or update a study from a YAML spec, then render its stimuli through Celery."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("spec", help="the study spec (see configs/studies/example.yaml)")
        parser.add_argument(
            "--no-render", action="store_true", help="store the design only; build it later"
        )
        parser.add_argument(
            "--wait", action="store_true", help="wait (with a progress bar) until rendered"
        )
        parser.add_argument(
            "--timeout", type=float, default=1800.0, help="seconds --wait waits (default 1800)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            spec = read_study_spec(options["spec"])
            result = do_save_study(spec)
        except SpecError as exc:
            raise CommandError(f"{options['spec']}: {exc}") from None
        study = result.study
        verb = "created" if result.created else "updated"
        design = "new design" if result.redesigned else "design unchanged, nothing re-rendered"
        self.stdout.write(f"study {study.slug} ({study.code}) {verb}: {design}")
        for note in result.notes:
            self.stdout.write(f"    {note}")
        if options["no_render"]:
            return
        try:
            started = do_start_build(study)
        except StudyStateError as exc:
            self.stdout.write(f"not built: {exc}")
            return
        if started.retried:
            self.stdout.write(f"{started.retried} failed stimulus/stimuli queued again")
        self.stdout.write(f"{started.pending} stimulus/stimuli queued for rendering")
        if options["wait"] and started.pending:
            self._wait(study, options["timeout"])
        study.refresh_from_db(fields=["status"])
        self.stdout.write(f"status: {study.get_status_display()}")

    def _wait(self, study: Study, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        progress = build_progress(study)
        with tqdm(total=progress.total, desc="render", unit="stimulus") as bar:
            while True:
                progress = build_progress(study)
                bar.n = progress.done
                bar.set_postfix(failed=progress.failed)
                bar.refresh()
                if progress.finished or progress.pending == 0:
                    break
                if time.monotonic() > deadline:
                    raise CommandError(
                        f"still {progress.pending} stimuli to render after {timeout:.0f} s; is a "
                        "Celery worker running? The build goes on; see the study's page"
                    )
                time.sleep(POLL_INTERVAL_S)
        study.refresh_from_db(fields=["status"])
        if progress.failed and study.status != StudyStatus.READY:
            raise CommandError(
                f"{progress.failed} stimulus/stimuli failed to render; see their errors on the "
                "study's page and run build_study again to retry them"
            )
