"""Reading space-separated annotation files with errors that name the file and line.

Numeric tables go through numpy's C parser, which keeps the 3.7 million attribute lines of real
CUB fast; only when it fails is the file walked line by line in Python to say exactly which line
is wrong and why. Name files (``<id> <name with spaces>``) are small and parsed in Python.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from protopool.data.base import DatasetError


def require_file(path: Path, hint: str = "") -> Path:
    """Return ``path`` if it is a file, else raise a :class:`DatasetError` naming it."""
    if not path.is_file():
        suffix = f"; {hint}" if hint else ""
        raise DatasetError(f"missing file {path}{suffix}")
    return path


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise DatasetError(f"{path}:{line}: not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _content_lines(path: Path) -> list[tuple[int, str]]:
    """``(line number, text)`` of every non-blank line, 1-based as editors count."""
    lines = _read_text(path).splitlines()
    return [(number, text) for number, text in enumerate(lines, start=1) if text.strip()]


@dataclass(frozen=True, eq=False)
class Table:
    """A numeric table read from a text file.

    Attributes:
        path: The file it came from.
        rows: Values, shape ``(N, columns)``; int64 when every column is integer, else float64.
    """

    path: Path
    rows: np.ndarray
    _line_numbers: list[int] = field(default_factory=list, repr=False)

    def line_of(self, row: int) -> int:
        """The 1-based line number of ``rows[row]`` (blank lines are skipped by the parser)."""
        if not self._line_numbers:
            self._line_numbers.extend(number for number, _ in _content_lines(self.path))
        return self._line_numbers[row]

    def error(self, row: int, message: str) -> DatasetError:
        """A :class:`DatasetError` that points at the line holding ``rows[row]``."""
        return DatasetError(f"{self.path}:{self.line_of(row)}: {message}")

    def ints(self, column: int) -> np.ndarray:
        return self.rows[:, column].astype(np.int64)


def _diagnose(
    path: Path, columns: int, exact: bool, names: Sequence[str], integer: Sequence[str] = ()
) -> DatasetError:
    """Walk the file in Python and describe its first malformed line."""
    layout = " ".join(f"<{n}>" for n in names)
    for number, text in _content_lines(path):
        fields = text.split()
        if len(fields) < columns or (exact and len(fields) > columns):
            return DatasetError(
                f"{path}:{number}: expected {columns} space-separated fields ({layout}), "
                f"found {len(fields)}: {text.strip()!r}"
            )
        for name, token in zip(names, fields, strict=False):
            whole = name in integer
            try:
                int(token) if whole else float(token)
            except ValueError:
                kind = "a whole number" if whole else "a number"
                return DatasetError(
                    f"{path}:{number}: field <{name}> must be {kind}, found {token!r}"
                )
    return DatasetError(f"{path}: cannot be parsed as a table of {columns} numbers per line")


def read_table(
    path: Path,
    names: Sequence[str],
    *,
    integer: Sequence[str] = (),
    exact: bool = True,
    hint: str = "",
) -> Table:
    """Read a table of numbers, one record per line.

    Args:
        path: The file.
        names: Column names, used in messages; their count is the number of columns read.
        integer: Columns that must hold whole numbers (ids, flags).
        exact: Lines must have exactly ``len(names)`` fields; otherwise extra trailing fields
            are ignored (CUB's attribute labels carry an occasional sixth field).
        hint: Appended to the missing-file message.

    Raises:
        DatasetError: The file is missing or a line is malformed; the message names the line.
    """
    require_file(path, hint)
    columns = len(names)
    # Integer parsing is several times faster than float parsing in numpy's reader, which
    # matters for the 3.7 million lines of CUB's attribute labels.
    all_integer = set(integer) >= set(names)
    with warnings.catch_warnings():
        # An empty file is reported by numpy as a warning; an empty table is a valid answer.
        warnings.simplefilter("ignore", UserWarning)
        try:
            rows = np.loadtxt(
                path,
                dtype=np.int64 if all_integer else np.float64,
                comments=None,
                usecols=None if exact else range(columns),
                ndmin=2,
                encoding="utf-8",
            )
        except (ValueError, IndexError) as exc:
            raise _diagnose(path, columns, exact, names, integer if all_integer else ()) from exc
    if rows.size == 0:
        rows = np.zeros((0, columns), dtype=rows.dtype)
    elif rows.shape[1] != columns:
        raise _diagnose(path, columns, True, names)
    table = Table(path, rows)
    if all_integer:
        return table
    bad = np.flatnonzero(~np.isfinite(rows).all(axis=1))
    if bad.size:
        raise table.error(int(bad[0]), "values must be finite numbers")
    for name in integer:
        column = rows[:, list(names).index(name)]
        bad = np.flatnonzero(column != np.round(column))
        if bad.size:
            raise table.error(int(bad[0]), f"field <{name}> must be a whole number")
    return table


@dataclass(frozen=True)
class NameList:
    """An ``<id> <name>`` file: ids and names in file order, with their line numbers."""

    path: Path
    ids: list[int]
    names: list[str]
    lines: list[int]

    def by_id(self) -> dict[int, int]:
        """Map each id to its position in the file."""
        return {identifier: position for position, identifier in enumerate(self.ids)}


def read_names(path: Path, what: str = "name", hint: str = "") -> NameList:
    """Read ``<id> <name>`` lines, splitting at the first space only (names may hold spaces).

    Raises:
        DatasetError: Missing file, a line without a name, a non-integer or duplicate id.
    """
    require_file(path, hint)
    ids: list[int] = []
    names: list[str] = []
    lines: list[int] = []
    first_line: dict[int, int] = {}
    for number, text in _content_lines(path):
        pieces = text.strip().split(maxsplit=1)
        if len(pieces) != 2:
            raise DatasetError(f"{path}:{number}: expected '<id> <{what}>', found {text!r}")
        try:
            identifier = int(pieces[0])
        except ValueError:
            raise DatasetError(
                f"{path}:{number}: the id must be a whole number, found {pieces[0]!r}"
            ) from None
        if identifier < 1:
            raise DatasetError(f"{path}:{number}: ids start at 1, found {identifier}")
        if identifier in first_line:
            raise DatasetError(
                f"{path}:{number}: id {identifier} already used on line {first_line[identifier]}"
            )
        first_line[identifier] = number
        ids.append(identifier)
        names.append(pieces[1].strip())
        lines.append(number)
    return NameList(path, ids, names, lines)
