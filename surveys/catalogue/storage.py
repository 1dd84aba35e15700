"""Files of the catalogue in Django storage, written so that a failed import leaves none behind.

An import writes its pictures under fresh random names before its database transaction; if
anything fails, :func:`stored_files` deletes what it wrote. The files an update replaces are
deleted only once the transaction has committed (:func:`delete_after_commit`), so a failed
update leaves the old catalogue, rows and files, exactly as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction

from surveys.models import Run
from surveys.models.codes import new_code

log = logging.getLogger(__name__)
# Random part of every stored name: the names are not guessable, and never collide on update.
NAME_CODE_LENGTH = 10


class StoredFiles:
    """The files one import has written so far, by storage name."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.names: list[str] = []

    def save(self, stem: str, source: Path) -> str:
        """Store ``source`` as ``folder/stem-<random><suffix>`` and return the stored name."""
        wanted = f"{self.folder}/{stem}-{new_code(NAME_CODE_LENGTH)}{source.suffix.lower()}"
        with source.open("rb") as handle:
            name = default_storage.save(wanted, File(handle, name=source.name))
        self.names.append(name)
        return name

    def discard(self) -> None:
        delete_files(self.names)
        self.names.clear()


@contextmanager
def stored_files(folder: str) -> Iterator[StoredFiles]:
    """Track the files written inside the block; delete all of them if the block fails."""
    batch = StoredFiles(folder)
    try:
        yield batch
    except BaseException:
        batch.discard()
        raise


def run_files(run: Run) -> set[str]:
    """Every storage name the catalogue holds for ``run`` (figures, patches, top images)."""
    names = {run.sharing_histogram.name, run.class_graph.name, run.class_graph_graphml.name}
    for prototype in run.prototypes.all():
        names.add(prototype.source_patch.name)
        names.update(image.file.name for image in prototype.top_images.all())
    return {name for name in names if name}


def delete_after_commit(names: Iterable[str]) -> None:
    """Delete stored files once the current transaction commits (never if it rolls back)."""
    doomed = sorted(set(names))
    if doomed:
        transaction.on_commit(lambda: delete_files(doomed))


def delete_files(names: Iterable[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            # A file that cannot be removed is orphaned, not fatal: the rows never point at it.
            log.warning("could not delete stored file %s", name, exc_info=True)


__all__ = ["StoredFiles", "delete_after_commit", "delete_files", "run_files", "stored_files"]
