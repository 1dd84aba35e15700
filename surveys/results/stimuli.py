"""The stimuli manifest: every rendered file linked to its condition, run, prototype and image.

Participants only ever see opaque file names; this table (staff only) is the key that links
each ``overlay_file`` and ``original_file`` back to the condition label, the run (label and
code), the prototype (the same ``prototype`` text as the responses table, and its pool index),
the dataset image and crop box, the rendering style (its fingerprint and its fields as JSON),
and the stimulus's objective measures (``m_...``, :mod:`.measure_columns`). ``stimulus`` is
the id the responses table uses (its ``stimulus`` and ``item``), and ``image_id`` is the
responses table's ``image``: one value per dataset image, shared by every condition that shows
it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

from django.db.models import Count

from protopool.rendering import StyleError, style_from_dict
from surveys.models import Stimulus, Study
from surveys.results.measure_columns import MEASURE_COLUMNS, measure_cells

STIMULUS_COLUMNS: tuple[str, ...] = (
    "stimulus",
    "status",
    "condition",
    "dataset",
    "run_label",
    "run_code",
    "prototype",
    "prototype_index",
    "prototype_original_index",
    "image_id",
    "crop_box",
    "map_override",
    "original_file",
    "overlay_file",
    "style_hash",
    "style_json",
    "activation_score",
    "questions",
    "rendered_at",
    "error",
    # The objective measures of the map shown and of its prototype (.measure_columns).
    *MEASURE_COLUMNS,
)


def style_fields(study: Study) -> tuple[str, str]:
    """The study's style fingerprint and its resolved fields as JSON.

    A style the renderer would refuse keeps its raw JSON and a hash of that text, so the
    manifest still records what was declared.
    """
    try:
        style = style_from_dict(study.style or {})
    except StyleError:
        text = json.dumps(study.style, sort_keys=True)
        return "raw-" + hashlib.sha256(text.encode()).hexdigest()[:16], text
    return style.fingerprint(), json.dumps(style.to_dict(), sort_keys=True)


def iter_stimulus_rows(study: Study) -> Iterator[tuple[str | int | float | None, ...]]:
    """Rows in :data:`STIMULUS_COLUMNS` order, one per stimulus, by id."""
    style_hash, style_json = style_fields(study)
    stimuli = (
        Stimulus.objects.filter(study=study)
        .select_related("condition", "prototype__run")
        .annotate(n_questions=Count("questions"))
        .order_by("id")
    )
    for stimulus in stimuli.iterator(chunk_size=1000):
        prototype, run = stimulus.prototype, stimulus.prototype.run
        yield (
            stimulus.pk,
            stimulus.status,
            stimulus.condition.label,
            stimulus.condition.dataset,
            run.label,
            run.code,
            f"{run.label} #{prototype.index}",
            prototype.index,
            prototype.original_index,
            stimulus.image_id,
            json.dumps(stimulus.crop_box) if stimulus.crop_box is not None else "",
            stimulus.map_override,
            stimulus.original.name or "",
            stimulus.overlay.name or "",
            style_hash,
            style_json,
            stimulus.score if stimulus.score is not None else "",
            stimulus.n_questions,
            stimulus.rendered_at.isoformat() if stimulus.rendered_at else "",
            stimulus.error,
            *measure_cells(stimulus.measures, prototype.metrics),
        )
