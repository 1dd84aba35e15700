"""The objective measures of each stimulus as export columns, one per measure, prefixed ``m_``.

Two kinds, both repeated on every answer to the stimulus in the responses table and given once
per stimulus in the manifest:

* the measures of the map shown, stored when the stimulus was rendered
  (:mod:`surveys.studies.measures`): ``m_energy_in_part`` and ``m_energy_in_object``, the
  share of the map's energy on the annotated parts and inside the object box;
  ``m_area_part`` and ``m_area_object``, those regions' share of the picture (the energy a flat
  map would put there: the chance level); ``m_top5_share``, the energy on the brightest 5 % of
  the pixels; ``m_entropy``, the map's normalised entropy; ``m_activation``, the prototype's
  largest latent similarity on the image;
* the prototype's own metrics from the catalogue (``interpretability.json`` of its run, where
  the run has one): ``m_consistency`` (the hit rate of its most consistent part, EvalProtoPNet),
  ``m_stability`` (EvalProtoPNet) and ``m_purity`` (PIP-Net). They are one value per prototype,
  whatever the picture.

A measure the dataset or the catalogue cannot give is empty. :data:`ANALYSED_MEASURES` are the
ones the report relates the ratings to; the areas are chance levels, not properties of a map.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from surveys.models import Stimulus, Study

PREFIX = "m_"
MAP_MEASURES: tuple[str, ...] = (
    "energy_in_part",
    "energy_in_object",
    "area_part",
    "area_object",
    "top5_share",
    "entropy",
    "activation",
)
PROTOTYPE_METRICS: tuple[str, ...] = ("consistency", "stability", "purity")
MEASURE_COLUMNS: tuple[str, ...] = tuple(PREFIX + name for name in MAP_MEASURES + PROTOTYPE_METRICS)
ANALYSED_MEASURES: tuple[str, ...] = tuple(
    column for column in MEASURE_COLUMNS if not column.startswith(PREFIX + "area_")
)

MeasureCells = tuple[float | None, ...]


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def prototype_metrics(metrics: object) -> dict[str, float | None]:
    """Consistency, stability and purity from a prototype's ``interpretability.json`` entry
    (``surveys.Prototype.metrics``); None where the entry has no such number."""
    entry: Mapping[str, Any] = metrics if isinstance(metrics, Mapping) else {}
    consistency = entry.get("consistency")
    purity = entry.get("purity")
    hit_rate = consistency.get("hit_rate") if isinstance(consistency, Mapping) else None
    share = purity.get("purity") if isinstance(purity, Mapping) else None
    return {
        "consistency": _number(hit_rate),
        "stability": _number(entry.get("stability")),
        "purity": _number(share),
    }


def measure_cells(measures: object, metrics: object) -> MeasureCells:
    """One stimulus's cells in :data:`MEASURE_COLUMNS` order, from its stored measures and its
    prototype's catalogue metrics."""
    stored: Mapping[str, Any] = measures if isinstance(measures, Mapping) else {}
    own = prototype_metrics(metrics)
    return (
        *(_number(stored.get(name)) for name in MAP_MEASURES),
        *(own[name] for name in PROTOTYPE_METRICS),
    )


def study_measure_cells(study: Study) -> dict[int, MeasureCells]:
    """Every stimulus of the study by id, with its cells (one query, so a large export reads
    the measures once per stimulus rather than once per answer)."""
    rows = Stimulus.objects.filter(study=study).values_list("id", "measures", "prototype__metrics")
    return {pk: measure_cells(measures, metrics) for pk, measures, metrics in rows}


EMPTY_CELLS: MeasureCells = (None,) * len(MEASURE_COLUMNS)


def present_measures(responses: pd.DataFrame) -> tuple[str, ...]:
    """The :data:`ANALYSED_MEASURES` some answer of the responses table has a value of (none for
    a study rendered before stimuli were measured)."""
    return tuple(
        column
        for column in ANALYSED_MEASURES
        if column in responses.columns and bool(responses[column].notna().any())
    )


__all__ = [
    "ANALYSED_MEASURES",
    "EMPTY_CELLS",
    "MAP_MEASURES",
    "MEASURE_COLUMNS",
    "PREFIX",
    "PROTOTYPE_METRICS",
    "MeasureCells",
    "measure_cells",
    "present_measures",
    "prototype_metrics",
    "study_measure_cells",
]
