"""Studies from a spec: the draft with its whole design, the build, and opening and closing.

This module gathers the study lifecycle's services; each part lives in its own module:

- :mod:`surveys.studies.saving`: :func:`do_save_study` stores a checked spec as a draft with
  its whole design, all or nothing; :func:`do_create_study` is the "new study" form's service.
- :mod:`surveys.studies.design_rows`: the conditions, stimuli, questions and question sets of a
  drawn design, written and cleared.
- :mod:`surveys.studies.transitions`: :func:`do_start_build` hands pending stimuli to Celery,
  :func:`do_open_study` freezes the plan on the first opening, :func:`do_close_study`.
"""

from __future__ import annotations

from surveys.studies.saving import SaveResult, do_create_study, do_save_study
from surveys.studies.transitions import (
    BuildStart,
    StudyStateError,
    build_queue,
    do_close_study,
    do_open_study,
    do_start_build,
)

__all__ = [
    "BuildStart",
    "SaveResult",
    "StudyStateError",
    "build_queue",
    "do_close_study",
    "do_create_study",
    "do_open_study",
    "do_save_study",
    "do_start_build",
]
