"""The practice pictures the instructions show: one near each end of the scale.

They are synthetic maps (a focal spot on the object, near 5; a spot on empty background, near
1) drawn at build time on images no question of the study shows (:mod:`.quality`), so the
instructions preview neither a study image nor any method's map. A study without rendered
practice pictures shows none: there is no fallback to a study stimulus.
"""

from __future__ import annotations

from dataclasses import dataclass

from surveys.models import Stimulus, StimulusStatus, Study

# Which end of the scale each practice map illustrates, top first.
PRACTICE_ENDS: dict[str, str] = {"high": "object", "low": "background"}


@dataclass(frozen=True)
class PracticePicture:
    """A practice stimulus and the end of the scale it illustrates (``high`` or ``low``)."""

    end: str
    stimulus: Stimulus

    @property
    def score(self) -> int:
        return 5 if self.end == "high" else 1


def access_practice(study: Study) -> list[PracticePicture]:
    """The study's rendered practice pictures, the high end first; none unless both are
    rendered, so the instructions never show one end without the other."""
    found = {
        stimulus.map_override: stimulus
        for stimulus in Stimulus.objects.filter(
            study=study, practice=True, status=StimulusStatus.DONE
        )
        .exclude(original="")
        .exclude(overlay="")
        .order_by("id")
    }
    pictures = [
        PracticePicture(end, found[override])
        for end, override in PRACTICE_ENDS.items()
        if override in found
    ]
    return pictures if len(pictures) == len(PRACTICE_ENDS) else []


def access_practice_picture(study: Study, end: str) -> Stimulus | None:
    """The practice stimulus of one end of the scale, or None."""
    return next((p.stimulus for p in access_practice(study) if p.end == end), None)


__all__ = ["PRACTICE_ENDS", "PracticePicture", "access_practice", "access_practice_picture"]
