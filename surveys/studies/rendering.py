"""Rendering stimuli in a worker: one run's batch at a time, each stimulus stored exactly once.

Files go through Django's default storage under opaque random names (``stimuli/<code>.png``;
the original and the overlay get unrelated codes), so no name says which method, run,
prototype or image made it, and protopool writes no metadata into them.

Every step can be repeated safely, which is what makes a killed worker lose nothing:

* a stimulus that is no longer pending is skipped (re-running a build renders nothing twice);
* the two names are reserved in the row before anything is written, so a render that dies
  half-way and is done again writes the same names instead of leaving an orphan file;
* a stimulus becomes done with a conditional update (``pending -> done``): of two workers that
  rendered the same stimulus at once, one marks it and the other only overwrote identical bytes.

Synthetic maps (anchors and practice pictures) take a model's map's way: the run's forward pass
over the crop its network sees gives the latent grid and its range, the spot replaces the
values on that grid, and the same upsampling, placement, box rule and drawing follow, so a
synthetic picture differs from a model's only in where the heat sits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from itertools import groupby
from pathlib import Path

import numpy as np
import torch
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from protopool.data import Sample, open_dataset
from protopool.explanations import step_settings
from protopool.inference import PairMap, image_map, load_run, maps_for_pairs
from protopool.inference import Run as LoadedRun
from protopool.rendering import (
    RenderError,
    RenderStyle,
    StimulusFiles,
    pair_box,
    render_stimulus,
    style_from_dict,
)
from surveys.models import Stimulus, StimulusStatus, Study, StudyStatus
from surveys.models.codes import new_code
from surveys.studies.gold import Spot, background_spot, object_spot, spot_latent
from surveys.studies.inputs import dataset_folder, image_id
from surveys.studies.measures import stimulus_measures

# Stimuli per render task: small enough that a killed worker loses little time, large enough
# that loading the model and the dataset index is paid for once per many pictures.
RENDER_BATCH_SIZE = 16
# Distinct images per forward pass.
IMAGE_BATCH_SIZE = 8
# Runs and dataset indexes a worker process keeps loaded (a study has a few conditions).
RUN_CACHE_SIZE = 4
DATASET_CACHE_SIZE = 4
STIMULUS_FOLDER = "stimuli"
MAX_ERROR_CHARS = 2000


@lru_cache(maxsize=RUN_CACHE_SIZE)
def _loaded_run(run_dir: str, fingerprint: str, device: str) -> LoadedRun:
    """The run's model, once per worker process; a re-imported run (new fingerprint) reloads."""
    return load_run(run_dir, device)


@lru_cache(maxsize=DATASET_CACHE_SIZE)
def _samples(folder: str) -> dict[str, Sample]:
    index = open_dataset(Path(folder))
    return {image_id(sample, Path(folder)): sample for sample in [*index.train, *index.test]}


def render_device() -> str:
    """Where workers run the models (``SURVEYS_RENDER_DEVICE``, default ``cpu``)."""
    return str(getattr(settings, "SURVEYS_RENDER_DEVICE", "cpu"))


def pending_batches(study_id: int) -> list[list[int]]:
    """The ids of a building study's pending stimuli, in batches of one run each.

    Within a run the batch follows the images, so each image is fed to the network once.
    """
    if not Study.objects.filter(pk=study_id, status=StudyStatus.BUILDING).exists():
        return []
    rows = (
        Stimulus.objects.filter(study_id=study_id, status=StimulusStatus.PENDING)
        .order_by("condition__run_id", "image_id", "id")
        .values_list("condition__run_id", "id")
    )
    batches: list[list[int]] = []
    for _, group in groupby(rows, key=lambda row: row[0]):
        ids = [stimulus_id for _, stimulus_id in group]
        batches += [ids[i : i + RENDER_BATCH_SIZE] for i in range(0, len(ids), RENDER_BATCH_SIZE)]
    return batches


