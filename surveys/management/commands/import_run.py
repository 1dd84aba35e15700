"""``manage.py import_run RUN --label LABEL``: register a finished run in the model catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from surveys.catalogue.importing import ImportRunError, do_import_run
from surveys.catalogue.pictures import DEFAULT_TOP_K
from surveys.models import ProposedName


class Command(BaseCommand):
    help = (
        "Register a finished protopool run (ProtoPool or ProtoTree) with its classes, "
        "prototypes, proposed names, metrics and gallery pictures. Re-importing an unchanged "
        "run does nothing; a changed one is updated in place."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("run_dir", type=Path, metavar="RUN", help="the run directory")
        parser.add_argument(
            "--label", required=True, help='researcher-facing name, e.g. "ProtoPool (focal)"'
        )
        parser.add_argument(
            "--data", type=Path, help="dataset directory (default: the one in the run's config)"
        )
        parser.add_argument(
            "--dataset-name", help="dataset column of the exports (default: SynthBirds, CUB, ...)"
        )
        parser.add_argument(
            "--no-names",
            action="store_true",
            help="do not name the prototypes when the run has no names.json",
        )
        parser.add_argument(
            "--metrics",
            action="store_true",
            help="compute the interpretability metrics when the run has no interpretability.json",
        )
        parser.add_argument(
            "--top-k",
            type=int,
            default=DEFAULT_TOP_K,
            help=f"top activating training images kept per prototype (default {DEFAULT_TOP_K})",
        )
        parser.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = do_import_run(
                options["run_dir"],
                options["label"],
                dataset_dir=options["data"],
                dataset_name=options["dataset_name"],
                name=not options["no_names"],
                metrics=options["metrics"],
                top_k=options["top_k"],
                device=options["device"],
                progress=self._step,
            )
        except ImportRunError as exc:
            raise CommandError(str(exc)) from exc
        run = result.run
        if not result.changed:
            self.stdout.write(f"Unchanged: {run.label} (code {run.code}); nothing was written.")
            return
        verb = "Imported" if result.created else "Updated"
        named = ProposedName.objects.filter(prototype__run=run).count()
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {run.label} (code {run.code}): {run.get_kind_display()}, "
                f"{run.num_classes} classes, {run.num_prototypes} prototypes, {named} named, "
                f"{result.files} files stored"
            )
        )

    def _step(self, line: str) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"==> {line}"))
