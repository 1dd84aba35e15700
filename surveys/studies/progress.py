"""How far a study's stimulus build has come, read straight from the stimulus rows."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count

from surveys.models import Stimulus, StimulusStatus, Study


@dataclass(frozen=True)
class BuildProgress:
    total: int
    done: int
    failed: int

    @property
    def pending(self) -> int:
        return self.total - self.done - self.failed

    @property
    def percent(self) -> float:
        return 100.0 * self.done / self.total if self.total else 0.0

    @property
    def finished(self) -> bool:
        return self.total > 0 and self.done == self.total


def build_progress(study: Study) -> BuildProgress:
    """Counts of the study's stimuli by status (one query)."""
    counts = dict(
        Stimulus.objects.filter(study=study)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return BuildProgress(
        total=sum(counts.values()),
        done=counts.get(StimulusStatus.DONE, 0),
        failed=counts.get(StimulusStatus.FAILED, 0),
    )
