"""Registering trained runs in the catalogue: ``manage.py import_run`` and its service.

An import reads the run directory (:mod:`.run_files`), computes its pictures, names and
metrics through protopool into a temporary folder (:mod:`.pictures`), stores the
pictures through Django storage (:mod:`.storage`) and writes every row in one
transaction. A re-import of an unchanged run (same fingerprint) writes nothing; a changed run is
updated in place, keeping its public code, its classes' and prototypes' rows and their reviews.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.db import transaction

from surveys.catalogue.pictures import (
    DEFAULT_TOP_K,
    Progress,
    PrototypeBundle,
    RenderOptions,
    RunBundle,
    render_run,
)
from surveys.catalogue.run_files import ImportRunError, RunFiles, check_run_dir
from surveys.catalogue.storage import (
    StoredFiles,
    delete_after_commit,
    run_files,
    stored_files,
)
from surveys.models import (
    Condition,
    NameReview,
    ProposedName,
    Prototype,
    PrototypeImage,
    Run,
    RunClass,
)
from surveys.models.codes import new_code

LABEL_MAX = 200
STORAGE_FOLDER = "catalogue"


@dataclass(frozen=True)
class ImportResult:
    """What an import did.

    Attributes:
        run: The run's row.
        created: The run was new to the catalogue.
        changed: Rows or files were written (False for an unchanged re-import).
        files: Files written to storage.
        notes: What was left out and why (no names without part annotations, ...).
    """

    run: Run
    created: bool
    changed: bool
    files: int = 0
    notes: list[str] = field(default_factory=list)


def do_import_run(
    run_dir: str | Path,
    label: str,
    *,
    dataset_dir: str | Path | None = None,
    dataset_name: str | None = None,
    name: bool = True,
    metrics: bool = False,
    top_k: int = DEFAULT_TOP_K,
    device: str = "cpu",
    progress: Progress | None = None,
) -> ImportResult:
    """Register (or refresh) a finished run with its classes, prototypes, names and pictures.

    Args:
        run_dir: The run directory (``protopool train --out``).
        label: The researcher-facing name, e.g. "ProtoPool (focal)".
        dataset_dir: The dataset the run was trained on (default: the one its config records).
        dataset_name: The dataset column of the exports (default: SynthBirds, CUB, Stanford
            Cars, or the folder's name).
        name: Name the prototypes with protopool when the run has no ``names.json``.
        metrics: Compute the interpretability metrics when the run has no
            ``interpretability.json``.
        top_k: Top activating training images kept per prototype.
        device: Where the model runs for the pictures (``cpu``, ``cuda``, ``cuda:N``).
        progress: Called with a line of text at each step.

    Raises:
        ImportRunError: Not a finished run, no dataset, a bad option, or a retrained run whose
            old prototypes are already reviewed or used by a study; nothing is stored.
    """
    say = progress or (lambda _line: None)
    label = check_label(label)
    if top_k < 1:
        raise ImportRunError(f"--top-k must be at least 1, got {top_k}")
    files = check_run_dir(run_dir)
    existing = Run.objects.filter(run_dir=str(files.root)).first()
    if existing is not None and _unchanged(existing, files, metrics):
        _relabel(existing, label, dataset_name)
        say(f"{files.root} is already in the catalogue, unchanged: nothing to do")
        return ImportResult(existing, created=False, changed=False)
    if existing is not None:
        check_replaceable(existing, files)
    code = existing.code if existing is not None else new_code()
    options = RenderOptions(
        dataset_dir=Path(dataset_dir) if dataset_dir else None,
        dataset_name=dataset_name.strip() if dataset_name else None,
        name=name,
        metrics=metrics,
        top_k=top_k,
        device=device,
        label=label,
    )
    with tempfile.TemporaryDirectory(prefix="import-run-") as scratch:
        bundle = render_run(files, Path(scratch), options, say)
        with stored_files(f"{STORAGE_FOLDER}/{code}") as batch:
            say(f"Storing the pictures of {len(bundle.prototypes)} prototypes")
            stored = _store_pictures(bundle, batch)
            say("Writing the catalogue rows")
            with transaction.atomic():
                run, created = _write(files, bundle, stored, code, label)
    for note in bundle.notes:
        say(f"note: {note}")
    return ImportResult(run, created, changed=True, files=len(batch.names), notes=bundle.notes)


def check_label(label: str) -> str:
    """The label, stripped.

    Raises:
        ImportRunError: Empty or longer than the column.
    """
    label = (label or "").strip()
    if not label:
        raise ImportRunError('--label is empty: give the run a name, e.g. --label "ProtoPool"')
    if len(label) > LABEL_MAX:
        raise ImportRunError(f"--label is {len(label)} characters long; {LABEL_MAX} at most")
    return label


def check_replaceable(run: Run, files: RunFiles) -> None:
    """Refuse to swap a retrained model under reviews or studies made with the old one.

    Raises:
        ImportRunError: The model changed and its old prototypes are reviewed or in a study.
    """
    if run.fingerprint.split("/")[0] == files.model_key:
        return
    studies = sorted(
        Condition.objects.filter(run=run).values_list("study__slug", flat=True).distinct()
    )
    reviews = NameReview.objects.filter(prototype__run=run).count()
    if studies or reviews:
        used = f"study {', '.join(studies)}" if studies else f"{reviews} name reviews"
        raise ImportRunError(
            f"{files.root} was retrained since its import, and {used} rest on the old "
            "prototypes. Import the new model from its own directory (a new --out), or delete "
            f"the old run '{run.label}' in the admin first."
        )


def _unchanged(run: Run, files: RunFiles, metrics: bool) -> bool:
    wants_metrics = metrics and not run.interpretability
    return run.fingerprint == files.fingerprint and not wants_metrics


def _relabel(run: Run, label: str, dataset_name: str | None) -> None:
    """A new label (or dataset name) on an unchanged run: one row update, no files."""
    new_name = dataset_name.strip() if dataset_name and dataset_name.strip() else run.dataset_name
    if (run.label, run.dataset_name) != (label, new_name):
        run.label, run.dataset_name = label, new_name
        run.save(update_fields=["label", "dataset_name", "updated_at"])


def _store_pictures(bundle: RunBundle, batch: StoredFiles) -> dict[str, str]:
    """Store every picture; returns storage names by key (``p3-patch``, ``p3-top1``, ...)."""
    stored = {key: batch.save(key.replace("_", "-"), path) for key, path in bundle.figures.items()}
    for prototype in bundle.prototypes:
        if prototype.patch is not None:
            key = f"p{prototype.index}-patch"
            stored[key] = batch.save(key, prototype.patch)
        for image in prototype.top:
            key = f"p{prototype.index}-top{image.rank}"
            stored[key] = batch.save(key, image.picture)
    return stored


def _write(
    files: RunFiles, bundle: RunBundle, stored: dict[str, str], code: str, label: str
) -> tuple[Run, bool]:
    """Create or update the run's rows (inside the caller's transaction)."""
    run = Run.objects.select_for_update().filter(run_dir=str(files.root)).first()
    created = run is None
    if run is None:
        run = Run(code=code, run_dir=str(files.root))
    else:
        delete_after_commit(run_files(run))
    keep_metrics = run.interpretability if not bundle.interpretability else {}
    run.label = label
    run.kind = bundle.kind
    run.similarity = bundle.similarity
    run.dataset_dir = str(bundle.dataset_dir)
    run.dataset_name = bundle.dataset_name
    run.fingerprint = files.fingerprint
    run.num_classes = len(files.class_names)
    run.num_prototypes = len(bundle.prototypes)
    run.test_accuracy = files.test_accuracy
    run.config = files.config
    run.evaluation = files.evaluation
    run.interpretability = bundle.interpretability or keep_metrics
    run.sharing_histogram.name = stored.get("sharing_histogram", "")
    run.class_graph.name = stored.get("class_graph", "")
    run.class_graph_graphml.name = stored.get("class_graph_graphml", "")
    run.save()
    classes = _write_classes(run, files.class_names)
    _write_prototypes(run, bundle.prototypes, classes, stored)
    return run, created


def _write_classes(run: Run, names: list[str]) -> dict[int, RunClass]:
    existing = {c.index: c for c in RunClass.objects.filter(run=run)}
    for index, class_name in enumerate(names):
        row = existing.get(index)
        if row is None:
            existing[index] = RunClass.objects.create(run=run, index=index, name=class_name)
        elif row.name != class_name:
            row.name = class_name
            row.save(update_fields=["name"])
    RunClass.objects.filter(run=run, index__gte=len(names)).delete()
    return {index: existing[index] for index in range(len(names))}


def _write_prototypes(
    run: Run,
    bundles: list[PrototypeBundle],
    classes: dict[int, RunClass],
    stored: dict[str, str],
) -> None:
    """Prototypes by pool index (rows kept across updates), then their classes, top images and
    proposed names, each written in bulk."""
    existing = {p.index: p for p in Prototype.objects.filter(run=run)}
    Prototype.objects.filter(run=run, index__gte=len(bundles)).delete()
    rows = []
    for bundle in bundles:
        row = existing.get(bundle.index) or Prototype(run=run, index=bundle.index)
        row.original_index = bundle.original_index
        row.provenance = bundle.provenance
        row.metrics = bundle.metrics
        row.source_patch.name = stored.get(f"p{bundle.index}-patch", "")
        rows.append(row)
    fields = ["original_index", "provenance", "metrics", "source_patch"]
    Prototype.objects.bulk_update([r for r in rows if r.pk], fields)
    Prototype.objects.bulk_create([r for r in rows if not r.pk])
    rows = list(Prototype.objects.filter(run=run).order_by("index"))
    links = Prototype.classes.through
    links.objects.filter(prototype__run=run).delete()
    links.objects.bulk_create(
        links(prototype=row, runclass=classes[c])
        for row, bundle in zip(rows, bundles, strict=True)
        for c in dict.fromkeys(bundle.classes)
        if c in classes
    )
    PrototypeImage.objects.filter(prototype__run=run).delete()
    PrototypeImage.objects.bulk_create(
        PrototypeImage(
            prototype=row,
            rank=image.rank,
            image_id=image.image_id,
            score=image.score,
            file=stored[f"p{bundle.index}-top{image.rank}"],
        )
        for row, bundle in zip(rows, bundles, strict=True)
        for image in bundle.top
    )
    ProposedName.objects.filter(prototype__run=run).delete()
    ProposedName.objects.bulk_create(
        ProposedName(prototype=row, **asdict(bundle.name))
        for row, bundle in zip(rows, bundles, strict=True)
        if bundle.name is not None
    )


__all__ = ["ImportResult", "ImportRunError", "check_label", "check_replaceable", "do_import_run"]