def building_study_ids() -> list[int]:
    return list(Study.objects.filter(status=StudyStatus.BUILDING).values_list("id", flat=True))


def do_finish_build(study_id: int) -> bool:
    """Mark the study Ready when every stimulus is rendered; whether it is Ready now."""
    if Stimulus.objects.filter(study_id=study_id).exclude(status=StimulusStatus.DONE).exists():
        return False
    Study.objects.filter(pk=study_id, status=StudyStatus.BUILDING).update(status=StudyStatus.READY)
    return True


def do_render_stimuli(stimulus_ids: Sequence[int]) -> int:
    """Render and store the batch's stimuli that are still pending; how many this call stored.

    Raises:
        Exception: Whatever rendering or storage raised; stimuli stored before it stay done.
    """
    stimuli = _reserve(stimulus_ids)
    stored = 0
    for (_, _), group in groupby(stimuli, key=lambda s: (s.study_id, s.condition_id)):
        batch = list(group)
        style = style_from_dict(condition_style(batch[0]))
        from_model = [s for s in batch if not s.map_override]
        if from_model:
            stored += _render_model_maps(from_model, style)
        synthetic = [s for s in batch if s.map_override]
        if synthetic:
            stored += _render_synthetic(synthetic, style)
    for study_id in {s.study_id for s in stimuli}:
        do_finish_build(study_id)
    return stored


def _reserve(stimulus_ids: Sequence[int]) -> list[Stimulus]:
    """The pending stimuli of the batch, each with its two file names reserved and the attempt
    counted (one short transaction)."""
    with transaction.atomic():
        pending = Stimulus.objects.filter(id__in=stimulus_ids, status=StimulusStatus.PENDING)
        pending.update(attempts=F("attempts") + 1)
        unnamed = pending.filter(Q(original="") | Q(overlay=""))
        for pk, style in list(unnamed.values_list("pk", "study__style")):
            suffix = style_from_dict(style).suffix
            # Conditional: a worker that reserved the names first keeps them.
            unnamed.filter(pk=pk).update(
                original=f"{STIMULUS_FOLDER}/{new_code()}{suffix}",
                overlay=f"{STIMULUS_FOLDER}/{new_code()}{suffix}",
            )
        return list(
            pending.select_related("study", "condition__run", "prototype").order_by(
                "study_id", "condition__run_id", "condition_id", "image_id", "id"
            )
        )


def condition_style(stimulus: Stimulus) -> dict[str, object]:
    """The study's style, with the box of the stimulus's condition where it sets one (the box
    as a condition)."""
    style = dict(stimulus.study.style or {})
    if stimulus.condition.box:
        style["box"] = stimulus.condition.box == "on"
    return style


def _render_model_maps(stimuli: list[Stimulus], style: RenderStyle) -> int:
    run = stimuli[0].condition.run
    loaded = _loaded_run(run.run_dir, run.fingerprint, render_device())
    folder = Path(dataset_folder(run))
    pairs = [(s.prototype.index, folder / s.image_id, s.crop_box) for s in stimuli]
    # The maps themselves, not render_pairs' files: each stimulus is measured on the map drawn.
    maps = maps_for_pairs(
        loaded.model, pairs, loaded.config.data, step_settings(loaded), IMAGE_BATCH_SIZE
    )
    stored = 0
    for stimulus, pair in zip(stimuli, maps, strict=True):
        box = pair_box(pair, style)
        files = render_stimulus(pair.prepared.original, pair.activation, style, box)
        measures = stimulus_measures(stimulus.image_id, pair, style, str(folder), pair.score)
        stored += _store(
            stimulus, files, list(box) if box is not None else None, pair.score, measures
        )
    return stored


