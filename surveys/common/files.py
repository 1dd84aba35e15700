"""Writing exports: CSV text in chunks, and files and folders that appear whole or not at all.

Every CSV cell goes through :func:`safe_cell`: a text cell that a spreadsheet would read as a
formula (``=HYPERLINK(…)``, ``+cmd|…``, ``@SUM(…)``) gets a leading apostrophe, so opening an
export never runs what a participant, a recruiter or an imported run name put in it.

Every file is written to a temporary name in its destination folder and renamed into place, so
an export interrupted by a crash, a full disk or Ctrl-C leaves the previous file (or none),
never half of one. A folder (the analysis report) is built beside its destination and swapped
in by renames.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

# Rows per chunk of streamed CSV text: large enough for few writes, small enough to stream.
CSV_CHUNK_ROWS = 500
# What makes Excel, LibreOffice or Google Sheets read a cell as a formula (OWASP's list, and
# the full-width signs some Excel locales take for the same).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# A plain number written as text ("-3", "+1.5e3") is a number to a spreadsheet, not a formula.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def safe_cell(value: Any) -> Any:
    """``value`` as a CSV cell that no spreadsheet runs as a formula.

    Numbers (and anything that is not text) stay as they are; text that starts like a formula
    gets a leading apostrophe, which spreadsheets show as text and do not display.
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """CSV text (header first) in chunks of :data:`CSV_CHUNK_ROWS` rows, every cell made safe
    by :func:`safe_cell`."""
    buffer = io.StringIO()
    plain = csv.writer(buffer, lineterminator="\n")
    quoted = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)

    def write(row: Sequence[Any]) -> None:
        cells = [safe_cell(cell) for cell in row]
        # The writer quotes only the line terminator's characters: a bare CR inside a cell would
        # end the row for a spreadsheet and start a new one with what follows, unneutralised.
        has_cr = any(isinstance(cell, str) and "\r" in cell for cell in cells)
        (quoted if has_cr else plain).writerow(cells)

    write(header)
    for count, row in enumerate(rows, start=1):
        write(row)
        if count % CSV_CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_atomic(path: Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then rename it to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        # mkstemp creates the file private (0600); an export should read like any other file.
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_csv_atomic(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write a CSV file atomically and return the number of data rows written."""
    counter = _Counter(rows)

    def write(file: IO[bytes]) -> None:
        for chunk in csv_chunks(header, counter):
            file.write(chunk.encode("utf-8"))

    write_atomic(path, write)
    return counter.count


class _Counter:
    """Counts the rows an iterable yields while a writer consumes them."""

    def __init__(self, rows: Iterable[Sequence[Any]]) -> None:
        self.rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[Sequence[Any]]:
        for row in self.rows:
            self.count += 1
            yield row


def build_folder_atomic(path: Path, build: Callable[[Path], object]) -> Path:
    """Let ``build`` fill a new folder, then put it at ``path`` in place of any older one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    try:
        build(staging)
        staging.chmod(0o755)
        if path.exists():
            # Two renames: the old folder steps aside, the new one takes its name.
            retired = Path(
                tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent)
            )
            retired.rmdir()
            path.rename(retired)
            staging.rename(path)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def zip_folder(folder: Path, target: IO[bytes]) -> None:
    """Write every file under ``folder`` into a zip archive, with paths relative to it."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(file, file.relative_to(folder).as_posix())
