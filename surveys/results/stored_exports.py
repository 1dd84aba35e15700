"""Exports written to the site's storage (the S3 bucket with ``STORAGE=s3``), not a local folder.

With workers and web servers on several machines no local folder is shared; the bucket is.
:func:`do_store_exports` makes every export of :func:`~surveys.results.exports.do_export_results`
in a scratch folder, zips it as the desk's one-click download does, and stores each file and
the zip under ``exports/<slug>/<UTC time>-<random>/``, a folder of its own per export. Either
the whole folder is stored or, if any upload fails, none of it stays behind.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage

from surveys.catalogue.storage import delete_files
from surveys.common.files import write_atomic, zip_folder
from surveys.models import Study
from surveys.models.codes import new_code
from surveys.results.exports import SKIPPED_NOTE, ExportSummary, Progress, do_export_results

STORAGE_FOLDER = "exports"
ARCHIVE_NAME = "results.zip"
STAMP_CODE_LENGTH = 6


@dataclass
class StoredExport:
    """What was stored: the folder's storage prefix, each file's storage name, the zip's."""

    folder: str
    summary: ExportSummary
    names: list[str] = field(default_factory=list)
    archive: str = ""


def export_folder(study: Study, now: datetime | None = None) -> str:
    """A new storage folder for one export of ``study``; later exports sort after it."""
    moment = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{STORAGE_FOLDER}/{study.slug}/{moment}-{new_code(STAMP_CODE_LENGTH)}"


def do_store_exports(study: Study, progress: Progress | None = None) -> StoredExport:
    """Write every export of ``study`` and their zip into the default storage.

    Raises:
        RulesError: The study's exclusion rules cannot be read (nothing is stored).
    """
    say = progress or (lambda _line: None)
    folder = export_folder(study)
    with tempfile.TemporaryDirectory(prefix="stored-export-") as scratch:
        out = Path(scratch) / "results"
        summary = do_export_results(study, out, progress=say)
        if summary.report_note:
            write_atomic(out / SKIPPED_NOTE, lambda f: f.write(summary.report_note.encode()))
        archive = Path(scratch) / ARCHIVE_NAME
        with archive.open("wb") as handle:
            zip_folder(out, handle)
        stored = StoredExport(folder=folder, summary=summary)
        try:
            for path in sorted(p for p in out.rglob("*") if p.is_file()):
                stored.names.append(_save(path, f"{folder}/{path.relative_to(out).as_posix()}"))
            # The zip goes last: a folder that holds it is complete.
            stored.archive = _save(archive, f"{folder}/{ARCHIVE_NAME}")
        except BaseException:
            delete_files(stored.names)
            raise
    say(f"stored {len(stored.names)} files and {ARCHIVE_NAME} under {folder}/")
    return stored


def _save(path: Path, name: str) -> str:
    with path.open("rb") as handle:
        return default_storage.save(name, File(handle, name=path.name))


__all__ = ["StoredExport", "do_store_exports", "export_folder"]
