"""Builds rendered by real Celery worker processes: on the file-system broker (and on Redis when it
answers), re-run without rendering twice, and finished by a new worker after one is SIGKILLed.

The worker shares this test's database: PostgreSQL's test database when the suite runs on it,
otherwise a SQLite file (the default in-memory test database is out of a worker's reach).
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from surveys.models import Run, Stimulus, StimulusStatus, Study, StudyStatus
from surveys.studies.lifecycle import do_save_study, do_start_build
from surveys.studies.spec import check_study_spec
from tests.surveys.storage import private_media
from tests.surveys.studies.fixtures import make_catalogue, spec_data
from tests.surveys.workers import kill_with_children

pytestmark = pytest.mark.django_db(transaction=True)

BUILD_TIMEOUT_S = 120
OPAQUE_NAME = re.compile(r"^stimuli/[a-z2-9]{16}\.png$")


@pytest.fixture
def catalogue(shared_database: str, pool_run: Path, protopnet_run: Path, tree_run: Path):
    """The runs in the catalogue of the database the workers share."""
    return make_catalogue(pool_run, protopnet_run, tree_run)


@pytest.fixture
def media(settings, tmp_path: Path) -> Path:
    """The media folder the workers write to (their var dir is the test's tmp_path/var)."""
    return private_media(settings, tmp_path, tmp_path / "var" / "media")


def _start(
    start_worker: Callable, database: str, env: dict[str, str], settings
) -> subprocess.Popen:
    process, queue = start_worker(DATABASE_URL=database, **env)
    settings.SURVEYS_BUILD_QUEUE = queue
    return process


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = BUILD_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _status(study: Study) -> str:
    study.refresh_from_db(fields=["status"])
    return study.status


def _stored_files(media: Path) -> list[str]:
    return sorted(p.relative_to(media).as_posix() for p in media.rglob("*") if p.is_file())


def _assert_each_stimulus_stored_once(study: Study, media: Path) -> None:
    stimuli = list(Stimulus.objects.filter(study=study))
    assert {s.status for s in stimuli} == {StimulusStatus.DONE}
    names = sorted(name for s in stimuli for name in (s.original.name, s.overlay.name))
    # one original and one overlay per stimulus, and not a file more (no orphans, no copies)
    assert _stored_files(media) == names
    assert len(set(names)) == 2 * len(stimuli)


@pytest.mark.parametrize(
    "broker", ["filesystem", pytest.param("redis", marks=pytest.mark.redis)], indirect=True
)
def test_a_worker_renders_the_build_under_opaque_names(
    catalogue,
    shared_database: str,
    broker: dict[str, str],
    media: Path,
    start_worker,
    settings,
):
    # given a study saved from its spec and a worker on the same database and broker
    study = do_save_study(check_study_spec(spec_data())).study
    _start(start_worker, shared_database, broker, settings)
    # when the build starts
    do_start_build(study)
    _wait_for(lambda: _status(study) == StudyStatus.READY, "the study to become ready")
    # then every stimulus is stored once, under a name that says nothing
    _assert_each_stimulus_stored_once(study, media)
    revealing = [
        text.lower()
        for run in Run.objects.all()
        for text in (run.label, run.code, Path(run.run_dir).name, run.kind, run.similarity)
    ] + [label.lower() for label in study.conditions.values_list("label", flat=True)]
    for name in _stored_files(media):
        assert OPAQUE_NAME.match(name), name
        # (words of five letters or more: a random code holds a shorter one by chance now and then)
        assert not any(text in name.lower() for text in revealing if len(text) >= 5), name
    for stimulus in Stimulus.objects.filter(study=study):
        image_stem = Path(stimulus.image_id).stem.lower()
        assert image_stem not in stimulus.overlay.name and image_stem not in stimulus.original.name

    # when the build is started again
    before = {p: p.stat().st_mtime_ns for p in media.rglob("*") if p.is_file()}
    again = do_start_build(study)
    # then nothing is queued or rendered twice
    assert again.pending == 0 and again.status == StudyStatus.READY
    time.sleep(1.0)
    assert {p: p.stat().st_mtime_ns for p in media.rglob("*") if p.is_file()} == before
    assert set(Stimulus.objects.filter(study=study).values_list("attempts", flat=True)) == {1}


# The file-system broker is the hard case: it forgets a message once a worker has taken it, so
# only the resume on a worker's start can bring the killed worker's batch back.
@pytest.mark.parametrize("broker", ["filesystem"], indirect=True)
def test_a_build_survives_a_killed_worker(
    catalogue,
    shared_database: str,
    broker: dict[str, str],
    media: Path,
    start_worker,
    settings,
):
    # given a build large enough to catch mid-way (bigger pictures take longer to encode)
    spec = spec_data(questions_per_dataset=9, style={"size": [384, 384]})
    study = do_save_study(check_study_spec(spec)).study
    first = _start(start_worker, shared_database, broker, settings)
    do_start_build(study)
    done = Stimulus.objects.filter(study=study, status=StimulusStatus.DONE)
    _wait_for(lambda: done.count() >= 2, "the first stimuli")
    # when the worker is killed mid-build
    kill_with_children(first)
    pending = Stimulus.objects.filter(study=study).exclude(status=StimulusStatus.DONE)
    assert pending.exists(), "the build finished before the worker could be killed"
    assert _status(study) == StudyStatus.BUILDING
    # and another worker comes up
    _start(start_worker, shared_database, broker, settings)
    # then the build completes with every stimulus stored exactly once
    _wait_for(lambda: _status(study) == StudyStatus.READY, "the build to complete")
    _assert_each_stimulus_stored_once(study, media)
