"""Reading a run directory for the catalogue: is it a finished run, and what does it hold.

Nothing here loads a model; :func:`check_run_dir` only reads the small JSON and YAML files, so a
re-import of an unchanged run can be recognised (and skipped) in milliseconds.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from protopool.interpretability import NAMES_FILE

INTERPRETABILITY_FILE = "interpretability.json"
# What a run directory holds once `protopool train` has finished (done.json is written last).
REQUIRED_FILES = (
    "config.yaml",
    "class_names.json",
    "checkpoints/best.pt",
    "projection.json",
    "evaluation.json",
    "done.json",
)
# The files whose content the catalogue copies; a change in any of them is a changed run.
DIGESTED_FILES = (
    "done.json",
    "class_names.json",
    "projection.json",
    "evaluation.json",
    NAMES_FILE,
    INTERPRETABILITY_FILE,
)


class ImportRunError(ValueError):
    """A run cannot be imported; the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class RunFiles:
    """The parsed small files of a finished run directory.

    Attributes:
        root: The run directory, resolved.
        config: ``config.yaml``.
        class_names: ``class_names.json``, index = label.
        provenance: ``projection.json``'s records by pool index.
        evaluation: ``evaluation.json``.
        model_key: done.json's fingerprint (configuration and dataset listing) as one string:
            what identifies the trained model.
        fingerprint: ``model_key`` plus a digest of every file the catalogue copies.
        names: ``names.json`` when present.
        interpretability: ``interpretability.json`` when present.
    """

    root: Path
    config: dict[str, Any]
    class_names: list[str]
    provenance: dict[int, dict[str, Any]]
    evaluation: dict[str, Any]
    model_key: str
    fingerprint: str
    names: dict[str, Any] | None
    interpretability: dict[str, Any] | None

    @property
    def kind(self) -> str:
        return str(self.config.get("model", {}).get("kind", "protopool"))

    @property
    def recorded_dataset(self) -> str:
        return str(self.config.get("data", {}).get("root") or "")

    @property
    def test_accuracy(self) -> float | None:
        accuracy = self.evaluation.get("test", {}).get("accuracy")
        return float(accuracy) if isinstance(accuracy, int | float) else None


def check_run_dir(run_dir: str | Path) -> RunFiles:
    """Read a finished run directory.

    Raises:
        ImportRunError: The directory does not exist, is not a finished run (the message names
            every missing file and the command that writes them), or a file is unreadable.
    """
    root = Path(run_dir).expanduser().resolve()
    if not root.is_dir():
        raise ImportRunError(
            f"no run directory at {root}: give the --out directory of `protopool train`"
        )
    missing = [name for name in REQUIRED_FILES if not (root / name).is_file()]
    if missing:
        raise ImportRunError(
            f"{root} is not a finished run: missing {', '.join(missing)}. Train it to the end "
            f"with `protopool train --config CONFIG --data DATA --out {root}` (done.json is "
            "written last, once training, projection and evaluation have finished)."
        )
    config = _read(root, "config.yaml")
    done = _read(root, "done.json")
    fingerprint = done.get("fingerprint") if isinstance(done, dict) else None
    if not isinstance(fingerprint, dict) or not fingerprint:
        raise ImportRunError(
            f"{root / 'done.json'} holds no fingerprint: it was not written by `protopool train`;"
            " train the run again to the end"
        )
    model_key = "-".join(f"{key}:{fingerprint[key]}" for key in sorted(fingerprint))[:96]
    class_names = _read(root, "class_names.json")
    evaluation = _read(root, "evaluation.json")
    if not isinstance(class_names, list) or not class_names or not isinstance(evaluation, dict):
        raise ImportRunError(
            f"{root} holds a damaged class_names.json or evaluation.json (not what "
            "`protopool train` writes); train the run again to the end"
        )
    return RunFiles(
        root=root,
        config=config if isinstance(config, dict) else {},
        class_names=[str(name) for name in class_names],
        provenance=_provenance(root),
        evaluation=evaluation,
        model_key=model_key,
        fingerprint=f"{model_key}/{_digest(root)}",
        names=_read_optional(root, NAMES_FILE),
        interpretability=_read_optional(root, INTERPRETABILITY_FILE),
    )


def _provenance(root: Path) -> dict[int, dict[str, Any]]:
    """projection.json's records by pool index."""
    data = _read(root, "projection.json")
    records = data.get("prototypes") if isinstance(data, dict) else None
    try:
        if not isinstance(records, list):
            raise TypeError("no list of prototypes")
        return {int(r["prototype"]): r for r in records if isinstance(r, dict)}
    except (KeyError, TypeError, ValueError) as exc:
        raise ImportRunError(
            f"{root / 'projection.json'} is damaged ({exc}; every record needs its 'prototype' "
            "index): train the run again to the end (`protopool train ... --overwrite`)"
        ) from exc


def _read(root: Path, name: str) -> Any:
    path = root / name
    try:
        text = path.read_text(encoding="utf-8")
        return yaml.safe_load(text) if path.suffix == ".yaml" else json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise ImportRunError(
            f"cannot read {path}: {exc}; the run directory is damaged, train it again"
        ) from exc


def _read_optional(root: Path, name: str) -> dict[str, Any] | None:
    if not (root / name).is_file():
        return None
    data = _read(root, name)
    if isinstance(data, list):  # a bare list of entries, as some namers write
        return {"prototypes": data}
    return data if isinstance(data, dict) else None


def _digest(root: Path) -> str:
    """A short digest of the files the catalogue copies (absent files count as absent)."""
    digest = hashlib.sha256()
    for name in DIGESTED_FILES:
        path = root / name
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"<absent>")
    return digest.hexdigest()[:24]


__all__ = ["ImportRunError", "RunFiles", "check_run_dir"]
