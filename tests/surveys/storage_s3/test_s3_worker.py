"""Workers configured only by the environment, as on machines of their own: ``STORAGE=s3`` and
the ``AWS_*`` variables, and ``SURVEYS_BUILD_QUEUE`` naming the render workers' queue. A default
worker takes the build and hands its rendering to the render worker, which stores each stimulus
in the S3 server once."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from surveys.models import Stimulus, StimulusStatus, Study, StudyStatus
from surveys.studies.lifecycle import do_save_study, do_start_build
from surveys.studies.spec import check_study_spec
from tests.surveys.storage_s3.fixtures import S3Site
from tests.surveys.studies.fixtures import make_catalogue, spec_data

pytestmark = pytest.mark.django_db(transaction=True)

BUILD_TIMEOUT_S = 120


def _wait_until_ready(study: Study) -> None:
    deadline = time.monotonic() + BUILD_TIMEOUT_S
    while True:
        study.refresh_from_db(fields=["status"])
        if study.status == StudyStatus.READY:
            return
        assert time.monotonic() < deadline, f"the build is still {study.status}"
        time.sleep(0.1)


@pytest.mark.parametrize("broker", ["filesystem"], indirect=True)
def test_the_render_worker_renders_the_build_into_the_bucket(
    shared_database: str,
    broker: dict[str, str],
    s3: S3Site,
    start_worker: Callable,
    pool_run: Path,
    protopnet_run: Path,
    tree_run: Path,
    settings,
    tmp_path: Path,
):
    # given the catalogue and a saved study
    make_catalogue(pool_run, protopnet_run, tree_run)
    study = do_save_study(check_study_spec(spec_data())).study
    # and a render worker, and a default worker told (as every machine is) which queue renders
    env = {"DATABASE_URL": shared_database, **broker, **s3.environment()}
    _, render_queue = start_worker(**env)
    _, default_queue = start_worker(**env, SURVEYS_BUILD_QUEUE=render_queue)
    # when the build is sent to the default worker
    settings.SURVEYS_BUILD_QUEUE = default_queue
    do_start_build(study)
    _wait_until_ready(study)
    # then the default worker planned it and the render worker rendered every batch
    default_log = (tmp_path / f"{default_queue}.log").read_text()
    render_log = (tmp_path / f"{render_queue}.log").read_text()
    assert re.search(r"Task surveys\.build_study\[[^]]+\] succeeded", default_log), default_log
    assert not re.search(r"Task surveys\.render_stimuli\[", default_log), default_log
    assert re.search(r"Task surveys\.render_stimuli\[[^]]+\] succeeded", render_log), render_log
    # and every stimulus is an object of the bucket, once, and no worker wrote a local file
    stimuli = list(Stimulus.objects.filter(study=study))
    assert {s.status for s in stimuli} == {StimulusStatus.DONE}
    names = sorted(n for s in stimuli for n in (s.original.name, s.overlay.name))
    assert s3.names() == names
    assert len(set(names)) == 2 * len(stimuli)
    worker_media = tmp_path / "var" / "media"
    assert not worker_media.exists() or not [p for p in worker_media.rglob("*") if p.is_file()]
