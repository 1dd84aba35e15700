"""Rendering in the task code itself (Celery's eager mode, in this process): what is stored, the
gold maps, re-runs, and failures recorded and marked after the retries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.core.files.storage import default_storage
from PIL import Image

from protopool.inference import percentile_box
from surveys.models import Stimulus, StimulusStatus, Study, StudyStatus
from surveys.studies.gold import object_spot, spot_latent
from surveys.studies.lifecycle import do_save_study, do_start_build
from surveys.studies.spec import check_study_spec
from surveys.studies.tasks import RENDER_MAX_RETRIES, render_stimuli
from tests.surveys.studies.fixtures import spec_data

pytestmark = pytest.mark.django_db


def _build(django_capture_on_commit_callbacks, **overrides: object) -> Study:
    study = do_save_study(check_study_spec(spec_data(**overrides))).study
    with django_capture_on_commit_callbacks(execute=True):
        do_start_build(study)
    study.refresh_from_db()
    return study


def test_a_build_renders_every_stimulus_once_under_opaque_names(
    catalogue,
    media: Path,
    eager: None,
    django_capture_on_commit_callbacks,
):
    study = _build(django_capture_on_commit_callbacks)
    stimuli = list(Stimulus.objects.filter(study=study))
    assert study.status == StudyStatus.READY
    assert {s.status for s in stimuli} == {StimulusStatus.DONE}
    assert all(s.attempts == 1 and s.error == "" and s.rendered_at for s in stimuli)
    files = sorted(p.relative_to(media).as_posix() for p in media.rglob("*") if p.is_file())
    names = sorted(name for s in stimuli for name in (s.original.name, s.overlay.name))
    assert files == names and len(files) == 2 * len(stimuli)
    for stimulus in stimuli:
        with (
            Image.open(media / stimulus.overlay.name) as overlay,
            Image.open(media / stimulus.original.name) as original,
        ):
            assert overlay.size == original.size
            # nothing but pixels: no text chunks, EXIF or ICC profile
            assert not overlay.info and not original.info


def test_gold_maps_sit_on_the_object_or_far_from_it(
    catalogue,
    media: Path,
    eager: None,
    django_capture_on_commit_callbacks,
):
    from protopool.data import open_dataset
    from surveys.studies.inputs import image_id

    study = _build(django_capture_on_commit_callbacks)
    folder = Path(catalogue["pool"].dataset_dir)
    index = open_dataset(folder)
    boxes = {image_id(s, folder): s.bbox for s in [*index.train, *index.test]}
    for where in ("object", "background"):
        stimulus = Stimulus.objects.get(study=study, map_override=where, practice=False)
        bbox = boxes[stimulus.image_id]
        left, top, right, bottom = stimulus.box
        centre = ((left + right) / 2, (top + bottom) / 2)
        inside = (
            bbox.x <= centre[0] <= bbox.x + bbox.width
            and bbox.y <= centre[1] <= bbox.y + bbox.height
        )
        assert inside == (where == "object")


def test_the_synthetic_object_map_peaks_inside_its_box():
    # one grid cell per pixel of a 48 x 40 image
    activation = spot_latent((40, 48), (0, 0, 48, 40), object_spot((10.0, 8.0, 20.0, 16.0)))
    assert activation.shape == (40, 48)
    row, column = np.unravel_index(int(activation.argmax()), activation.shape)
    assert 10 <= column < 30 and 8 <= row < 24
    left, top, right, bottom = percentile_box(activation, 95.0)
    assert 10 <= left < right <= 30 and 8 <= top < bottom <= 24


def test_building_again_renders_nothing_twice(
    catalogue,
    media: Path,
    eager: None,
    django_capture_on_commit_callbacks,
):
    study = _build(django_capture_on_commit_callbacks)
    before = {p: p.stat().st_mtime_ns for p in media.rglob("*") if p.is_file()}
    # when the study is saved and built again from the same spec
    again = do_save_study(check_study_spec(spec_data()))
    assert not again.redesigned
    with django_capture_on_commit_callbacks(execute=True):
        started = do_start_build(study)
    # and a stale render message is delivered again
    render_stimuli.apply(args=[list(Stimulus.objects.values_list("id", flat=True))])
    # then nothing was queued, rendered or rewritten
    assert started.pending == 0 and started.status == StudyStatus.READY
    assert {p: p.stat().st_mtime_ns for p in media.rglob("*") if p.is_file()} == before
    assert set(Stimulus.objects.values_list("attempts", flat=True)) == {1}


def test_a_batch_that_keeps_failing_is_marked_failed_after_the_retries(
    catalogue,
    media: Path,
    eager: None,
    django_capture_on_commit_callbacks,
    tmp_path: Path,
):
    # given a study whose ProtoTree run directory has gone missing
    tree = catalogue["tree"]
    study = do_save_study(check_study_spec(spec_data())).study
    tree.run_dir = str(tmp_path / "gone")
    tree.fingerprint = "moved"
    tree.save()
    with django_capture_on_commit_callbacks(execute=True):
        do_start_build(study)
    # then its stimuli failed after every retry, with the reason recorded
    failed = Stimulus.objects.filter(study=study, status=StimulusStatus.FAILED)
    assert failed.exists()
    assert set(failed.values_list("condition__run", flat=True)) == {tree.pk}
    assert all(s.attempts == RENDER_MAX_RETRIES + 1 for s in failed)
    assert all("gone" in s.error for s in failed)
    # the other conditions rendered, and the study waits for the failed ones
    assert Stimulus.objects.filter(study=study, status=StimulusStatus.DONE).exists()
    study.refresh_from_db()
    assert study.status == StudyStatus.BUILDING
    # and no file of a failed stimulus was written
    assert not any(default_storage.exists(s.overlay.name) for s in failed if s.overlay.name)
