"""Run-directory layout and atomic file writes.

A run directory holds::

    config.yaml          resolved configuration
    class_names.json     class names, index = label
    checkpoints/last.pt  latest state (resume point)
    checkpoints/best.pt  best model on the validation split
    checkpoints/before_projection.pt   the model projection started from (Table 3)
    checkpoints/projected.pt           the model right after projection, before fine-tuning
    metrics.jsonl        one JSON object per epoch
    projection.json      provenance of every projected prototype
    evaluation.json      test-set evaluation
    done.json            fingerprint of config + dataset listing, written last

Every file is written to a temporary name and renamed, so an interrupted run never leaves a
half-written file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO


class RunDirError(ValueError):
    """A run directory is missing or incomplete; the message says what to run first."""


def write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write through ``write(file)`` to a temporary sibling, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        os.chmod(temp, 0o666 & ~_UMASK)
        with os.fdopen(handle, "wb") as file:
            write(file)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _read_umask() -> int:
    # Read once at import: setting and restoring the umask is not safe once threads run.
    current = os.umask(0o022)
    os.umask(current)
    return current


_UMASK = _read_umask()


def write_text(path: Path, text: str) -> None:
    write_atomic(path, lambda file: file.write(text.encode()))


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2) + "\n")


def read_json(path: Path) -> Any:
    if not path.is_file():
        raise RunDirError(f"{path} not found: is {path.parent} a finished run directory?")
    return json.loads(path.read_text())


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one line; a single write keeps lines whole."""
    with path.open("a") as file:
        file.write(json.dumps(record) + "\n")


def count_lines(path: Path) -> int:
    """Lines in a JSON-lines file (0 when it does not exist)."""
    if not path.is_file():
        return 0
    with path.open("rb") as file:
        return sum(1 for _ in file)


def truncate_jsonl(path: Path, lines: int) -> None:
    """Keep the first ``lines`` lines of a JSON-lines file (atomically)."""
    if count_lines(path) > lines:
        kept = path.read_bytes().splitlines(keepends=True)[:lines]
        write_atomic(path, lambda file: file.write(b"".join(kept)))


class RunPaths:
    """Named paths inside a run directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.config = self.root / "config.yaml"
        self.class_names = self.root / "class_names.json"
        self.checkpoints = self.root / "checkpoints"
        self.last = self.checkpoints / "last.pt"
        self.best = self.checkpoints / "best.pt"
        self.before_projection = self.checkpoints / "before_projection.pt"
        self.projected = self.checkpoints / "projected.pt"
        self.metrics = self.root / "metrics.jsonl"
        self.projection = self.root / "projection.json"
        self.evaluation = self.root / "evaluation.json"
        self.done = self.root / "done.json"

    def require(self) -> None:
        if not self.config.is_file() or not self.best.is_file():
            raise RunDirError(
                f"{self.root} is not a trained run (no config.yaml or checkpoints/best.pt); "
                "run `protopool train` first"
            )
