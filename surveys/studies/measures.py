"""Objective measures of a stimulus, taken on the map its overlay draws.

A worker measures every stimulus it renders on the map exactly as the overlay shows it
(:func:`protopool.interpretability.map_measures.shown_map`: the study style's normalisation, at
the picture's size), against the dataset's own annotations of that image: SynthBirds'
ground-truth part masks, drawn again by the generator, else CUB-200-2011's part keypoints as
discs; and the object box (CUB-200-2011, Stanford Cars, SynthBirds). A dataset without
annotations gets the concentration measures only. The prototype's activation on the image (its
largest latent similarity) is stored beside them; a synthetic map (an anchor, a practice
picture) has none.

Only finite values are kept, rounded, so the JSON column holds what PostgreSQL accepts and a
re-render stores the same numbers.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from protopool.data import Sample, open_dataset
from protopool.data.synth.masks import SynthTruth, load_synth_truth
from protopool.inference import PairMap
from protopool.interpretability.map_measures import annotation_masks, map_measures, shown_map
from protopool.rendering import RenderStyle
from surveys.studies.inputs import image_id

MEASURE_DIGITS = 6
# Dataset indexes a worker keeps loaded (a study has a few datasets).
ANNOTATION_CACHE_SIZE = 4


@lru_cache(maxsize=ANNOTATION_CACHE_SIZE)
def _annotations(folder: str) -> tuple[dict[str, Sample], SynthTruth | None]:
    """The dataset's samples by stimulus image id, and SynthBirds' generator when it is one."""
    root = Path(folder)
    index = open_dataset(root)
    samples = {image_id(sample, root): sample for sample in [*index.train, *index.test]}
    return samples, load_synth_truth(root)


def measure_map(
    image: Image.Image,
    activation: np.ndarray,
    style: RenderStyle,
    sample: Sample | None = None,
    part_labels: np.ndarray | None = None,
    score: float | None = None,
) -> dict[str, float]:
    """The measures of ``activation`` as ``style`` draws it over ``image``.

    Args:
        image: The original image.
        activation: Its map ``(height, width)`` in the original's pixels.
        style: The study's rendering style.
        sample: The image's annotations (None: concentration measures only).
        part_labels: SynthBirds' label map of the image, in its pixels.
        score: The prototype's activation on the image.

    Returns:
        ``MapMeasures.as_dict()``'s names with finite values only.
    """
    shown = shown_map(image, activation, style)
    masks = {}
    if sample is not None:
        masks = annotation_masks(sample, image.size, (shown.shape[0], shown.shape[1]), part_labels)
    values = map_measures(shown, masks, activation=score).as_dict()
    return {
        name: round(float(value), MEASURE_DIGITS)
        for name, value in values.items()
        if math.isfinite(value)
    }


def stimulus_measures(
    image: str, pair: PairMap, style: RenderStyle, folder: str, score: float | None
) -> dict[str, float]:
    """The measures of a rendered pair, with the annotations of dataset ``folder``'s ``image``
    (a stimulus's ``image_id``)."""
    samples, truth = _annotations(folder)
    sample = samples.get(image)
    labels = None
    if truth is not None and sample is not None:
        labels = truth.part_labels(sample.image_id)
    return measure_map(pair.prepared.original, pair.activation, style, sample, labels, score)


__all__ = ["MEASURE_DIGITS", "measure_map", "stimulus_measures"]
