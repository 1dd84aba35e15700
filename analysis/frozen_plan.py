"""The frozen plan as text: its canonical JSON, the SHA-256 that names it, and its file.

Canonical text: the plan as JSON with its keys sorted at every level, no whitespace between
tokens (separators ``,`` and ``:``), non-ASCII characters written as themselves, NaN and
infinities refused; encoded as UTF-8. The SHA-256 of those bytes names the plan: anyone can
recompute it from the text, and an edited plan no longer matches.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PLAN_FORMAT = "protopool-study-plan/1"


def canonical_text(plan: Mapping[str, Any]) -> str:
    """The plan's canonical JSON text (see the module docstring).

    Raises
    ------
    ValueError
        The plan holds NaN, an infinity or a value JSON cannot represent.
    """
    try:
        return json.dumps(
            plan, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        )
    except (TypeError, ValueError) as err:
        raise ValueError(f"The plan cannot be written as canonical JSON: {err}.") from None


def text_sha256(text: str) -> str:
    """SHA-256 (hex) of a canonical text's UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def plan_sha256(plan: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the plan's canonical text."""
    return text_sha256(canonical_text(plan))


@dataclass(frozen=True)
class FrozenPlan:
    """A plan as frozen when data collection opened, and what was recorded after.

    Attributes
    ----------
    text
        The canonical text, exactly as frozen.
    sha256
        Its SHA-256.
    frozen_at
        When it was frozen (ISO 8601, UTC).
    events
        Recorded after freezing, each a mapping with ``kind``, ``at``, ``by`` and ``detail``
        (e.g. the desk unblinded before data collection closed).
    """

    text: str
    sha256: str
    frozen_at: str
    events: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @property
    def plan(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.text)
        return data

    def verify(self) -> None:
        """Raise ``ValueError`` unless the text still has the frozen hash."""
        actual = text_sha256(self.text)
        if actual != self.sha256:
            raise ValueError(
                f"The plan's text has SHA-256 {actual}, not the frozen {self.sha256}: it was "
                "edited after freezing. Export the study's plan again."
            )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "events": list(self.events), "plan": self.plan}


def read_plan(path: str | Path) -> FrozenPlan:
    """Read a ``preregistration.json`` written by the study's export, checking its hash.

    Raises
    ------
    ValueError
        A missing or unreadable file, or a text that does not match its hash.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"Plan file {path} not found; pass the export's preregistration.json.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        frozen = FrozenPlan(
            str(data["text"]),
            str(data["sha256"]),
            str(data["frozen_at"]),
            tuple(data.get("events", ())),
        )
        json.loads(frozen.text)
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(
            f"{path} is not a frozen plan (needs text, sha256 and frozen_at): {err}"
        ) from None
    frozen.verify()
    return frozen


def write_plan(frozen: FrozenPlan, path: str | Path) -> Path:
    """Write the frozen plan as JSON (the text, its hash, the time, the events, and the plan
    itself for reading); :func:`read_plan` reads it back."""
    path = Path(path)
    path.write_text(json.dumps(frozen.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
    return path


__all__ = [
    "PLAN_FORMAT",
    "FrozenPlan",
    "canonical_text",
    "plan_sha256",
    "read_plan",
    "text_sha256",
    "write_plan",
]
