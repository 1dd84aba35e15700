"""Celery on Redis through its faults: a worker SIGKILLed mid-build and started again, and Redis
itself killed and started again (empty: no snapshot, no append-only file) under a build and
under beat's periodic recruiter sync. Each build ends with every stimulus stored exactly once,
and the sync goes on mirroring submissions after the restart.

Every process is the test's own: a ``redis-server`` on a free port, worker and beat processes
on it, sharing this test's database (PostgreSQL's test database when the suite runs on it).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from surveys.models import Stimulus, StimulusStatus, Study, StudyStatus, Submission
from surveys.studies.lifecycle import do_save_study, do_start_build
from surveys.studies.spec import check_study_spec
from tests.conftest import django_env
from tests.reliability.servers import CeleryProcess, RedisServer
from tests.surveys.factories import StudyFactory
from tests.surveys.recruiting.prolific.stub import ProlificStub
from tests.surveys.storage import private_media
from tests.surveys.studies.fixtures import make_catalogue, spec_data

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]

TIMEOUT_S = 180
# Long enough to catch mid-way: 27 stimuli of 384 px, rendered one batch at a time.
BUILD_SPEC = {"questions_per_dataset": 9, "style": {"size": [384, 384]}}
REDIS_DOWN_S = 2.0
SYNC_EVERY_S = "1"


@pytest.fixture
def catalogue(shared_database: str, pool_run: Path, protopnet_run: Path, tree_run: Path):
    return make_catalogue(pool_run, protopnet_run, tree_run)


@pytest.fixture
def media(settings, tmp_path: Path) -> Path:
    """The media folder the workers write to (their var dir is the test's tmp_path/var)."""
    return private_media(settings, tmp_path, tmp_path / "var" / "media")


def _worker(queue: str, env: dict[str, str], folder: Path) -> CeleryProcess:
    argv = ["worker", "--loglevel=INFO", "--concurrency=1", "-Q", queue, "--without-gossip",
            "--without-mingle", "--without-heartbeat", "--hostname", f"{queue}@%h"]  # fmt: skip
    return CeleryProcess(argv, env, folder, "worker")


def _wait_for(condition: Callable[[], bool], what: str, logs: Callable[[], str]) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{logs()[-6000:]}")
        time.sleep(0.1)


def _status(study: Study) -> str:
    study.refresh_from_db(fields=["status"])
    return study.status


def _start_build(settings, queue: str) -> tuple[Study, Callable[[], int]]:
    settings.SURVEYS_BUILD_QUEUE = queue
    study = do_save_study(check_study_spec(spec_data(**BUILD_SPEC))).study
    do_start_build(study)
    done = Stimulus.objects.filter(study=study, status=StimulusStatus.DONE)
    return study, done.count


def _assert_each_stimulus_stored_once(study: Study, media: Path) -> None:
    stimuli = list(Stimulus.objects.filter(study=study))
    assert {s.status for s in stimuli} == {StimulusStatus.DONE}
    names = sorted(name for s in stimuli for name in (s.original.name, s.overlay.name))
    stored = sorted(p.relative_to(media).as_posix() for p in media.rglob("*") if p.is_file())
    # one original and one overlay per stimulus, and not a file more (no orphans, no copies)
    assert stored == names
    assert len(set(names)) == 2 * len(stimuli)


def test_a_worker_killed_mid_build_on_redis_finishes_it_once_started_again(
    catalogue, shared_database: str, redis_broker: dict[str, str], media: Path, settings,
    tmp_path: Path,
):  # fmt: skip
    # given a worker on the private Redis rendering a build
    queue = f"render-{uuid.uuid4().hex[:8]}"
    worker = _worker(queue, django_env(tmp_path / "var", DATABASE_URL=shared_database,
                                       **redis_broker), tmp_path)  # fmt: skip
    worker.start()
    try:
        study, done = _start_build(settings, queue)
        _wait_for(lambda: done() >= 2, "the first stimuli", worker.logs)

        # when it is SIGKILLed mid-build, and started again
        worker.kill()
        assert done() < Stimulus.objects.filter(study=study).count(), "finished before the kill"
        assert _status(study) == StudyStatus.BUILDING
        worker.start()

        # then the build completes with every stimulus stored exactly once
        _wait_for(lambda: _status(study) == StudyStatus.READY, "the build", worker.logs)
    finally:
        worker.stop()
    _assert_each_stimulus_stored_once(study, media)


def test_redis_restarted_under_a_build_and_the_recruiter_sync_both_complete(
    catalogue, shared_database: str, redis_broker: dict[str, str], private_redis: RedisServer,
    prolific_stub: ProlificStub, media: Path, settings, tmp_path: Path,
):  # fmt: skip
    # given an open Prolific study with one submission, a worker, and beat syncing every second
    prolific_id = prolific_stub.add_study(name="running")
    StudyFactory(recruiter="prolific", status=StudyStatus.OPEN,
                 recruiter_config={"study_id": prolific_id})  # fmt: skip
    prolific_stub.add_submission(prolific_id)
    env = django_env(
        tmp_path / "var",
        DATABASE_URL=shared_database,
        SURVEYS_RECRUITER_SYNC="1",
        SURVEYS_RECRUITER_SYNC_SECONDS=SYNC_EVERY_S,
        **redis_broker,
    )
    # Beat's tasks and the build share Celery's default queue (the Redis server is private).
    worker = _worker("celery", env, tmp_path)
    beat = CeleryProcess(["beat", "--loglevel=INFO", "--schedule", str(tmp_path / "beat-schedule")],
                         env, tmp_path, "beat")  # fmt: skip

    def logs() -> str:
        return worker.logs() + beat.logs()

    worker.start()
    beat.start(ready_line="beat: Starting")
    try:
        _wait_for(lambda: Submission.objects.count() == 1, "the first sync", logs)
        # and a build under way
        study, done = _start_build(settings, "")
        _wait_for(lambda: done() >= 2, "the first stimuli", logs)

        # when Redis is killed, and comes back empty a moment later
        private_redis.kill()
        time.sleep(REDIS_DOWN_S)
        private_redis.start()
        assert _status(study) == StudyStatus.BUILDING, "the build finished before the restart"
        restarted = time.monotonic()
        # and a participant submits on Prolific after the restart
        prolific_stub.add_submission(prolific_id)

        # then the build completes, and the sync mirrors the new submission
        _wait_for(lambda: _status(study) == StudyStatus.READY, "the build", logs)
        _wait_for(lambda: Submission.objects.count() == 2, "the sync after the restart", logs)
        recovered_s = time.monotonic() - restarted
    finally:
        beat.stop()
        worker.stop()
    _assert_each_stimulus_stored_once(study, media)
    assert "Connection to broker lost" in worker.logs(), "the worker never lost Redis"
    print(f"\nRedis restart: build and sync complete {recovered_s:.1f} s after Redis came back")
