"""Proposed names and their evidence, as the catalogue stores them.

``names.json`` entries (and what ``protopool.interpretability.name_run`` returns) carry the name,
its kind, part, claimed attribute values, confidence and evidence (top images, part purity,
attribute frequencies). Files from older or hand-made namers may hold less; the name and the
confidence are then read with ``protopool.explanations.load_names``, which accepts every layout
protopool ever wrote, and the evidence stays empty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protopool.explanations import load_names

UNNAMED_KIND = "unnamed"


@dataclass(frozen=True)
class NameRecord:
    """The fields of :class:`surveys.models.ProposedName`."""

    name: str
    kind: str
    part: str
    confidence: float
    purity: float | None
    attributes: list[dict[str, Any]] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)


def name_records(entries: Any, run_dir: Path | None = None) -> dict[int, NameRecord]:
    """Proposed names by pool index, from a list of ``names.json`` entries.

    Args:
        entries: The entries (``names.json``'s ``prototypes``).
        run_dir: The run directory, whose ``names.json`` is read with protopool's lenient
            reader for entries this function cannot parse.
    """
    found: dict[int, NameRecord] = {}
    for entry in entries if isinstance(entries, list) else []:
        parsed = _parse(entry)
        if parsed is not None:
            found[parsed[0]] = parsed[1]
    if run_dir is not None:
        lenient = load_names(run_dir).by_prototype
        for index, proposed in lenient.items():
            if index not in found:
                found[index] = NameRecord(
                    name=proposed.name,
                    kind=UNNAMED_KIND if proposed.placeholder else "",
                    part="",
                    confidence=proposed.confidence or 0.0,
                    purity=None,
                )
    return found


def _parse(entry: Any) -> tuple[int, NameRecord] | None:
    if not isinstance(entry, dict):
        return None
    name = entry.get("name")
    try:
        index = int(entry["prototype"])
    except (KeyError, TypeError, ValueError):
        return None
    if not isinstance(name, str) or not name.strip():
        return None
    evidence = entry.get("evidence")
    evidence = evidence if isinstance(evidence, dict) else {}
    attributes = entry.get("attributes")
    attributes = attributes if isinstance(attributes, list) else []
    return index, NameRecord(
        name=name.strip()[:300],
        kind=str(entry.get("kind") or "")[:40],
        part=str(entry.get("part") or "")[:100],
        confidence=_number(entry.get("confidence")) or 0.0,
        purity=_number(evidence.get("purity")),
        attributes=[a for a in attributes if isinstance(a, dict)],
        evidence=evidence,
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


__all__ = ["UNNAMED_KIND", "NameRecord", "name_records"]
