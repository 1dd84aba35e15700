"""Recruiters: the adapters through which participants reach a study (see :mod:`.base`).

``get_recruiter(study.recruiter)`` gives the adapter of a study. Each adapter module registers
its class in :data:`RECRUITERS` under its ``kind`` (a :class:`surveys.models.RecruiterKind`).
"""

from __future__ import annotations

from surveys.recruiting.base import (
    Completion,
    EntryError,
    Identity,
    Recruiter,
    RecruiterConfigError,
)
from surveys.recruiting.link import LinkRecruiter
from surveys.recruiting.mturk.recruiter import MTurkRecruiter
from surveys.recruiting.panel import PanelRecruiter
from surveys.recruiting.prolific.recruiter import ProlificRecruiter

RECRUITERS: dict[str, type[Recruiter]] = {
    adapter.kind: adapter
    for adapter in (LinkRecruiter, PanelRecruiter, ProlificRecruiter, MTurkRecruiter)
}


class UnknownRecruiter(LookupError):
    """No adapter is installed for a study's recruiter kind."""


def get_recruiter(kind: str) -> Recruiter:
    """The recruiter adapter registered for ``kind``.

    Raises:
        UnknownRecruiter: nothing is registered under ``kind``.
    """
    try:
        return RECRUITERS[kind]()
    except KeyError:
        known = ", ".join(sorted(RECRUITERS))
        raise UnknownRecruiter(
            f"no recruiter adapter for {kind!r}; installed: {known}. Set the study's recruiter "
            "to one of them."
        ) from None


def verified_on_entry_kinds() -> list[str]:
    """The recruiter kinds whose participants are verified by construction (link, panel)."""
    return sorted(kind for kind, adapter in RECRUITERS.items() if adapter.verified_on_entry)


__all__ = [
    "RECRUITERS",
    "Completion",
    "EntryError",
    "Identity",
    "Recruiter",
    "RecruiterConfigError",
    "UnknownRecruiter",
    "get_recruiter",
    "verified_on_entry_kinds",
]
