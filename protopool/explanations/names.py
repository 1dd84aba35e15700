"""Proposed prototype names from ``RUN/names.json``, read defensively.

``protopool name`` writes the file; this module only reads it and must not break when the file
is missing, from an older or newer version, or half-filled. It accepts a list of records, a
mapping ``{"prototypes": [...]}`` or ``{"prototypes": {index: record}}``, or a plain mapping
from index to record or to a bare name. A record names its prototype by ``prototype`` (pool
index; also ``index`` or ``id``), its name by ``name`` (also ``proposed_name`` or ``label``)
and its confidence by ``confidence`` (also ``score`` or ``probability``); ``kind: unnamed``
marks a placeholder such as "background / unnamed". Anything else is skipped.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NAMES_FILE = "names.json"
NOT_NAMED = "not named yet, run protopool name"
INDEX_KEYS = ("prototype", "index", "id", "prototype_index")
NAME_KEYS = ("name", "proposed_name", "label")
CONFIDENCE_KEYS = ("confidence", "score", "probability")
UNNAMED_KIND = "unnamed"


@dataclass(frozen=True)
class ProposedName:
    """A prototype's proposed name.

    Attributes:
        name: The name.
        confidence: The namer's confidence in it (None if not given).
        placeholder: The namer found nothing to name (its ``kind`` is ``unnamed``, e.g.
            "background / unnamed").
    """

    name: str
    confidence: float | None
    placeholder: bool = False


@dataclass(frozen=True)
class Names:
    """The names found, by pool index, and a note for prototypes without one.

    Attributes:
        by_prototype: Proposed names by pool index.
        note: What to show where a prototype has no name.
    """

    by_prototype: dict[int, ProposedName]
    note: str

    def label(self, prototype: int) -> str:
        """The proposed name with its confidence, or an empty string (for picture captions,
        where a note under every prototype would drown the names)."""
        return self.describe(prototype) if prototype in self.by_prototype else ""

    def describe(self, prototype: int) -> str:
        """``name (confidence 0.83)``, or the note."""
        proposed = self.by_prototype.get(prototype)
        if proposed is None:
            return self.note
        if proposed.confidence is None:
            return proposed.name
        return f"{proposed.name} (confidence {proposed.confidence:.2f})"


def load_names(run_dir: str | Path) -> Names:
    """Read ``RUN/names.json``; an absent or unreadable file gives no names and says why."""
    path = Path(run_dir) / NAMES_FILE
    if not path.is_file():
        return Names({}, NOT_NAMED)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return Names({}, f"{NAMES_FILE} is unreadable; run protopool name again")
    found = {}
    for key, record in _records(data):
        parsed = _parse(key, record)
        if parsed is not None:
            found[parsed[0]] = parsed[1]
    return Names(found, NOT_NAMED if not found else "no name proposed")


def _records(data: Any) -> list[tuple[Any, Any]]:
    """``(key or None, record)`` pairs from any of the accepted layouts."""
    if isinstance(data, dict) and "prototypes" in data:
        data = data["prototypes"]
    if isinstance(data, list):
        return [(None, record) for record in data]
    if isinstance(data, dict):
        return list(data.items())
    return []


def _parse(key: Any, record: Any) -> tuple[int, ProposedName] | None:
    placeholder = False
    if isinstance(record, str):
        index, name, confidence = key, record, None
    elif isinstance(record, dict):
        index = _first(record, INDEX_KEYS, key)
        name = _first(record, NAME_KEYS, None)
        confidence = _first(record, CONFIDENCE_KEYS, None)
        placeholder = record.get("kind") == UNNAMED_KIND
    else:
        return None
    try:
        index = int(index)
    except (TypeError, ValueError):
        return None
    if not isinstance(name, str) or not name.strip():
        return None
    return index, ProposedName(name.strip(), _confidence(confidence), placeholder)


def _first(record: dict[str, Any], keys: tuple[str, ...], default: Any) -> Any:
    for key in keys:
        if record.get(key) is not None:
            return record[key]
    return default


def _confidence(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


__all__ = ["NAMES_FILE", "NOT_NAMED", "Names", "ProposedName", "load_names"]