def _render_synthetic(stimuli: list[Stimulus], style: RenderStyle) -> int:
    """Anchors and practice pictures: a spot on the object, or on empty background, drawn on
    the run's latent grid over the crop its network sees (see the module's docstring)."""
    run = stimuli[0].condition.run
    loaded = _loaded_run(run.run_dir, run.fingerprint, render_device())
    folder = Path(dataset_folder(run))
    pairs = [(s.prototype.index, folder / s.image_id, s.crop_box) for s in stimuli]
    maps = maps_for_pairs(
        loaded.model, pairs, loaded.config.data, step_settings(loaded), IMAGE_BATCH_SIZE
    )
    stored = 0
    for stimulus, pair in zip(stimuli, maps, strict=True):
        synthetic = _synthetic_pair(pair, _spot(stimulus, pair, str(folder)))
        box = pair_box(synthetic, style)
        files = render_stimulus(synthetic.prepared.original, synthetic.activation, style, box)
        measures = stimulus_measures(stimulus.image_id, synthetic, style, str(folder), None)
        stored += _store(stimulus, files, list(box) if box is not None else None, None, measures)
    return stored


def _spot(stimulus: Stimulus, pair: PairMap, folder: str) -> Spot:
    sample = _samples(folder).get(stimulus.image_id)
    if sample is None or sample.bbox is None:
        raise RenderError(f"image {stimulus.image_id} has no object box in {folder}")
    box = sample.bbox
    bbox = (box.x, box.y, box.width, box.height)
    if stimulus.map_override == "object":
        return object_spot(bbox)
    found = background_spot(pair.prepared.original.size, bbox)
    if found is None:
        raise RenderError(f"image {stimulus.image_id} has no empty corner for a background map")
    return found


def _synthetic_pair(pair: PairMap, spot: Spot) -> PairMap:
    """The pair with the spot in place of the model's values, on the same latent grid and in
    the same range (so a fixed normalisation colours it as it colours the model's maps)."""
    latent = pair.latent.float()
    low, high = float(latent.min()), float(latent.max())
    if not high > low:
        low, high = 0.0, 1.0
    rows, columns = latent.shape[-2:]
    values = spot_latent((rows, columns), pair.prepared.crop, spot)
    synthetic = torch.from_numpy(low + (high - low) * values.astype(np.float32))
    return replace(pair, latent=synthetic, activation=image_map(synthetic, pair.prepared))


def _store(
    stimulus: Stimulus,
    files: StimulusFiles,
    box: list[int] | None,
    score: float | None,
    measures: dict[str, float] | None = None,
) -> int:
    """Write both files under the reserved names, then mark the stimulus done (1), unless
    another worker marked it first (0)."""
    _write(stimulus.overlay.name, files.data("overlay"))
    _write(stimulus.original.name, files.data("original"))
    with transaction.atomic():
        return Stimulus.objects.filter(pk=stimulus.pk, status=StimulusStatus.PENDING).update(
            status=StimulusStatus.DONE,
            score=score,
            box=box,
            measures=measures or {},
            error="",
            rendered_at=timezone.now(),
        )


def _write(name: str | None, data: bytes) -> None:
    if not name:
        raise RenderError("a stimulus reached storage without a reserved file name")
    # What is there already is the unfinished work of a killed worker, or the same bytes.
    if default_storage.exists(name):
        default_storage.delete(name)
    saved = default_storage.save(name, ContentFile(data))
    if saved != name:
        # A worker rendering the same stimulus wrote the name in between: keep one copy.
        default_storage.delete(saved)


def do_record_render_failure(stimulus_ids: Sequence[int], error: BaseException, final: bool) -> int:
    """Record the error on the batch's still-pending stimuli; after the last retry mark them
    failed (the study page offers to retry them). How many were marked."""
    message = f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]
    fields: dict[str, object] = {"error": message}
    if final:
        fields["status"] = StimulusStatus.FAILED
    return Stimulus.objects.filter(id__in=stimulus_ids, status=StimulusStatus.PENDING).update(
        **fields
    )


__all__ = [
    "IMAGE_BATCH_SIZE",
    "RENDER_BATCH_SIZE",
    "building_study_ids",
    "do_finish_build",
    "do_record_render_failure",
    "do_render_stimuli",
    "pending_batches",
    "render_device",
]
