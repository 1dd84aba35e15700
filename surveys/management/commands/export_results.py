"""``python manage.py export_results STUDY --out DIR``: every export of a study into a folder
(``--to-storage``: into the site's storage, the S3 bucket with ``STORAGE=s3``)."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from surveys.models import Study
from surveys.results.exclusions import RulesError
from surveys.results.exports import do_export_results
from surveys.results.stored_exports import do_store_exports


class Command(BaseCommand):
    help = (
        "Write a study's responses.csv (long format, pseudonymised), participants.csv, "
        "stimuli.csv and the analysis report (report/) into a folder."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("study", help="The study's slug or public code.")
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--out", type=Path, help="Folder to write into.")
        where.add_argument(
            "--to-storage",
            action="store_true",
            help="Write into the site's storage (the S3 bucket with STORAGE=s3) under "
            "exports/<slug>/<time>/, with results.zip beside the files.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        handle = str(options["study"])
        study = Study.objects.filter(Q(slug=handle) | Q(code=handle)).first()
        if study is None:
            raise CommandError(
                f"No study has the slug or code {handle!r}; the studies are: "
                f"{', '.join(Study.objects.values_list('slug', flat=True)) or '(none yet)'}."
            )
        if options["to_storage"]:
            self._to_storage(study)
            return
        out: Path = options["out"]
        if out.exists() and not out.is_dir():
            raise CommandError(f"--out {out} is a file; give a folder (it is created if missing).")
        self.stdout.write(f"Exporting {study.slug} into {out}")
        try:
            summary = do_export_results(study, out, progress=self.stdout.write)
        except RulesError as err:
            raise CommandError(str(err)) from err
        if summary.report_note:
            self.stdout.write(self.style.WARNING(summary.report_note))
        self.stdout.write(self.style.SUCCESS(f"Done: {out}"))

    def _to_storage(self, study: Study) -> None:
        self.stdout.write(f"Exporting {study.slug} into the site's storage")
        try:
            stored = do_store_exports(study, progress=self.stdout.write)
        except RulesError as err:
            raise CommandError(str(err)) from err
        if stored.summary.report_note:
            self.stdout.write(self.style.WARNING(stored.summary.report_note))
        self.stdout.write(self.style.SUCCESS(f"Done: {stored.archive}"))
